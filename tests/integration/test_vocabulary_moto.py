"""Timers, markers and incoming signals end to end on moto, through `replayflow standalone`.

moto supports these (the rest of the vocabulary, such as children, cancel requests and
continue-as-new, is proved by the engine tests on SWF-shaped histories). Every wait polls a
condition with a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from replayflow.backends.swf import SwfBackend

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60


@pytest.fixture
def env(aws_env: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), aws_env.get("PYTHONPATH")) if p)
    return {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING"}


def standalone_args(domain: str, workflow: str, input_json: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "replayflow", "standalone", "--domain", domain, workflow,
            "--input", input_json, *extra]


def test_timers_sleep_and_a_cancelled_deadline(env, swf_domain):
    done = subprocess.run(standalone_args(swf_domain, "examples.timers.TimerWorkflow", "[1]"),
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"slept_seconds": 1, "report": "report for 2 items",
                                       "deadline": "cancelled"}


def test_markers_are_recorded_and_listed(env, swf_domain):
    done = subprocess.run(
        standalone_args(swf_domain, "examples.markers.MarkerWorkflow", '[["x", "y"]]'),
        env=env, cwd=REPO, capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "processed": ["X", "Y"],
        "markers": [["progress", {"done": 1, "of": 2}], ["progress", {"done": 2, "of": 2}]]}


def test_incoming_signals_matched_by_content(env, swf_domain, aws_env):
    workflow_id = f"approval-{time.monotonic_ns()}"
    proc = subprocess.Popen(
        standalone_args(swf_domain, "examples.signals.ApprovalWorkflow",
                        '{"orders": ["o-1", "o-2"], "self_approve": false}',
                        "--workflow-id", workflow_id),
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        backend = SwfBackend(swf_domain)
        deadline = time.monotonic() + DEADLINE
        while True:  # the execution must exist before it can be signalled
            if backend.list_executions("open", workflow_id=workflow_id):
                break
            assert time.monotonic() < deadline, "the execution never started"
            time.sleep(0.05)
        # Out of order, through the CLI: each wait still gets the answer for its own order.
        for order, approved in (("o-2", False), ("o-1", True)):
            sent = subprocess.run(
                [sys.executable, "-m", "replayflow", "workflow.signal", "--domain", swf_domain,
                 workflow_id, "approval", "--input",
                 json.dumps({"order": order, "approved": approved})],
                env=env, cwd=REPO, capture_output=True, text=True, timeout=DEADLINE)
            assert sent.returncode == 0, sent.stderr
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout) == {"o-1": "approved", "o-2": "rejected"}
