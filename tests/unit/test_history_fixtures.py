"""Every history fixture is one SWF could have sent, and the checker really catches bad ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from support.history_model import (
    HistoryModelError,
    assert_valid_history,
    validate_event,
    validate_history,
    validate_history_file,
)

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def test_the_fixture_set_is_there() -> None:
    names = {path.name for path in FILES}
    assert {"completed_retry.json", "failed.json", "open.json", "child_workflow.json",
            "timer_signal_marker_moto.json"} <= names


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_fixture_matches_the_swf_model(path: Path) -> None:
    errors = validate_history_file(path)
    assert not errors, "\n".join(errors)


@pytest.fixture
def good() -> dict:
    return json.loads((HISTORIES / "completed_retry.json").read_text())


def _event(history: dict, event_type: str) -> dict:
    return next(e for e in history["events"] if e["eventType"] == event_type)


def test_a_good_history_passes(good: dict) -> None:
    assert validate_history(good) == []
    assert_valid_history(good)


def test_a_wrong_type_is_rejected_with_its_path(good: dict) -> None:
    _event(good, "ActivityTaskStarted")["activityTaskStartedEventAttributes"][
        "scheduledEventId"] = "5"
    errors = validate_history(good, "h.json")
    assert len(errors) == 1
    assert "h.json: events[5] (eventId 6, ActivityTaskStarted)" in errors[0]
    assert ".activityTaskStartedEventAttributes.scheduledEventId" in errors[0]
    assert "expected an integer" in errors[0]


def test_assert_valid_history_raises_on_a_bad_event(good: dict) -> None:
    del _event(good, "ActivityTaskScheduled")["activityTaskScheduledEventAttributes"]["taskList"]
    with pytest.raises(HistoryModelError, match="missing required member 'taskList'"):
        assert_valid_history(good)


def test_unknown_member_names_suggest_the_right_one(good: dict) -> None:
    attrs = _event(good, "ActivityTaskScheduled")["activityTaskScheduledEventAttributes"]
    attrs["activityID"] = attrs.pop("activityId")
    errors = validate_history(good)
    assert any("unknown member 'activityID'" in e and "did you mean 'activityId'" in e
               for e in errors)
    assert any("missing required member 'activityId'" in e for e in errors)


def test_bad_enum_values_are_rejected() -> None:
    event = {"eventId": 1, "eventType": "WorkflowExecutionStarted", "eventTimestamp": 1.0,
             "workflowExecutionStartedEventAttributes": {
                 "childPolicy": "KILL", "taskList": {"name": "q"},
                 "workflowType": {"name": "w", "version": "1"}}}
    errors = validate_event(event)
    assert len(errors) == 1 and "'KILL' is not a valid ChildPolicy" in errors[0]


def test_an_unknown_event_type_is_rejected() -> None:
    event = {"eventId": 1, "eventType": "ActivityTaskDone", "eventTimestamp": 1.0,
             "activityTaskDoneEventAttributes": {}}
    errors = validate_event(event)
    assert any("'ActivityTaskDone' is not a valid EventType" in e for e in errors)
    assert any("unknown member 'activityTaskDoneEventAttributes'" in e for e in errors)


def test_string_limits_are_enforced(good: dict) -> None:
    failed = _event(good, "ActivityTaskFailed")["activityTaskFailedEventAttributes"]
    failed["reason"] = "x" * 257
    errors = validate_history(good)
    assert len(errors) == 1
    assert "257 characters is over the maximum of 256 (FailureReason)" in errors[0]


def test_timestamps_must_be_epoch_numbers(good: dict) -> None:
    good["events"][0]["eventTimestamp"] = "2024-11-25T09:30:00Z"
    assert any("expected epoch seconds" in e for e in validate_history(good))


def test_attributes_must_match_the_event_type(good: dict) -> None:
    event = _event(good, "ActivityTaskStarted")
    event["activityTaskCompletedEventAttributes"] = event.pop("activityTaskStartedEventAttributes")
    errors = validate_history(good)
    assert any("does not belong to a ActivityTaskStarted event" in e for e in errors)
    assert any("missing 'activityTaskStartedEventAttributes'" in e for e in errors)


def test_cross_references_point_at_earlier_events_of_the_right_type(good: dict) -> None:
    started = _event(good, "DecisionTaskStarted")["decisionTaskStartedEventAttributes"]
    started["scheduledEventId"] = 1  # WorkflowExecutionStarted, not DecisionTaskScheduled
    completed = _event(good, "ActivityTaskCompleted")["activityTaskCompletedEventAttributes"]
    completed["startedEventId"] = 999
    errors = validate_history(good)
    assert any("scheduledEventId=1 is a WorkflowExecutionStarted, expected DecisionTaskScheduled"
               in e for e in errors)
    assert any("startedEventId=999 is not an earlier event" in e for e in errors)


def test_event_ids_and_timestamps_go_forward(good: dict) -> None:
    events = good["events"]
    events[3]["eventTimestamp"] = events[2]["eventTimestamp"] - 10
    events[-1]["eventId"] += 1
    errors = validate_history(good)
    assert any("is earlier than the previous event's" in e for e in errors)
    assert any(f"eventId should be {len(events)}" in e for e in errors)


def test_moto_timer_cancelled_spelling_is_accepted_and_checked() -> None:
    history = json.loads((HISTORIES / "timer_signal_marker_moto.json").read_text())
    assert validate_history(history) == []
    broken = copy.deepcopy(history)
    _event(broken, "TimerCancelled")["timerCancelledEventAttributes"]["startedEventId"] = "x"
    errors = validate_history(broken)
    assert any("timerCancelledEventAttributes.startedEventId" in e for e in errors)
    # boto3 drops the attributes moto sends under a key the model does not know: still valid.
    del _event(history, "TimerCancelled")["timerCancelledEventAttributes"]
    assert validate_history(history) == []


def test_not_a_history() -> None:
    assert validate_history({"foo": 1}) == ['history: expected an object with an "events" list']
