"""info / tasks / profile answers, read from the SWF-shaped fixture histories."""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from pathlib import Path

import pytest

from replayflow.history import HistoryFile, attributes_key, load_history_file
from replayflow.inspection import (
    decode_field,
    execution_info,
    find_task,
    gantt_bar,
    profile_rows,
    profile_summary,
    split_activity_id,
    task_detail,
    task_records,
    task_rows,
    workflow_window,
)

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


def load(name: str) -> HistoryFile:
    return load_history_file(HISTORIES / name)


def by_id(rows: list) -> dict:
    return {row.task_id: row for row in rows}


def replace_last(events: list[dict], event_type: str, attrs: dict) -> list[dict]:
    """The same history, closed by a different event."""
    events = copy.deepcopy(events)
    last = events[-1]
    events[-1] = {"eventId": last["eventId"], "eventTimestamp": last["eventTimestamp"],
                  "eventType": event_type, attributes_key(event_type): attrs}
    return events


# -- execution_info ----------------------------------------------------------------------------

def test_info_shows_the_workflows_own_input_not_the_first_tasks() -> None:
    history = load("completed_retry.json")
    info = execution_info(history.events, workflow_execution=history.workflow_execution)
    first_task = task_rows(history.events)[0]
    assert info["input"] == {"args": [1, 0], "kwargs": {}}
    assert first_task.input == {"args": [1], "kwargs": {}}
    assert info["input"] != first_task.input
    assert info["workflow_id"] == "basic-1"
    assert info["workflow_type"] == "examples.basic.BasicWorkflow"
    assert info["workflow_version"] == "1.0"
    assert info["task_list"] == "quickstart"
    assert info["tags"] == ["team:ops", "env:test"]
    assert info["status"] == "COMPLETED"
    assert info["result"] == 5
    assert info["reason"] is None
    assert info["closed"] - info["started"] == timedelta(seconds=15.6)
    assert info["duration"] == pytest.approx(15.6)
    # the engine's retry timer is not a task an operator asked for
    assert info["task_counts"] == {"COMPLETED": 3}


def test_info_of_a_failed_run_has_reason_and_decoded_details() -> None:
    info = execution_info(load("failed.json").events)
    assert info["status"] == "FAILED"
    assert info["input"] == {"args": [[3, 4]], "kwargs": {"strict": True}}
    assert info["reason"] == "TaskFailed: activity-examples.basic.double-2 failed: ValueError: boom"
    assert set(info["details"]) == {"type", "message", "reason", "traceback"}
    assert info["details"]["type"] == "replayflow.errors.TaskFailed"
    assert info["result"] is None
    assert info["task_counts"] == {"COMPLETED": 1, "FAILED": 1}


def test_info_of_an_open_run() -> None:
    events = load("open.json").events
    info = execution_info(events)
    assert info["status"] == "OPEN"
    assert info["closed"] is None
    assert info["result"] is None
    assert info["task_counts"] == {"COMPLETED": 1, "RECEIVED": 1, "RUNNING": 1, "SCHEDULED": 1}
    assert info["duration"] == pytest.approx(
        (events[-1]["eventTimestamp"] - events[0]["eventTimestamp"]).total_seconds())
    later = events[0]["eventTimestamp"] + timedelta(minutes=5)
    assert execution_info(events, now=later)["duration"] == pytest.approx(300.0)


@pytest.mark.parametrize(("event_type", "attrs", "status", "reason"), [
    ("WorkflowExecutionTimedOut", {"timeoutType": "START_TO_CLOSE", "childPolicy": "TERMINATE"},
     "TIMED_OUT", "timed out (START_TO_CLOSE)"),
    ("WorkflowExecutionTerminated", {"childPolicy": "TERMINATE", "reason": "operator said so"},
     "TERMINATED", "operator said so"),
    ("WorkflowExecutionTerminated", {"childPolicy": "TERMINATE", "cause": "EVENT_LIMIT_EXCEEDED"},
     "TERMINATED", "terminated (EVENT_LIMIT_EXCEEDED)"),
    ("WorkflowExecutionCanceled", {"decisionTaskCompletedEventId": 33}, "CANCELED", None),
])
def test_info_status_of_every_way_to_close(event_type: str, attrs: dict, status: str,
                                           reason: str | None) -> None:
    events = replace_last(load("completed_retry.json").events, event_type, attrs)
    info = execution_info(events)
    assert info["status"] == status
    assert info["reason"] == reason
    assert info["result"] is None
    assert info["closed"] == events[-1]["eventTimestamp"]


