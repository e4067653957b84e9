"""Shell commands as activities, and `shell.run` inside an ordinary activity.

    replayflow workflow.start --local examples.shell.ShellWorkflow \
        --input '["to be or not to be", "be"]'
    # prints {"words": 6, "matches": 2, "absent": 1, "checksum": "...", "missing": "..."}

- `@shell.command(...)` takes `activity.with_attributes`' options; the function returns argv (or
  a string with `shell=True`, or a `shell.Invocation` with stdin, cwd or env), and the task's
  result is a `ShellResult(returncode, stdout, stderr, duration, truncated)`;
- a non-zero exit fails the task with `CommandFailed` (the exit code, -N for a signal, and the end
  of stderr in its message), unless `check=False`;
- the command runs in its own process group: a cancel, a timeout or the worker's grace period
  kills all of it, and its last output line is sent as heartbeat details.
"""

from replayflow import Workflow, activity, shell
from replayflow.errors import TaskFailed


@shell.command(task_list="quickstart", version="example", start_to_close_timeout=60)
def count_words(text):
    return shell.Invocation(["wc", "-w"], stdin=text)


@shell.command(task_list="quickstart", version="example", check=False)
def count_matches(pattern, text):
    # grep -c exits 1 when nothing matches: with check=False that is a result, not a failure
    return shell.Invocation(["grep", "-c", "-w", "--", pattern], stdin=text.replace(" ", "\n"))


@shell.command(task_list="quickstart", version="example")
def show(path):
    return ["cat", path]


@activity.with_attributes(task_list="quickstart", version="example")
def checksum(text):
    """Any activity can run a command: shell.run raises CommandFailed on a non-zero exit."""
    return shell.run(["cksum"], stdin=text).stdout.split()[0]


class ShellWorkflow(Workflow):
    name = "shell"
    version = "example"
    task_list = "example"

    def run(self, text, word):
        words = self.submit(count_words, text)
        matches = self.submit(count_matches, word, text)
        absent = self.submit(count_matches, "nowhere", text)
        digest = self.submit(checksum, text)
        missing = self.submit(show, "/nonexistent/replayflow-example")
        try:
            missing.result  # noqa: B018
            missing_reason = "found?"
        except TaskFailed as exc:  # CommandFailed, in the task's failure
            missing_reason = exc.reason
        return {
            "words": int(words.result.stdout),
            "matches": int(matches.result.stdout),
            "absent": absent.result.returncode,
            "checksum": digest.result,
            "missing": missing_reason,
        }
