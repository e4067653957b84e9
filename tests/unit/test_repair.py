"""Repairing a failed run (issue 16): finished activities are reused, matched by task id,
activity and input, and recorded as markers; the engine part, through LocalRunner."""

from __future__ import annotations

import pytest
from support.history_model import validate_history

from examples.repair import ReportWorkflow
from replayflow.errors import UserError
from replayflow.history import attributes
from replayflow.inspection import task_rows
from replayflow.local import LocalRunner
from replayflow.operator import RunHistory
from replayflow.repair import (
    MARKER,
    REPAIR_KEY,
    ReuseTable,
    input_digest,
    plan_repair,
    repair_local,
)
from replayflow.testing import replay

GATHER = "activity-examples.repair.gather-1"
SUMMARISE = "activity-examples.repair.summarise-1"
PUBLISH = "activity-examples.repair.publish-1"


def _history(result) -> RunHistory:
    hf = result.history()
    return RunHistory(hf.events, hf.workflow_execution, hf.workflow_type, source="test")


def _scheduled(events) -> list[str]:
    return [attributes(e)["activityId"].rpartition("#")[0] for e in events
            if e["eventType"] == "ActivityTaskScheduled"]


def _markers(events) -> list[dict]:
    import json

    return [json.loads(attributes(e)["details"]) for e in events
            if e["eventType"] == "MarkerRecorded" and attributes(e)["markerName"] == MARKER]


@pytest.fixture
def runner():
    runner = LocalRunner(4)
    yield runner
    runner.shutdown()


@pytest.fixture
def failed(runner, tmp_path):
    """A run whose third activity failed (its outbox was missing), and the outbox."""
    outbox = tmp_path / "outbox"
    result = runner.run(ReportWorkflow, [str(outbox)], workflow_id="report-1")
    assert result.status == "FAILED"
    assert _scheduled(result.run.history().events) == [GATHER, SUMMARISE, PUBLISH]
    return result, outbox


def test_a_repair_reuses_the_finished_tasks_and_schedules_only_the_rest(runner, failed):
    old, outbox = failed
    outbox.mkdir()
    plan = plan_repair(_history(old), ReportWorkflow)
    assert (plan.workflow_id, plan.old_run_id) == ("report-1", old.run.run_id)
    assert plan.reusable == [GATHER, SUMMARISE]
    assert plan.args == [str(outbox)]
    run = repair_local(runner, _history(old), ReportWorkflow)
    result = runner.run_until_closed(run)
    assert result.ok, result.reason
    assert result.result == {"published": str(outbox / "report.txt"),
                             "reused": [GATHER, SUMMARISE]}
    assert (outbox / "report.txt").read_text() == "3 rows: sales-0, sales-1, sales-2\n"
    events = run.history().events
    assert run.workflow_id == "report-1" and run.run_id != old.run.run_id
    assert _scheduled(events) == [PUBLISH]  # no ActivityTaskScheduled for reused tasks
    assert _markers(events) == [
        {"task_id": GATHER, "activity": "examples.repair.gather", "from_run": old.run.run_id},
        {"task_id": SUMMARISE, "activity": "examples.repair.summarise",
         "from_run": old.run.run_id}]
    validate_history(events)
    # The tables show the reused tasks as such, with the results they were given.
    rows = {row.task_id: row for row in task_rows(events)}
    assert [(row.task_id, row.state) for row in rows.values()] == [
        (GATHER, "REUSED"), (SUMMARISE, "REUSED"), (PUBLISH, "COMPLETED")]
    assert rows[GATHER].result == ["sales-0", "sales-1", "sales-2"]
    assert rows[SUMMARISE].details == {"reused_from_run": old.run.run_id}
    # A full replay from the history alone makes the same decisions (the table is in the input).
    assert replay(run.history(), ReportWorkflow).close_status == "WorkflowExecutionCompleted"


def test_a_task_whose_input_or_activity_differs_runs_again(runner, failed):
    old, outbox = failed
    outbox.mkdir()
    plan = plan_repair(_history(old), ReportWorkflow)
    tasks = plan.kwargs[REPAIR_KEY]["tasks"]
    tasks[SUMMARISE][1] = input_digest('[["other"]]')  # recorded with another input
    tasks[GATHER][0] = "examples.repair.summarise"  # recorded as another activity
    run = runner.start(ReportWorkflow, plan.args, plan.kwargs, workflow_id=plan.workflow_id)
    result = runner.run_until_closed(run)
    assert result.ok, result.reason
    assert result.result["reused"] == []
    assert _scheduled(run.history().events) == [GATHER, SUMMARISE, PUBLISH]


def test_a_repair_of_a_repair_keeps_reusing(runner, failed):
    old, outbox = failed
    second = runner.run_until_closed(repair_local(runner, _history(old), ReportWorkflow))
    assert second.status == "FAILED"  # the outbox is still missing
    assert _scheduled(second.run.history().events) == [PUBLISH]
    outbox.mkdir()
    third = runner.run_until_closed(repair_local(runner, _history(second), ReportWorkflow))
    assert third.ok, third.reason
    assert third.result["reused"] == [GATHER, SUMMARISE]
    assert [m["from_run"] for m in _markers(third.run.history().events)] == [
        second.run.run_id] * 2


def test_what_cannot_be_repaired_is_refused(runner, failed, tmp_path):
    from examples.basic import BasicWorkflow

    old, outbox = failed
    with pytest.raises(UserError, match="not of 'basic'"):
        plan_repair(_history(old), BasicWorkflow)
    outbox.mkdir()
    done = runner.run_until_closed(repair_local(runner, _history(old), ReportWorkflow))
    with pytest.raises(UserError, match="ended COMPLETED: nothing to repair"):
        plan_repair(_history(done), ReportWorkflow)
    history = _history(old)
    history.events = history.events[:-3]  # as if still open
    with pytest.raises(UserError, match="still open"):
        plan_repair(history, ReportWorkflow)


def test_a_bad_reuse_table_fails_the_run_with_a_reason(runner, tmp_path):
    with pytest.raises(ValueError, match="entry for task 'x'"):
        ReuseTable.from_option({"tasks": {"x": ["a", 1, None]}})
    result = runner.run(ReportWorkflow, [str(tmp_path)], {REPAIR_KEY: {"tasks": []}})
    assert result.status == "FAILED"
    assert "is not a reuse table" in result.reason