def test_info_of_a_run_continued_as_new() -> None:
    events = replace_last(load("completed_retry.json").events, "WorkflowExecutionContinuedAsNew", {
        "decisionTaskCompletedEventId": 33, "newExecutionRunId": "22next=",
        "input": '{"args":[5],"kwargs":{}}', "childPolicy": "TERMINATE",
        "taskList": {"name": "quickstart"},
        "workflowType": {"name": "examples.basic.BasicWorkflow", "version": "1.0"}})
    info = execution_info(events)
    assert info["status"] == "CONTINUED_AS_NEW"
    assert info["continued_as_run_id"] == "22next="
    assert info["input"] == {"args": [1, 0], "kwargs": {}}  # this run's input, not the next's


# -- task_rows ---------------------------------------------------------------------------------

def test_retried_activity_is_one_row_with_its_attempts() -> None:
    rows = task_rows(load("completed_retry.json").events)
    assert [(r.task_id, r.kind, r.state, r.attempts) for r in rows] == [
        ("activity-examples.basic.increment-1", "activity", "COMPLETED", 1),
        ("activity-examples.basic.double-2", "activity", "COMPLETED", 2),
        ("activity-examples.basic.increment-3", "activity", "COMPLETED", 1),
    ]
    double = rows[1]
    assert double.name == "examples.basic.double"
    assert double.version == "1.0"
    assert double.input == {"args": [2], "kwargs": {}}
    assert double.result == 4
    assert double.error is None  # the first attempt's failure is not the task's outcome
    assert [a.state for a in double.attempt_list] == ["FAILED", "COMPLETED"]
    assert double.attempt_list[0].error == "ConnectionError: upstream reset"
    assert double.scheduled < double.started < double.closed
    assert double.scheduled == double.attempt_list[0].scheduled
    assert double.closed == double.attempt_list[1].closed


def test_internal_timers_are_shown_only_when_asked() -> None:
    events = load("completed_retry.json").events
    rows = task_rows(events, include_internal=True)
    timer = by_id(rows)["replayflow-retry-activity-examples.basic.double-2"]
    assert (timer.kind, timer.state, timer.input) == ("timer", "FIRED", 5)
    assert [r.task_id for r in rows].index(timer.task_id) == 2  # in scheduling order
    assert len(rows) == len(task_rows(events)) + 1


def test_failed_activity_row_carries_reason_and_details() -> None:
    rows = by_id(task_rows(load("failed.json").events))
    failed = rows["activity-examples.basic.double-2"]
    assert failed.state == "FAILED"
    assert failed.error == "ValueError: boom"
    assert failed.details["message"] == "boom"
    assert failed.details["traceback"].endswith("ValueError: boom\n")
    assert failed.result is None
    assert rows["activity-examples.basic.double-1"].state == "COMPLETED"
    assert rows["activity-examples.basic.double-1"].result == 6


def test_open_run_rows() -> None:
    rows = by_id(task_rows(load("open.json").events))
    running = rows["activity-examples.basic.slow-2"]
    waiting = rows["activity-examples.basic.slow-3"]
    assert (running.state, waiting.state) == ("RUNNING", "SCHEDULED")
    assert running.started is not None and running.closed is None
    assert waiting.started is None and waiting.closed is None
    signal = next(r for r in rows.values() if r.kind == "signal")
    assert (signal.name, signal.state, signal.input) == ("progress", "RECEIVED", {"done": 1})


def test_timers_signals_and_markers() -> None:
    rows = task_rows(load("timer_signal_marker_moto.json").events)
    assert [(r.kind, r.name, r.state) for r in rows] == [
        ("marker", "checkpoint", "RECORDED"),
        ("timer", "sleep-1", "FIRED"),
        ("timer", "approval-deadline", "CANCELED"),  # moto's TimerCancelled
        ("signal", "approve", "RECEIVED"),
    ]
    marker, sleep, deadline, signal = rows
    assert marker.result == {"stage": "waiting"}
    assert sleep.input == 60
    assert (sleep.closed - sleep.started) == timedelta(seconds=60)
    assert deadline.input == 3600 and deadline.closed is not None
    assert signal.input == {"args": ["alice"], "kwargs": {}}
    assert signal.scheduled == signal.closed


