"""The activity worker against a real moto server, with the test itself playing the decider.

Each test starts an execution, answers its decision task with ScheduleActivityTask decisions, runs
the worker (a thread in this process, or a `replayflow worker.start` subprocess) and reads the
outcome back from the history.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import activities

from replayflow import encoding
from replayflow.activity import Activity
from replayflow.backends.swf import SwfBackend
from replayflow.worker import Worker

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent
DEADLINE = 20.0

pytestmark = pytest.mark.usefixtures("aws_env")


# -- the test plays the decider ----------------------------------------------------------------


class Run:
    """One execution whose decision tasks the test answers by hand."""

    def __init__(self, backend: SwfBackend, task_list: str) -> None:
        self.backend = backend
        self.task_list = task_list
        self.decisions = f"decisions-{uuid.uuid4().hex[:8]}"
        backend.register_workflow_type("worker-test", "1", self.decisions, 600)
        self.workflow_id = f"wf-{uuid.uuid4().hex[:8]}"
        self.run_id = backend.start_workflow_execution(
            self.workflow_id, "worker-test", "1", task_list=self.decisions)

    def schedule(self, act: Activity, *args: Any, activity_id: str | None = None,
                 **timeouts: str) -> str:
        """Answer the next decision task with one ScheduleActivityTask; returns the activityId."""
        self.backend.register_activity_type(act.name, act.version, act.task_list)
        task = wait_for(lambda: self.backend.poll_for_decision_task(self.decisions),
                        "a decision task")
        activity_id = activity_id or f"activity-{act.name}-1#1"
        attrs = {
            "activityType": {"name": act.name, "version": act.version},
            "activityId": activity_id,
            "input": encoding.encode_call(args, {}),
            "taskList": {"name": self.task_list},
            **act.timeouts,
            **timeouts,
        }
        self.backend.respond_decision_task_completed(
            task["taskToken"],
            [{"decisionType": "ScheduleActivityTask",
              "scheduleActivityTaskDecisionAttributes": attrs}],
        )
        return activity_id

    def events(self) -> list[dict[str, Any]]:
        return self.backend.get_workflow_execution_history(self.workflow_id, self.run_id)

    def outcome(self, activity_id: str, timeout: float = DEADLINE) -> dict[str, Any]:
        """The closing event (completed/failed/timed out/canceled) of one activity."""

        def find() -> dict[str, Any] | None:
            events = self.events()
            scheduled = {
                e["eventId"] for e in events
                if e["eventType"] == "ActivityTaskScheduled"
                and e["activityTaskScheduledEventAttributes"]["activityId"] == activity_id
            }
            for event in events:
                kind = event["eventType"]
                if kind in ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                            "ActivityTaskCanceled"):
                    attrs = event[kind[0].lower() + kind[1:] + "EventAttributes"]
                    if attrs["scheduledEventId"] in scheduled:
                        return {"type": kind, **attrs}
            return None

        return wait_for(find, f"the outcome of {activity_id}", timeout)


def wait_for(probe: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def backend(swf_domain: str) -> SwfBackend:
    return SwfBackend(swf_domain)


@pytest.fixture
def task_list() -> str:
    return f"acts-{uuid.uuid4().hex[:8]}"


@contextmanager
def running_worker(backend: SwfBackend, task_list: str, **options: Any) -> Iterator[Worker]:
    worker = Worker(backend, task_list, **options)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "the worker did not stop"


def worker_process(domain: str, task_list: str, env: dict[str, str], *extra: str,
                   log_level: str = "INFO") -> subprocess.Popen[str]:
    env = {**env, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]),
           "LOG_LEVEL": log_level}
    return subprocess.Popen(
        [sys.executable, "-m", "replayflow", "worker.start", "--domain", domain,
         "--task-list", task_list, "--module", "support.activities", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


class StderrLines:
    """Collects a subprocess's stderr lines on a thread, so a test can wait for one."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.lines.append(line)

    def wait_for(self, text: str) -> None:
        wait_for(lambda: any(text in line for line in self.lines), f"{text!r} on stderr")


def details_of(outcome: dict[str, Any]) -> dict[str, Any]:
    return json.loads(outcome["details"])


# -- tests ---------------------------------------------------------------------------------------


