"""Core API semantics, run end to end through the in-memory backend."""

from __future__ import annotations

from support.odd_workflows import (
    AsCompletedWorkflow,
    IdempotentWorkflow,
    UnserialisableResultWorkflow,
)

from replayflow import Workflow
from replayflow.local import LocalRunner


def test_identical_idempotent_calls_run_once():
    result = LocalRunner().run(IdempotentWorkflow)
    assert result.ok, result.reason
    assert result.result == ["value-of-a", "value-of-b", "value-of-a"]
    scheduled = [e for e in result.execution.events if e["eventType"] == "ActivityTaskScheduled"]
    assert len(scheduled) == 2
    ids = {e["activityTaskScheduledEventAttributes"]["activityId"] for e in scheduled}
    assert all(i.startswith("activity-support.odd_workflows.lookup-") for i in ids)


def test_an_unserialisable_result_fails_naming_the_task():
    result = LocalRunner().run(UnserialisableResultWorkflow)
    assert result.status == "FAILED"
    assert "activity-support.odd_workflows.make_set-1" in result.reason
    assert "not JSON-serialisable" in result.reason


def test_as_completed_yields_every_future():
    result = LocalRunner().run(AsCompletedWorkflow, [5])
    assert result.ok, result.reason
    assert result.result == sorted(f"value-of-{i}" for i in range(5))


class _WhoAmI(Workflow):
    name = "core-semantics-who-am-i"

    def run(self, runs_left, seen=()):
        seen = [*seen, [self.workflow_id, self.run_id]]
        if runs_left:
            self.continue_as_new(runs_left - 1, seen)
        return seen


def test_a_workflow_knows_its_workflow_id_and_run_id_across_continue_as_new():
    result = LocalRunner(max_workers=2).run(_WhoAmI, [1], workflow_id="who-am-i")
    assert result.ok, result.reason
    assert [run.run_id for run in result.runs] == [pair[1] for pair in result.result]
    assert {pair[0] for pair in result.result} == {"who-am-i"}
    assert len({pair[1] for pair in result.result}) == 2
