"""MemorySwf keeps SWF's hard limits, with SWF's own failure events and causes, driven through
the service surface exactly as a decider drives SWF (poll, respond)."""

from __future__ import annotations

import pytest
from support.history_model import validate_history

from replayflow.backends.base import ServiceError
from replayflow.backends.memory import MAX_EVENTS, MAX_OPEN, MemorySwf
from replayflow.history import attributes, events_to_wire


def _service() -> tuple[MemorySwf, str]:
    svc = MemorySwf()
    svc.register_workflow_type("limits", "1", "deciders", execution_timeout=3600)
    svc.register_activity_type("work", "1", "workers")
    run_id = svc.start_workflow_execution("limits-1", "limits", "1")
    return svc, run_id


def _schedule(n: int, prefix: str = "a") -> list[dict]:
    return [{"decisionType": "ScheduleActivityTask",
             "scheduleActivityTaskDecisionAttributes": {
                 "activityType": {"name": "work", "version": "1"}, "activityId": f"{prefix}{i}",
                 "taskList": {"name": "workers"}, "startToCloseTimeout": "60",
                 "scheduleToStartTimeout": "NONE", "scheduleToCloseTimeout": "NONE",
                 "heartbeatTimeout": "NONE"}} for i in range(n)]


def _timers(n: int) -> list[dict]:
    return [{"decisionType": "StartTimer",
             "startTimerDecisionAttributes": {"timerId": f"t{i}", "startToFireTimeout": "600"}}
            for i in range(n)]


def _causes(events: list[dict], event_type: str) -> list[str]:
    return [attributes(e)["cause"] for e in events if e["eventType"] == event_type]


def test_the_1001st_open_activity_is_refused_as_swf_refuses_it():
    svc, _run_id = _service()
    task = svc.poll_for_decision_task("deciders")
    svc.respond_decision_task_completed(task["taskToken"], _schedule(MAX_OPEN + 1))
    events = svc.get_workflow_execution_history("limits-1")
    assert sum(e["eventType"] == "ActivityTaskScheduled" for e in events) == MAX_OPEN
    assert _causes(events, "ScheduleActivityTaskFailed") == ["OPEN_ACTIVITIES_LIMIT_EXCEEDED"]
    # a slot frees: the next one is accepted
    activity = svc.poll_for_activity_task("workers")
    svc.respond_activity_task_completed(activity["taskToken"], '"ok"')
    task = svc.poll_for_decision_task("deciders")
    svc.respond_decision_task_completed(task["taskToken"], _schedule(1, prefix="again"))
    events = svc.get_workflow_execution_history("limits-1")
    assert events[-1]["eventType"] == "ActivityTaskScheduled"
    assert validate_history(events_to_wire(events)) == []


def test_the_1001st_open_timer_is_refused():
    svc, _run_id = _service()
    task = svc.poll_for_decision_task("deciders")
    svc.respond_decision_task_completed(task["taskToken"], _timers(MAX_OPEN + 1))
    events = svc.get_workflow_execution_history("limits-1")
    assert sum(e["eventType"] == "TimerStarted" for e in events) == MAX_OPEN
    assert _causes(events, "StartTimerFailed") == ["OPEN_TIMERS_LIMIT_EXCEEDED"]


def test_a_history_at_25000_events_is_terminated():
    svc, run_id = _service()
    markers = [{"decisionType": "RecordMarker",
                "recordMarkerDecisionAttributes": {"markerName": "m"}}] * 100
    while True:
        task = svc.poll_for_decision_task("deciders")
        if task is None:
            break
        svc.respond_decision_task_completed(task["taskToken"], markers)
        # a signal makes the next decision task
        if not svc.describe_workflow_execution("limits-1", run_id)["executionInfo"][
                "executionStatus"] == "OPEN":
            break
        svc.signal("limits-1", "more")
    events = svc.get_workflow_execution_history("limits-1", run_id)
    assert len(events) == MAX_EVENTS
    last = events[-1]
    assert last["eventType"] == "WorkflowExecutionTerminated"
    assert attributes(last)["cause"] == "EVENT_LIMIT_EXCEEDED"
    info = svc.describe_workflow_execution("limits-1", run_id)["executionInfo"]
    assert info["closeStatus"] == "TERMINATED"


def test_a_response_over_1_mb_is_refused_whole():
    svc, _run_id = _service()
    task = svc.poll_for_decision_task("deciders")
    big = _schedule(40)
    for decision in big:
        decision["scheduleActivityTaskDecisionAttributes"]["input"] = "x" * 30_000
    with pytest.raises(ServiceError, match="over SWF's request limit") as raised:
        svc.respond_decision_task_completed(task["taskToken"], big)
    assert raised.value.code == "ValidationException"
    events = svc.get_workflow_execution_history("limits-1")
    assert not any(e["eventType"] == "ActivityTaskScheduled" for e in events)