def test_moto_timer_cancelled_without_attributes_as_boto3_returns_it() -> None:
    # boto3 drops moto's timerCancelledEventAttributes (not in the SWF model).
    events = copy.deepcopy(load("timer_signal_marker_moto.json").events)
    cancelled = next(e for e in events if e["eventType"] == "TimerCancelled")
    del cancelled["timerCancelledEventAttributes"]
    rows = by_id(task_rows(events))
    assert rows["approval-deadline"].state == "CANCELED"
    assert rows["sleep-1"].state == "FIRED"


def test_child_workflows() -> None:
    rows = task_rows(load("child_workflow.json").events)
    children = [r for r in rows if r.kind == "child_workflow"]
    assert [(r.task_id, r.state) for r in children] == [
        ("child-examples.children.ChildWorkflow-1", "COMPLETED"),
        ("child-examples.children.ChildWorkflow-2", "FAILED"),
    ]
    ok, failed = children
    assert ok.name == "examples.children.ChildWorkflow"
    assert ok.input == {"args": [7], "kwargs": {}} and ok.result == 14
    assert failed.error == "ValueError: negative input"
    assert failed.details["type"] == "ValueError"
    grace = by_id(rows)["grace"]
    assert (grace.kind, grace.state) == ("timer", "CANCELED")


def test_activity_timeout_and_cancellation_states() -> None:
    events = copy.deepcopy(load("failed.json").events)
    for event in events:
        if event["eventType"] == "ActivityTaskFailed":
            attrs = event.pop("activityTaskFailedEventAttributes")
            event["eventType"] = "ActivityTaskTimedOut"
            event["activityTaskTimedOutEventAttributes"] = {
                "timeoutType": "HEARTBEAT", "scheduledEventId": attrs["scheduledEventId"],
                "startedEventId": attrs["startedEventId"]}
        elif event["eventType"] == "ActivityTaskCompleted":
            attrs = event.pop("activityTaskCompletedEventAttributes")
            event["eventType"] = "ActivityTaskCanceled"
            event["activityTaskCanceledEventAttributes"] = {
                "scheduledEventId": attrs["scheduledEventId"],
                "startedEventId": attrs["startedEventId"]}
    rows = by_id(task_rows(events))
    assert rows["activity-examples.basic.double-2"].state == "TIMED_OUT"
    assert rows["activity-examples.basic.double-2"].error == "timed out (HEARTBEAT)"
    assert rows["activity-examples.basic.double-1"].state == "CANCELED"


def test_jumbo_references_go_through_the_decode_callable() -> None:
    events = copy.deepcopy(load("completed_retry.json").events)
    events[0]["workflowExecutionStartedEventAttributes"]["input"] = "jumbo:s3://b/k 9"
    store = {"jumbo:s3://b/k 9": '{"args":["big"],"kwargs":{}}'}
    seen = []

    def decode(value: str | None) -> str | None:
        seen.append(value)
        return store.get(value, value) if value is not None else None

    assert execution_info(events, decode)["input"] == {"args": ["big"], "kwargs": {}}
    assert "jumbo:s3://b/k 9" in seen
    # with the default (identity) decode the reference is shown as it is stored
    assert execution_info(events)["input"] == "jumbo:s3://b/k 9"


def test_decode_field_keeps_non_json_text() -> None:
    assert decode_field('{"a": 1}') == {"a": 1}
    assert decode_field("not json") == "not json"
    assert decode_field(None) is None
    assert decode_field("") is None


def test_split_activity_id() -> None:
    assert split_activity_id("activity-examples.basic.increment-1#2") == (
        "activity-examples.basic.increment-1", 2)
    assert split_activity_id("weird#name#3") == ("weird#name", 3)
    assert split_activity_id("no-attempt") == ("no-attempt", None)
    assert split_activity_id("tag#x") == ("tag#x", None)


# -- profile -----------------------------------------------------------------------------------

def test_profile_sorted_by_running_time_with_real_percentages() -> None:
    events = load("completed_retry.json").events
    rows = profile_rows(events)
    assert [r.task_id for r in rows] == [
        "activity-examples.basic.double-2",
        "activity-examples.basic.increment-1",
        "activity-examples.basic.increment-3",
    ]
    double = rows[0]
    assert double.attempts == 2
    assert double.running == pytest.approx(1.0 + 4.0)  # both attempts, not the back-off
    assert double.waiting == pytest.approx(0.25 + 0.25)
    assert double.percentage == pytest.approx(100 * 5.0 / 15.6, abs=0.01)
    assert all(0 <= r.percentage <= 100 for r in rows)
    assert sum(r.percentage for r in rows) == pytest.approx(100 * 8.5 / 15.6, abs=0.05)
    assert sum(r.percentage for r in rows) <= 100  # sequential tasks never overlap
    assert rows[0].percentage > 1  # a percentage, not a fraction


