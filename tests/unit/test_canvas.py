"""Canvas: groups and chains run through the memory backend, asserted on results and history."""

from __future__ import annotations

import pytest

from replayflow import Workflow, activity, canvas
from replayflow.errors import GroupFailed, TaskCancelled, TaskFailed
from replayflow.history import attributes
from replayflow.local import LocalRunner
from replayflow.testing import replay


@activity.with_attributes(task_list="canvas", version="test")
def add(x, y=0):
    return x + y


@activity.with_attributes(task_list="canvas", version="test")
def fail(label):
    raise ValueError(f"{label} broke")


@activity.with_attributes(task_list="canvas", version="test", raises_on_failure=False)
def quiet_fail(label):
    raise ValueError(f"{label} broke")


@activity.with_attributes(task_list="canvas", version="test")
def total(values):
    return sum(values)


class Child(Workflow):
    name = "canvas-test-child"

    def run(self, x):
        return self.submit(add, x, 1000).result


class Runner(Workflow):
    """Runs whatever canvas `build(kind)` returns and reports the result or the failure."""

    name = "canvas-test-runner"

    def run(self, kind):
        flow = BUILDERS[kind]()
        future = self.submit(flow)
        try:
            return {"result": future.result}
        except TaskFailed as exc:
            return {"failed": exc.task_id, "reason": exc.reason, "type": type(exc).__name__,
                    "members": [f.task_id for f in getattr(exc, "failures", ())]}


def _fan(n):
    return [canvas.ActivityTask(add, i) for i in range(n)]


BUILDERS = {
    "group": lambda: canvas.Group(*_fan(7), max_parallel=3),
    "group-unbounded": lambda: canvas.Group(*_fan(5)),
    "chain": lambda: canvas.Chain(canvas.ActivityTask(add, 1), canvas.ActivityTask(add, y=10),
                                  canvas.ActivityTask(add, y=100), send_result=True),
    "chain-plain": lambda: canvas.Chain(canvas.ActivityTask(add, 1), canvas.ActivityTask(add, 2)),
    "chain-breaks": lambda: canvas.Chain(canvas.ActivityTask(add, 1),
                                         canvas.ActivityTask(fail, "x"),
                                         canvas.ActivityTask(add, 3)),
    "chain-goes-on": lambda: canvas.Chain(canvas.ActivityTask(add, 1),
                                          canvas.ActivityTask(fail, "x"),
                                          canvas.ActivityTask(add, 3), break_on_failure=False),
    "group-fails": lambda: canvas.Group(canvas.ActivityTask(add, 1), canvas.ActivityTask(fail, "a"),
                                        canvas.ActivityTask(quiet_fail, "b"),
                                        canvas.ActivityTask(fail, "c")),
    "chain-quiet-first": lambda: canvas.Chain(canvas.ActivityTask(quiet_fail, "q"),
                                              canvas.ActivityTask(add, 2)),
    "chain-quiet-later": lambda: canvas.Chain(canvas.ActivityTask(add, 1),
                                              canvas.ActivityTask(quiet_fail, "q"),
                                              canvas.ActivityTask(add, 3), send_result=True),
    "chain-quiet-goes-on": lambda: canvas.Chain(canvas.ActivityTask(quiet_fail, "q"),
                                                canvas.ActivityTask(add, 2),
                                                break_on_failure=False),
    "group-quiet": lambda: canvas.Group(canvas.ActivityTask(add, 1),
                                        canvas.ActivityTask(quiet_fail, "b")),
    "nested": lambda: canvas.Group(
        canvas.Chain(canvas.ActivityTask(add, 1), canvas.ActivityTask(add, y=1), send_result=True),
        canvas.Chain(canvas.Group(*_fan(3), max_parallel=2), canvas.ActivityTask(total),
                     send_result=True),
        canvas.WorkflowTask(Child, 5),
        max_parallel=2),
    "funcgroup": lambda: canvas.Chain(
        canvas.ActivityTask(add, 3),
        canvas.FuncGroup(lambda n: [canvas.ActivityTask(add, i) for i in range(n)]),
        canvas.ActivityTask(total), send_result=True),
    "empty": lambda: canvas.Group(),
}


def run(kind: str):
    backend = LocalRunner(max_workers=8)
    result = backend.run(Runner, [kind])
    assert result.ok, result.reason
    return result.result, result.execution


def max_open_activities(events: list[dict]) -> int:
    """Most activities open at once, from ActivityTaskScheduled to their close event."""
    open_ids: set[int] = set()
    most = 0
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled":
            open_ids.add(event["eventId"])
            most = max(most, len(open_ids))
        elif kind in ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                      "ActivityTaskCanceled"):
            open_ids.discard(attributes(event)["scheduledEventId"])
    return most


def test_a_group_returns_results_in_order_and_never_exceeds_max_parallel():
    result, execution = run("group")
    assert result == {"result": [0, 1, 2, 3, 4, 5, 6]}
    assert max_open_activities(execution.events) == 3
    assert replay(execution.history(), Runner).closed


def test_an_unbounded_group_schedules_everything_in_one_decision():
    result, execution = run("group-unbounded")
    assert result == {"result": [0, 1, 2, 3, 4]}
    first_batch = [e for e in execution.events if e["eventType"] == "ActivityTaskScheduled"
                   and attributes(e)["decisionTaskCompletedEventId"] == 4]
    assert len(first_batch) == 5


def test_a_chain_sends_each_result_to_the_next_task():
    result, execution = run("chain")
    assert result == {"result": [1, 11, 111]}
    assert max_open_activities(execution.events) == 1


def test_a_chain_without_send_result_passes_nothing():
    assert run("chain-plain")[0] == {"result": [1, 2]}