def test_completes_with_result_and_context(backend: SwfBackend, task_list: str) -> None:
    run = Run(backend, task_list)
    first = run.schedule(activities.add, 2, 3)
    with running_worker(backend, task_list):
        assert run.outcome(first)["result"] == "5"
        second = run.schedule(activities.whoami,
                              activity_id="activity-support.activities.whoami-7#3")
        result = json.loads(run.outcome(second)["result"])
    assert result["pid"] != os.getpid()  # ran in a child process
    assert result == {
        "workflow_id": run.workflow_id,
        "run_id": run.run_id,
        "activity_id": "activity-support.activities.whoami-7#3",
        "task_id": "activity-support.activities.whoami-7",
        "attempt": 3,
        "task_token_set": True,
        "task_list": task_list,
        "pid": result["pid"],
    }


def test_exception_fails_with_reason_and_traceback(backend: SwfBackend, task_list: str) -> None:
    run = Run(backend, task_list)
    long_message = "bad input " + "y" * 400
    activity_id = run.schedule(activities.boom, long_message)
    with running_worker(backend, task_list):
        outcome = run.outcome(activity_id)
    assert outcome["type"] == "ActivityTaskFailed"
    assert outcome["reason"].startswith("ValueError: bad input yyy")
    assert len(outcome["reason"]) == 256 and outcome["reason"].endswith("…")
    details = details_of(outcome)
    assert details["reason"] == f"ValueError: {long_message}"
    assert details["type"] == "ValueError"
    assert "raise ValueError(message)" in details["traceback"]


def test_crashing_activities_fail_clearly_and_worker_carries_on(
    backend: SwfBackend, task_list: str
) -> None:
    run = Run(backend, task_list)
    with running_worker(backend, task_list):
        crashed = run.schedule(activities.segfault, activity_id="segv#1")
        outcome = run.outcome(crashed)
        assert outcome["type"] == "ActivityTaskFailed"
        assert outcome["reason"] == "activity process died with SIGSEGV (signal 11)"

        exited = run.schedule(activities.hard_exit, 3, activity_id="exit#1")
        outcome = run.outcome(exited)
        assert outcome["reason"] == "activity process exited with code 3 without a result"

        killed = run.schedule(activities.self_kill, activity_id="oom#1")
        assert run.outcome(killed)["reason"].startswith(
            "activity process died with SIGKILL (signal 9)")

        after = run.schedule(activities.add, 20, 22, activity_id="after#1")
        assert run.outcome(after)["result"] == "42"


def test_unknown_activity_type_is_refused_naming_the_fix(backend: SwfBackend,
                                                          task_list: str) -> None:
    run = Run(backend, task_list)
    ghost = Activity(func=len, name="no_such_module.ghost", task_list=task_list)
    activity_id = run.schedule(ghost)
    with running_worker(backend, task_list):
        outcome = run.outcome(activity_id)
        reason = outcome["reason"]
        assert "'no_such_module.ghost' is not registered on this worker" in reason
        assert "--module" in reason
        after = run.schedule(activities.add, 1, 1, activity_id="after#1")
        assert run.outcome(after)["result"] == "2"


def test_start_to_close_overrun_is_killed(backend: SwfBackend, task_list: str) -> None:
    run = Run(backend, task_list)
    activity_id = run.schedule(activities.overrun, 30)
    with running_worker(backend, task_list):
        outcome = run.outcome(activity_id)
    assert outcome["type"] == "ActivityTaskFailed"
    assert outcome["reason"].startswith("activity timed out: it ran past its startToCloseTimeout")
    assert details_of(outcome)["type"] == "TimeoutError"


