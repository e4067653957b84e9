"""DAGs and shell commands end to end on moto: the examples through `replayflow standalone`, and
the SWF worker killing a shell command's whole process group (grandchildren included) when it
kills the activity, on a start-to-close timeout and at the end of its shutdown grace period."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support.cli import run_cli
from support.processes import read_pid, wait_dead
from support.shell_workflows import hang_for_cancel

from replayflow import encoding, jumbo
from replayflow.backends.swf import SwfBackend

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent
DEADLINE = 60


@pytest.fixture
def env(aws_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The moto env for subprocesses, with tests/support importable and no jumbo bucket."""
    path = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), aws_env.get("PYTHONPATH"))
                           if p)
    env = {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING",
           jumbo.CACHE_DIR_ENV: str(tmp_path / "cache")}
    env.pop(jumbo.BUCKET_ENV, None)
    return env


def standalone(env: dict[str, str], domain: str, workflow: str, input_json: str):
    done = run_cli("standalone", "--domain", domain, workflow, "--input", input_json, env=env,
                   timeout=DEADLINE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return json.loads(done.stdout)


def test_the_dag_example_on_moto(env, swf_domain):
    expected = {"fetch": "title: page a\nrow: a-1\nrow: a-2\nrow: a-3\n",
                "parse": ["a-1", "a-2", "a-3"], "checksum": "ca2b1816c487",
                "store": "stored 3 records under ca2b1816c487"}
    assert standalone(env, swf_domain, "examples.dag.PageWorkflow",
                      '["https://example.com/a"]') == {"by_edges": expected, "by_data": expected}


def test_the_shell_example_on_moto(env, swf_domain):
    result = standalone(env, swf_domain, "examples.shell.ShellWorkflow",
                        '["to be or not to be", "be"]')
    assert result.pop("missing").startswith(
        "CommandFailed: `cat /nonexistent/replayflow-example` exited with code 1")
    assert result == {"words": 6, "matches": 2, "absent": 1, "checksum": "2814505409"}


def test_large_output_goes_through_a_jumbo_field(env, swf_domain, s3_bucket):
    env = {**env, jumbo.BUCKET_ENV: f"{s3_bucket}/shell"}
    result = standalone(env, swf_domain, "support.shell_workflows.BigOutputWorkflow", "[100000]")
    assert result == {"length": 100_000, "only_x": True, "truncated": False}


def test_a_start_to_close_timeout_kills_the_grandchild_on_the_worker(env, swf_domain, tmp_path):
    pidfile = tmp_path / "pid"
    result = standalone(env, swf_domain, "support.shell_workflows.TimeoutWorkflow",
                        json.dumps([str(pidfile)]))
    assert result == {"failed": "activity timed out: it ran past its startToCloseTimeout of "
                                "3 s and the worker killed it"}
    assert wait_dead(read_pid(pidfile)), "the grandchild outlived the killed activity"


def test_the_end_of_the_grace_period_kills_the_grandchild(env, swf_domain, tmp_path):
    backend = SwfBackend(swf_domain)
    task_list = f"shell-{uuid.uuid4().hex[:8]}"
    decisions = f"decisions-{uuid.uuid4().hex[:8]}"
    pidfile = tmp_path / "pid"
    backend.register_workflow_type("shell-grace", "1", decisions, 600)
    backend.register_activity_type(hang_for_cancel.name, hang_for_cancel.version, task_list)
    workflow_id = f"grace-{uuid.uuid4().hex[:8]}"
    run_id = backend.start_workflow_execution(workflow_id, "shell-grace", "1",
                                              task_list=decisions)
    task = poll(lambda: backend.poll_for_decision_task(decisions))
    backend.respond_decision_task_completed(task["taskToken"], [{
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": hang_for_cancel.name, "version": hang_for_cancel.version},
            "activityId": "hang#1", "taskList": {"name": task_list},
            "input": encoding.encode_call([str(pidfile)], {}), **hang_for_cancel.timeouts}}])
    worker = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "worker.start", "--domain", swf_domain,
         "--task-list", task_list, "--grace-period", "0.5", "--module",
         "support.shell_workflows"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        grandchild = read_pid(pidfile, timeout=DEADLINE)
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=DEADLINE)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    assert worker.returncode == 0, err
    assert wait_dead(grandchild), "the grandchild outlived the worker's grace period"
    failed = poll(lambda: [e["activityTaskFailedEventAttributes"] for e in
                           backend.get_workflow_execution_history(workflow_id, run_id)
                           if e["eventType"] == "ActivityTaskFailed"])
    assert failed[0]["reason"] == "worker shut down before the activity finished"


def poll(probe, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("nothing came back in time")