def test_profile_of_an_open_run_runs_to_the_end_of_the_window() -> None:
    events = load("open.json").events
    rows = by_id(profile_rows(events))
    running = rows["activity-examples.basic.slow-2"]
    waiting = rows["activity-examples.basic.slow-3"]
    _, end = workflow_window(events)
    assert end == events[-1]["eventTimestamp"]
    assert running.running == pytest.approx((end - running.started).total_seconds(), abs=1e-3)
    assert waiting.running == 0.0
    assert waiting.waiting == pytest.approx((end - waiting.scheduled).total_seconds(), abs=1e-3)
    later = end + timedelta(seconds=100)
    again = by_id(profile_rows(events, now=later))["activity-examples.basic.slow-2"]
    assert again.running == pytest.approx(running.running + 100, abs=1e-3)


def test_profile_parallel_children_and_timers() -> None:
    events = load("child_workflow.json").events
    rows = profile_rows(events)
    assert {r.kind for r in rows} == {"child_workflow", "timer"}
    assert [r.running for r in rows] == sorted((r.running for r in rows), reverse=True)
    assert all(0 <= r.percentage <= 100 for r in rows)
    # the two children ran side by side: each is a share of the wall time, together over 100
    children = [r for r in rows if r.kind == "child_workflow"]
    assert sum(r.percentage for r in children) > 100


def test_profile_includes_internal_timers_only_when_asked() -> None:
    events = load("completed_retry.json").events
    assert len(profile_rows(events, include_internal=True)) == len(profile_rows(events)) + 1


def test_gantt_bars() -> None:
    events = load("completed_retry.json").events
    start, end = workflow_window(events)
    rows = by_id(profile_rows(events))
    bars = {task_id: gantt_bar(row, start, end, width=40) for task_id, row in rows.items()}
    assert all(len(bar) == 40 for bar in bars.values())
    assert re.fullmatch(r"░█+ +", bars["activity-examples.basic.increment-1"])
    # two attempts, with the back-off gap between them
    assert re.fullmatch(r" +░█+ +░█+ +", bars["activity-examples.basic.double-2"])
    assert re.fullmatch(r" +░█+", bars["activity-examples.basic.increment-3"])
    open_events = load("open.json").events
    o_start, o_end = workflow_window(open_events)
    waiting = by_id(profile_rows(open_events))["activity-examples.basic.slow-3"]
    assert re.fullmatch(r" *░+", gantt_bar(waiting, o_start, o_end, width=20))


def test_gantt_bar_of_an_empty_window_still_draws() -> None:
    events = load("completed_retry.json").events
    row = profile_rows(events)[0]
    start = row.spans[0][0]
    assert gantt_bar(row, start, start, width=10) == "█" * 10


def test_cancel_requested_and_schedule_failed_activities() -> None:
    events = copy.deepcopy(load("open.json").events)
    stamp = events[-1]["eventTimestamp"]
    completed_id = events[-1]["eventId"]
    events.append({"eventId": completed_id + 1, "eventTimestamp": stamp,
                   "eventType": "ActivityTaskCancelRequested",
                   "activityTaskCancelRequestedEventAttributes": {
                       "activityId": "activity-examples.basic.slow-2#1",
                       "decisionTaskCompletedEventId": completed_id}})
    events.append({"eventId": completed_id + 2, "eventTimestamp": stamp,
                   "eventType": "ScheduleActivityTaskFailed",
                   "scheduleActivityTaskFailedEventAttributes": {
                       "activityId": "activity-examples.basic.nope-4#1",
                       "activityType": {"name": "examples.basic.nope", "version": "1.0"},
                       "cause": "ACTIVITY_TYPE_DOES_NOT_EXIST",
                       "decisionTaskCompletedEventId": completed_id}})
    rows = by_id(task_rows(events))
    assert rows["activity-examples.basic.slow-2"].state == "CANCEL_REQUESTED"
    assert rows["activity-examples.basic.slow-2"].closed is None
    nope = rows["activity-examples.basic.nope-4"]
    assert (nope.state, nope.error) == ("SCHEDULE_FAILED", "ACTIVITY_TYPE_DOES_NOT_EXIST")
    assert nope.closed == stamp


# -- abandoned tasks, durations, one task, the profile summary ---------------------------------

