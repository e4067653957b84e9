"""Latches and semaphores on SWF-shaped histories (tests/histories/sync_*.json).

moto has no outgoing signals and no child workflows, so the SWF path of sync.py is tested here,
as the rest of the vocabulary is: each fixture is checked against botocore's model
(test_history_fixtures.py), replayed in full and cached at every decision point
(test_cache_equivalence.py), and fed here decision task by decision task, cut just after each
DecisionTaskStarted as a decider sees it, with the exact decisions asserted. The fixtures hold
what the in-process SWF cannot produce: events that arrive while a decision task is open, a
close that SWF refuses, a lease timer that fires for a holder that has timed out.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from support.histories import load_events
from support.sync_workflows import LatchUser

from replayflow import Workflow
from replayflow.decider import Decider
from replayflow.engine.replay import ExecutionState
from replayflow.sync import (
    ANSWER_SIGNAL,
    LEASE_EXPIRED_MARKER,
    MACHINERY_WORKFLOWS,
    REQUEST_SIGNAL,
    SyncCoordinator,
    SyncLauncher,
)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Feed:
    """One cached execution state, fed a fixture up to a DecisionTaskStarted at a time."""

    def __init__(self, cls: type, events: list[dict], workflow_id: str, run_id: str) -> None:
        self.events = events
        self.state = ExecutionState(cls, workflow_id=workflow_id, run_id=run_id)
        self.fed = 0

    def upto(self, event_id: int) -> list[dict]:
        new = [e for e in self.events if self.fed < e["eventId"] <= event_id]
        assert new[-1]["eventType"] == "DecisionTaskStarted", new[-1]
        self.fed = event_id
        return self.state.handle(new)

    def rest(self) -> list[dict]:
        return self.state.handle([e for e in self.events if e["eventId"] > self.fed])


@pytest.fixture
def feed():
    made: list[Feed] = []

    def make(cls: type, name: str, workflow_id: str, run_id: str,
             events: list[dict] | None = None) -> Feed:
        made.append(Feed(cls, load_events(name) if events is None else events, workflow_id,
                         run_id))
        return made[-1]

    yield make
    for f in made:
        f.state.discard()


def answer(workflow_id: str, run_id: str, control: str, **body: Any) -> dict:
    return {"decisionType": "SignalExternalWorkflowExecution",
            "signalExternalWorkflowExecutionDecisionAttributes": {
                "workflowId": workflow_id, "signalName": ANSWER_SIGNAL, "control": control,
                "runId": run_id, "input": compact(body)}}


def complete(result: Any) -> dict:
    return {"decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {"result": compact(result)}}


def request(op: str, workflow_id: str, run_id: str, req: str, name: str, **more: Any) -> dict:
    return {"op": op, "name": name, "workflow_id": workflow_id, "run_id": run_id,
            "request": req, **more}


# --- a release racing a countdown's registration ------------------------------------------------

def test_a_release_during_the_countdowns_registration_still_wakes_it(feed):
    """littleflow loses this release: it comes between the countdown's read of the counter and
    its registration. Here both are events of one history: the release (event 8) arrives while
    the decision that registers the countdown is in flight, and the next decision answers."""
    f = feed(SyncCoordinator, "sync_release_races_countdown", "replayflow-sync.batch-7",
             "run-sync-batch-7")
    assert f.upto(3) == []  # acquired: the count is 1
    assert f.upto(7) == []  # the countdown waits
    assert f.upto(11) == [answer("batch-7-report", "run-report", "signal-out-1",
                                 op="countdown", request="sync-1")]
    assert f.upto(16) == [complete({"name": "batch-7", "operations": 3})]  # idle: it completes
    f.rest()
    assert f.state.close_status == "WorkflowExecutionCompleted"


def test_the_same_race_the_other_way_round_answers_at_once(feed):
    """Swap the two requests: the release comes first (back at zero), then the countdown, which
    is answered in the decision that sees it."""
    events = copy.deepcopy(load_events("sync_release_races_countdown"))
    first, second = (e for e in events if e["eventType"] == "WorkflowExecutionSignaled")
    a, b = first["workflowExecutionSignaledEventAttributes"], \
        second["workflowExecutionSignaledEventAttributes"]
    for key in ("input", "externalWorkflowExecution", "externalInitiatedEventId"):
        a[key], b[key] = b[key], a[key]
    f = feed(SyncCoordinator, "sync_release_races_countdown", "replayflow-sync.batch-7",
             "run-sync-batch-7", events)
    assert f.upto(3) == []
    # Back at zero and idle: it proposes its close. (On SWF the countdown at event 8 would get
    # that close refused: see the next fixture.)
    assert f.upto(7) == [complete({"name": "batch-7", "operations": 2})]


def test_a_request_that_comes_while_the_coordinator_closes_is_handled(feed):
    """Back at zero, the coordinator proposes to complete; a countdown arrives meanwhile, SWF
    refuses the close (UNHANDLED_DECISION), and the coordinator answers it before closing."""
    f = feed(SyncCoordinator, "sync_countdown_races_close", "replayflow-sync.batch-8",
             "run-sync-batch-8")
    assert f.upto(3) == []
    assert f.upto(7) == [complete({"name": "batch-8", "operations": 2})]
    assert f.upto(12) == [answer("batch-8-report", "run-report", "signal-out-1",
                                 op="countdown", request="sync-1")]
    assert f.upto(17) == [complete({"name": "batch-8", "operations": 3})]
    f.rest()
    assert f.state.close_status == "WorkflowExecutionCompleted"


class ClosesOnce(Workflow):
    """The plain way to close after a signal: run() returns, the engine sends the close."""

    def run(self) -> Any:
        return self.wait_signal(REQUEST_SIGNAL).result


def test_a_plain_close_refused_by_swf_is_sent_again():
    """What propose_close changes: a run() that returned cannot look at what came in, so its
    refused close is sent again as it was."""
    events = [e for e in load_events("sync_countdown_races_close") if e["eventId"] <= 12]
    events[0] = copy.deepcopy(events[0])
    events[0]["workflowExecutionStartedEventAttributes"]["input"] = '{"args":[],"kwargs":{}}'
    state = ExecutionState(ClosesOnce, workflow_id="w", run_id="r")
    try:
        first = state.handle([e for e in events if e["eventId"] <= 3])
        assert first == []
        again = state.handle([e for e in events if 3 < e["eventId"] <= 7])
        assert [d["decisionType"] for d in again] == ["CompleteWorkflowExecution"]
        assert state.handle([e for e in events if e["eventId"] > 7]) == again
    finally:
        state.discard()


# --- a holder that times out --------------------------------------------------------------------

def test_a_holder_that_times_out_loses_its_permit_when_its_lease_ends(feed):
    f = feed(SyncCoordinator, "sync_holder_timed_out", "replayflow-sync.gpu", "run-sync-gpu")
    granted = f.upto(3)
    assert granted == [
        {"decisionType": "StartTimer", "startTimerDecisionAttributes": {
            "timerId": "lease-1", "startToFireTimeout": "30"}},
        answer("train-a", "run-a", "signal-out-1", op="sem-acquire", request="sync-1",
               expires=1732820031),  # the decision's time, rounded up, plus the lease
    ]
    assert f.upto(9) == []
    assert f.upto(13) == []  # train-b waits: one permit, held by train-a
    # train-a timed out in its own history; here only its lease timer fires (event 15).
    assert f.upto(17) == [
        {"decisionType": "RecordMarker", "recordMarkerDecisionAttributes": {
            "markerName": LEASE_EXPIRED_MARKER, "details": compact({
                "semaphore": "gpu", "workflow_id": "train-a", "run_id": "run-a",
                "request": "sync-1"})}},
        {"decisionType": "StartTimer", "startTimerDecisionAttributes": {
            "timerId": "lease-2", "startToFireTimeout": "30"}},
        answer("train-b", "run-b", "signal-out-2", op="sem-acquire", request="sync-1",
               expires=1732820064),
    ]
    assert f.upto(24) == []
    assert f.upto(28) == [
        {"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {"timerId": "lease-2"}},
        complete({"name": "gpu", "operations": 3}),
    ]


def test_a_late_release_of_an_expired_permit_changes_nothing(feed):
    """train-a comes back after its lease ended and releases: the permit is train-b's now."""
    events = copy.deepcopy(load_events("sync_holder_timed_out"))
    late = copy.deepcopy(next(e for e in events if e["eventId"] == 26))
    attrs = late["workflowExecutionSignaledEventAttributes"]
    attrs["input"] = compact([request("sem-release", "train-a", "run-a", "sync-2", "gpu",
                                      permit="sync-1")])
    attrs["externalWorkflowExecution"] = {"workflowId": "train-a", "runId": "run-a"}
    events[25] = late
    f = feed(SyncCoordinator, "sync_holder_timed_out", "replayflow-sync.gpu", "run-sync-gpu",
             events)
    for point in (3, 9, 13, 17, 24):
        f.upto(point)
    assert f.upto(28) == []  # train-b still holds: nothing to do, nothing to close