def test_result_problems_fail_the_task_with_the_reason(
    backend: SwfBackend, task_list: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REPLAYFLOW_JUMBO_FIELDS_BUCKET", raising=False)
    run = Run(backend, task_list)
    with running_worker(backend, task_list):
        big = run.schedule(activities.huge, 40_000, activity_id="huge#1")
        reason = details_of(run.outcome(big))["reason"]
        assert "result is 40002 characters, over the SWF limit of 32768" in reason
        assert "REPLAYFLOW_JUMBO_FIELDS_BUCKET" in reason
        odd = run.schedule(activities.not_json, activity_id="activity-odd-1#1")
        reason = run.outcome(odd)["reason"]
        assert reason.startswith("the result of activity-odd-1 is not JSON-serialisable")


def test_heartbeats_keep_a_long_activity_alive(backend: SwfBackend, task_list: str) -> None:
    """heartbeatTimeout 3 s, the activity runs 5 s without heartbeating: only the worker's own
    heartbeats keep moto from timing it out (moto does enforce heartbeat timeouts). A heartbeat
    every 0.5 s leaves 2.5 s of slack, which a loaded 2-core machine keeps."""
    run = Run(backend, task_list)
    activity_id = run.schedule(activities.slow_quiet, 5)
    with running_worker(backend, task_list, heartbeat=0.5):
        outcome = run.outcome(activity_id)
    assert outcome["type"] == "ActivityTaskCompleted", outcome


def test_processes_run_activities_at_the_same_time(
    backend: SwfBackend, task_list: str, tmp_path: Path
) -> None:
    run = Run(backend, task_list)
    gate = tmp_path / "gate"
    with running_worker(backend, task_list, processes=2):
        task = wait_for(lambda: backend.poll_for_decision_task(run.decisions), "a decision task")
        decisions = []
        for n in (1, 2):
            decisions.append({
                "decisionType": "ScheduleActivityTask",
                "scheduleActivityTaskDecisionAttributes": {
                    "activityType": {"name": activities.wait_for_file.name, "version": "1"},
                    "activityId": f"hold-{n}#1",
                    "input": encoding.encode_call([str(gate)], {}),
                    "taskList": {"name": task_list},
                    **activities.wait_for_file.timeouts,
                },
            })
        backend.register_activity_type(activities.wait_for_file.name, "1", task_list)
        backend.respond_decision_task_completed(task["taskToken"], decisions)
        # Both started while neither can finish: two activities at once.
        wait_for(lambda: gate.with_suffix(".started").exists() and len(
            [e for e in run.events() if e["eventType"] == "ActivityTaskStarted"]) == 2,
            "two started activities")
        gate.write_text("go")
        for n in (1, 2):
            assert run.outcome(f"hold-{n}#1")["result"] == '"released"'


def test_killed_worker_times_out_and_retry_completes_elsewhere(
    backend: SwfBackend, task_list: str, aws_env: dict[str, str], tmp_path: Path
) -> None:
    run = Run(backend, task_list)
    gate = tmp_path / "gate"
    first = run.schedule(activities.wait_for_file, str(gate), "step 3 of 7")
    proc = worker_process(backend.domain, task_list, aws_env, "--heartbeat", "0.5",
                          log_level="DEBUG")
    stderr = StderrLines(proc)
    try:
        child_pid = int(wait_for(lambda: gate.with_suffix(".started").exists()
                                 and gate.with_suffix(".started").read_text(),
                                 "the activity to start"))
        stderr.wait_for("heartbeat sent (details: 'step 3 of 7')")
        proc.kill()
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # The activity process dies with its worker (no orphan finishing the work behind our back).
    wait_for(lambda: not _alive(child_pid), "the orphaned activity process to die", 5)
    outcome = run.outcome(first, timeout=15)
    assert outcome["type"] == "ActivityTaskTimedOut"
    assert outcome["timeoutType"] == "HEARTBEAT"
    assert outcome["details"] == "step 3 of 7"  # the activity's own heartbeat reached SWF

    gate.write_text("go")
    retry = run.schedule(activities.wait_for_file, str(gate),
                         activity_id="activity-support.activities.wait_for_file-1#2")
    with running_worker(backend, task_list):
        assert run.outcome(retry)["result"] == '"released"'


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


# Margins a loaded machine keeps: 28.5 s between the activity's end and the end of the grace
# period in the first case, 24.8 s between the end of the grace period and the activity's end
# in the second (the test takes as long as the activity, or the grace period, whichever ends
# first).
@pytest.mark.parametrize("grace, seconds, expected", [("30", 1.5, "completed"),
                                                      ("0.2", 25, "failed")])
def test_sigterm_lets_the_activity_finish_within_grace(
    backend: SwfBackend, task_list: str, aws_env: dict[str, str], tmp_path: Path,
    grace: str, seconds: float, expected: str,
) -> None:
    run = Run(backend, task_list)
    started = tmp_path / "started"
    activity_id = run.schedule(activities.sleep_then, seconds, str(started))
    proc = worker_process(backend.domain, task_list, aws_env, "--grace-period", grace)
    try:
        wait_for(started.exists, "the activity to start")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    outcome = run.outcome(activity_id, timeout=5)
    if expected == "completed":
        assert outcome["type"] == "ActivityTaskCompleted"
        assert outcome["result"] == '"slept"'
    else:
        assert outcome["type"] == "ActivityTaskFailed"
        assert outcome["reason"] == "worker shut down before the activity finished"
