"""Runs made by hand on a moto server: the test plays decider and worker with SwfBackend calls.

Operator tests need finished, failed, running and terminated executions with known contents, and
need them without a decider or worker process. Every step waits on a poll with a deadline.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from replayflow.backends.swf import SwfBackend

T = TypeVar("T")

DECIDERS = "ops-deciders"
WORKERS = "ops-workers"
WORKFLOW_TYPE = ("basic", "example")
ACTIVITIES = ("examples.basic.increment", "examples.basic.double", "examples.basic.delay",
              "examples.failure.divide")


def wait_for(fetch: Callable[[], T | None], timeout: float = 15.0) -> T:
    """Call `fetch` until it returns something, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if value is not None:
            return value
    raise AssertionError(f"nothing came back within {timeout} s")


def call_json(*args: Any, **kwargs: Any) -> str:
    return json.dumps({"args": list(args), "kwargs": kwargs}, separators=(",", ":"),
                      sort_keys=True)


def failure_details(error_type: str, message: str) -> str:
    return json.dumps({"type": error_type, "message": message,
                       "reason": f"{error_type}: {message}",
                       "traceback": f"Traceback (most recent call last):\n{error_type}: {message}"})


def schedule(activity_id: str, name: str, input_text: str) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": name, "version": "example"},
            "activityId": activity_id,
            "taskList": {"name": WORKERS},
            "input": input_text,
        },
    }


def complete(result: str) -> dict[str, Any]:
    return {"decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {"result": result}}


def fail(reason: str, details: str) -> dict[str, Any]:
    return {"decisionType": "FailWorkflowExecution",
            "failWorkflowExecutionDecisionAttributes": {"reason": reason, "details": details}}


@dataclass
class Run:
    workflow_id: str
    run_id: str


class HandDriver:
    """Decider and worker by hand, one step at a time, on one domain."""

    def __init__(self, backend: SwfBackend) -> None:
        self.backend = backend
        backend.register_workflow_type(*WORKFLOW_TYPE, DECIDERS, execution_timeout=3600)
        for name in ACTIVITIES:
            backend.register_activity_type(name, "example", WORKERS)

    def start(self, workflow_id: str, input_text: str, tags: list[str] | None = None) -> Run:
        run_id = self.backend.start_workflow_execution(
            workflow_id, *WORKFLOW_TYPE, input=input_text, tags=tags)
        return Run(workflow_id, run_id)

    def decide(self, run: Run, *decisions: dict[str, Any]) -> None:
        task = wait_for(lambda: self.backend.poll_for_decision_task(DECIDERS, "hand-decider"))
        assert task["workflowExecution"] == {"workflowId": run.workflow_id, "runId": run.run_id}
        self.backend.respond_decision_task_completed(task["taskToken"], list(decisions))

    def take(self, activity_id: str) -> str:
        """Poll the activity task (it becomes RUNNING); returns its token."""
        task = wait_for(lambda: self.backend.poll_for_activity_task(WORKERS, "hand-worker"))
        assert task["activityId"] == activity_id
        return task["taskToken"]

    def succeed(self, activity_id: str, result: Any) -> None:
        self.backend.respond_activity_task_completed(self.take(activity_id), json.dumps(result))

    def raise_(self, activity_id: str, error_type: str, message: str) -> None:
        self.backend.respond_activity_task_failed(
            self.take(activity_id), f"{error_type}: {message}",
            failure_details(error_type, message))


INCREMENT = "activity-examples.basic.increment-1"
DOUBLE = "activity-examples.basic.double-1"
DELAY = "activity-examples.basic.delay-1"
DIVIDE = "activity-examples.failure.divide-1"


def make_finished(driver: HandDriver, workflow_id: str) -> Run:
    """basic([1, 0]): increment fails once then returns 2, double returns 4, result 4."""
    run = driver.start(workflow_id, call_json(1, 0), tags=["team:ops"])
    driver.decide(run, schedule(f"{INCREMENT}#1", "examples.basic.increment", call_json(1)))
    driver.raise_(f"{INCREMENT}#1", "ConnectionError", "flaky")
    driver.decide(run, schedule(f"{INCREMENT}#2", "examples.basic.increment", call_json(1)))
    driver.succeed(f"{INCREMENT}#2", 2)
    driver.decide(run, schedule(f"{DOUBLE}#1", "examples.basic.double", call_json(2)))
    driver.succeed(f"{DOUBLE}#1", 4)
    driver.decide(run, complete("4"))
    return run


def make_failed(driver: HandDriver, workflow_id: str) -> Run:
    """divide(1, 0) fails with ZeroDivisionError, and so does the workflow."""
    run = driver.start(workflow_id, call_json(7, 0))
    driver.decide(run, schedule(f"{DIVIDE}#1", "examples.failure.divide", call_json(1, 0)))
    driver.raise_(f"{DIVIDE}#1", "ZeroDivisionError", "division by zero")
    driver.decide(run, fail(f"TaskFailed: {DIVIDE} failed: ZeroDivisionError: division by zero",
                            failure_details("replayflow.errors.TaskFailed", "boom")))
    return run


def make_running(driver: HandDriver, workflow_id: str) -> Run:
    """increment done, delay taken by a worker that never answers: the run stays open."""
    run = driver.start(workflow_id, call_json(5, 60))
    driver.decide(run, schedule(f"{INCREMENT}#1", "examples.basic.increment", call_json(5)))
    driver.succeed(f"{INCREMENT}#1", 6)
    driver.decide(run, schedule(f"{DELAY}#1", "examples.basic.delay", call_json(60, 6)))
    driver.take(f"{DELAY}#1")
    return run


def make_waiting(driver: HandDriver, workflow_id: str) -> Run:
    """An open run whose first activity is scheduled and never picked up."""
    run = driver.start(workflow_id, call_json(9, 0))
    driver.decide(run, schedule(f"{INCREMENT}#1", "examples.basic.increment", call_json(9)))
    return run
