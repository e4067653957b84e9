"""Deterministic errors fail a run on SWF (moto) as they do locally, instead of leaving its
decision tasks unanswered until the execution times out.

Each of these used to wedge the run: `standalone --wait` hung with no message. Workflows live in
tests/support/failure_workflows.py; child processes find them through PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.failure_workflows import CancelFiredTimerWorkflow

from replayflow.backends.swf import SwfBackend
from replayflow.client import start_execution, wait_for_close
from replayflow.decider import Decider
from replayflow.history import attributes

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent
DEADLINE = 60


@pytest.fixture
def env(aws_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), aws_env.get("PYTHONPATH"))
                           if p)
    return {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING",
            "REPLAYFLOW_CACHE_DIR": str(tmp_path / "cache")}


def standalone(env: dict[str, str], domain: str, workflow: str, *extra: str,
               ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "replayflow", "standalone", "--domain", domain,
         f"support.failure_workflows.{workflow}", *extra],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, stdout, stderr


@pytest.mark.parametrize("workflow, message", [
    ("SwallowedFailureWorkflow", "run() returned without looking at a failed task: "
                                 "activity-support.failure_workflows.explode-1 failed: "
                                 "ValueError: swallowed exploded"),
    ("EmptyTimerIdWorkflow", "ValueError: timer id must not be empty"),
    ("EmptyMarkerNameWorkflow", "ValueError: marker name must not be empty"),
])
def test_the_run_fails_with_the_same_reason_as_locally(env, swf_domain, workflow, message):
    code, stdout, stderr = finish(standalone(env, swf_domain, workflow))
    assert code == 1, stderr
    assert stdout == ""
    assert message in error_line(stderr)


def test_a_signal_carrying_a_bad_jumbo_reference_fails_the_run(env, swf_domain, s3_bucket):
    """Anyone who can signal the run can send any text; a reference to an object that is not
    there is an error that will never go away, so the run fails, naming the signal."""
    env = {**env, "REPLAYFLOW_JUMBO_FIELDS_BUCKET": s3_bucket}
    workflow_id = f"bad-reference-{time.monotonic_ns()}"
    proc = standalone(env, swf_domain, "SignalWaitWorkflow", "--workflow-id", workflow_id)
    try:
        backend = SwfBackend(swf_domain)
        deadline = time.monotonic() + DEADLINE
        while not backend.list_executions("open", workflow_id=workflow_id):
            assert time.monotonic() < deadline and proc.poll() is None, "it never started"
            time.sleep(0.05)
        backend.signal(workflow_id, "go", f"replayflow+s3://{s3_bucket}/not-there 10")
    finally:
        code, stdout, stderr = finish(proc)
    assert code == 1, stderr
    line = error_line(stderr)
    assert "cannot read signal 'go' (event" in line and "JumboFieldError" in line


def test_a_cancel_timer_failed_without_a_timer_id_is_handled(aws_env, swf_domain):
    """moto records CancelTimerFailed with no timerId. The test plays the decider step by step
    to make the race happen: the timer fires after the decision task that cancels it was
    polled, and before it is answered."""
    task_list = f"cancel-race-{swf_domain}"
    backend = SwfBackend(swf_domain)
    decider = Decider(backend, {CancelFiredTimerWorkflow.type_name(): CancelFiredTimerWorkflow},
                      task_list, sticky=False)
    decider.register()
    workflow_id, run_id = start_execution(backend, CancelFiredTimerWorkflow, [],
                                          task_list=task_list)

    def next_task() -> dict:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            task = decider.poll()
            if task is not None:
                return task
        raise AssertionError("no decision task came")

    def history_has(event_type: str) -> bool:
        return any(e["eventType"] == event_type
                   for e in backend.get_workflow_execution_history(workflow_id, run_id))

    decider.process(next_task())  # StartTimer deadline (1 s)
    backend.signal(workflow_id, "go", "null")  # moto answers HTTP 500 to a signal with no input
    cancelling = next_task()  # polled now: the timer has not fired yet
    assert not any(e["eventType"] == "TimerFired" for e in cancelling["events"])
    deadline = time.monotonic() + DEADLINE
    while not history_has("TimerFired"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    decider.process(cancelling)  # CancelTimer (too late) and a zero-second sleep
    decider.process(next_task())  # carries CancelTimerFailed, without its timerId
    outcome = wait_for_close(backend, workflow_id, run_id, timeout=DEADLINE)
    assert outcome.ok, outcome.reason
    assert outcome.result == {"cancelled": True, "deadline": "CANCELLED"}
    history = backend.get_workflow_execution_history(workflow_id, run_id)
    failed = [attributes(e) for e in history if e["eventType"] == "CancelTimerFailed"]
    assert len(failed) == 1 and "timerId" not in failed[0]
