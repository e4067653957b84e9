"""Our fast parse of history responses gives exactly what botocore's generic parser gives, once
its epoch-second timestamps are turned into datetimes (which the backend does for every caller
but the decider)."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.parsers import create_parser
from support.histories import HISTORIES

from replayflow.backends.swf import _HISTORY_OPERATIONS, _parse_history_response
from replayflow.history import stamps_to_datetimes

FIXTURES = sorted(p for p in HISTORIES.glob("*.json") if "moto" not in p.name)


@pytest.mark.parametrize("operation", _HISTORY_OPERATIONS)
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fast_parse_matches_botocore(path, operation):
    events = json.loads(path.read_text())["events"]
    body = {"events": events, "nextPageToken": "page-2"}
    if operation == "PollForDecisionTask":
        body.update(taskToken="token", startedEventId=len(events), previousStartedEventId=0,
                    workflowExecution={"workflowId": "w", "runId": "r"},
                    workflowType={"name": "t", "version": "1"})
    raw = json.dumps(body).encode()
    model = botocore.session.get_session().get_service_model("swf")
    shape = model.operation_model(operation).output_shape
    parser = create_parser("json")
    expected = parser.parse({"body": raw, "headers": {}, "status_code": 200}, shape)

    response = {"body": raw, "headers": {}, "status_code": 200}
    customized: dict = {}
    _parse_history_response(response_dict=response, customized_response_dict=customized)
    assert response["body"] == b"{}"
    ours = parser.parse(response, shape)
    ours.update(customized)
    wire_stamps = [e["eventTimestamp"] for e in events]
    assert [e["eventTimestamp"] for e in ours["events"]] == wire_stamps  # epoch seconds, as sent
    stamps_to_datetimes(ours["events"])
    assert ours == expected


def test_errors_are_left_to_botocore():
    response = {"body": b'{"__type": "UnknownResourceFault"}', "headers": {}, "status_code": 400}
    customized: dict = {}
    _parse_history_response(response_dict=response, customized_response_dict=customized)
    assert customized == {}
    assert response["body"] == b'{"__type": "UnknownResourceFault"}'


def test_malformed_bodies_are_left_to_botocore():
    for body in (b'{"events": [', b"[1, 2]"):
        response = {"body": body, "headers": {}, "status_code": 200}
        customized: dict = {}
        _parse_history_response(response_dict=response, customized_response_dict=customized)
        assert customized == {}
        assert response["body"] == body