# --- two coordinators started at once -------------------------------------------------------------

LAUNCHER = ("replayflow-sync-start.gpu.04d7c6f7a4aa.sync-1", "run-launcher-b")
GPU_REQUEST = request("sem-acquire", "train-b", "run-b", "sync-1", "gpu", permits=1, lease=30)


def start_coordinator(control: str) -> dict:
    return {"decisionType": "StartChildWorkflowExecution",
            "startChildWorkflowExecutionDecisionAttributes": {
                "workflowType": {"name": "replayflow.sync", "version": "1"},
                "workflowId": "replayflow-sync.gpu",
                "input": compact({"args": ["gpu", None, [GPU_REQUEST]], "kwargs": {}}),
                "taskList": {"name": "sync-decisions"},
                "executionStartToCloseTimeout": "31536000",
                "taskStartToCloseTimeout": "300",
                "childPolicy": "ABANDON",
                "control": control}}


def signal_coordinator(control: str) -> dict:
    return {"decisionType": "SignalExternalWorkflowExecution",
            "signalExternalWorkflowExecutionDecisionAttributes": {
                "workflowId": "replayflow-sync.gpu", "signalName": REQUEST_SIGNAL,
                "control": control, "input": compact([GPU_REQUEST])}}


def test_a_launcher_that_loses_the_start_signals_the_winner(feed):
    f = feed(SyncLauncher, "sync_already_running", *LAUNCHER)
    assert f.upto(3) == [start_coordinator("workflow-replayflow.sync-1")]
    # Another launcher started it first: WORKFLOW_ALREADY_RUNNING (event 6), so signal it.
    assert f.upto(8) == [signal_coordinator("signal-out-1")]
    assert f.upto(13) == [complete("signalled")]


