"""replayflow.shell: real commands (sh, cat, sleep) run through shell.run and shell.command, alone,
inside an activity context, and in local runs of whole workflows."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from support.processes import read_pid, wait_dead
from support.shell_workflows import BigOutputWorkflow, CancelWorkflow, TimeoutWorkflow

from replayflow import Workflow, activity, jumbo, shell
from replayflow.activity import ActivityContext, reset_context, set_context
from replayflow.backends.base import ServiceError
from replayflow.errors import CommandFailed, TaskFailed
from replayflow.history import attributes
from replayflow.local import LocalRunner
from replayflow.testing import replay

# -- shell.run on its own -----------------------------------------------------------------------


def test_a_command_returns_its_code_output_and_duration():
    result = shell.run(["sh", "-c", "echo out; echo err >&2"])
    assert isinstance(result, shell.ShellResult)
    assert (result.returncode, result.stdout, result.stderr, result.truncated) == (
        0, "out\n", "err\n", False)
    assert result.ok and result.duration > 0
    assert result == {"returncode": 0, "stdout": "out\n", "stderr": "err\n",
                      "duration": result.duration, "truncated": False}


def test_a_non_zero_exit_raises_with_the_code_and_the_last_lines_of_stderr():
    script = 'for i in $(seq 1 30); do echo "line $i" >&2; done; exit 3'
    with pytest.raises(CommandFailed) as caught:
        shell.run(["sh", "-c", script])
    exc = caught.value
    assert exc.returncode == 3
    assert exc.stderr_tail.splitlines() == [f"line {i}" for i in range(11, 31)]
    assert str(exc).startswith(f"`sh -c '{script}'` exited with code 3; the end of its stderr:\n")
    assert exc.result.returncode == 3 and exc.result.stderr.count("\n") == 30


def test_check_false_returns_the_failed_result():
    result = shell.run(["sh", "-c", "echo no >&2; exit 1"], check=False)
    assert (result.returncode, result.stderr, result.ok) == (1, "no\n", False)


def test_death_by_signal_is_minus_the_signal_number():
    with pytest.raises(CommandFailed) as caught:
        shell.run(["sh", "-c", "kill -TERM $$"])
    assert caught.value.returncode == -15
    assert "was killed by SIGTERM (signal 15)" in str(caught.value)
    assert shell.run(["sh", "-c", "kill -KILL $$"], check=False).returncode == -9


def test_stdin_is_written_then_closed():
    # cat ends only when its stdin is closed; 1 MB in while 1 MB comes out needs both at once.
    data = "".join(f"{i:07d}\n" for i in range(125_000))
    result = shell.run(["cat"], stdin=data)
    assert result.stdout == data
    assert shell.run(["wc", "-c"], stdin=b"\x00\x01\x02").stdout.strip() == "3"
    assert shell.run(["cat"]).stdout == ""  # no stdin: /dev/null, not the worker's own


def test_stdout_and_stderr_are_drained_together():
    # Read one after the other, the command would block on the full stderr pipe forever.
    script = "head -c 1000000 /dev/zero | tr '\\0' e >&2; head -c 1000000 /dev/zero | tr '\\0' o"
    result = shell.run(["sh", "-c", script], capture=2_000_000)
    assert (len(result.stdout), len(result.stderr), result.truncated) == (1_000_000, 1_000_000,
                                                                          False)
    assert set(result.stdout) == {"o"} and set(result.stderr) == {"e"}


def test_large_output_is_bounded_keeping_its_start_and_end_and_flagged():
    script = "echo first; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo last"
    result = shell.run(["sh", "-c", script], capture=1000)
    assert result.truncated
    assert result.stdout.startswith("first\nxxx")
    assert result.stdout.endswith("xxx\nlast\n")
    head, marker, tail = result.stdout.partition("\n[… ")
    assert len(head.encode()) == 500 and marker
    assert tail.split(" bytes cut …]\n")[0] == str(3_000_000 + 12 - 1000)
    quiet = shell.run(["sh", "-c", "echo a lot; echo why >&2; exit 2"], capture=False,
                      check=False)
    assert (quiet.stdout, quiet.stderr, quiet.truncated) == ("", "", False)
    with pytest.raises(CommandFailed) as caught:  # the failure still tells why
        shell.run(["sh", "-c", "echo why >&2; exit 2"], capture=False)
    assert caught.value.stderr_tail == "why"


def test_on_line_sees_every_line_of_both_streams_in_order():
    seen: list[tuple[str, str]] = []
    shell.run(["sh", "-c", "echo a; echo b >&2; printf 'c\\r\\nd'"],
              on_line=lambda stream, line: seen.append((stream, line)))
    assert [line for line in seen if line[0] == "stdout"] == [("stdout", "a"), ("stdout", "c"),
                                                             ("stdout", "d")]
    assert [line for line in seen if line[0] == "stderr"] == [("stderr", "b")]


def test_an_error_in_on_line_stops_the_command_and_propagates(tmp_path):
    pidfile = tmp_path / "pid"

    def refuse(stream, line):
        raise RuntimeError(f"no thanks: {line}")

    with pytest.raises(RuntimeError, match="no thanks: hello"):
        shell.run(["sh", "-c", 'sleep 60 & echo $! > "$1"; echo hello; wait', "sh",
                   str(pidfile)], on_line=refuse)
    assert wait_dead(read_pid(pidfile), 5)


def test_env_is_added_to_the_environment_and_cwd_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("RF_SHELL_GONE", "here")
    script = 'echo "$RF_SHELL_X ${RF_SHELL_GONE-unset} $(pwd)"'
    result = shell.run(["sh", "-c", script], env={"RF_SHELL_X": "1", "RF_SHELL_GONE": None},
                       cwd=tmp_path)
    assert result.stdout == f"1 unset {os.path.realpath(tmp_path)}\n"
    assert shell.run("echo $((6 * 7)) | tr 4 X", shell=True).stdout == "X2\n"


def test_bad_commands_are_refused_clearly():
    with pytest.raises(TypeError, match="pass shell=True"):
        shell.run("ls -l")
    with pytest.raises(TypeError, match="one string"):
        shell.run(["ls"], shell=True)
    with pytest.raises(TypeError, match="non-empty list of strings"):
        shell.run([])
    with pytest.raises(CommandFailed, match="`no-such-program-rf` could not start"):
        shell.run(["no-such-program-rf"])
    with pytest.raises(ValueError, match="timeout"):
        shell.run(["true"], timeout=0)


def test_a_timeout_kills_the_whole_group_grandchildren_included(tmp_path):
    pidfile = tmp_path / "pid"
    script = 'sleep 60 & echo $! > "$1"; wait'
    with pytest.raises(CommandFailed) as caught:
        shell.run(["sh", "-c", script, "sh", str(pidfile)], timeout=0.5)
    assert "was stopped: it ran past its timeout of 0.5 s; its process group was killed" in str(
        caught.value)
    assert caught.value.returncode == -15  # SIGTERM was enough
    assert wait_dead(read_pid(pidfile), 5)  # signalled: its death is a moment away


def test_a_group_that_ignores_sigterm_gets_sigkill(tmp_path, monkeypatch):
    monkeypatch.setattr(shell, "TERMINATE_GRACE", 0.3)
    pidfile = tmp_path / "pid"
    script = 'trap "" TERM; sleep 60 & echo $! > "$1"; wait'
    with pytest.raises(CommandFailed) as caught:
        shell.run(["sh", "-c", script, "sh", str(pidfile)], timeout=0.3)
    assert caught.value.returncode == -9
    assert wait_dead(read_pid(pidfile), 5)


def test_what_a_finished_command_left_running_is_killed():
    # The background sleep keeps stdout open: without the group kill this would wait a minute.
    result = shell.run(["sh", "-c", "sleep 60 & echo $!"])
    assert result.returncode == 0
    assert wait_dead(int(result.stdout), 5)


# -- inside an activity ---------------------------------------------------------------------------


class Recorder:
    """An activity context's hooks, recording what shell.run tells its supervisor."""

    def __init__(self, answer_cancel_after: int | None = None,
                 refuse: ServiceError | None = None) -> None:
        self.beats: list[str | None] = []
        self.groups: list[tuple[int, bool]] = []
        self.answer_cancel_after = answer_cancel_after
        self.refuse = refuse

    def heartbeat(self, _token: str | None, details: str | None) -> bool:
        if self.refuse is not None:
            raise self.refuse
        self.beats.append(details)
        return self.answer_cancel_after is not None and len(self.beats) >= \
            self.answer_cancel_after

    def context(self) -> ActivityContext:
        return ActivityContext("wf", "run", "act#1", "act", 1, heartbeat=self.heartbeat,
                               process_groups=lambda pgid, held: self.groups.append(
                                   (pgid, held)))


