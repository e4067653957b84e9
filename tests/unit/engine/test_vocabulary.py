"""The workflow vocabulary on SWF-shaped histories: children, cancellation, continue-as-new,
signals, timers, priorities, failure policies, and a paginated 3,000-event history.

The `vocab_*` fixtures were recorded with the memory backend from the examples (ids and times
normalised) and are checked against botocore's model like every fixture; they hold the events
moto never produces. Decisions are asserted exactly, at a cut of the history just after a
DecisionTaskStarted, as a decider would see it.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from support.histories import HISTORIES
from support.history_model import assert_valid_history

from examples.cancellation import DeadlineWorkflow, ReportWorkflow
from examples.children import InventoryWorkflow
from examples.continue_as_new import PagingWorkflow
from examples.signals import ApprovalWorkflow
from examples.timers import TimerWorkflow
from replayflow import Workflow, activity, futures, policy
from replayflow.backends.swf import SwfBackend
from replayflow.engine.replay import ExecutionState
from replayflow.errors import TaskCancelled, TaskFailed, WorkflowCancelled
from replayflow.history import load_history_file
from replayflow.local import LocalRunner
from replayflow.testing import replay


def history(name: str):
    return load_history_file(HISTORIES / f"{name}.json")


def decide(cls: type, name: str, upto: int | None = None, events: list | None = None) -> list:
    """The decisions a fresh engine makes for the history cut after event `upto`."""
    h = history(name)
    events = h.events if events is None else events
    if upto is not None:
        events = [e for e in events if e["eventId"] <= upto]
        assert events[-1]["eventType"] == "DecisionTaskStarted"
    state = ExecutionState(cls, workflow_id=h.workflow_execution["workflowId"],
                           run_id=h.workflow_execution["runId"])
    try:
        return state.handle(events)
    finally:
        state.discard()


def complete(result: object) -> dict:
    return {"decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {
                "result": json.dumps(result, separators=(",", ":"), sort_keys=True)}}


def decision_types(decisions: list[dict]) -> list[str]:
    return [d["decisionType"] for d in decisions]


# --- child workflows ------------------------------------------------------------------------

def test_children_start_with_their_options():
    decisions = decide(InventoryWorkflow, "vocab_children", upto=3)
    assert decisions == [
        {"decisionType": "StartChildWorkflowExecution",
         "startChildWorkflowExecutionDecisionAttributes": {
             "workflowType": {"name": "children-region", "version": "example"},
             "workflowId": f"inventory-{region}",
             "input": json.dumps({"args": [region], "kwargs": {}}, separators=(",", ":")),
             "taskList": {"name": "example"},
             "executionStartToCloseTimeout": "300",
             "taskStartToCloseTimeout": "300",
             "childPolicy": "TERMINATE",
             "control": f"workflow-children-region-{n}",
             "tagList": ["inventory", region]}}
        for n, region in enumerate(["eu", "nowhere"], 1)
    ]


def test_a_child_result_and_a_child_failure_reach_the_parent():
    assert decide(InventoryWorkflow, "vocab_children", upto=18) == [
        complete({"eu": 2, "nowhere": "failed: unknown region 'nowhere'"})]


@pytest.mark.parametrize(("event_type", "attrs", "message"), [
    ("ChildWorkflowExecutionTerminated", {}, "child workflow was terminated"),
    ("ChildWorkflowExecutionTimedOut", {"timeoutType": "START_TO_CLOSE"},
     "child workflow timed out (START_TO_CLOSE)"),
])
def test_a_terminated_or_timed_out_child_is_a_task_failure(event_type, attrs, message):
    events = copy.deepcopy(history("vocab_children").events)
    failed = next(e for e in events if e["eventType"] == "ChildWorkflowExecutionFailed")
    old = failed.pop("childWorkflowExecutionFailedEventAttributes")
    failed["eventType"] = event_type
    failed[event_type[0].lower() + event_type[1:] + "EventAttributes"] = {
        k: old[k] for k in ("workflowExecution", "workflowType", "initiatedEventId",
                            "startedEventId")} | attrs
    assert_valid_history({"events": [dict(e, eventTimestamp=e["eventTimestamp"].timestamp())
                                      for e in events]})
    result = decide(InventoryWorkflow, "vocab_children", upto=18, events=events)
    assert result == [complete({"eu": 2, "nowhere": f"failed: {message}"})]


# --- cancellation -----------------------------------------------------------------------------

def test_cancel_requests_for_a_running_activity_and_a_child():
    decisions = decide(DeadlineWorkflow, "vocab_cancel_parent", upto=15)  # after TimerFired
    assert decisions == [
        {"decisionType": "RequestCancelActivityTask",
         "requestCancelActivityTaskDecisionAttributes": {
             "activityId": "activity-examples.cancellation.crawl-1#1"}},
        {"decisionType": "RequestCancelExternalWorkflowExecution",
         "requestCancelExternalWorkflowExecutionDecisionAttributes": {
             "workflowId": "deadline--workflow-cancellation-report-1",
             "runId": "run-deadline--workflow-cancellation-report-1-1"}},
    ]


def test_cancelled_activity_and_child_resolve_as_cancelled():
    # ActivityTaskCancelRequested, ExternalWorkflowExecutionCancelRequested,
    # ChildWorkflowExecutionCanceled, ActivityTaskCanceled: each confirmed or resolved in turn.
    assert decide(DeadlineWorkflow, "vocab_cancel_parent", upto=25) == []
    assert decide(DeadlineWorkflow, "vocab_cancel_parent", upto=29) == [
        complete({"crawl": "cancelled", "report": "cancelled"})]


def test_a_cancel_request_raises_inside_run_and_cleanup_runs():
    decisions = decide(ReportWorkflow, "vocab_cancel_child", upto=7)
    assert decision_types(decisions) == ["ScheduleActivityTask"]
    assert decisions[0]["scheduleActivityTaskDecisionAttributes"]["activityType"]["name"] == \
        "examples.cancellation.delete_draft"
    decisions = decide(ReportWorkflow, "vocab_cancel_child", upto=13)
    assert decisions == [
        {"decisionType": "RecordMarker", "recordMarkerDecisionAttributes": {
            "markerName": "cleaned-up"}},
        {"decisionType": "CancelWorkflowExecution", "cancelWorkflowExecutionDecisionAttributes": {
            "details": '{"message":"cancellation was requested (event 5)"}'}},
    ]


def test_replay_of_a_cancelled_execution_finds_it_closed():
    result = replay(HISTORIES / "vocab_cancel_child.json", ReportWorkflow)
    assert (result.closed, result.close_status) == (True, "WorkflowExecutionCanceled")
    assert [m.name for m in result.markers] == ["cleaned-up"]


# --- continue-as-new --------------------------------------------------------------------------

def test_continue_as_new_carries_the_state_and_the_start_settings():
    assert decide(PagingWorkflow, "vocab_continue_as_new", upto=15) == [{
        "decisionType": "ContinueAsNewWorkflowExecution",
        "continueAsNewWorkflowExecutionDecisionAttributes": {
            "input": '{"args":[4,2],"kwargs":{"done":2,"runs":2,"total":3}}',
            "executionStartToCloseTimeout": "86400",
            "taskList": {"name": "example"},
            "taskStartToCloseTimeout": "300",
            "childPolicy": "TERMINATE",
            "workflowTypeVersion": "example",
        }}]
    result = replay(HISTORIES / "vocab_continue_as_new.json", PagingWorkflow)
    assert result.close_status == "WorkflowExecutionContinuedAsNew"


# --- signals ----------------------------------------------------------------------------------

def test_outgoing_signals_then_matched_incoming_ones():
    decisions = decide(ApprovalWorkflow, "vocab_signals", upto=3)
    assert decisions == [
        {"decisionType": "SignalExternalWorkflowExecution",
         "signalExternalWorkflowExecutionDecisionAttributes": {
             "workflowId": "approval", "runId": "run-approval-0", "signalName": "approval",
             "control": f"signal-out-{n}",
             "input": json.dumps({"approved": approved, "order": order},
                                 separators=(",", ":"))}}
        for n, (order, approved) in enumerate([("o-2", False), ("o-1", True)], 1)
    ]
    # o-2 arrives first and waits in the buffer until run() asks for it.
    assert decide(ApprovalWorkflow, "vocab_signals", upto=12) == [
        complete({"o-1": "approved", "o-2": "rejected"})]


def test_a_failed_outgoing_signal_is_a_task_failure():
    class Ping(Workflow):
        def run(self):
            try:
                self.signal("ping", workflow_id="nobody").result  # noqa: B018
            except TaskFailed as exc:
                return exc.reason

    backend = LocalRunner(max_workers=2)
    result = backend.run(Ping)
    assert result.result == "signal not delivered: UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION"
    types = [e["eventType"] for e in result.execution.events]
    assert "SignalExternalWorkflowExecutionFailed" in types


class EarlyBird(Workflow):
    """Waits for "ready" first; the "go" signals have come by then, and are kept."""

    def run(self):
        self.wait_signal("ready").result  # noqa: B018
        first = self.wait_signal("go").result
        second = self.wait_signal("go").result
        return [first, second]


def test_signals_sent_before_the_wait_are_delivered_in_order():
    backend = LocalRunner(max_workers=2)
    execution = backend.start(EarlyBird, workflow_id="early")
    backend.signal("early", "go", {"n": 1})
    backend.signal("early", "go", {"n": 2})
    backend.signal("early", "ready")
    result = backend.run_until_closed(execution)
    assert result.result == [{"n": 1}, {"n": 2}]
    names = [e["workflowExecutionSignaledEventAttributes"]["signalName"]
             for e in execution.events if e["eventType"] == "WorkflowExecutionSignaled"]
    assert names == ["go", "go", "ready"]  # both "go" came before run() waited for one


class OneWait(Workflow):
    def run(self):
        won = self.wait_signal("answer").result
        self.sleep(0)  # a later decision: the loser must still be buffered
        later = self.wait_signal("answer").result
        return {"won": won, "later": later}


def test_two_signals_racing_one_wait_first_in_history_wins():
    backend = LocalRunner(max_workers=2)
    execution = backend.start(OneWait, workflow_id="race")
    backend.signal("race", "answer", "a")
    backend.signal("race", "answer", "b")
    result = backend.run_until_closed(execution)
    assert result.result == {"won": "a", "later": "b"}
    # Both arrived for one decision task: the engine resolved the wait with the first event.
    events = execution.events
    signaled = [i for i, e in enumerate(events) if e["eventType"] == "WorkflowExecutionSignaled"]
    between = [e["eventType"] for e in events[signaled[0]: signaled[1]]]
    assert len(signaled) == 2 and "DecisionTaskStarted" not in between
    assert replay(execution.history(), OneWait).closed


# --- timers -----------------------------------------------------------------------------------

def test_a_cancelled_timer_resolves_with_its_cancel_decision():
    # TimerCanceled brings no decision task on SWF: the cancel decision and the completion
    # go out together.
    assert decide(TimerWorkflow, "vocab_timers", upto=15) == [
        {"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {
            "timerId": "report-deadline"}},
        # slept_seconds comes from the fixture's DecisionTaskStarted timestamps (1.25 s apart)
        complete({"deadline": "cancelled", "report": "report for 2 items", "slept_seconds": 1}),
    ]


def test_moto_spelling_timer_cancelled_replays_the_same():
    events = copy.deepcopy(history("vocab_timers").events)
    for event in events:
        if event["eventType"] == "TimerCanceled":
            event["eventType"] = "TimerCancelled"
            event["timerCancelledEventAttributes"] = event.pop("timerCanceledEventAttributes")
    result = replay(events, TimerWorkflow, workflow_id="timers", run_id="run-timers-0")
    assert result.close_status == "WorkflowExecutionCompleted"


class LateCancel(Workflow):
    def run(self):
        timer = self.start_timer("t", 0)
        futures.wait(timer)
        return {"cancel_timer": self.cancel_timer("t"), "future_cancel": timer.cancel(),
                "state": timer.state}


def test_cancelling_a_timer_after_it_fired_is_a_no_op():
    result = LocalRunner(max_workers=2).run(LateCancel)
    assert result.result == {"cancel_timer": False, "future_cancel": False, "state": "FINISHED"}
    types = [e["eventType"] for e in result.execution.events]
    assert "TimerFired" in types and "TimerCanceled" not in types
    assert "CancelTimerFailed" not in types


@activity.with_attributes(task_list="vocab", version="test")
def echo(x):
    return x


class CancelDone(Workflow):
    def run(self):
        done = self.submit(echo, 1)
        value = done.result
        return {"value": value, "cancel": done.cancel(), "state": done.state}


def test_cancelling_a_finished_future_is_a_no_op():
    result = LocalRunner(max_workers=2).run(CancelDone)
    assert result.result == {"value": 1, "cancel": False, "state": "FINISHED"}
    types = [e["eventType"] for e in result.execution.events]
    assert "ActivityTaskCancelRequested" not in types


class CancelledTop(Workflow):
    def run(self):
        try:
            self.wait_signal("never").result  # noqa: B018
        except WorkflowCancelled:
            self.record_marker("cleanup")
            raise


def test_a_cancel_request_closes_a_top_level_workflow_as_canceled():
    backend = LocalRunner(max_workers=2)
    execution = backend.start(CancelledTop, workflow_id="top")
    backend.request_cancel("top")
    result = backend.run_until_closed(execution)
    assert result.status == "CANCELED"
    assert [m.name for m in replay(execution.history(), CancelledTop).markers] == ["cleanup"]


# --- priorities -------------------------------------------------------------------------------

@activity.with_attributes(task_list="vocab", version="test", priority=5)
def urgent(x):
    return x


class Prioritised(Workflow):
    def run(self):
        self.submit(urgent, 1)
        self.submit(urgent, 2, __priority=9)
        self.submit(urgent, 3, __priority=None)  # no priority, although urgent declares one
        self.submit(echo, 4)
        self.submit(CancelDone, __priority=-2)


def _start_events() -> list[dict]:
    stamp = datetime(2024, 11, 26, tzinfo=UTC)
    return [
        {"eventId": 1, "eventType": "WorkflowExecutionStarted", "eventTimestamp": stamp,
         "workflowExecutionStartedEventAttributes": {
             "input": '{"args":[],"kwargs":{}}', "taskList": {"name": "default"},
             "childPolicy": "TERMINATE", "workflowType": {"name": "p", "version": "1"}}},
        {"eventId": 2, "eventType": "DecisionTaskScheduled", "eventTimestamp": stamp,
         "decisionTaskScheduledEventAttributes": {"taskList": {"name": "default"}}},
        {"eventId": 3, "eventType": "DecisionTaskStarted", "eventTimestamp": stamp,
         "decisionTaskStartedEventAttributes": {"scheduledEventId": 2}},
    ]


def test_activity_priority_and_the_priority_option_set_task_priority():
    decisions = ExecutionState(Prioritised, workflow_id="p").handle(_start_events())
    priorities = [d.get("scheduleActivityTaskDecisionAttributes",
                        d.get("startChildWorkflowExecutionDecisionAttributes")).get("taskPriority")
                  for d in decisions[:-1]]  # run() returns at once: the last one completes
    assert priorities == ["5", "9", None, None, "-2"]


# --- failure policy ---------------------------------------------------------------------------

@activity.with_attributes(task_list="vocab", version="test")
def boom(label):
    raise RuntimeError(f"{label} failed")


class Policies(Workflow):
    def run(self, kind):
        return self.submit(boom, kind).result

    def on_task_failure(self, failure):
        if failure.name.endswith("boom") and failure.attempt < 2:
            return {"now": policy.RetryNow(), "after": policy.RetryAfter(0),
                    "ignore": policy.Ignore("fallback"),
                    "fail": policy.FailWorkflow("gave up on boom")}[failure.error.message
                                                                     .split(" ")[0]]
        return None


@pytest.mark.parametrize(("kind", "status", "outcome", "attempts", "timers"), [
    ("now", "FAILED", "now failed", 2, 0),
    ("after", "FAILED", "after failed", 2, 1),
    ("ignore", "COMPLETED", "fallback", 1, 0),
    ("fail", "FAILED", "gave up on boom", 1, 0),
])
def test_failure_policies(kind, status, outcome, attempts, timers):
    result = LocalRunner(max_workers=2).run(Policies, [kind])
    assert result.status == status
    assert outcome in (result.result if status == "COMPLETED" else result.reason)
    events = result.execution.events
    assert sum(e["eventType"] == "ActivityTaskScheduled" for e in events) == attempts
    assert sum(e["eventType"] == "TimerStarted" for e in events) == timers


# --- a 3,000-event history, paginated -----------------------------------------------------------

def _long_history(pages: int) -> list[dict]:
    """PagingWorkflow(pages, pages): one activity after another, six events per step."""
    t = 1732600000.0
    events: list[dict] = []

    def add(event_type: str, **attrs) -> int:
        event_id = len(events) + 1
        events.append({"eventId": event_id, "eventType": event_type,
                       "eventTimestamp": t + event_id / 100,
                       event_type[0].lower() + event_type[1:] + "EventAttributes": attrs})
        return event_id

    add("WorkflowExecutionStarted", input=json.dumps({"args": [pages, pages], "kwargs": {}}),
        taskList={"name": "example"}, childPolicy="TERMINATE",
        executionStartToCloseTimeout="86400", taskStartToCloseTimeout="300",
        workflowType={"name": "continue-as-new", "version": "example"})
    for n in range(pages + 1):
        scheduled = add("DecisionTaskScheduled", taskList={"name": "example"})
        started = add("DecisionTaskStarted", scheduledEventId=scheduled)
        if n == pages:
            break
        completed = add("DecisionTaskCompleted", scheduledEventId=scheduled,
                        startedEventId=started)
        sched = add("ActivityTaskScheduled",
                    activityType={"name": "examples.continue_as_new.fetch_page",
                                  "version": "example"},
                    activityId=f"activity-examples.continue_as_new.fetch_page-{n + 1}#1",
                    input=json.dumps({"args": [n], "kwargs": {}}, separators=(",", ":")),
                    taskList={"name": "quickstart"}, decisionTaskCompletedEventId=completed,
                    scheduleToCloseTimeout="NONE", scheduleToStartTimeout="NONE",
                    startToCloseTimeout="3600", heartbeatTimeout="NONE")
        act_started = add("ActivityTaskStarted", scheduledEventId=sched)
        add("ActivityTaskCompleted", scheduledEventId=sched, startedEventId=act_started,
            result=str(n + 1))
    return events


def test_a_3000_event_history_arrives_in_three_pages_and_replays():
    events = _long_history(500)
    assert len(events) == 3003
    assert_valid_history({"events": events})
    client = boto3.client("swf", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing", endpoint_url="http://127.0.0.1:1")
    request = {"domain": "d", "taskList": {"name": "example"}, "identity": "me"}
    task = {"taskToken": "tok", "startedEventId": 3003, "previousStartedEventId": 2997,
            "workflowExecution": {"workflowId": "paging", "runId": "run-1"},
            "workflowType": {"name": "continue-as-new", "version": "example"}}
    with Stubber(client) as stubber:
        stubber.add_response("poll_for_decision_task",
                             {**task, "events": events[:1000], "nextPageToken": "p2"}, request)
        stubber.add_response("poll_for_decision_task",
                             {**task, "events": events[1000:2000], "nextPageToken": "p3"},
                             {**request, "nextPageToken": "p2"})
        stubber.add_response("poll_for_decision_task", {**task, "events": events[2000:]},
                             {**request, "nextPageToken": "p3"})
        polled = SwfBackend("d", client=client).poll_for_decision_task("example", "me")
        stubber.assert_no_pending_responses()
    assert [e["eventId"] for e in polled["events"]] == list(range(1, 3004))
    state = ExecutionState(PagingWorkflow, workflow_id="paging", run_id="run-1")
    assert state.handle(polled["events"]) == [
        complete({"pages": 500, "runs": 1, "total": sum(range(1, 501))})]
    assert state.last_started_event_id == 3003


def test_a_cancelled_future_raises_task_cancelled():
    class CancelEarly(Workflow):
        def run(self):
            pending = self.submit(echo, 1)
            pending.cancel()  # not sent yet: simply never scheduled
            try:
                return pending.result
            except TaskCancelled as exc:
                return f"cancelled {exc.task_id}"

    result = LocalRunner(max_workers=2).run(CancelEarly)
    assert result.result.startswith("cancelled activity-")
    assert not any(e["eventType"] == "ActivityTaskScheduled" for e in result.execution.events)
