"""Shell-command activities and workflows that stop a command in each way a task can end.

Imported by local runs in the unit tests and, by name (`support.shell_workflows...`), by the
`standalone` decider and worker of the integration tests: tests/ must be on their PYTHONPATH.
"""

from __future__ import annotations

from replayflow import Workflow, shell
from replayflow.errors import TaskCancelled, TaskFailed, TaskTimedOut

# Prints `lines` lines, then starts a grandchild that would sleep a minute, writes its pid to
# the file given as $1, and waits for it: only a kill of the whole process group stops it.
HANG = ('i=1; while [ "$i" -le "$2" ]; do echo "step $i"; i=$((i+1)); done; '
        'sleep 60 & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; wait')


@shell.command(task_list="shell-tests", start_to_close_timeout=3)
def hang_for_timeout(pidfile: str, lines: int = 2) -> list[str]:
    return ["sh", "-c", HANG, "sh", pidfile, str(lines)]


@shell.command(task_list="shell-tests", start_to_close_timeout=60)
def hang_for_cancel(pidfile: str) -> list[str]:
    return ["sh", "-c", HANG, "sh", pidfile, "1"]


class TimeoutWorkflow(Workflow):
    """The command outlives its start-to-close timeout: the task ends, and so must the command."""

    name = "shell-test-timeout"
    task_list = "shell-tests"

    def run(self, pidfile: str) -> dict:
        try:
            return {"result": self.submit(hang_for_timeout, pidfile).result}
        except TaskTimedOut as exc:  # the service timed it out (local runs, SWF)
            return {"timed_out": exc.reason}
        except TaskFailed as exc:  # the worker killed it first (its own start-to-close check)
            return {"failed": exc.reason}


class CancelWorkflow(Workflow):
    """The workflow cancels the command's task once it runs."""

    name = "shell-test-cancel"
    task_list = "shell-tests"

    def run(self, pidfile: str) -> str:
        future = self.submit(hang_for_cancel, pidfile)
        self.sleep(1)
        future.cancel()
        try:
            future.result  # noqa: B018
        except TaskCancelled:
            return "cancelled"
        return "not cancelled"


@shell.command(task_list="shell-tests", start_to_close_timeout=60)
def emit(size: int) -> list[str]:
    """`size` bytes of output: over SWF's 32,768-character result limit, a jumbo field."""
    return ["sh", "-c", f"head -c {int(size)} /dev/zero | tr '\\0' x"]


class BigOutputWorkflow(Workflow):
    name = "shell-test-big-output"
    task_list = "shell-tests"

    def run(self, size: int) -> dict:
        result = self.submit(emit, size).result
        return {"length": len(result.stdout), "only_x": set(result.stdout) == {"x"},
                "truncated": result.truncated}
