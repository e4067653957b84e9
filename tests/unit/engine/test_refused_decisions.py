"""Decisions SWF refused: for a limit or a rate, sent again after a back-off timer (not as a new
attempt); for anything else, a failure that goes through on_task_failure like any other.

The first cases read tests/histories/rate_exceeded_backoff.json: basic([1, 0]) whose first
ScheduleActivityTask SWF refused with ACTIVITY_CREATION_RATE_EXCEEDED.
"""

from __future__ import annotations

import copy
import json

import pytest
from support.histories import load_events

from examples.basic import BasicWorkflow
from replayflow import Workflow, futures
from replayflow.engine.replay import ExecutionState, backoff_seconds
from replayflow.history import attributes
from replayflow.policy import Ignore

FIXTURE = "rate_exceeded_backoff"
RUN_ID = "run-rate_exceeded_backoff"
TASK = "activity-examples.basic.increment-1"


class NeverAsked(BasicWorkflow):
    """BasicWorkflow whose failure hook must not be called."""

    def on_task_failure(self, failure):
        raise AssertionError(f"on_task_failure was consulted for {failure.task_id}")


class IgnoresFailures(BasicWorkflow):
    def on_task_failure(self, failure):
        return Ignore(5)


def decisions_at_each_point(cls: type, events: list[dict]) -> list[list[dict]]:
    """The decisions of a fresh state at every DecisionTaskStarted (a full replay each time)."""
    out = []
    for i, event in enumerate(events):
        if event["eventType"] == "DecisionTaskStarted":
            out.append(ExecutionState(cls, workflow_id="wf", run_id=RUN_ID).handle(events[:i + 1]))
    return out


def activity_ids(decisions: list[dict]) -> list[str]:
    return [d["scheduleActivityTaskDecisionAttributes"]["activityId"] for d in decisions
            if d["decisionType"] == "ScheduleActivityTask"]


def test_a_rate_exceeded_schedule_is_followed_by_a_timer_then_the_same_task_again():
    first, backoff, again, after = decisions_at_each_point(NeverAsked, load_events(FIXTURE))
    assert activity_ids(first) == [f"{TASK}#1"]
    timer_id = f"replayflow-backoff-{TASK}-1"
    assert backoff == [{"decisionType": "StartTimer", "startTimerDecisionAttributes": {
        "timerId": timer_id,
        "startToFireTimeout": str(backoff_seconds(1, f"{RUN_ID}|{TASK}|1"))}}]
    # The same task, the same attempt (increment has retry=0: a counted attempt would be its
    # last), under the same activity id: SWF never opened it.
    assert again == first
    assert activity_ids(after) == ["activity-examples.basic.delay-1#1",
                                   "activity-examples.basic.double-1#1"]


def test_the_fixture_is_what_swf_records():
    events = load_events(FIXTURE)
    kinds = [e["eventType"] for e in events]
    refused = kinds.index("ScheduleActivityTaskFailed")
    assert attributes(events[refused])["cause"] == "ACTIVITY_CREATION_RATE_EXCEEDED"
    timer = kinds.index("TimerStarted")
    scheduled = kinds.index("ActivityTaskScheduled")
    assert refused < timer < kinds.index("TimerFired") < scheduled
    assert attributes(events[scheduled])["activityId"] == attributes(events[refused])["activityId"]


def _with_cause(cause: str) -> list[dict]:
    events = copy.deepcopy(load_events(FIXTURE))
    for event in events:
        if event["eventType"] == "ScheduleActivityTaskFailed":
            attributes(event)["cause"] = cause
    upto = [e["eventType"] for e in events].index("DecisionTaskStarted", 4)
    return events[:upto + 1]


@pytest.mark.parametrize("cause", ["ACTIVITY_TYPE_DEPRECATED", "ACTIVITY_TYPE_DOES_NOT_EXIST",
                                   "DEFAULT_TASK_LIST_UNDEFINED"])
