"""An activity type named in SWF runs nothing unless a loaded module declares it.

Whoever can schedule activity tasks on a task list (a decider role, a compromised decider, a
crafted history handed to `activity.rerun`) chooses the activity type's name. These tests name
callables that would run a shell command or arbitrary Python (`os.system`, `builtins.exec`,
`subprocess.getoutput`) against a real moto server and a real `replayflow worker.start` process,
and check with marker files that nothing ran, while a declared activity still does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from support.cli import assert_one_line_error, run_cli

from replayflow import encoding
from replayflow.backends.swf import SwfBackend

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
DEADLINE = 30.0


def hostile_calls(marker: Path) -> list[tuple[str, list[Any]]]:
    """Activity types and inputs that would each create `marker` if the worker ran them."""
    return [
        ("os.system", [f"touch {marker}"]),
        ("builtins.exec", [f"open({str(marker)!r}, 'w').close()"]),
        ("subprocess.getoutput", [f"touch {marker}"]),
        ("pathlib.Path.touch", [str(marker)]),
    ]


def closing_event(events: list[dict[str, Any]], activity_id: str) -> dict[str, Any] | None:
    scheduled = {e["eventId"] for e in events if e["eventType"] == "ActivityTaskScheduled"
                 and e["activityTaskScheduledEventAttributes"]["activityId"] == activity_id}
    for event in events:
        kind = event["eventType"]
        if kind in ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut"):
            attrs = event[kind[0].lower() + kind[1:] + "EventAttributes"]
            if attrs["scheduledEventId"] in scheduled:
                return {"type": kind, **attrs}
    return None


def test_a_worker_runs_no_callable_its_modules_do_not_declare(swf_domain, aws_env,
                                                              moto_server, tmp_path) -> None:
    backend = SwfBackend(swf_domain)
    task_list = f"acts-{uuid.uuid4().hex[:8]}"
    decisions = f"decisions-{uuid.uuid4().hex[:8]}"
    backend.register_workflow_type("allowlist-test", "1", decisions, 600)
    workflow_id = f"wf-{uuid.uuid4().hex[:8]}"
    run_id = backend.start_workflow_execution(workflow_id, "allowlist-test", "1",
                                              task_list=decisions)
    marker = tmp_path / "pwned"
    calls = hostile_calls(marker) + [("support.activities.add", [20, 22])]
    scheduled = []
    for index, (name, args) in enumerate(calls):
        backend.register_activity_type(name, "1", task_list)
        scheduled.append({"decisionType": "ScheduleActivityTask",
                          "scheduleActivityTaskDecisionAttributes": {
                              "activityType": {"name": name, "version": "1"},
                              "activityId": f"a{index}#1",
                              "input": encoding.encode_call(args, {}),
                              "taskList": {"name": task_list},
                              "scheduleToCloseTimeout": "60", "scheduleToStartTimeout": "60",
                              "startToCloseTimeout": "60", "heartbeatTimeout": "60"}})
    task = None
    deadline = time.monotonic() + DEADLINE
    while task is None and time.monotonic() < deadline:
        task = backend.poll_for_decision_task(decisions)
    assert task is not None, "no decision task"
    backend.respond_decision_task_completed(task["taskToken"], scheduled)

    env = {**moto_server.subprocess_env(), "LOG_LEVEL": "INFO",
           "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "worker.start", "--domain", swf_domain,
         "--task-list", task_list, "--module", "support.activities"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        outcomes: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + DEADLINE
        while len(outcomes) < len(calls) and time.monotonic() < deadline:
            events = backend.get_workflow_execution_history(workflow_id, run_id)
            for index in range(len(calls)):
                found = closing_event(events, f"a{index}#1")
                if found:
                    outcomes[calls[index][0]] = found
            time.sleep(0.1)
    finally:
        worker.terminate()
        _, stderr = worker.communicate(timeout=30)
    assert len(outcomes) == len(calls), (outcomes, stderr)
    for name, _ in hostile_calls(marker):
        outcome = outcomes[name]
        assert outcome["type"] == "ActivityTaskFailed", outcome
        assert f"'{name}' is not registered on this worker" in outcome["reason"]
        assert "--module" in outcome["reason"]
    assert outcomes["support.activities.add"]["result"] == "42"  # declared: it runs
    assert not marker.exists(), "a hostile activity type ran"
    assert "Traceback" not in stderr


def test_activity_rerun_of_a_crafted_history_runs_nothing(tmp_path) -> None:
    """A history file naming `builtins.exec` with a payload: refused in one line, nothing ran."""
    local = tmp_path / "basic.json"
    proc = run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   "[1, 0]", "--history-file", str(local))
    assert proc.returncode == 0, proc.stderr
    history = json.loads(local.read_text())
    marker = tmp_path / "pwned"
    crafted = 0
    for event in history["events"]:
        attrs = event.get("activityTaskScheduledEventAttributes")
        if attrs and attrs["activityType"]["name"] == "examples.basic.double":
            attrs["activityType"]["name"] = "builtins.exec"
            attrs["input"] = encoding.encode_call([f"open({str(marker)!r}, 'w').close()"], {})
            task_id = attrs["activityId"].partition("#")[0]
            crafted += 1
    assert crafted == 1
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(history))
    for modules in ([], ["-m", "examples.basic"]):
        proc = run_cli("activity.rerun", "--history-file", str(hostile), task_id, *modules)
        line = assert_one_line_error(proc, 2)
        assert "'builtins.exec' is not registered" in line
    assert not marker.exists(), "activity.rerun ran a crafted history's callable"
