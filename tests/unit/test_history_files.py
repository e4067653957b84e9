"""History files and the replay API on malformed input: a replayflow error naming the event.

A history file is input from anyone (a colleague, a bug report, a script): before, a wrong type
in it surfaced as KeyError, TypeError or OverflowError from deep inside the engine, or passed
silently as non-determinism.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from examples.basic import BasicWorkflow, increment
from replayflow.errors import InvalidHistory, InvalidInput, UserError, WorkflowNotFound
from replayflow.history import load_history_file
from replayflow.local import run_local
from replayflow.testing import replay

HISTORIES = Path(__file__).resolve().parents[1] / "histories"


@pytest.fixture
def good() -> dict:
    return json.loads((HISTORIES / "basic_completed.json").read_text())


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(data))
    return path


def test_the_good_fixture_replays(good, tmp_path):
    assert replay(write(tmp_path, good), BasicWorkflow).closed


def test_a_missing_attribute_names_the_event_that_lacks_it(good, tmp_path):
    scheduled = good["events"][4]
    assert scheduled["eventType"] == "ActivityTaskScheduled"
    del scheduled["activityTaskScheduledEventAttributes"]["activityId"]
    with pytest.raises(InvalidHistory, match=r"history event 5 \(ActivityTaskScheduled\) cannot "
                                             r"be replayed: .*missing 'activityId'"):
        replay(write(tmp_path, good), BasicWorkflow)


def test_an_input_that_is_not_json_names_the_start_event(good, tmp_path):
    good["events"][0]["workflowExecutionStartedEventAttributes"]["input"] = "{"
    with pytest.raises(InvalidHistory, match=r"history event 1 \(WorkflowExecutionStarted\) "
                                             r"cannot be replayed: cannot read the workflow's "
                                             r"input \(event 1\): JSONDecodeError"):
        replay(write(tmp_path, good), BasicWorkflow)


def test_events_out_of_order_are_malformed_not_non_deterministic(good, tmp_path):
    good["events"].reverse()  # used to be reported as NonDeterministicWorkflow
    with pytest.raises(InvalidHistory, match="eventId must be an integer above 23"):
        replay(write(tmp_path, good), BasicWorkflow)


def test_bare_events_are_checked_too(good):
    events = load_history_file_events(good)
    events[3] = dict(events[3], eventId=True)
    with pytest.raises(InvalidHistory, match=r"event #4 .*eventId must be an integer"):
        replay(events, BasicWorkflow)


def test_a_timestamp_out_of_range_is_malformed(good, tmp_path):
    good["events"][0]["eventTimestamp"] = 1e300  # OverflowError before
    with pytest.raises(InvalidHistory, match=r"event 1 \(WorkflowExecutionStarted\): "
                                             r"eventTimestamp must be epoch seconds"):
        replay(write(tmp_path, good), BasicWorkflow)


def test_history_errors_are_user_errors_so_the_cli_prints_one_line(good, tmp_path):
    good["events"][0]["eventId"] = "x"
    with pytest.raises(UserError):
        load_history_file(write(tmp_path, good))
    assert issubclass(InvalidHistory, InvalidInput)


def test_a_naive_iso_timestamp_is_read_as_utc(good, tmp_path):
    for event in good["events"]:
        event["eventTimestamp"] = "2024-05-01T12:00:00"
    events = load_history_file(write(tmp_path, good)).events
    assert events[0]["eventTimestamp"] == dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize("not_a_workflow", [increment, int, 3, BasicWorkflow()])
def test_run_local_and_replay_need_a_workflow_class(not_a_workflow, good):
    with pytest.raises(WorkflowNotFound, match=r"run_local\(\) needs a Workflow subclass.*"
                                               r"is not a Workflow subclass"):
        run_local(not_a_workflow)
    with pytest.raises(WorkflowNotFound, match=r"replay\(\) needs a Workflow subclass"):
        replay(load_history_file_events(good), not_a_workflow)


def load_history_file_events(data: dict) -> list[dict]:
    from replayflow.history import events_from_wire

    return events_from_wire(copy.deepcopy(data["events"]))