def run_in_context(ctx: ActivityContext, *args, **kwargs):
    token = set_context(ctx)
    try:
        return shell.run(*args, **kwargs)
    finally:
        reset_context(token)


def test_the_last_output_line_goes_out_as_heartbeat_details(monkeypatch):
    monkeypatch.setattr(shell, "HEARTBEAT_EVERY", 0.2)
    recorder = Recorder()
    script = "echo one; sleep 0.5; echo two >&2; echo; sleep 0.5; echo $$"
    result = run_in_context(recorder.context(), ["sh", "-c", script])
    assert recorder.beats[:2] == ["one", "two"]  # a blank line is not news
    pgid = int(result.stdout.split()[-1])
    assert recorder.groups == [(pgid, True), (pgid, False)]  # adopted, then released


def test_a_command_done_quickly_sends_no_heartbeat():
    recorder = Recorder()
    run_in_context(recorder.context(), ["echo", "fast"])
    assert recorder.beats == []


def test_a_cancel_request_stops_the_group(tmp_path):
    recorder = Recorder()
    ctx = recorder.context()
    pidfile = tmp_path / "pid"
    threading.Timer(0.3, lambda: setattr(ctx, "cancel_requested", True)).start()
    with pytest.raises(CommandFailed, match="stopped: its activity was cancelled"):
        run_in_context(ctx, ["sh", "-c", 'sleep 60 & echo $! > "$1"; wait', "sh", str(pidfile)])
    assert wait_dead(read_pid(pidfile), 5)  # the group was signalled: death is a moment away


