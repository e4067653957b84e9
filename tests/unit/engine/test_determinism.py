"""Changing a workflow under a recorded history is caught, named, and never silently replayed.

Each test records a real history with the memory backend, then replays it against a changed
class through `replayflow.testing.replay`, the check users put in their own test suites.
"""

from __future__ import annotations

import json

import pytest

from replayflow import Workflow, activity
from replayflow.errors import NonDeterministicWorkflow
from replayflow.local import LocalRunner
from replayflow.testing import replay


@activity.with_attributes(task_list="determinism", version="test")
def fetch(x):
    return x + 1


@activity.with_attributes(task_list="determinism", version="test")
def store(x):
    return x * 2


class Original(Workflow):
    name = "determinism-test"

    def run(self, x):
        a = self.submit(fetch, x).result
        b = self.submit(store, a).result
        return {"b": b, "pick": self.random().randint(0, 10**6), "id": str(self.uuid4()),
                "at": self.now().isoformat()}


class DifferentActivity(Workflow):
    name = "determinism-test"

    def run(self, x):
        a = self.submit(fetch, x).result
        return self.submit(fetch, a).result  # was store: the same task id slot, another type


class DifferentInput(Workflow):
    name = "determinism-test"

    def run(self, x):
        a = self.submit(fetch, x).result
        return self.submit(store, a + 1).result


class MissingTask(Workflow):
    name = "determinism-test"

    def run(self, x):
        return self.submit(fetch, x).result  # store is gone: the history has a step too many


class ExtraTask(Workflow):
    name = "determinism-test"

    def run(self, x):
        a = self.submit(fetch, x).result
        self.submit(fetch, 100)  # new: the history never scheduled it
        return self.submit(store, a).result


@pytest.fixture(scope="module")
def recorded():
    result = LocalRunner(max_workers=2).run(Original, [1])
    assert result.ok
    return result


def test_the_unchanged_workflow_replays_and_sees_the_same_values(recorded):
    outcome = replay(recorded.execution.history(), Original)
    assert outcome.closed and outcome.close_status == "WorkflowExecutionCompleted"
    assert outcome.decisions == []


def test_now_random_and_uuid4_are_the_same_on_every_replay(recorded):
    history = recorded.execution.history()
    cut = max(i for i, e in enumerate(history.events) if e["eventType"] == "DecisionTaskStarted")
    events = history.events[: cut + 1]
    ids = history.workflow_execution
    first = replay(events, Original, workflow_id=ids["workflowId"], run_id=ids["runId"])
    second = replay(events, Original, workflow_id=ids["workflowId"], run_id=ids["runId"])
    assert first.decisions == second.decisions
    result = first.decisions[0]["completeWorkflowExecutionDecisionAttributes"]["result"]
    assert json.loads(result) == recorded.result  # the live run saw exactly these values


def test_a_different_activity_at_the_same_task_is_named(recorded):
    with pytest.raises(NonDeterministicWorkflow) as caught:
        replay(recorded.execution.history(), DifferentActivity)
    message = str(caught.value)
    # Task ids carry the activity name, so the history's task is one the code never made.
    assert f"is for activity 'activity-{store.name}-1#1'" in message
    assert f"it decided ScheduleActivityTask for activity 'activity-{fetch.name}-2#1'" in message


def test_a_different_input_is_named_with_both_inputs(recorded):
    with pytest.raises(NonDeterministicWorkflow) as caught:
        replay(recorded.execution.history(), DifferentInput)
    message = str(caught.value)
    assert f"task activity-{store.name}-1" in message
    assert '{"args":[2],"kwargs":{}}' in message and '{"args":[3],"kwargs":{}}' in message


def test_a_task_missing_from_the_code_is_named(recorded):
    with pytest.raises(NonDeterministicWorkflow) as caught:
        replay(recorded.execution.history(), MissingTask)
    message = str(caught.value)
    # The code completes where the history scheduled `store`.
    assert f"activity-{store.name}-1#1" in message or "CompleteWorkflowExecution" in message


def test_a_task_missing_from_the_history_is_named(recorded):
    with pytest.raises(NonDeterministicWorkflow) as caught:
        replay(recorded.execution.history(), ExtraTask)
    message = str(caught.value)
    assert "ScheduleActivityTask" in message and f"activity-{fetch.name}-2#1" in message


def test_a_close_the_code_does_not_make_is_caught(recorded):
    class NeverCloses(Workflow):
        name = "determinism-test"

        def run(self, x):
            a = self.submit(fetch, x).result
            b = self.submit(store, a).result
            return self.wait_signal("more").result + b  # the old code completed here

    with pytest.raises(NonDeterministicWorkflow, match="closes the execution"):
        replay(recorded.execution.history(), NeverCloses)


def test_replay_reads_a_history_file_and_returns_the_open_decisions(tmp_path, recorded):
    from replayflow.history import write_history_file

    history = recorded.execution.history()
    cut = next(i for i, e in enumerate(history.events) if e["eventType"] == "ActivityTaskCompleted")
    history.events = history.events[: cut + 3]  # ... DecisionTaskScheduled, DecisionTaskStarted
    assert history.events[-1]["eventType"] == "DecisionTaskStarted"
    path = tmp_path / "open.json"
    write_history_file(path, history)
    outcome = replay(path, Original)
    assert not outcome.closed
    assert [d["decisionType"] for d in outcome.decisions] == ["ScheduleActivityTask"]
    # The open decision is not in the history yet: a changed workflow just decides differently.
    changed = replay(path, DifferentActivity).decisions
    assert changed[0]["scheduleActivityTaskDecisionAttributes"]["activityType"]["name"] == \
        fetch.name