def test_a_permanent_cause_fails_the_task_through_on_task_failure(cause):
    decisions = ExecutionState(BasicWorkflow, workflow_id="wf", run_id=RUN_ID).handle(
        _with_cause(cause))
    assert [d["decisionType"] for d in decisions] == ["FailWorkflowExecution"]
    reason = decisions[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert f"SWF refused to schedule activity examples.basic.increment version example: " \
           f"{cause}" in reason
    # A hook that answers Ignore(5) carries the run on with 5 in the task's place.
    carried = ExecutionState(IgnoresFailures, workflow_id="wf", run_id=RUN_ID).handle(
        _with_cause(cause))
    inputs = [json.loads(d["scheduleActivityTaskDecisionAttributes"]["input"])["args"]
              for d in carried]
    assert inputs == [[0, 5], [5]]


# -- timers and children, from histories written here -------------------------------------------


def history(cls: type, *steps: tuple[str, dict]) -> list[dict]:
    start = [("WorkflowExecutionStarted", {
        "input": '{"args":[],"kwargs":{}}', "workflowType": {"name": cls.type_name(),
                                                              "version": "1"},
        "taskList": {"name": "d"}, "childPolicy": "TERMINATE"}),
        ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
        ("DecisionTaskStarted", {"scheduledEventId": 2})]
    return [{"eventId": i, "eventType": kind, "eventTimestamp": float(i),
             kind[0].lower() + kind[1:] + "EventAttributes": attrs}
            for i, (kind, attrs) in enumerate(start + list(steps), 1)]


class OneTimer(Workflow):
    def run(self):
        futures.wait(self.start_timer("nap", 5))
        return "rested"


def test_a_timer_refused_for_the_timer_limit_is_started_again_after_a_backoff():
    steps = [("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3}),
             ("StartTimerFailed", {"timerId": "nap", "cause": "OPEN_TIMERS_LIMIT_EXCEEDED",
                                   "decisionTaskCompletedEventId": 4}),
             ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
             ("DecisionTaskStarted", {"scheduledEventId": 6})]
    state = ExecutionState(OneTimer, workflow_id="wf", run_id="r")
    backoff = state.handle(history(OneTimer, *steps))
    timer_id = "replayflow-backoff-nap-1"
    assert backoff == [{"decisionType": "StartTimer", "startTimerDecisionAttributes": {
        "timerId": timer_id, "startToFireTimeout": str(backoff_seconds(1, "r|nap|1"))}}]
    steps += [("DecisionTaskCompleted", {"scheduledEventId": 6, "startedEventId": 7}),
              ("TimerStarted", {"timerId": timer_id, "startToFireTimeout": "2",
                                "decisionTaskCompletedEventId": 8}),
              ("TimerFired", {"timerId": timer_id, "startedEventId": 9}),
              ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
              ("DecisionTaskStarted", {"scheduledEventId": 11})]
    events = history(OneTimer, *steps)
    again = state.handle(events[7:])
    assert again == [{"decisionType": "StartTimer", "startTimerDecisionAttributes": {
        "timerId": "nap", "startToFireTimeout": "5"}}]
    assert ExecutionState(OneTimer, workflow_id="wf", run_id="r").handle(events) == again


class Child(Workflow):
    def run(self):
        return 1


class OneChild(Workflow):
    def run(self):
        return self.submit(Child).result


def test_a_child_refused_for_the_children_limit_starts_again_under_the_same_workflow_id():
    state = ExecutionState(OneChild, workflow_id="wf", run_id="r")
    first = state.handle(history(OneChild))
    attrs = first[0]["startChildWorkflowExecutionDecisionAttributes"]
    workflow_id = attrs["workflowId"]
    steps = [("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3}),
             ("StartChildWorkflowExecutionFailed", {
                 "workflowId": workflow_id, "workflowType": attrs["workflowType"],
                 "cause": "OPEN_CHILDREN_LIMIT_EXCEEDED", "initiatedEventId": 0,
                 "decisionTaskCompletedEventId": 4, "control": attrs["control"]}),
             ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
             ("DecisionTaskStarted", {"scheduledEventId": 6})]
    backoff = state.handle(history(OneChild, *steps)[3:])
    [timer] = backoff
    timer_id = timer["startTimerDecisionAttributes"]["timerId"]
    assert timer_id == f"replayflow-backoff-{attrs['control']}-1"
    steps += [("DecisionTaskCompleted", {"scheduledEventId": 6, "startedEventId": 7}),
              ("TimerStarted", {"timerId": timer_id, "startToFireTimeout": "1",
                                "decisionTaskCompletedEventId": 8}),
              ("TimerFired", {"timerId": timer_id, "startedEventId": 9}),
              ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
              ("DecisionTaskStarted", {"scheduledEventId": 11})]
    events = history(OneChild, *steps)
    again = state.handle(events[7:])
    assert again == first
    assert ExecutionState(OneChild, workflow_id="wf", run_id="r").handle(events) == again