def test_a_heartbeat_answering_cancel_stops_the_group(monkeypatch):
    monkeypatch.setattr(shell, "HEARTBEAT_EVERY", 0.1)
    recorder = Recorder(answer_cancel_after=1)
    with pytest.raises(CommandFailed, match="stopped: its activity was cancelled"):
        run_in_context(recorder.context(), ["sh", "-c", "echo started; sleep 60"])


def test_a_refused_heartbeat_means_the_task_closed(monkeypatch):
    monkeypatch.setattr(shell, "HEARTBEAT_EVERY", 0.1)
    recorder = Recorder(refuse=ServiceError("Unknown activity task", "UnknownResourceFault"))
    with pytest.raises(CommandFailed, match="stopped: its activity task is closed"):
        run_in_context(recorder.context(), ["sh", "-c", "echo started; sleep 60"])


# -- shell.command in workflows (local runs) ------------------------------------------------------


@shell.command(task_list="shell-unit", start_to_close_timeout=30)
def count_words(text):
    return shell.Invocation(["wc", "-w"], stdin=text)


@shell.command(task_list="shell-unit", check=False)
def exit_with(code):
    return f"echo trying; echo 'it broke' >&2; exit {code}"


exit_with_shell = shell.command(shell=True, task_list="shell-unit", check=False,
                                name="tests.exit_with_shell")(exit_with.func.__wrapped__)


@shell.command(task_list="shell-unit")
def fail_with(code):
    return ["sh", "-c", f"echo 'cannot go on' >&2; exit {code}"]


