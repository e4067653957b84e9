"""Failures are never swallowed: a failure that run() never looked at fails the run when run()
returns, naming the task and the error; looking at it in any way (or handing it on) is enough."""

from __future__ import annotations

import threading
import time

import pytest
from support.failure_workflows import SwallowedFailureWorkflow, echo, explode

from replayflow import Workflow, activity, canvas, futures
from replayflow.errors import TaskFailed
from replayflow.local import LocalRunner
from replayflow.testing import replay


@activity.with_attributes(task_list="unobserved", version="1", raises_on_failure=False)
def quiet_explode(label):
    raise ValueError(f"{label} exploded quietly")


@activity.with_attributes(task_list="unobserved", version="1", idempotent=True)
def idempotent_explode(label):
    raise ValueError(f"{label} exploded once")


@activity.with_attributes(task_list="unobserved", version="1", heartbeat_timeout=30)
def wait_for_cancel():
    import time

    for _ in range(3000):
        if activity.context().heartbeat():
            return "stopped"
        time.sleep(0.01)
    return "never cancelled"


SCENARIOS = {}


def scenario(fn):
    """What run() does, by name; every scenario returns "returned" if it gets to the end."""
    SCENARIOS[fn.__name__] = fn
    return fn


@scenario
def ignored(self):
    futures.wait(self.submit(explode, "a"))


@scenario
def two_ignored(self):
    futures.wait(self.submit(explode, "a"), self.submit(explode, "b"))


@scenario
def read_result(self):
    try:
        self.submit(explode, "a").result  # noqa: B018
    except TaskFailed:
        pass


@scenario
def read_exception(self):
    self.submit(explode, "a").exception  # noqa: B018


@scenario
def read_failed(self):
    f = self.submit(explode, "a")
    futures.wait(f)
    assert f.failed


@scenario
def quiet(self):
    futures.wait(self.submit(quiet_explode, "q"))


@scenario
def dependent_ignored(self):
    futures.wait(self.submit(echo, self.submit(explode, "a")))


@scenario
def dependent_read(self):
    self.submit(echo, self.submit(explode, "a")).exception  # noqa: B018


@scenario
def group_ignored(self):
    futures.wait(self.submit(canvas.Group(canvas.ActivityTask(explode, "a"),
                                          canvas.ActivityTask(echo, 1))))


@scenario
def group_read(self):
    self.submit(canvas.Group(canvas.ActivityTask(explode, "a"))).exception  # noqa: B018


@scenario
def chain_goes_on(self):
    futures.wait(self.submit(canvas.Chain(canvas.ActivityTask(explode, "a"),
                                          canvas.ActivityTask(echo, 1),
                                          break_on_failure=False)))


@scenario
def idempotent_copy_read_once(self):
    first, second = (self.submit(idempotent_explode, "x"), self.submit(idempotent_explode, "x"))
    futures.wait(first, second)
    first.exception  # noqa: B018


@scenario
def idempotent_copies_ignored(self):
    futures.wait(self.submit(idempotent_explode, "x"), self.submit(idempotent_explode, "x"))


@scenario
def cancelled_on_purpose(self):
    f = self.submit(wait_for_cancel)
    self.sleep(0)
    f.cancel()
    futures.wait(f)


class Scenario(Workflow):
    name = "unobserved-scenario"

    def run(self, scenario):
        SCENARIOS[scenario](self)
        return "returned"


def run(scenario):
    return LocalRunner(max_workers=4).run(Scenario, [scenario])


@pytest.mark.parametrize("scenario", ["read_result", "read_exception", "read_failed", "quiet",
                                      "dependent_read", "group_read", "chain_goes_on",
                                      "idempotent_copy_read_once", "cancelled_on_purpose"])
def test_a_failure_looked_at_or_handed_on_lets_the_run_complete(scenario):
    result = run(scenario)
    assert result.ok, result.reason
    assert result.result == "returned"


def test_a_failure_never_looked_at_fails_the_run_naming_the_task_and_the_error():
    result = run("ignored")
    assert result.status == "FAILED"
    assert result.reason == (f"run() returned without looking at a failed task: "
                             f"activity-{explode.name}-1 failed: ValueError: a exploded")
    assert result.details["task_id"] == f"activity-{explode.name}-1"
    assert "a exploded" in result.details["traceback"]
    assert replay(result.execution.history(), Scenario).closed


def test_every_unobserved_failure_is_named():
    result = run("two_ignored")
    assert result.status == "FAILED"
    assert result.reason.startswith("run() returned without looking at 2 failed tasks: ")
    assert sorted(f["task_id"] for f in result.details["failures"]) == [  # in history order
        f"activity-{explode.name}-1", f"activity-{explode.name}-2"]


@pytest.mark.parametrize("scenario, task_id", [
    ("dependent_ignored", f"activity-{echo.name}-1"),
    ("group_ignored", "group-1"),
])
def test_a_failure_handed_on_is_judged_where_it_went(scenario, task_id):
    result = run(scenario)
    assert result.status == "FAILED"
    assert result.details["task_id"] == task_id
    assert len(result.details["failures"]) == 1
    assert "a exploded" in result.reason


def test_copies_of_one_idempotent_failure_are_reported_once():
    result = run("idempotent_copies_ignored")
    assert result.status == "FAILED"
    assert len(result.details["failures"]) == 1


def test_the_shared_workflow_fails_locally():
    """The workflow the moto test runs through `standalone` (tests/integration)."""
    result = LocalRunner(max_workers=4).run(SwallowedFailureWorkflow, ["lost"])
    assert result.status == "FAILED"
    assert "lost exploded" in result.reason and explode.name in result.reason


class Napping(Workflow):
    name = "unobserved-napping-child"

    def run(self):
        self.sleep(30)
        return "woke up"


class WaitsForItsChild(Workflow):
    name = "unobserved-waits-for-child"

    def run(self):
        futures.wait(self.submit(Napping, __workflow_id="napping-child"))
        return "returned"


def test_a_cancellation_the_workflow_did_not_ask_for_is_not_swallowed():
    """Someone else cancels the child: the parent's future is CANCELLED, which run() never
    looked at. (A cancellation the workflow asked for, with .cancel(), is no surprise.)"""
    runner = LocalRunner(max_workers=2)
    run = runner.start(WaitsForItsChild, workflow_id="waits-for-child")

    def cancel_the_child_once_it_runs() -> None:
        deadline = time.monotonic() + 30
        while "napping-child" not in runner.executions and time.monotonic() < deadline:
            time.sleep(0.01)
        runner.request_cancel("napping-child")

    canceller = threading.Thread(target=cancel_the_child_once_it_runs)
    canceller.start()
    result = runner.run_until_closed(run)
    canceller.join()
    assert result.status == "FAILED"
    assert result.reason == ("run() returned without looking at a failed task: "
                             f"workflow-{Napping.type_name()}-1 was cancelled")
