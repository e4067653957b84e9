"""Dead and stopped processes on moto: four chaos trials (bench/chaos.py runs twenty), and the
default heartbeat timeout bringing back a killed worker's task.

Chaos trials: kill -9 or SIGTERM mid-run, then a restart.

The faults cover the worker, the decider and both, killed and stopped; their moments are
random (the seed is in any failure message). Whatever happens, both runs complete with the right
result, no (task, attempt) is ever started twice, no task whose completion SWF recorded is ever
run again, and a task is re-run after its body finished only when the worker was killed before
it could report (at-least-once), never after a SIGTERM or a decider's death.
"""

from __future__ import annotations

import random
import signal
import time
import uuid
from pathlib import Path

import pytest
from support import chaos

from replayflow.activity import DEFAULT_HEARTBEAT_TIMEOUT
from replayflow.backends.swf import SwfBackend
from replayflow.client import start_execution, wait_for_close

pytestmark = pytest.mark.integration

FAULTS = [("worker", "SIGKILL"), ("decider", "SIGKILL"), ("both", "SIGKILL"),
          ("both", "SIGTERM")]


def test_runs_survive_killed_and_stopped_processes(aws_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    results = [chaos.run_trial(aws_env, chaos.Fault.random(rng, target, sig), tmp_path / str(i))
               for i, (target, sig) in enumerate(FAULTS)]
    report = f"seed {seed}: " + "; ".join(str(r.as_dict()) for r in results)
    assert all(r.ok for r in results), report
    assert [r.started_twice for r in results] == [[]] * len(FAULTS), report
    assert [r.rerun_after_completion for r in results] == [[]] * len(FAULTS), report
    for result in results:
        if not result.worker_killed:
            assert result.rerun_after_lost_outcome == [], report
    # Every trial ran every task at least once: the log saw the whole workload.
    assert all(r.attempts >= chaos.CHAIN + chaos.FAN_OUT for r in results), report


def test_a_killed_workers_task_comes_back_after_the_default_heartbeat_timeout(
        aws_env: dict[str, str], tmp_path: Path) -> None:
    """Default attributes (retry=1): kill -9 of the worker mid-activity, a new worker starts,
    and SWF (moto) times the dead attempt out on heartbeat, so the retry runs and the run
    completes. Before the default, moto would never have timed it out (it does not enforce
    start-to-close) and SWF only after an hour. This waits out the minute."""
    domain = f"chaos-{uuid.uuid4().hex[:10]}"
    backend = SwfBackend(domain)
    backend.register_domain()
    marker = tmp_path / "attempt-1-started"
    procs = chaos.Processes(aws_env, domain, tmp_path,
                            workflows=("support.chaos.DefaultHeartbeatWorkflow",))
    try:
        procs.start("decider")
        procs.start("worker")
        workflow_id, run_id = start_execution(backend, chaos.DefaultHeartbeatWorkflow,
                                              [str(marker)])
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the first attempt never started"
        procs.signal("worker", signal.SIGKILL)
        procs.wait("worker")
        procs.start("worker")
        outcome = wait_for_close(backend, workflow_id, run_id, timeout=150)
    finally:
        procs.stop_all()
    assert (outcome.status, outcome.result) == ("COMPLETED", 2)
    events = backend.get_workflow_execution_history(workflow_id, run_id)
    scheduled = [e["activityTaskScheduledEventAttributes"] for e in events
                 if e["eventType"] == "ActivityTaskScheduled"]
    assert [(s["activityId"].rpartition("#")[2], s["heartbeatTimeout"]) for s in scheduled] == [
        ("1", str(DEFAULT_HEARTBEAT_TIMEOUT)), ("2", str(DEFAULT_HEARTBEAT_TIMEOUT))]
    timed_out = [e["activityTaskTimedOutEventAttributes"] for e in events
                 if e["eventType"] == "ActivityTaskTimedOut"]
    assert [t["timeoutType"] for t in timed_out] == ["HEARTBEAT"]
