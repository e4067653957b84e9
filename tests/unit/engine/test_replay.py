"""The engine fed hand-checked SWF histories: exact decisions out, the same way every time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from support.histories import load_events

from examples.basic import BasicWorkflow
from examples.failure import UnhandledFailureWorkflow
from examples.retry import RetryWorkflow
from replayflow import Workflow, activity, futures
from replayflow.engine.replay import ExecutionState
from replayflow.errors import NonDeterministicWorkflow

TIMEOUTS_300 = {"scheduleToCloseTimeout": "NONE", "scheduleToStartTimeout": "NONE",
                "startToCloseTimeout": "300", "heartbeatTimeout": "NONE"}
TIMEOUTS_DEFAULT = {**TIMEOUTS_300, "startToCloseTimeout": "3600", "heartbeatTimeout": "60"}


def replay(cls: type, events: list[dict]) -> list[dict]:
    return ExecutionState(cls, workflow_id="wf", run_id="run").handle(events)


def schedule(activity_id: str, name: str, args: list, task_list: str = "quickstart",
             version: str = "example", timeouts: dict | None = None,
             control: str | None = None) -> dict:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": name, "version": version},
            "activityId": activity_id,
            "input": json.dumps({"args": args, "kwargs": {}}, separators=(",", ":")),
            "taskList": {"name": task_list},
            **(timeouts or TIMEOUTS_DEFAULT),
            **({"control": control} if control is not None else {}),
        },
    }


def test_first_decision_schedules_the_first_activity():
    decisions = replay(BasicWorkflow, load_events("basic_first_decision"))
    assert decisions == [schedule("activity-examples.basic.increment-1#1",
                                  "examples.basic.increment", [1], timeouts=TIMEOUTS_300)]


def test_a_completed_future_feeds_both_of_its_dependants():
    decisions = replay(BasicWorkflow, load_events("basic_after_increment"))
    # Each names the task whose future it took, in control (the console draws edges from it).
    fed_by_increment = '{"deps":["activity-examples.basic.increment-1"]}'
    assert decisions == [
        schedule("activity-examples.basic.delay-1#1", "examples.basic.delay", [0, 2],
                 control=fed_by_increment),
        schedule("activity-examples.basic.double-1#1", "examples.basic.double", [2],
                 control=fed_by_increment),
    ]


def test_the_last_decision_completes_with_the_result():
    events = load_events("basic_completed")
    last_started = max(i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted")
    decisions = replay(BasicWorkflow, events[: last_started + 1])
    assert decisions == [{
        "decisionType": "CompleteWorkflowExecution",
        "completeWorkflowExecutionDecisionAttributes": {"result": "4"},
    }]


def test_a_failed_attempt_is_retried_under_a_new_activity_id():
    decisions = replay(RetryWorkflow, load_events("retry_after_first_failure"))
    assert decisions == [schedule("activity-examples.retry.flaky-1#2", "examples.retry.flaky",
                                  ["x"])]


def test_an_unhandled_failure_fails_the_workflow_naming_task_and_error():
    decisions = replay(UnhandledFailureWorkflow, load_events("failure_unhandled"))
    assert len(decisions) == 1
    assert decisions[0]["decisionType"] == "FailWorkflowExecution"
    attrs = decisions[0]["failWorkflowExecutionDecisionAttributes"]
    assert attrs["reason"] == ("activity-examples.failure.divide-1 failed: "
                               "ZeroDivisionError: division by zero")
    details = json.loads(attrs["details"])
    assert details["task_id"] == "activity-examples.failure.divide-1"
    assert "ZeroDivisionError" in details["traceback"]


def test_replaying_a_closed_history_decides_nothing_more():
    state = ExecutionState(BasicWorkflow, workflow_id="wf", run_id="run")
    state.handle(load_events("basic_completed"))
    assert state.closed
    assert state.close_status == "WorkflowExecutionCompleted"


def test_a_different_activity_at_the_same_id_is_non_deterministic():
    events = load_events("basic_after_increment")
    scheduled = next(e for e in events if e["eventType"] == "ActivityTaskScheduled")
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "other.thing"
    with pytest.raises(NonDeterministicWorkflow, match="increment-1.*other.thing"):
        replay(BasicWorkflow, events)


def test_a_different_input_is_non_deterministic():
    events = load_events("basic_after_increment")
    scheduled = next(e for e in events if e["eventType"] == "ActivityTaskScheduled")
    scheduled["activityTaskScheduledEventAttributes"]["input"] = '{"args":[7],"kwargs":{}}'
    with pytest.raises(NonDeterministicWorkflow, match=r"increment-1.*\[7\].*\[1\]"):
        replay(BasicWorkflow, events)


def test_a_decision_missing_from_the_history_is_non_deterministic():
    events = load_events("basic_after_increment")
    events = [e for e in events if e["eventType"] not in (
        "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted")]
    with pytest.raises(NonDeterministicWorkflow, match="no such decision"):
        replay(BasicWorkflow, events)


# --- engine behaviour on generated histories -------------------------------------------------

@activity.with_attributes(task_list="t")
def echo(value):
    return value


class Fanout(Workflow):
    def run(self, n):
        fs = self.map(echo, range(n))
        futures.wait(*fs)
        return [f.result for f in fs]


class NestedInputs(Workflow):
    def run(self):
        a = self.submit(echo, 1)
        b = self.submit(echo, 2)
        return self.submit(echo, {"list": [a, (b, 3)], "plain": 4}).result


def _history(*events: tuple[str, dict]) -> list[dict]:
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i, (event_type, attrs) in enumerate(events, start=1):
        key = event_type[0].lower() + event_type[1:] + "EventAttributes"
        out.append({"eventId": i, "eventTimestamp": stamp, "eventType": event_type, key: attrs})
    return out


def _start(cls: type, args: list) -> list[tuple[str, dict]]:
    return [
        ("WorkflowExecutionStarted", {
            "input": json.dumps({"args": args, "kwargs": {}}),
            "workflowType": {"name": cls.type_name(), "version": "1"},
            "taskList": {"name": "default"}, "childPolicy": "TERMINATE",
        }),
        ("DecisionTaskScheduled", {"taskList": {"name": "default"}}),
        ("DecisionTaskStarted", {"scheduledEventId": 2}),
    ]


def test_more_than_100_decisions_go_out_in_batches_with_a_continuation_timer():
    state = ExecutionState(Fanout, workflow_id="wf", run_id="run")
    first = state.handle(_history(*_start(Fanout, [150])))
    assert len(first) == 100
    assert all(d["decisionType"] == "ScheduleActivityTask" for d in first[:99])
    assert first[99] == {"decisionType": "StartTimer", "startTimerDecisionAttributes": {
        "timerId": "replayflow-continue-3", "startToFireTimeout": "0"}}
    # SWF records the batch, the timer fires, a new decision task starts: the other 51 go out.
    events = [("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3})]
    for d in first[:99]:
        a = d["scheduleActivityTaskDecisionAttributes"]
        events.append(("ActivityTaskScheduled", {
            "activityId": a["activityId"], "activityType": a["activityType"],
            "input": a["input"], "taskList": a["taskList"], "decisionTaskCompletedEventId": 4}))
    events += [("TimerStarted", {"timerId": "replayflow-continue-3", "startToFireTimeout": "0",
                                 "decisionTaskCompletedEventId": 4}),
               ("TimerFired", {"timerId": "replayflow-continue-3", "startedEventId": 0}),
               ("DecisionTaskScheduled", {"taskList": {"name": "default"}}),
               ("DecisionTaskStarted", {"scheduledEventId": 0})]
    full = _history(*_start(Fanout, [150]), *events)
    second = state.handle(full[3:])
    assert len(second) == 51
    ids = [d["scheduleActivityTaskDecisionAttributes"]["activityId"] for d in first[:99] + second]
    assert ids == [f"activity-{echo.name}-{i}#1" for i in range(1, 151)]
    # A full replay of the same events makes the same decisions.
    assert ExecutionState(Fanout, workflow_id="wf", run_id="run").handle(full) == second


def test_futures_nested_in_containers_are_resolved_before_scheduling():
    state = ExecutionState(NestedInputs, workflow_id="wf", run_id="run")
    first = state.handle(_history(*_start(NestedInputs, [])))
    assert [d["scheduleActivityTaskDecisionAttributes"]["activityId"] for d in first] == [
        f"activity-{echo.name}-1#1", f"activity-{echo.name}-2#1"]
    steps = _start(NestedInputs, []) + [
        ("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3})]
    for d in first:
        a = d["scheduleActivityTaskDecisionAttributes"]
        steps.append(("ActivityTaskScheduled", {
            "activityId": a["activityId"], "activityType": a["activityType"],
            "input": a["input"], "taskList": a["taskList"], "decisionTaskCompletedEventId": 4}))
    steps += [("ActivityTaskStarted", {"scheduledEventId": 5}),
              ("ActivityTaskCompleted", {"scheduledEventId": 5, "startedEventId": 7,
                                         "result": "1"}),
              ("ActivityTaskStarted", {"scheduledEventId": 6}),
              ("ActivityTaskCompleted", {"scheduledEventId": 6, "startedEventId": 9,
                                         "result": "2"}),
              ("DecisionTaskScheduled", {"taskList": {"name": "default"}}),
              ("DecisionTaskStarted", {"scheduledEventId": 11})]
    second = state.handle(_history(*steps)[3:])
    assert len(second) == 1
    sent = json.loads(second[0]["scheduleActivityTaskDecisionAttributes"]["input"])
    assert sent == {"args": [{"list": [1, [2, 3]], "plain": 4}], "kwargs": {}}