def test_tasks_open_when_the_run_closed_are_abandoned_at_the_close() -> None:
    events = load("open.json").events
    closed = copy.deepcopy(events)
    last = closed[-1]
    closed.append({"eventId": last["eventId"] + 1,
                   "eventTimestamp": last["eventTimestamp"] + timedelta(seconds=5),
                   "eventType": "WorkflowExecutionTimedOut",
                   attributes_key("WorkflowExecutionTimedOut"): {"timeoutType": "START_TO_CLOSE",
                                                                 "childPolicy": "TERMINATE"}})
    rows = by_id(task_rows(closed))
    running = rows["activity-examples.basic.slow-2"]
    waiting = rows["activity-examples.basic.slow-3"]
    assert (running.state, waiting.state) == ("ABANDONED", "ABANDONED")
    assert running.closed == waiting.closed == closed[-1]["eventTimestamp"]
    assert rows["activity-examples.basic.increment-1"].state == "COMPLETED"
    # durations stop at the close, whatever `now` says
    records = {r["task_id"]: r for r in task_records(closed, now=last["eventTimestamp"]
                                                      + timedelta(hours=1))}
    slow = records["activity-examples.basic.slow-2"]
    assert slow["ran"] == pytest.approx((closed[-1]["eventTimestamp"]
                                         - running.started).total_seconds())


def test_task_records_add_waited_and_ran_over_attempts() -> None:
    records = {r["task_id"]: r for r in task_records(load("completed_retry.json").events)}
    double = records["activity-examples.basic.double-2"]
    assert (double["waited"], double["ran"]) == (pytest.approx(0.5), pytest.approx(5.0))
    signals = [r for r in task_records(load("timer_signal_marker_moto.json").events)
               if r["kind"] in ("signal", "marker")]
    assert signals and all(r["waited"] is None and r["ran"] is None for r in signals)


def test_find_task_by_task_id_or_activity_id() -> None:
    rows = task_rows(load("completed_retry.json").events)
    assert find_task(rows, "activity-examples.basic.double-2").attempts == 2
    assert find_task(rows, "activity-examples.basic.double-2#1").task_id == (
        "activity-examples.basic.double-2")
    assert find_task(rows, "activity-examples.basic.double-9") is None
    assert find_task(rows, "nope#1") is None


def test_task_detail_has_every_attempt_with_its_worker_error_and_traceback() -> None:
    events = load("completed_retry.json").events
    detail = task_detail(events, "activity-examples.basic.double-2")
    assert (detail["state"], detail["attempts"], detail["result"]) == ("COMPLETED", 2, 4)
    assert detail["input"] == {"args": [2], "kwargs": {}}
    first, second = detail["attempt_list"]
    assert first["activity_id"] == "activity-examples.basic.double-2#1"
    assert (first["state"], first["error"]) == ("FAILED", "ConnectionError: upstream reset")
    assert first["traceback"].rstrip().endswith("ConnectionError: upstream reset")
    assert first["worker"] == "worker-1@host"
    assert (first["waited"], first["ran"]) == (pytest.approx(0.25), pytest.approx(1.0))
    assert (second["state"], second["error"], second["traceback"]) == ("COMPLETED", None, None)
    assert detail["ran"] == pytest.approx(5.0)
    assert task_detail(events, "nope") is None


def test_profile_summary_of_a_chain_with_a_retry() -> None:
    summary = profile_summary(load("completed_retry.json").events)
    assert summary["wall"] == pytest.approx(15.6)
    assert summary["busy"] == pytest.approx(8.5)  # sequential: the sum of running times
    assert summary["path"] == ["activity-examples.basic.increment-1",
                               "activity-examples.basic.double-2",
                               "activity-examples.basic.increment-3"]
    assert summary["path_running"] == pytest.approx(8.5)
    assert summary["path_waiting"] == pytest.approx(1.5)
    assert summary["longest_path"] == pytest.approx(15.5)
    assert summary["path_between"] == pytest.approx(15.5 - 8.5 - 1.5)


def test_profile_summary_of_parallel_children_and_of_no_tasks() -> None:
    summary = profile_summary(load("child_workflow.json").events)
    rows = profile_rows(load("child_workflow.json").events, kinds=("child_workflow",))
    assert summary["busy"] < sum(r.running for r in rows)  # overlapping time counted once
    assert summary["busy"] >= max(r.running for r in rows)
    empty = profile_summary(load("vocab_signals.json").events)
    assert (empty["tasks"], empty["path"], empty["longest_path"]) == (0, [], 0.0)
    assert empty["wall"] == pytest.approx(3.25)