def test_a_winner_that_closed_before_the_signal_is_started_again(feed):
    events = copy.deepcopy(load_events("sync_already_running"))
    signaled = next(e for e in events if e["eventType"] == "ExternalWorkflowExecutionSignaled")
    signaled["eventType"] = "SignalExternalWorkflowExecutionFailed"
    del signaled["externalWorkflowExecutionSignaledEventAttributes"]
    signaled["signalExternalWorkflowExecutionFailedEventAttributes"] = {
        "workflowId": "replayflow-sync.gpu", "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
        "initiatedEventId": 10, "decisionTaskCompletedEventId": 9}
    f = feed(SyncLauncher, "sync_already_running", *LAUNCHER, events)
    f.upto(3)
    f.upto(8)
    assert f.upto(13) == [start_coordinator("workflow-replayflow.sync-2")]


# --- the requester's side ------------------------------------------------------------------------

def test_a_requester_whose_signal_finds_no_coordinator_starts_a_launcher(feed):
    f = feed(LatchUser, "sync_requester_launch", "latch-user", "run-latch-user")
    acquire = request("acquire", "latch-user", "run-latch-user", "sync-1", "batch-9")
    assert f.upto(3) == [{
        "decisionType": "SignalExternalWorkflowExecution",
        "signalExternalWorkflowExecutionDecisionAttributes": {
            "workflowId": "replayflow-sync.batch-9", "signalName": REQUEST_SIGNAL,
            "control": "signal-out-1", "input": compact([acquire])}}]
    launch = f.upto(8)
    assert launch == [{
        "decisionType": "StartChildWorkflowExecution",
        "startChildWorkflowExecutionDecisionAttributes": {
            "workflowType": {"name": "replayflow.sync-start", "version": "1"},
            "workflowId": "replayflow-sync-start.batch-9.d26254ed1e16.sync-1",
            "input": compact({"args": ["replayflow-sync.batch-9", "batch-9", [acquire],
                                       "sync-decisions"], "kwargs": {}}),
            "taskList": {"name": "sync-decisions"},
            "executionStartToCloseTimeout": "3600",
            "taskStartToCloseTimeout": "300",
            "childPolicy": "ABANDON",  # the coordinator it starts must outlive this run
            "control": "workflow-replayflow.sync-start-1"}}]
    assert f.upto(13) == []  # the launcher runs: the acquire is not in yet
    release = request("release", "latch-user", "run-latch-user", "sync-2", "batch-9")
    # run() read the acquire's future, released, and returned: the release is on its way, and
    # the run stays open until it has arrived (hold_open).
    assert f.upto(17) == [{
        "decisionType": "SignalExternalWorkflowExecution",
        "signalExternalWorkflowExecutionDecisionAttributes": {
            "workflowId": "replayflow-sync.batch-9", "signalName": REQUEST_SIGNAL,
            "control": "signal-out-2", "input": compact([release])}}]
    assert f.upto(22) == [complete("done")]