def test_a_chain_breaks_on_the_first_failure():
    result, execution = run("chain-breaks")
    assert result["failed"] == f"activity-{fail.name}-1"
    assert "x broke" in result["reason"]
    scheduled = [attributes(e)["activityType"]["name"] for e in execution.events
                 if e["eventType"] == "ActivityTaskScheduled"]
    assert scheduled == [add.name, fail.name]  # the third task never ran


def test_a_chain_without_break_on_failure_goes_on_with_none():
    assert run("chain-goes-on")[0] == {"result": [1, None, 3]}


def test_a_group_runs_every_member_then_fails_with_all_of_its_failures():
    result, execution = run("group-fails")
    assert result["type"] == "GroupFailed"
    assert result["failed"] == "group-1"
    assert result["members"] == [f"activity-{fail.name}-1", f"activity-{fail.name}-2"]
    assert result["reason"].startswith("2 of 4 tasks failed: ")
    assert "a broke" in result["reason"] and "c broke" in result["reason"]
    assert sum(e["eventType"] == "ActivityTaskScheduled" for e in execution.events) == 4


def test_group_failed_is_a_task_failed_carrying_each_failure():
    one = TaskFailed("activity-x-1", "ValueError: a")
    two = TaskCancelled("activity-y-1")
    failed = GroupFailed("group-3", [one, two], 5)
    assert isinstance(failed, TaskFailed)
    assert failed.failures == [one, two] and failed.total == 5
    assert failed.reason == ("2 of 5 tasks failed: activity-x-1 failed: ValueError: a; "
                             "activity-y-1 was cancelled")
    assert [f["task_id"] for f in failed.details["failures"]] == ["activity-x-1", "activity-y-1"]


def scheduled_names(execution) -> list[str]:
    return [attributes(e)["activityType"]["name"] for e in execution.events
            if e["eventType"] == "ActivityTaskScheduled"]


def test_a_quiet_failure_stops_a_default_chain_with_the_results_so_far():
    """As simpleflow does: the chain succeeds with [None], and the next task never runs."""
    result, execution = run("chain-quiet-first")
    assert result == {"result": [None]}
    assert scheduled_names(execution) == [quiet_fail.name]
    result, execution = run("chain-quiet-later")
    assert result == {"result": [1, None]}
    assert scheduled_names(execution) == [add.name, quiet_fail.name]
    assert replay(execution.history(), Runner).closed


def test_a_quiet_failure_does_not_stop_a_chain_without_break_on_failure():
    assert run("chain-quiet-goes-on")[0] == {"result": [None, 2]}


def test_a_quiet_failure_reads_as_none_in_a_group():
    assert run("group-quiet")[0] == {"result": [1, None]}


def test_groups_chains_and_child_workflows_nest():
    result, execution = run("nested")
    assert result == {"result": [[1, 2], [[0, 1, 2], 3], 1005]}
    assert replay(execution.history(), Runner).closed


def test_a_funcgroup_is_built_from_the_result_it_is_sent():
    result, execution = run("funcgroup")
    assert result == {"result": [3, [0, 1, 2], 3]}
    assert replay(execution.history(), Runner).closed


def test_an_empty_group_resolves_at_once():
    assert run("empty")[0] == {"result": []}


@activity.with_attributes(task_list="canvas", version="test", heartbeat_timeout=30)
def wait_for_cancel():
    import time

    ctx = activity.context()
    for _ in range(3000):
        if ctx.heartbeat():
            return "stopped"
        time.sleep(0.01)
    return "never cancelled"


class CancelGroup(Workflow):
    name = "canvas-test-cancel"

    def run(self):
        group = self.submit(canvas.Group(canvas.ActivityTask(wait_for_cancel),
                                         canvas.ActivityTask(wait_for_cancel),
                                         canvas.ActivityTask(add, 1), max_parallel=2))
        self.sleep(0)
        cancelled = group.cancel()
        try:
            group.result  # noqa: B018
        except TaskCancelled as exc:
            return {"cancelled": cancelled, "task": exc.task_id, "again": group.cancel()}


def test_cancelling_a_group_cancels_its_running_members_and_starts_no_more():
    result = LocalRunner(max_workers=4).run(CancelGroup)
    assert result.result == {"cancelled": True, "task": "group-1", "again": False}
    events = result.execution.events
    assert sum(e["eventType"] == "ActivityTaskScheduled" for e in events) == 2
    assert sum(e["eventType"] == "ActivityTaskCancelRequested" for e in events) == 2


def test_members_must_be_canvas_tasks():
    with pytest.raises(TypeError, match="Group members"):
        canvas.Group(add)
    with pytest.raises(TypeError, match="Workflow subclass"):
        canvas.WorkflowTask(add)
    with pytest.raises(ValueError, match="max_parallel"):
        canvas.Group(canvas.ActivityTask(add, 1), max_parallel=0)


class BadFuncGroup(Workflow):
    name = "canvas-test-bad-funcgroup"

    def run(self):
        return self.submit(canvas.FuncGroup(lambda: 42)).result


def test_a_funcgroup_returning_no_task_fails_the_workflow_clearly():
    result = LocalRunner(max_workers=2).run(BadFuncGroup)
    assert result.status == "FAILED"
    assert "must return a canvas task or a list of them" in result.reason


class ExtraArguments(Workflow):
    name = "canvas-test-extra-arguments"

    def run(self):
        try:
            self.submit(canvas.Group(canvas.ActivityTask(add, 1)), 99)
        except TypeError as exc:
            return str(exc)
        return "accepted"


def test_submitting_a_canvas_with_extra_arguments_is_an_error_not_silence():
    result = LocalRunner(max_workers=2).run(ExtraArguments, [])
    assert result.ok, result.reason
    assert result.result.startswith("submit(Group(...)) takes no other arguments")
