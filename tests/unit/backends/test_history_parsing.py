"""Our parse of history responses (backends/swf_history.py): in the full view it gives exactly
what botocore's generic parser gives; in the engine's view the same events with epoch timestamps
and only what the engine reads; and the view is the caller's argument, not the thread's state."""

from __future__ import annotations

import json
import threading

import botocore.session
import pytest
from botocore.parsers import ResponseParserError, create_parser
from botocore.stub import Stubber
from support.histories import HISTORIES

from replayflow.backends import swf_history
from replayflow.backends.swf import SwfBackend
from replayflow.backends.swf_history import (
    HISTORY_OPERATIONS,
    RAW_BODY,
    HistoryView,
    keep_raw_body,
    parse_history,
    parse_response,
)
from replayflow.engine.replay import attributes_read
from replayflow.errors import ServiceUnavailable

FIXTURES = sorted(p for p in HISTORIES.glob("*.json") if "moto" not in p.name)
MODEL = botocore.session.get_session().get_service_model("swf")


def response_body(events: list[dict], operation: str) -> bytes:
    body = {"events": events, "nextPageToken": "page-2"}
    if operation == "PollForDecisionTask":
        body.update(taskToken="token", startedEventId=len(events), previousStartedEventId=0,
                    workflowExecution={"workflowId": "w", "runId": "r"},
                    workflowType={"name": "t", "version": "1"})
    return json.dumps(body).encode()


@pytest.mark.parametrize("operation", HISTORY_OPERATIONS)
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_full_view_matches_botocore(path, operation):
    raw = response_body(json.loads(path.read_text())["events"], operation)
    shape = MODEL.operation_model(operation).output_shape
    parser = create_parser("json")
    expected = parser.parse({"body": raw, "headers": {}, "status_code": 200}, shape)

    # As botocore runs it: the hook keeps the body, botocore parses an empty one.
    response = {"body": raw, "headers": {}, "status_code": 200}
    customized: dict = {}
    keep_raw_body(response_dict=response, customized_response_dict=customized)
    assert response["body"] == b"{}" and customized == {RAW_BODY: raw}
    ours = parser.parse(response, shape)
    ours.update(customized)
    parse_response(ours, MODEL.operation_model(operation), HistoryView.FULL)
    assert ours == expected


@pytest.mark.parametrize("operation", HISTORY_OPERATIONS)
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_engine_view_keeps_epoch_stamps_and_only_what_the_engine_reads(path, operation):
    events = json.loads(path.read_text())["events"]
    raw = response_body(events, operation)
    ours = parse_history(MODEL.operation_model(operation), raw, HistoryView.ENGINE)
    read = attributes_read()
    assert [e["eventTimestamp"] for e in ours["events"]] == [e["eventTimestamp"] for e in events]
    for sent, got in zip(events, ours["events"], strict=True):
        for key, value in sent.items():
            if not key.endswith("EventAttributes"):
                assert got[key] == value
            elif read.get(key) is None and key in read:
                assert got[key] == value  # read whole
            elif read.get(key):
                assert got[key] == {k: v for k, v in value.items() if k in read[key]}
            else:
                assert key not in got
    assert ours["nextPageToken"] == "page-2"


def test_errors_are_left_to_botocore():
    response = {"body": b'{"__type": "UnknownResourceFault"}', "headers": {}, "status_code": 400}
    customized: dict = {}
    keep_raw_body(response_dict=response, customized_response_dict=customized)
    assert customized == {}
    assert response["body"] == b'{"__type": "UnknownResourceFault"}'


@pytest.mark.parametrize("view", HistoryView)
def test_a_malformed_body_is_a_parser_error_in_either_view(view):
    model = MODEL.operation_model("GetWorkflowExecutionHistory")
    for body in (b'{"events": [', b"[1, 2]", b"<html>busy</html>"):
        with pytest.raises(ResponseParserError):
            parse_history(model, body, view)


def test_the_view_belongs_to_the_call_not_the_thread():
    """Two threads parsing at once, each in its own view, each get their own."""
    events = json.loads(FIXTURES[0].read_text())["events"]
    model = MODEL.operation_model("GetWorkflowExecutionHistory")
    raw = response_body(events, "GetWorkflowExecutionHistory")
    kinds: dict[HistoryView, set[type]] = {view: set() for view in HistoryView}
    start = threading.Barrier(2)

    def parse(view: HistoryView) -> None:
        start.wait()
        for _ in range(50):
            parsed = parse_history(model, raw, view)
            kinds[view].update(type(e["eventTimestamp"]) for e in parsed["events"])

    threads = [threading.Thread(target=parse, args=(view,)) for view in HistoryView]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert kinds[HistoryView.ENGINE] <= {int, float}
    assert {kind.__name__ for kind in kinds[HistoryView.FULL]} == {"datetime"}


def backend_with_raw_history(body: bytes) -> SwfBackend:
    """An SwfBackend whose client answers one GetWorkflowExecutionHistory with `body`, through
    botocore's own parse and our hook (a Stubber would skip both)."""
    import boto3

    client = boto3.client("swf", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s", endpoint_url="http://swf.test")
    swf_history.install(client)

    def answer(**_: object) -> object:
        from botocore.awsrequest import AWSResponse

        class Raw:
            def stream(self, **_: object):
                yield body

        return AWSResponse("http://swf.test", 200, {}, Raw())

    client.meta.events.register("before-send.swf", answer)
    return SwfBackend("d", client=client)


@pytest.mark.parametrize("for_engine", [False, True])
def test_the_backend_parses_in_the_view_it_was_asked_for(for_engine):
    events = json.loads(FIXTURES[0].read_text())["events"]
    backend = backend_with_raw_history(json.dumps({"events": events}).encode())
    got = backend.get_workflow_execution_history("w", "r", for_engine=for_engine)
    stamps = {type(e["eventTimestamp"]).__name__ for e in got}
    if for_engine:
        assert stamps and stamps <= {"int", "float"}
    else:
        assert stamps == {"datetime"}
    assert len(got) == len(events)


def test_a_malformed_history_is_one_line_transient_error():
    backend = backend_with_raw_history(b'{"events": [')
    with pytest.raises(ServiceUnavailable, match="could not be parsed") as caught:
        backend.get_workflow_execution_history("w", "r")
    assert "\n" not in str(caught.value)


def test_a_stubbed_client_is_used_as_it_answers():
    """A client handed in without our hook: its (already parsed) events pass through."""
    import datetime as dt

    import boto3

    client = boto3.client("swf", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    stamp = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    event = {"eventId": 1, "eventType": "WorkflowExecutionStarted", "eventTimestamp": stamp}
    with Stubber(client) as stub:
        stub.add_response("get_workflow_execution_history", {"events": [event]})
        got = SwfBackend("d", client=client).get_workflow_execution_history("w", "r")
    assert got == [event]
