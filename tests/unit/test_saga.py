"""Compensation (`with self.saga()`), through local runs: the real decider, MemorySwf and the
worker's activity code. Every assertion reads the run's SWF history, the record an operator
would read: which compensations were scheduled, in which decision, with which input.

Then replay equivalence: at every decision point of every history recorded here, a cached
state and a full replay make the same decisions.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from support import saga_workflows as flows

from replayflow import Workflow, canvas
from replayflow.engine.replay import ExecutionState
from replayflow.inspection import task_rows
from replayflow.local import LocalResult, LocalRunner
from replayflow.naming import compensated_task, compensation_id
from replayflow.saga import ENDED_MARKER, STARTED_MARKER

WORK = "activity-support.saga_workflows.work"
UNDO_STEP = "compensate-step-support.saga_workflows.undo_step"


def local_run(cls: type, *args: Any) -> LocalResult:
    return LocalRunner(max_workers=4).run(cls, list(args))


def attrs(event: dict) -> dict:
    key = event["eventType"][0].lower() + event["eventType"][1:] + "EventAttributes"
    return event.get(key) or {}


def compensations(events: list[dict]) -> list[tuple[str, Any]]:
    """(task id, input) of every compensation scheduled, in the order scheduled."""
    out = []
    for event in events:
        if event["eventType"] == "ActivityTaskScheduled":
            task_id = attrs(event)["activityId"].rsplit("#", 1)[0]
            if task_id.startswith("compensate-"):
                out.append((task_id, json.loads(attrs(event)["input"])))
    return out


def waves(events: list[dict]) -> list[set[str]]:
    """The compensations scheduled by each decision, decision by decision."""
    by_decision: dict[int, set[str]] = {}
    for event in events:
        if event["eventType"] == "ActivityTaskScheduled":
            task_id = attrs(event)["activityId"].rsplit("#", 1)[0]
            if task_id.startswith("compensate-"):
                decision = attrs(event)["decisionTaskCompletedEventId"]
                by_decision.setdefault(decision, set()).add(task_id)
    return [by_decision[d] for d in sorted(by_decision)]


def ids(*names: str) -> list[str]:
    return [f"compensate-{WORK}-{n}" for n in names]


def event_ids(events: list[dict], event_type: str, **match: str) -> list[int]:
    return [e["eventId"] for e in events if e["eventType"] == event_type
            and all(match_value in str(attrs(e).get(key)) for key, match_value in match.items())]


def markers(events: list[dict]) -> list[tuple[str, Any]]:
    return [(attrs(e)["markerName"], json.loads(attrs(e).get("details") or "null"))
            for e in events if e["eventType"] == "MarkerRecorded"]


@pytest.fixture(autouse=True)
def _fresh_events():
    flows.reset_events()
    yield
    flows.CANCEL_SENT.set()  # never leave an activity thread waiting
    flows.SLOW_STARTED.set()


# --- order -----------------------------------------------------------------------------------

def test_a_chain_is_undone_in_reverse_one_at_a_time_and_each_undo_gets_its_task():
    result = local_run(flows.ChainSaga)
    assert result.status == "FAILED"
    assert result.reason == f"{WORK}-3 failed: ValueError: fail-c failed"  # the original error
    events = result.execution.events
    assert compensations(events) == [
        (f"compensate-{WORK}-3", {"args": ["fail-c", "b-done"], "kwargs": {
            "result": None, "task_id": f"{WORK}-3",
            "failure": {"type": "ValueError", "message": "fail-c failed",
                        "reason": f"{WORK}-3 failed: ValueError: fail-c failed"}}}),
        (f"compensate-{WORK}-2", {"args": ["b", "a-done"], "kwargs": {
            "result": "b-done", "failure": None, "task_id": f"{WORK}-2"}}),
        (f"compensate-{WORK}-1", {"args": ["a"], "kwargs": {
            "result": "a-done", "failure": None, "task_id": f"{WORK}-1"}}),
    ]
    # One at a time: each is scheduled only once the previous one completed.
    scheduled = [event_ids(events, "ActivityTaskScheduled", activityId=t)[0]
                 for t in ids("3", "2", "1")]
    completed = [e["eventId"] for e in events if e["eventType"] == "ActivityTaskCompleted"
                 and e["eventId"] > scheduled[0]]
    assert scheduled[1] > completed[0] and scheduled[2] > completed[1]
    assert [name for name, _ in markers(events)] == [STARTED_MARKER, ENDED_MARKER]
    assert markers(events)[1][1] == {"scope": "saga-1", "compensated": 3, "failed": [],
                                     "not_run": 0}


def test_a_chain_in_parallel_mode_is_still_undone_in_reverse():
    events = local_run(flows.ChainSaga, True).execution.events
    assert waves(events) == [{i} for i in ids("3", "2", "1")]


def test_a_diamond_in_parallel_mode_undoes_both_branches_at_once_then_their_parent():
    events = local_run(flows.DiamondSaga, True).execution.events
    e, d, c, b, a = ids("5", "4", "3", "2", "1")
    assert waves(events) == [{e}, {d}, {b, c}, {a}]
    # a waits for both branches' undos, not only for one of them.
    last_branch_done = max(
        next(x["eventId"] for x in events if x["eventType"] == "ActivityTaskCompleted"
             and attrs(x)["scheduledEventId"] == event_ids(events, "ActivityTaskScheduled",
                                                            activityId=t)[0])
        for t in (b, c))
    assert event_ids(events, "ActivityTaskScheduled", activityId=a)[0] > last_branch_done


def test_a_diamond_by_default_is_undone_in_reverse_submission_order():
    events = local_run(flows.DiamondSaga).execution.events
    assert waves(events) == [{i} for i in ids("5", "4", "3", "2", "1")]


def test_independent_tasks_are_undone_together_in_parallel_mode_after_an_error_in_run():
    result = local_run(flows.IndependentSaga, True)
    assert result.status == "FAILED"
    assert result.reason == "RuntimeError: run() changed its mind"
    assert waves(result.execution.events) == [set(ids("3", "2", "1"))]
    serial = local_run(flows.IndependentSaga, False).execution.events
    assert waves(serial) == [{i} for i in ids("3", "2", "1")]


def test_a_task_that_read_a_result_is_undone_before_the_task_it_read():
    """b took a's value, not its future: scheduled after a finished, it is undone first; c ran
    beside b and is undone beside it."""
    events = local_run(flows.ResultValueSaga).execution.events
    c, b, a = ids("3", "2", "1")
    assert waves(events) == [{b, c}, {a}]


def test_saga_add_steps_run_where_they_were_added():
    undone = compensations(local_run(flows.StepSaga).execution.events)
    assert [(task_id, data["args"]) for task_id, data in undone] == [
        (f"compensate-{WORK}-2", ["b"]),
        (f"{UNDO_STEP}-1", ["a-done"]),  # the step took a's future: it gets a's value
        (f"{UNDO_STEP}-2", ["after a"]),
        (f"compensate-{WORK}-1", ["a"]),
    ]
    assert undone[1][1]["kwargs"] == {}  # a step gets its own arguments only


def test_group_members_carry_their_undo_even_when_the_group_submits_them_later():
    result = local_run(flows.GroupSaga)
    assert [t for t, _ in compensations(result.execution.events)] == ids("4", "3", "2", "1")
    assert [data["args"][0] for _, data in compensations(result.execution.events)] == [
        "m3", "m2", "m1", "m0"]


def test_a_dag_is_undone_in_reverse_topological_order():
    events = local_run(flows.DagSaga).execution.events
    forward = [attrs(e)["activityId"].rsplit("#", 1)[0] for e in events
               if e["eventType"] == "ActivityTaskScheduled"
               and not attrs(e)["activityId"].startswith("compensate-")]
    names = {task_id: json.loads(attrs(e)["input"])["args"][0] for e in events
             if e["eventType"] == "ActivityTaskScheduled"
             for task_id in [attrs(e)["activityId"].rsplit("#", 1)[0]]}
    assert [names[t] for t in forward[:4]] in (["fetch", "parse", "check", "store"],
                                               ["fetch", "check", "parse", "store"])
    undone = [t.removeprefix("compensate-") for t, _ in compensations(events)]
    assert undone == list(reversed(forward[:4]))  # fail-after has no undo
    store_undo = compensations(events)[0][1]
    assert store_undo["kwargs"]["left"] == "parse-done" and store_undo["kwargs"]["task_id"] \
        == forward[3]


def test_a_dag_in_parallel_mode_undoes_its_branches_together():
    events = local_run(flows.DagSaga, True).execution.events
    by_name = {json.loads(attrs(e)["input"])["args"][0]: attrs(e)["activityId"].rsplit("#", 1)[0]
               for e in events if e["eventType"] == "ActivityTaskScheduled"
               and not attrs(e)["activityId"].startswith("compensate-")}
    undo = {name: f"compensate-{task_id}" for name, task_id in by_name.items()}
    assert waves(events) == [{undo["store"]}, {undo["parse"], undo["check"]}, {undo["fetch"]}]


def test_the_work_of_a_step_carries_its_undo(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLAYFLOW_STEPS_DIR", str(tmp_path))
    result = local_run(flows.StepInSaga)
    assert [(t, data["args"]) for t, data in compensations(result.execution.events)] == [
        (f"compensate-{WORK}-1", ["load"])]


def test_members_a_group_submits_later_belong_to_the_block_it_was_submitted_in():
    events = local_run(flows.GroupAcrossScopes).execution.events
    ended = [d for name, d in markers(events) if name == ENDED_MARKER]
    assert [(d["scope"], d["compensated"]) for d in ended] == [("saga-2", 1), ("saga-1", 3)]
    # fail-inner (work-2, submitted before the group's later members) goes with the inner block
    assert [t for t, _ in compensations(events)] == ids("2", "4", "3", "1")


def test_the_work_of_a_step_belongs_to_the_block_the_step_was_taken_in(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLAYFLOW_STEPS_DIR", str(tmp_path))
    events = local_run(flows.StepAcrossScopes).execution.events
    ended = [d for name, d in markers(events) if name == ENDED_MARKER]
    assert [(d["scope"], d["compensated"]) for d in ended] == [("saga-2", 1), ("saga-1", 1)]
    # fail-inner (work-1) is submitted while the step still checks whether it ran before
    assert [(t, data["args"][0]) for t, data in compensations(events)] == [
        (ids("1")[0], "fail-inner"), (ids("2")[0], "load")]


def test_a_member_with_an_undo_submitted_after_the_last_block_ended_fails_its_group():
    result = local_run(flows.GroupOutlivesItsSaga)
    assert result.reason.startswith(
        "RuntimeError: a task with __compensate was submitted after its saga saga-1 ended")


# --- who is compensated ----------------------------------------------------------------------

def test_only_tasks_that_did_something_are_undone_and_running_ones_are_cancelled_first():
    result = local_run(flows.WhoIsCompensated)
    slow = "activity-support.saga_workflows.slow_until_cancelled-1"
    failed = "activity-support.saga_workflows.fail_once_slow_runs-1"
    assert result.reason == f"{failed} failed: ValueError: failed failed"
    events = result.execution.events
    assert markers(events)[-1][1] == {"scope": "saga-1", "compensated": 2, "failed": [],
                                      "not_run": 0}
    undone = compensations(events)
    # Not "never-runs" (failed on its input) nor "waits-for-slow" (cancelled before it ran).
    assert [task_id for task_id, _ in undone] == [f"compensate-{slow}", f"compensate-{failed}"]
    assert undone[0][1]["kwargs"]["failure"]["type"] == "TaskCancelled"
    assert undone[1][1]["kwargs"]["failure"]["type"] == "ValueError"
    assert event_ids(events, "ActivityTaskScheduled", activityId=WORK) == []  # neither ran
    cancel_requested = event_ids(events, "ActivityTaskCancelRequested", activityId=slow)
    canceled = event_ids(events, "ActivityTaskCanceled")
    first_undo = event_ids(events, "ActivityTaskScheduled", activityId="compensate-")[0]
    assert cancel_requested and canceled and cancel_requested[0] < canceled[0] < first_undo


def test_the_scope_cancels_then_waits_before_undoing():
    """The started marker comes first, the undos only after the cancellation was confirmed."""
    events = local_run(flows.WhoIsCompensated).execution.events
    started = event_ids(events, "MarkerRecorded", markerName=STARTED_MARKER)[0]
    assert markers(events)[0][1]["cancelling"] == 2  # slow, and the task waiting for it
    assert started < event_ids(events, "ActivityTaskCanceled")[0]


# --- failing compensations ---------------------------------------------------------------------

def test_a_failed_undo_is_recorded_the_others_run_and_the_run_fails_with_compensation_failed():
    result = local_run(flows.FailingUndoSaga, True)
    events = result.execution.events
    assert [t for t, _ in compensations(events)] == ids("3", "2", "1")
    assert result.status == "FAILED"
    assert result.reason.startswith(
        f"CompensationFailed: 1 of 3 compensations failed after {WORK}-3 failed: ValueError: "
        "fail-c failed: ")
    assert result.details["type"] == "replayflow.errors.CompensationFailed"
    assert f"compensate-{WORK}-2 failed: RuntimeError: cannot undo b-bad-undo" in \
        result.details["message"]
    assert markers(events)[-1][1] == {"scope": "saga-1", "compensated": 2,
                                      "failed": [f"compensate-{WORK}-2"], "not_run": 0}


def test_continue_on_error_false_stops_at_the_first_failed_undo():
    result = local_run(flows.FailingUndoSaga, False)
    events = result.execution.events
    assert [t for t, _ in compensations(events)] == ids("3", "2")
    assert result.reason.startswith("CompensationFailed: 1 of 2 compensations failed after ")
    assert markers(events)[-1][1] == {"scope": "saga-1", "compensated": 1,
                                      "failed": [f"compensate-{WORK}-2"], "not_run": 1}


def test_in_parallel_mode_a_failed_undo_stops_new_ones_too():
    result = local_run(flows.FailingUndoSaga, False, True)
    assert waves(result.execution.events) == [set(ids("3")), set(ids("2"))]
    assert markers(result.execution.events)[-1][1]["not_run"] == 1


def test_an_undo_that_fails_quietly_is_not_a_failure():
    result = local_run(flows.QuietUndoSaga)
    assert result.reason == "RuntimeError: stop"
    assert markers(result.execution.events)[-1][1] == {"scope": "saga-1", "compensated": 1,
                                                       "failed": [], "not_run": 0}


def test_an_idempotent_task_with_two_futures_is_undone_once():
    result = local_run(flows.IdempotentSaga)
    assert result.reason == "RuntimeError: stop"
    undone = compensations(result.execution.events)
    assert len(undone) == 1 and undone[0][0].startswith(
        "compensate-activity-support.saga_workflows.idempotent_work-")


def test_an_undo_gets_its_own_retries():
    result = local_run(flows.FlakyUndoSaga)
    assert result.reason == "RuntimeError: stop"  # compensated: the original error goes on
    undo_id = f"compensate-{WORK}-1"
    assert len(event_ids(result.execution.events, "ActivityTaskScheduled",
                         activityId=undo_id)) == 2
    assert markers(result.execution.events)[-1][1]["compensated"] == 1


# --- nesting -------------------------------------------------------------------------------------

def test_an_inner_scope_undoes_its_own_and_the_outer_one_owns_what_an_inner_one_kept():
    result = local_run(flows.NestedSaga)
    assert result.reason == "RuntimeError: the outer block fails"
    events = result.execution.events
    o1, i1, i2, i3 = ids("1", "2", "3", "4")
    assert [t for t, _ in compensations(events)] == [i2, i1, i3, o1]
    names = [name for name, _ in markers(events)]
    assert names == [STARTED_MARKER, ENDED_MARKER, "inner failed", STARTED_MARKER, ENDED_MARKER]
    assert [d["scope"] for n, d in markers(events) if n == ENDED_MARKER] == ["saga-2", "saga-1"]


def test_what_a_stopped_inner_scope_did_not_undo_is_undone_by_the_outer_one():
    result = local_run(flows.NestedStopSaga)
    o1, i1, i2, i3 = ids("1", "2", "3", "4")
    assert [t for t, _ in compensations(result.execution.events)] == [i3, i2, i1, o1]
    assert result.reason.startswith(
        f"CompensationFailed: 1 of 2 compensations failed after {WORK}-4 failed: ")


def test_failed_undos_of_an_inner_and_an_outer_scope_make_one_report():
    result = local_run(flows.BothFailSaga)
    o1, i1 = ids("1", "2")
    assert [t for t, _ in compensations(result.execution.events)] == [i1, o1]
    assert result.reason.startswith(
        f"CompensationFailed: 2 of 2 compensations failed after {WORK}-3 failed: ValueError: "
        "fail-i2 failed: ")
    assert f"{i1} failed: RuntimeError" in result.details["message"]
    assert f"{o1} failed: RuntimeError" in result.details["message"]


# --- visibility ---------------------------------------------------------------------------------

def test_a_compensation_task_id_says_what_it_undoes():
    assert compensated_task(compensation_id(f"{WORK}-3")) == f"{WORK}-3"
    assert compensated_task(f"{UNDO_STEP}-1") == "saga.add"
    assert compensated_task(f"{WORK}-3") is None
    assert compensated_task(None) is None


@pytest.mark.parametrize("control", [
    "compensate-workflow-saga-forward-child-1",
    '{"deps":["activity-a-1"],"task":"compensate-workflow-saga-forward-child-1"}',
])
def test_a_child_compensation_is_known_by_its_control_plain_or_json(control):
    events = [
        {"eventId": 1, "eventType": "StartChildWorkflowExecutionInitiated",
         "eventTimestamp": datetime(2026, 1, 1, tzinfo=UTC),
         "startChildWorkflowExecutionInitiatedEventAttributes": {
             "workflowId": "wf--compensate-workflow-saga-forward-child-1",
             "workflowType": {"name": "saga-undo-child", "version": "1"},
             "control": control, "input": "{}"}},
    ]
    assert task_rows(events)[0].compensates == "workflow-saga-forward-child-1"
    events[0]["startChildWorkflowExecutionInitiatedEventAttributes"]["control"] = "{not json"
    assert task_rows(events)[0].compensates is None


# --- child workflows ---------------------------------------------------------------------------

def test_a_child_workflow_can_be_the_task_and_the_undo():
    runner = LocalRunner(max_workers=4)
    result = runner.run(flows.ChildSaga)
    assert result.reason == f"{WORK}-2 failed: ValueError: fail-x failed"
    events = result.execution.events
    started = [attrs(e) for e in events
               if e["eventType"] == "StartChildWorkflowExecutionInitiated"]
    forward_child = "workflow-saga-forward-child-1"
    assert [(a["workflowType"]["name"], a["control"]) for a in started] == [
        ("saga-forward-child", forward_child),
        ("saga-undo-child", f"compensate-{WORK}-1"),
        ("saga-undo-child", f"compensate-{forward_child}"),
    ]
    assert json.loads(started[1]["input"]) == {"args": ["a", "child did c"], "kwargs": {
        "result": "a-done", "failure": None, "task_id": f"{WORK}-1"}}
    undo_runs = [r for r in runner.all_runs if r.workflow_type["name"] == "saga-undo-child"]
    assert [runner.result_of(r).result for r in undo_runs] == ["child undid a",
                                                               "child undid c"]
    rows = {row.task_id: row for row in task_rows(events)}
    assert rows[started[2]["workflowId"]].compensates == forward_child
    assert rows[started[0]["workflowId"]].compensates is None


# --- cancel and terminate --------------------------------------------------------------------

def _while_running(runner: LocalRunner, run: Any, gate: threading.Event, action) -> LocalResult:
    def act() -> None:
        if gate.wait(flows.HOLD):
            action()

    thread = threading.Thread(target=act)
    thread.start()
    try:
        return runner.run_until_closed(run)
    finally:
        thread.join()


def test_on_a_cancel_request_the_scope_compensates_then_the_run_is_cancelled():
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelSaga, workflow_id="saga-cancel")
    result = _while_running(runner, run, flows.SLOW_STARTED,
                            lambda: runner.request_cancel("saga-cancel"))
    assert result.status == "CANCELED"
    events = result.execution.events
    slow = "activity-support.saga_workflows.slow_until_cancelled-1"
    assert [t for t, _ in compensations(events)] == [f"compensate-{slow}", f"compensate-{WORK}-1"]
    requested = event_ids(events, "WorkflowExecutionCancelRequested")[0]
    cancel_slow = event_ids(events, "ActivityTaskCancelRequested", activityId=slow)[0]
    first_undo = event_ids(events, "ActivityTaskScheduled", activityId="compensate-")[0]
    closed = event_ids(events, "WorkflowExecutionCanceled")[0]
    last_undo_done = event_ids(events, "ActivityTaskCompleted")[-1]
    assert requested < cancel_slow < first_undo < last_undo_done < closed
    assert markers(events)[0][1]["error"].startswith("WorkflowCancelled: cancellation was")


def test_a_cancel_request_during_compensation_waits_for_it_to_finish():
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelDuringCompensation, workflow_id="saga-cancel-late")

    def cancel() -> None:
        runner.request_cancel("saga-cancel-late")
        flows.CANCEL_SENT.set()

    result = _while_running(runner, run, flows.UNDO_STARTED, cancel)
    assert result.status == "CANCELED"
    events = result.execution.events
    undo_scheduled = event_ids(events, "ActivityTaskScheduled", activityId="compensate-")[0]
    requested = event_ids(events, "WorkflowExecutionCancelRequested")[0]
    undo_done = event_ids(events, "ActivityTaskCompleted")[-1]
    assert undo_scheduled < requested < undo_done
    assert [name for name, _ in markers(events)] == [STARTED_MARKER, ENDED_MARKER]
    assert markers(events)[1][1]["compensated"] == 1


def test_a_cancelled_run_whose_undo_fails_fails_with_compensation_failed():
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelBadUndoSaga, workflow_id="saga-cancel-bad-undo")
    result = _while_running(runner, run, flows.SLOW_STARTED,
                            lambda: runner.request_cancel("saga-cancel-bad-undo"))
    assert result.status == "FAILED"
    assert result.reason.startswith("CompensationFailed: 1 of 1 compensations failed after "
                                    "WorkflowCancelled: cancellation was requested")


def test_terminate_runs_no_compensation():
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelSaga, workflow_id="saga-terminated")
    result = _while_running(runner, run, flows.SLOW_STARTED,
                            lambda: runner.terminate("saga-terminated"))
    assert result.status == "TERMINATED"
    assert compensations(result.execution.events) == []
    assert markers(result.execution.events) == []


# --- mistakes, raised where they are made ------------------------------------------------------

class CompensatedKeywordClash(Workflow):
    def run(self):
        with self.saga():
            return self.submit(flows.work, "a", result=1, __compensate=flows.undo).result


class CompensatedCanvas(Workflow):
    def run(self):
        with self.saga():
            return self.submit(canvas.Group(canvas.ActivityTask(flows.work, "a")),
                               __compensate=flows.undo).result


class SagaUsedTwice(Workflow):
    def run(self):
        saga = self.saga()
        with saga:
            pass
        with saga:
            pass


class AddAfterTheEnd(Workflow):
    def run(self):
        with self.saga() as saga:
            pass
        saga.add(flows.undo_step, "late")


class UndoIsNotRunnable(Workflow):
    def run(self):
        with self.saga():
            return self.submit(flows.work, "a", __compensate="undo").result


@pytest.mark.parametrize(("cls", "reason"), [
    (flows.CompensateOutsideSaga, "TypeError: __compensate= registers an undo in a saga: "
                                  "submit the task inside a `with self.saga():` block"),
    (flows.UndoTooNarrow, "TypeError: __compensate: support.saga_workflows.undo_step cannot be "
                          "called with 1 positional argument(s) and result, failure, task_id "
                          "(a compensation receives the task's arguments and result=, "
                          "failure=, task_id=)"),
    (CompensatedKeywordClash, "TypeError: a task with __compensate cannot take result as "
                              "keyword arguments"),
    (CompensatedCanvas, "TypeError: __compensate applies to one activity or child workflow, "
                        "not to Group"),
    (SagaUsedTwice, "RuntimeError: saga-1 was already used"),
    (AddAfterTheEnd, "RuntimeError: saga.add() on saga-1, which has ended"),
    (UndoIsNotRunnable, "TypeError: a compensation is an activity, a function or a Workflow "
                        "subclass, not 'undo'"),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_mistakes_fail_the_run_naming_the_line_that_made_them(cls, reason):
    result = local_run(cls)
    assert result.status == "FAILED"
    assert result.reason.startswith(reason), result.reason
    assert compensations(result.execution.events) == []
    assert event_ids(result.execution.events, "ActivityTaskScheduled") == []  # nothing ran


# --- replay equivalence ------------------------------------------------------------------------

def _recorded() -> list[tuple[str, type, Any]]:
    cases: list[tuple[str, type, Any]] = []
    for cls, args in [(flows.ChainSaga, []), (flows.DiamondSaga, [True]),
                      (flows.DiamondSaga, [False]), (flows.IndependentSaga, [True]),
                      (flows.ResultValueSaga, []), (flows.StepSaga, []),
                      (flows.GroupSaga, []), (flows.WhoIsCompensated, []),
                      (flows.FailingUndoSaga, [True]), (flows.FailingUndoSaga, [False]),
                      (flows.FlakyUndoSaga, []), (flows.NestedSaga, []),
                      (flows.NestedStopSaga, []), (flows.ChildSaga, []),
                      (flows.BothFailSaga, []), (flows.IdempotentSaga, []),
                      (flows.FailingUndoSaga, [False, True]), (flows.DagSaga, [True]),
                      (flows.GroupAcrossScopes, [])]:
        flows.reset_events()
        runner = LocalRunner(max_workers=4)
        result = runner.run(cls, args)
        cases.append((f"{cls.__name__}{args}", cls, result.execution))
    return cases


def _cancelled() -> list[tuple[str, type, Any]]:
    flows.reset_events()
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelSaga, workflow_id="c1")
    first = _while_running(runner, run, flows.SLOW_STARTED, lambda: runner.request_cancel("c1"))
    flows.reset_events()
    runner = LocalRunner(max_workers=4)
    run = runner.start(flows.CancelDuringCompensation, workflow_id="c2")

    def cancel() -> None:
        runner.request_cancel("c2")
        flows.CANCEL_SENT.set()

    second = _while_running(runner, run, flows.UNDO_STARTED, cancel)
    return [("CancelSaga", flows.CancelSaga, first.execution),
            ("CancelDuringCompensation", flows.CancelDuringCompensation, second.execution)]


def test_a_cached_state_and_a_full_replay_compensate_alike_at_every_decision():
    cases = _recorded() + _cancelled()
    for name, cls, run in cases:
        events = list(run.events)
        points = [i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted"]
        assert len(points) >= 3, name
        cached = ExecutionState(cls, workflow_id=run.workflow_id, run_id=run.run_id)
        fed = 0
        for point in points:
            fresh = ExecutionState(cls, workflow_id=run.workflow_id, run_id=run.run_id)
            full = fresh.handle(events[: point + 1])
            fresh.discard()
            step = cached.handle(events[fed: point + 1])
            fed = point + 1
            assert step == full, f"{name}: decisions differ at event {events[point]['eventId']}"
        cached.discard()
