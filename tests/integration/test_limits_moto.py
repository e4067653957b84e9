"""SWF's hard limits on a real moto server, with decider and worker processes.

moto enforces none of them (not the 1,000 open items, nor the 1 MB request): these runs show
that the engine keeps under them by itself, counted from the history moto recorded.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from support.cli import run_cli
from support.limit_workflows import (
    TASK_LIST,
    BigInputs,
    ManyActivities,
    ManyTimers,
    TwoAtATime,
    most_open,
    refusals,
    response_sizes,
)
from support.processes import kill_group as stop
from support.processes import spawn_replayflow as spawn

from replayflow.backends.swf import SwfBackend
from replayflow.client import start_execution, wait_for_close
from replayflow.history import attributes

pytestmark = pytest.mark.integration

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent


@pytest.fixture
def env(aws_env: dict[str, str]) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), aws_env.get("PYTHONPATH"))
                           if p)
    return {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING"}


def run_on_moto(env: dict[str, str], domain: str, cls: type, *args: object,
               workers: int = 1, timeout: float = 240) -> tuple[object, list[dict]]:
    """Run to the end with a decider and `workers` worker processes; (its result, its history as
    moto recorded it).

    One decision poller: moto records a response's events one by one, unlocked, so a second
    poll could start the next decision task in the middle of them (SWF records a response at
    once); with one poller, the next poll waits until the answer is in.
    """
    task_list = f"limits-{uuid.uuid4().hex[:8]}"
    decider = spawn(env, "decider.start", "--domain", domain, "--task-list", task_list,
                    "--pollers", "1", f"support.limit_workflows.{cls.__name__}")
    procs = [decider] + [spawn(env, "worker.start", "--domain", domain, "--task-list", TASK_LIST,
                               "--module", "support.limit_workflows") for _ in range(workers)]
    try:
        backend = SwfBackend(domain)
        workflow_id, run_id = start_execution(backend, cls, list(args), task_list=task_list)
        outcome = wait_for_close(backend, workflow_id, run_id, timeout=timeout)
    finally:
        for proc in procs:
            stop(proc)
    assert outcome.ok, outcome.reason
    return outcome.result, backend.get_workflow_execution_history(workflow_id, run_id)



def test_1500_activities_never_more_than_1000_open(env, swf_domain):
    result, events = run_on_moto(env, swf_domain, ManyActivities, 1500, workers=2)
    assert result == sum(range(1500))
    assert most_open(events, "activity") == 1000
    assert waiting_at_first(events)["activities"] == 500
    assert refusals(events) == []


def waiting_at_first(events: list[dict]) -> dict:
    first = next(e for e in events if e["eventType"] == "DecisionTaskCompleted")
    return json.loads(attributes(first)["executionContext"])["slots"]["waiting"]


def test_1500_timers_never_more_than_1000_open(env, swf_domain):
    result, events = run_on_moto(env, swf_domain, ManyTimers, 1500, 5)
    assert result == 1500
    assert most_open(events, "timer") <= 1000
    assert waiting_at_first(events)["timers"] == 501  # 999 started, one slot kept free
    assert refusals(events) == []


def test_40_inputs_of_30_kb_go_out_in_responses_under_1_mb(env, swf_domain):
    result, events = run_on_moto(env, swf_domain, BigInputs, 40, 30_000)
    assert result == [30_000] * 40
    batches = response_sizes(events)
    assert len(batches) >= 2 and sum(batches) == 40
    # Each response, rebuilt from what moto recorded, is under SWF's 1 MB.
    scheduled: dict[int, int] = {}
    for event in events:
        if event["eventType"] == "ActivityTaskScheduled":
            attrs = attributes(event)
            decision = {"decisionType": "ScheduleActivityTask",
                        "scheduleActivityTaskDecisionAttributes": {
                            key: attrs[key] for key in ("activityType", "activityId", "input",
                                                        "taskList")}}
            completed = attrs["decisionTaskCompletedEventId"]
            scheduled[completed] = scheduled.get(completed, 0) + len(json.dumps(decision))
    assert all(size < 1_000_000 for size in scheduled.values()), scheduled


def test_workflow_tasks_and_info_show_the_tasks_waiting_for_a_slot(env, swf_domain):
    """No worker: the first answer schedules two activities and leaves three waiting; moto
    keeps the execution context the decider sent, and the operator commands read it."""
    task_list = f"limits-{uuid.uuid4().hex[:8]}"
    backend = SwfBackend(swf_domain)
    decider = spawn(env, "decider.start", "--domain", swf_domain, "--task-list", task_list,
                    "--pollers", "1", "support.limit_workflows.TwoAtATime")
    try:
        workflow_id, run_id = start_execution(backend, TwoAtATime, [5], task_list=task_list)
        deadline = time.monotonic() + 60
        while not any(e["eventType"] == "ActivityTaskScheduled"
                      for e in backend.get_workflow_execution_history(workflow_id, run_id)):
            assert time.monotonic() < deadline, "the decider never answered"
            time.sleep(0.1)
    finally:
        stop(decider)
    tasks = run_cli("--format", "json", "workflow.tasks", "--domain", swf_domain, workflow_id,
                    env=env)
    assert tasks.returncode == 0, tasks.stderr
    states = [(row["task_id"].rsplit("-", 1)[1], row["state"]) for row in json.loads(tasks.stdout)]
    assert states == [("1", "SCHEDULED"), ("2", "SCHEDULED"), ("3", "WAITING"), ("4", "WAITING"),
                      ("5", "WAITING")]
    info = run_cli("--format", "json", "workflow.info", "--domain", swf_domain, workflow_id,
                   env=env)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["waiting"] == {"activities": 3}
    backend.terminate(workflow_id, run_id, reason="test over")
