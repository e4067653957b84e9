"""The decider, the worker and `standalone` end to end, against a real moto server process.

Workflows live in tests/support/workflows.py; child processes find them through PYTHONPATH.
Every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.processes import kill_group as stop
from support.processes import spawn_replayflow as spawn
from support.workflows import ChainWorkflow, StepsWorkflow

from replayflow.backends.swf import SwfBackend
from replayflow.client import start_execution, wait_for_close
from replayflow.decider import Decider

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent
DEADLINE = 60


@pytest.fixture
def env(aws_env: dict[str, str]) -> dict[str, str]:
    """The moto env plus PYTHONPATH for `support.workflows` in child processes."""
    path = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), aws_env.get("PYTHONPATH"))
                           if p)
    return {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING"}


def standalone(env: dict[str, str], domain: str, workflow: str, *input_args: object,
               extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "replayflow", "standalone", "--domain", domain, workflow,
         "--input", json.dumps(list(input_args)), *extra],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=DEADLINE,
    )



def test_fan_out_of_50(env, swf_domain):
    done = standalone(env, swf_domain, "support.workflows.FanOutWorkflow", 50)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == sum(i * i for i in range(50))


def test_chain_of_20(env, swf_domain):
    done = standalone(env, swf_domain, "support.workflows.ChainWorkflow", 20)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 20


def test_handled_failure_completes(env, swf_domain):
    done = standalone(env, swf_domain, "support.workflows.HandledFailureWorkflow")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result.startswith("handled: ")
    assert "ValueError" in result and "handled boom" in result


def test_unhandled_failure_fails_with_the_reason(env, swf_domain):
    done = standalone(env, swf_domain, "support.workflows.UnhandledFailureWorkflow")
    assert done.returncode == 1
    assert done.stdout == ""
    error_lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert "workflow failed" in error_lines[0]
    assert "ValueError" in error_lines[0] and "unhandled boom" in error_lines[0]
    # The activity's own traceback is shown, indented under a heading; none of ours.
    assert not any(line.startswith("Traceback") for line in done.stderr.splitlines())
    assert "remote traceback of activity-" in done.stderr
    assert "raise ValueError" in done.stderr


def test_retry_two_failures_then_success(env, swf_domain, tmp_path):
    done = standalone(env, swf_domain, "support.workflows.RetryWorkflow", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == "succeeded on attempt 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["attempt-1", "attempt-2",
                                                         "attempt-3"]


def test_decider_killed_mid_workflow_and_restarted(env, swf_domain, tmp_path):
    """SIGKILL the decider between steps: a new one replays the history and finishes the run,
    and no step runs twice."""
    log_path = tmp_path / "steps.log"
    task_list = f"steps-{swf_domain}"
    decider_argv = ("decider.start", "--domain", swf_domain, "--task-list", task_list,
                    "support.workflows.StepsWorkflow")
    worker = spawn(env, "worker.start", "--domain", swf_domain, "--task-list",
                   "e2e-activities", "--module", "support.workflows")
    decider = spawn(env, *decider_argv)
    restarted = None
    try:
        backend = SwfBackend(swf_domain)
        workflow_id, run_id = start_execution(backend, StepsWorkflow, [str(log_path), 8, 0.2],
                                              task_list=task_list)
        deadline = time.monotonic() + DEADLINE
        while not (log_path.exists() and len(log_path.read_text().split()) >= 3):
            assert time.monotonic() < deadline, "the first steps never ran"
            time.sleep(0.05)
        os.kill(decider.pid, signal.SIGKILL)
        decider.wait(timeout=10)
        restarted = spawn(env, *decider_argv)
        outcome = wait_for_close(backend, workflow_id, run_id, timeout=DEADLINE)
    finally:
        for proc in (worker, decider, restarted):
            if proc is not None:
                stop(proc)
    assert outcome.ok, outcome.reason
    assert outcome.result == list(range(8))
    assert log_path.read_text().split() == [str(i) for i in range(8)]


def test_affinity_falls_back_on_moto(env, swf_domain):
    """moto ignores the sticky task list: every task arrives, with the full history, on the
    shared list; the cache still saves the replay (only new events are fed)."""
    task_list = f"chain-{swf_domain}"
    backend = SwfBackend(swf_domain)
    decider = Decider(backend, {ChainWorkflow.type_name(): ChainWorkflow}, task_list)
    decider.register()
    stop_event = threading.Event()
    thread = threading.Thread(target=decider.run, args=(stop_event,), daemon=True)
    thread.start()
    worker = spawn(env, "worker.start", "--domain", swf_domain, "--task-list",
                   "e2e-activities", "--module", "support.workflows")
    try:
        workflow_id, run_id = start_execution(backend, ChainWorkflow, [5], task_list=task_list)
        outcome = wait_for_close(backend, workflow_id, run_id, timeout=DEADLINE)
    finally:
        stop_event.set()
        thread.join(timeout=30)
        stop(worker)
    assert not thread.is_alive()
    assert outcome.ok and outcome.result == 5
    history = backend.get_workflow_execution_history(workflow_id, run_id)
    decisions = sum(e["eventType"] == "DecisionTaskCompleted" for e in history)
    assert decider.stats.tasks == decisions == 6
    assert decider.stats.misses == 1  # only the very first task
    assert decider.stats.hits == 5
    assert decider.stats.full_fetches == 0
    # Each event was fed once, not once per decision.
    assert decider.stats.events_fed < len(history)
    assert not decider.cache  # the closed run was dropped
