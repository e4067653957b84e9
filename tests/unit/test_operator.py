"""replayflow.operator without any server: histories from fixture files, SWF calls on a stub."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from replayflow import jumbo, operator
from replayflow.errors import ActivityNotFound, ExecutionNotFound, JumboFieldError, UserError
from replayflow.history import attributes, load_history_file
from replayflow.local import run_local

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
NOW = dt.datetime(2024, 11, 25, 12, 0, tzinfo=dt.UTC)


def fixture_run(name: str) -> operator.RunHistory:
    return operator.read_history_file(str(HISTORIES / name))


# -- --since ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ago"), [
    ("30m", dt.timedelta(minutes=30)), ("1h", dt.timedelta(hours=1)),
    ("2d", dt.timedelta(days=2)), ("1w", dt.timedelta(weeks=1)),
    (" 45S ", dt.timedelta(seconds=45)),
])
def test_since_as_an_age(text, ago):
    assert operator.parse_since(text, NOW) == NOW - ago


def test_since_as_an_iso_date_is_utc_unless_it_says_otherwise():
    assert operator.parse_since("2024-11-01", NOW) == dt.datetime(2024, 11, 1, tzinfo=dt.UTC)
    paris = operator.parse_since("2024-11-01T10:00:00+01:00", NOW)
    assert paris == dt.datetime(2024, 11, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("text", ["", "1y", "-1h", "h", "yesterday", "2024-02-30"])
def test_bad_since_is_a_user_error_with_examples(text):
    with pytest.raises(UserError, match="30m, 1h, 2d, 1w"):
        operator.parse_since(text, NOW)


# -- list rows ----------------------------------------------------------------------------------


def info(status: str = "CLOSED", **extra: Any) -> dict[str, Any]:
    return {"execution": {"workflowId": "w", "runId": "r"},
            "workflowType": {"name": "basic", "version": "1"},
            "startTimestamp": NOW - dt.timedelta(seconds=90), "executionStatus": status, **extra}


def test_row_of_a_closed_run():
    row = operator.execution_row(info(closeStatus="FAILED", closeTimestamp=NOW, tagList=["a"]))
    assert row == {"workflow_id": "w", "run_id": "r", "type": "basic", "version": "1",
                   "status": "FAILED", "started": NOW - dt.timedelta(seconds=90),
                   "closed": NOW, "duration": 90.0, "tags": ["a"]}


def test_row_of_an_open_run_lasts_until_now():
    row = operator.execution_row(info("OPEN"), now=NOW + dt.timedelta(seconds=10))
    assert (row["status"], row["closed"], row["duration"]) == ("OPEN", None, 100.0)


def test_row_without_a_close_time_has_no_duration():
    row = operator.execution_row(info(closeStatus="TERMINATED"))  # what moto returns
    assert (row["status"], row["duration"]) == ("TERMINATED", None)


# -- loading and decoding -----------------------------------------------------------------------


def test_history_file_identity_and_snapshot_window():
    run = fixture_run("open.json")
    assert run.is_open
    assert run.now() is None  # a file is a snapshot: the window ends at its last event
    assert fixture_run("completed_retry.json").workflow_execution["workflowId"] == "basic-1"


def test_load_history_needs_exactly_one_source(tmp_path):
    with pytest.raises(UserError, match="not both"):
        operator.load_history(history_file=str(HISTORIES / "failed.json"), workflow_id="w")
    with pytest.raises(UserError, match="--history-file"):
        operator.load_history(domain="d")
    with pytest.raises(UserError, match="SWF_DOMAIN"):
        operator.load_history(workflow_id="w")
    empty = tmp_path / "empty.json"
    empty.write_text('{"events": []}')
    with pytest.raises(UserError, match="no events"):
        operator.load_history(history_file=str(empty))


def test_decoded_events_resolve_only_payload_fields_and_copy():
    events = fixture_run("failed.json").events
    original = copy.deepcopy(events)
    decoded = operator.decoded_events(events, lambda text: f"<{text}>")
    assert events == original
    started = attributes(decoded[0])
    assert started["input"] == '<{"args":[[3,4]],"kwargs":{"strict":true}}>'
    assert started["childPolicy"] == "TERMINATE"
    failed = attributes(decoded[-1])
    assert failed["details"].startswith("<") and not failed["reason"].startswith("<")


def test_tolerant_decoder_keeps_an_unreadable_reference(monkeypatch, caplog):
    def broken(text: str | None) -> str | None:
        raise JumboFieldError(f"cannot read jumbo field {text}")

    monkeypatch.setattr(jumbo, "decode_field", broken)
    ref = "replayflow+s3://gone/key 12"
    assert operator.make_decoder()(ref) == ref
    assert "cannot read jumbo field" in caplog.text
    with pytest.raises(JumboFieldError):
        operator.make_decoder(strict=True)(ref)
    assert operator.make_decoder(raw=True)(ref) == ref


# -- a stub SWF ---------------------------------------------------------------------------------


class StubSwf:
    """Only what operator.py calls, answering from fixture histories."""

    domain = "stub"

    def __init__(self, *histories: operator.RunHistory) -> None:
        self.runs = {h.workflow_execution["runId"]: h for h in histories}
        self.calls: list[tuple[str, tuple, dict]] = []

    def _info(self, run: operator.RunHistory) -> dict[str, Any]:
        status = "OPEN" if run.is_open else "CLOSED"
        extra = {} if run.is_open else {"closeStatus": "COMPLETED"}
        return {"execution": dict(run.workflow_execution), "executionStatus": status,
                "tagList": ["from-the-execution"], **extra}

    def find_latest_run(self, workflow_id: str) -> dict[str, Any]:
        for run in reversed(list(self.runs.values())):
            if run.workflow_execution["workflowId"] == workflow_id:
                return self._info(run)
        raise ExecutionNotFound(f"No execution found for workflow id {workflow_id!r}")

    def describe_workflow_execution(self, workflow_id: str, run_id: str) -> dict[str, Any]:
        if run_id not in self.runs:
            raise ExecutionNotFound(f"No execution found for run {run_id}")
        return {"executionInfo": self._info(self.runs[run_id])}

    def get_workflow_execution_history(self, workflow_id: str, run_id: str) -> list[dict]:
        return self.runs[run_id].events

    def __getattr__(self, name: str):  # start_workflow_execution, terminate, signal, ...
        def record(*args: Any, **kwargs: Any) -> str:
            self.calls.append((name, args, kwargs))
            return "new-run"

        return record


def test_restart_copies_type_task_list_tags_timeouts_and_input():
    stub = StubSwf(fixture_run("completed_retry.json"))
    assert operator.restart(stub, "basic-1") == ("basic-1", "new-run")
    [(name, args, kwargs)] = stub.calls
    assert name == "start_workflow_execution"
    assert args == ("basic-1", "examples.basic.BasicWorkflow", "1.0")
    assert kwargs == {"input": '{"args":[1,0],"kwargs":{}}', "task_list": "quickstart",
                      "execution_timeout": "3600", "decision_task_timeout": "300",
                      "child_policy": "TERMINATE", "tags": ["team:ops", "env:test"],
                      "priority": None}


def test_restart_with_a_new_input_and_tags_from_the_execution():
    failed = fixture_run("failed.json")  # its start event carries no tagList, like moto's
    stub = StubSwf(failed)
    workflow_id = failed.workflow_execution["workflowId"]
    operator.restart(stub, workflow_id, call=([7], {"strict": False}))
    kwargs = stub.calls[0][2]
    assert json.loads(kwargs["input"]) == {"args": [7], "kwargs": {"strict": False}}
    assert kwargs["tags"] == ["from-the-execution"]
    run_id = failed.workflow_execution["runId"]
    assert operator.fetch_history(stub, workflow_id, run_id).tags == ["from-the-execution"]


def test_restart_refuses_an_open_run():
    stub = StubSwf(fixture_run("open.json"))
    workflow_id = next(iter(stub.runs.values())).workflow_execution["workflowId"]
    with pytest.raises(UserError, match="still open.*workflow.terminate"):
        operator.restart(stub, workflow_id)
    assert stub.calls == []


def test_acting_on_a_closed_run_says_so():
    stub = StubSwf(fixture_run("completed_retry.json"))
    for act in (operator.terminate, operator.request_cancel):
        with pytest.raises(UserError, match="already closed"):
            act(stub, "basic-1")
    with pytest.raises(UserError, match="already closed"):
        operator.signal(stub, "basic-1", "go")
    assert stub.calls == []


def test_signal_input_is_compact_json_and_null_when_absent():
    run = fixture_run("open.json")
    stub = StubSwf(run)
    workflow_id, run_id = run.workflow_execution["workflowId"], run.workflow_execution["runId"]
    assert operator.signal(stub, workflow_id, "go", '{ "b": 1, "a": [1, 2] }') == run_id
    assert operator.signal(stub, workflow_id, "ping", run_id=run_id) == run_id
    assert [c[1] for c in stub.calls] == [(workflow_id, "go", '{"a":[1,2],"b":1}', run_id),
                                         (workflow_id, "ping", "null", run_id)]
    with pytest.raises(UserError, match="--input is not valid JSON"):
        operator.signal(stub, workflow_id, "go", "{")


# -- activity.rerun -----------------------------------------------------------------------------


def test_rerun_uses_the_last_attempts_input():
    run = fixture_run("completed_retry.json")
    for event in run.events:
        attrs = attributes(event)
        if attrs.get("activityId") == "activity-examples.basic.double-2#2":
            attrs["input"] = '{"args":[5],"kwargs":{}}'
    outcome = operator.rerun_activity(run, "activity-examples.basic.double-2",
                                      modules=["examples.basic"])
    assert (outcome.ok, outcome.result, outcome.activity.attempt) == (True, "10", 2)
    first = operator.rerun_activity(run, "activity-examples.basic.double-2#1",
                                    modules=["examples.basic"])
    assert (first.result, first.activity.attempt) == ("4", 1)


def test_rerun_of_a_failing_activity_reports_reason_and_traceback(tmp_path):
    from examples.failure import UnhandledFailureWorkflow
    from replayflow.history import write_history_file

    result = run_local(UnhandledFailureWorkflow)
    assert result.status == "FAILED"
    path = tmp_path / "run.json"
    write_history_file(path, result.execution.history())
    run = operator.read_history_file(str(path))
    [task_id] = [split for split in {attributes(e)["activityId"].rpartition("#")[0]
                                     for e in run.events
                                     if e["eventType"] == "ActivityTaskScheduled"}]
    outcome = operator.rerun_activity(run, task_id, modules=["examples.failure"])
    assert not outcome.ok
    assert outcome.reason == "ZeroDivisionError: division by zero"
    details = json.loads(outcome.details)
    assert details["type"] == "ZeroDivisionError"
    assert "return a / b" in details["traceback"]
    assert load_history_file(path).workflow_execution["workflowId"]  # untouched file


def test_rerun_of_an_unknown_task_or_unimportable_activity():
    run = fixture_run("completed_retry.json")
    with pytest.raises(UserError, match="activity-examples.basic.increment-1, "):
        operator.rerun_activity(run, "nope")
    for event in run.events:
        attrs = attributes(event)
        if event["eventType"] == "ActivityTaskScheduled":
            attrs["activityType"] = {"name": "no_such_module.func", "version": "1"}
    with pytest.raises(ActivityNotFound, match="not registered on this worker"):
        operator.rerun_activity(run, "activity-examples.basic.increment-1",
                                modules=["examples.basic"])


def test_rerun_never_runs_a_type_its_modules_do_not_declare(tmp_path):
    """A crafted history naming `builtins.exec` (or any importable callable) runs nothing."""
    run = fixture_run("completed_retry.json")
    marker = tmp_path / "ran"
    for event in run.events:
        attrs = attributes(event)
        if event["eventType"] == "ActivityTaskScheduled":
            attrs["activityType"] = {"name": "builtins.exec", "version": "1"}
            attrs["input"] = json.dumps({"args": [f"open({str(marker)!r}, 'w')"], "kwargs": {}})
    with pytest.raises(ActivityNotFound, match="builtins.exec"):
        operator.rerun_activity(run, "activity-examples.basic.increment-1",
                                modules=["examples.basic"])
    assert not marker.exists()