@activity.with_attributes(task_list="shell-unit")
def describe(result):
    return f"{type(result).__name__} with returncode {result['returncode']}"


class ShellWorkflow(Workflow):
    name = "shell-unit-workflow"

    def run(self):
        counted = self.submit(count_words, "one two three")
        tried = self.submit(exit_with_shell, 4)
        failed = self.submit(fail_with, 5)
        try:
            failed.result  # noqa: B018
            failure = None
        except TaskFailed as exc:
            failure = {"type": exc.error_type, "reason": exc.reason}
        return {
            "counted": [type(counted.result).__name__, counted.result.stdout.strip(),
                        counted.result.ok],
            "tried": [tried.result.returncode, tried.result.stdout, tried.result.stderr],
            "passed_on": self.submit(describe, counted).result,
            "failure": failure,
        }


def test_shell_commands_run_as_activities_and_the_workflow_gets_a_shell_result():
    result = LocalRunner().run(ShellWorkflow)
    assert result.ok, result.reason
    assert result.result == {
        "counted": ["ShellResult", "3", True],
        "tried": [4, "trying\n", "it broke\n"],
        "passed_on": "dict with returncode 0",  # another activity gets it as plain JSON
        "failure": {"type": "replayflow.errors.CommandFailed",
                    "reason": "CommandFailed: `sh -c 'echo '\"'\"'cannot go on'\"'\"' >&2; "
                              "exit 5'` exited with code 5; the end of its stderr:\ncannot go on"},
    }
    # A replay rebuilds the same ShellResults from the recorded JSON.
    assert replay(result.run.history(), ShellWorkflow).closed


def test_the_decorated_activity_is_declared_with_its_attributes():
    assert count_words.name == f"{__name__}.count_words"
    assert (count_words.task_list, count_words.start_to_close_timeout) == ("shell-unit", 30)
    assert count_words.load_result == shell.ShellResult.from_json
    assert shell.ShellResult.from_json([1]) == [1]  # not a recorded ShellResult: left alone


def test_locally_a_timeout_kills_the_grandchild_and_keeps_the_last_line(tmp_path):
    pidfile = tmp_path / "pid"
    result = LocalRunner().run(TimeoutWorkflow, [str(pidfile)])
    assert result.ok, result.reason
    assert "timed out" in result.result["timed_out"]
    timed_out = [attributes(e) for e in result.run.events
                 if e["eventType"] == "ActivityTaskTimedOut"]
    assert timed_out[0]["timeoutType"] == "START_TO_CLOSE"
    assert timed_out[0]["details"] == "step 2"  # the last line, sent as heartbeat details
    assert wait_dead(read_pid(pidfile)), "the grandchild outlived its timed-out task"


def test_locally_a_cancel_kills_the_grandchild(tmp_path):
    pidfile = tmp_path / "pid"
    result = LocalRunner().run(CancelWorkflow, [str(pidfile)])
    assert result.ok, result.reason
    assert result.result == "cancelled"
    assert "ActivityTaskCanceled" in [e["eventType"] for e in result.run.events]
    assert wait_dead(read_pid(pidfile)), "the grandchild outlived its cancelled task"


def test_shell_results_survive_pickling():
    import pickle

    result = shell.ShellResult(1, "o", "e", 0.5, True)
    assert pickle.loads(pickle.dumps(result)) == result
    exc = CommandFailed("`x`", 1, "exited with code 1", "tail", result)
    again = pickle.loads(pickle.dumps(exc))
    assert (str(again), again.returncode, again.result) == (str(exc), 1, result)


def test_path_arguments_are_accepted():
    assert shell.run(["echo", Path("a/b")]).stdout == "a/b\n"


def test_output_over_swf_limits_without_a_bucket_fails_saying_what_to_set(monkeypatch):
    monkeypatch.delenv(jumbo.BUCKET_ENV, raising=False)
    result = LocalRunner().run(BigOutputWorkflow, [100_000])
    assert result.status == "FAILED"
    assert "cannot be sent" in result.reason
    assert jumbo.BUCKET_ENV in str(result.details)