def _launcher_failed(events: list[dict]) -> list[dict]:
    events = copy.deepcopy(events)
    done = next(e for e in events if e["eventType"] == "ChildWorkflowExecutionCompleted")
    attrs = done.pop("childWorkflowExecutionCompletedEventAttributes")
    del attrs["result"]
    attrs["reason"] = "SyncFailed: replayflow-sync.batch-9 kept closing"
    done["eventType"] = "ChildWorkflowExecutionFailed"
    done["childWorkflowExecutionFailedEventAttributes"] = attrs
    return [e for e in events if e["eventId"] <= 17]


def test_a_launcher_that_fails_fails_the_operation_not_the_failure_hook(feed):
    """LatchUser's on_task_failure would fail the run naming the task: the machinery's children
    never reach it; the operation's own future fails, with SyncFailed."""
    f = feed(LatchUser, "sync_requester_launch", "latch-user", "run-latch-user",
             _launcher_failed(load_events("sync_requester_launch")))
    f.upto(3)
    f.upto(8)
    f.upto(13)
    (fail,) = f.upto(17)
    assert fail["decisionType"] == "FailWorkflowExecution"
    attrs = fail["failWorkflowExecutionDecisionAttributes"]
    assert attrs["reason"].startswith("sync-1 failed: latch 'batch-9' acquire: could not start "
                                      "its coordinator replayflow-sync.batch-9")
    assert "on_task_failure" not in attrs["reason"]
    assert json.loads(attrs["details"])["type"] == "SyncFailed"


class FireAndForget(Workflow):
    """Acquires without ever looking at the future, and returns."""

    def run(self) -> str:
        self.latch("batch-9").acquire()
        return "done"


def test_an_operation_that_failed_unread_fails_the_run_the_bookkeeping_does_not():
    events = _launcher_failed(load_events("sync_requester_launch"))
    events[0] = copy.deepcopy(events[0])
    events[0]["workflowExecutionStartedEventAttributes"]["input"] = '{"args":[],"kwargs":{}}'
    state = ExecutionState(FireAndForget, workflow_id="latch-user", run_id="run-latch-user")
    try:
        decisions = state.handle(events)
    finally:
        state.discard()
    (fail,) = decisions
    reason = fail["failWorkflowExecutionDecisionAttributes"]["reason"]
    # One failure named: the acquire's. Not the signal that found no coordinator, nor the
    # launcher child, whose failures are the acquire's own.
    assert reason.startswith("run() returned without looking at a failed task: sync-1 failed: "
                             "latch 'batch-9' acquire")


@pytest.mark.parametrize(("name", "workflow_type", "wid", "rid"), [
    ("sync_holder_timed_out", "replayflow.sync", "replayflow-sync.gpu", "run-sync-gpu"),
    ("sync_already_running", "replayflow.sync-start", *LAUNCHER),
])
def test_every_decider_decides_the_machinery_without_being_told(name, workflow_type, wid, rid):
    class History:
        def get_workflow_execution_history(self, *args: Any, **kwargs: Any) -> list[dict]:
            raise AssertionError("the task carries the whole history")

    events = load_events(name)
    upto = [e for e in events if e["eventId"] <= 3]
    task = {"taskToken": "t", "startedEventId": 3, "previousStartedEventId": 0,
            "workflowExecution": {"workflowId": wid, "runId": rid},
            "workflowType": {"name": workflow_type, "version": "1"}, "events": upto}
    decider = Decider(History(), {}, "sync-decisions", cache_size=0)
    decisions = decider.handle_task(task)
    expected = Feed(MACHINERY_WORKFLOWS[workflow_type], events, wid, rid)
    try:
        assert decisions == expected.upto(3)
    finally:
        expected.state.discard()
    assert decisions and decisions[0]["decisionType"] != "FailWorkflowExecution"
