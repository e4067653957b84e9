"""The direct caller (backends/aws_json.py) keeps botocore's contract on the wire.

Its signature is checked against botocore's own signer; its HTTP handling, retries and error
shapes against a scripted HTTP server on a real socket (moto cannot answer 503 or throttle on
demand). That it talks to SWF correctly is proved by every integration test on moto, which go
through it.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator

import boto3
import botocore.exceptions as bexc
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.parsers import ResponseParserError

from replayflow.backends import aws
from replayflow.backends.aws_json import DirectCaller, SigV4Signer, direct_caller
from replayflow.backends.swf import DIRECT_FOR_ENGINE, DIRECT_OPERATIONS, SwfBackend

SWF_MODEL = boto3.client("swf", region_name="us-east-1", aws_access_key_id="k",
                         aws_secret_access_key="s").meta.service_model


@pytest.mark.parametrize("url, token", [
    ("https://swf.eu-west-1.amazonaws.com", None),
    ("http://127.0.0.1:5000", "session-token"),
    ("https://swf.eu-west-1.amazonaws.com:443/", "t"),
])
def test_signature_is_botocores(url: str, token: str | None) -> None:
    body = b'{"domain":"d","taskList":{"name":"decisions"}}'
    target = "SimpleWorkflowService.PollForDecisionTask"
    request = AWSRequest("POST", url.rstrip("/") + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target})
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret/key", token), "swf", "eu-west-1").add_auth(
        request)
    when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=dt.UTC)
    caller = DirectCaller(endpoint_url=url, region="eu-west-1",
                          credentials=Credentials("AKIDEXAMPLE", "secret/key", token),
                          service_model=SWF_MODEL)
    ours = caller.signer.headers(target, body, "AKIDEXAMPLE", "secret/key", token, now=when)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


def test_signing_key_is_derived_once_per_day() -> None:
    signer = SigV4Signer("us-east-1", "swf", "example.com")
    day = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    first = signer.headers("T.Op", b"{}", "a", "s", None, now=day)
    again = signer.headers("T.Op", b"{}", "a", "s", None, now=day)
    assert first == again
    assert list(signer._keys) == [("s", "20240501")]
    signer.headers("T.Op", b"{}", "a", "s", None, now=day + dt.timedelta(days=1))
    assert list(signer._keys) == [("s", "20240502")]


def test_direct_operations_send_and_receive_no_timestamp_or_blob() -> None:
    """A plain JSON body is right for these only; a history's eventTimestamp is parsed apart."""

    def kinds(shape, path: str, seen: set[str]) -> Iterator[tuple[str, str]]:
        if shape is None or shape.name in seen:
            return
        seen = seen | {shape.name}
        if shape.type_name in ("timestamp", "blob"):
            yield path, shape.type_name
        for name, member in getattr(shape, "members", {}).items():
            yield from kinds(member, f"{path}.{name}", seen)
        if shape.type_name == "list":
            yield from kinds(shape.member, f"{path}[]", seen)

    for name in DIRECT_OPERATIONS | DIRECT_FOR_ENGINE:
        operation = SWF_MODEL.operation_model(name)
        found = list(kinds(operation.input_shape, name, set()))
        found += [(path, kind) for path, kind in kinds(operation.output_shape, name, set())
                  if not path.endswith("].eventTimestamp")]
        assert found == [], name


# -- a scripted HTTP server on a real socket ------------------------------------------------------


class ScriptedServer:
    """Answers each request with the next scripted raw response; records what it received."""

    def __init__(self, responses: list[bytes]) -> None:
        self.responses = list(responses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.responses:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as rfile:
                while self.responses:
                    request_line = rfile.readline()
                    if not request_line:
                        break
                    headers = {}
                    while (line := rfile.readline()) not in (b"\r\n", b""):
                        name, _, value = line.decode().partition(":")
                        headers[name.strip().lower()] = value.strip()
                    body = rfile.read(int(headers.get("content-length", 0)))
                    self.requests.append((headers, body))
                    response = self.responses.pop(0)
                    conn.sendall(response)
                    if b"Connection: close" in response:
                        break

    def close(self) -> None:
        self.listener.close()


def answer(status: str, body: bytes = b"{}", *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/x-amz-json-1.0",
            f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def error(status: str, code: str, message: str) -> bytes:
    return answer(status, json.dumps({"__type": f"com.amazonaws.swf.base.model#{code}",
                                      "message": message}).encode())


@pytest.fixture
def server_for() -> Iterator:
    servers: list[ScriptedServer] = []

    def make(*responses: bytes) -> tuple[ScriptedServer, DirectCaller, list[float]]:
        server = ScriptedServer(list(responses))
        servers.append(server)
        pauses: list[float] = []
        caller = DirectCaller(endpoint_url=f"http://127.0.0.1:{server.port}",
                              region="us-east-1", credentials=Credentials("k", "s"),
                              service_model=SWF_MODEL, max_attempts=3, sleep=pauses.append)
        return server, caller, pauses

    yield make
    for server in servers:
        server.close()


POLL = {"domain": "d", "taskList": {"name": "l"}}


def test_a_call_is_signed_json_on_one_kept_connection(server_for) -> None:
    server, caller, _ = server_for(answer("200 OK", b'{"taskToken":"t1"}'),
                                   answer("200 OK", b'{"taskToken":"t2"}'))
    assert caller.call("PollForActivityTask", POLL) == {"taskToken": "t1"}
    assert caller.call("PollForActivityTask", POLL) == {"taskToken": "t2"}
    assert server.connections == 1
    headers, body = server.requests[0]
    assert json.loads(body) == POLL
    assert headers["x-amz-target"] == "SimpleWorkflowService.PollForActivityTask"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=k/")


def test_transient_errors_are_retried_with_backoff(server_for) -> None:
    server, caller, pauses = server_for(answer("503 Service Unavailable", b"busy"),
                                        answer("500 Internal Server Error", b"<html>"),
                                        answer("200 OK", b'{"cancelRequested":true}'))
    result = caller.call("RecordActivityTaskHeartbeat", {"taskToken": "t"})
    assert result == {"cancelRequested": True}
    assert len(server.requests) == 3
    assert len(pauses) == 2 and all(0 <= p <= 0.1 for p in pauses)


def test_throttling_backs_off_longer_then_raises_botocores_error(server_for) -> None:
    throttled = error("400 Bad Request", "ThrottlingException", "Rate exceeded")
    server, caller, pauses = server_for(throttled, throttled, throttled)
    with pytest.raises(bexc.ClientError) as raised:
        caller.call("PollForDecisionTask", POLL)
    assert raised.value.response["Error"] == {"Code": "ThrottlingException",
                                              "Message": "Rate exceeded"}
    assert raised.value.operation_name == "PollForDecisionTask"
    assert len(server.requests) == 3 and len(pauses) == 2
    assert aws.is_throttling(raised.value)


def test_a_client_error_is_not_retried_and_translates_as_botocores(server_for) -> None:
    server, caller, pauses = server_for(
        error("400 Bad Request", "UnknownResourceFault", "Unknown domain: nope"))
    with pytest.raises(bexc.ClientError) as raised:
        caller.call("PollForDecisionTask", {**POLL, "domain": "nope"})
    assert pauses == [] and len(server.requests) == 1
    translated = aws.translate_error(raised.value, domain="nope")
    assert "SWF domain 'nope' is not registered" in str(translated)


def test_invalid_params_are_refused_before_sending(server_for) -> None:
    server, caller, _ = server_for(answer("200 OK"))
    with pytest.raises(bexc.ParamValidationError):
        caller.call("PollForDecisionTask", {"taskList": {"name": "l"}})  # no domain
    assert server.requests == []


def test_a_connection_the_server_closed_is_replaced(server_for) -> None:
    server, caller, pauses = server_for(
        answer("200 OK", b'{"taskToken":"a"}', "Connection: close"),
        answer("200 OK", b'{"taskToken":"b"}'))
    assert caller.call("PollForActivityTask", POLL)["taskToken"] == "a"
    assert caller.call("PollForActivityTask", POLL)["taskToken"] == "b"
    assert server.connections == 2 and pauses == []


def test_chunked_and_interim_responses_are_read_whole(server_for) -> None:
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n{\"tas\r\n11;ext=1\r\nkToken\":\"chunky\"}\r\n0\r\n\r\n")
    _, caller, _ = server_for(chunked)
    assert caller.call("PollForActivityTask", POLL) == {"taskToken": "chunky"}


def test_an_unreachable_endpoint_is_botocores_connection_error() -> None:
    port = socket.create_server(("127.0.0.1", 0))
    address = port.getsockname()
    port.close()  # nobody listens there now
    pauses: list[float] = []
    caller = DirectCaller(endpoint_url=f"http://127.0.0.1:{address[1]}", region="us-east-1",
                          credentials=Credentials("k", "s"), service_model=SWF_MODEL,
                          max_attempts=2, sleep=pauses.append)
    with pytest.raises(bexc.EndpointConnectionError):
        caller.call("PollForActivityTask", POLL)
    assert len(pauses) == 1
    assert "Cannot reach" in str(aws.translate_error(
        bexc.EndpointConnectionError(endpoint_url="http://x")))


def test_missing_credentials_are_botocores_error(server_for) -> None:
    server, _, _ = server_for(answer("200 OK"))
    caller = DirectCaller(endpoint_url=f"http://127.0.0.1:{server.port}", region="us-east-1",
                          credentials=None, service_model=SWF_MODEL)
    with pytest.raises(bexc.NoCredentialsError):
        caller.call("PollForActivityTask", POLL)


# -- when the direct path is used ------------------------------------------------------------------


def client(**config: object):
    return boto3.client("swf", region_name="us-east-1", aws_access_key_id="k",
                        aws_secret_access_key="s", endpoint_url="http://127.0.0.1:1",
                        config=Config(**config) if config else None)


def test_direct_caller_declines_what_botocore_must_handle(monkeypatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    assert direct_caller(client()) is not None
    assert direct_caller(client(proxies={"http": "http://proxy:3128"})) is None
    assert direct_caller(client(retries={"mode": "adaptive"})) is None
    assert direct_caller(boto3.client("s3", region_name="us-east-1", aws_access_key_id="k",
                                      aws_secret_access_key="s")) is None  # not JSON
    monkeypatch.setenv("http_proxy", "http://proxy:3128")
    monkeypatch.setenv("no_proxy", "")
    assert direct_caller(client()) is None


@pytest.mark.parametrize("value, enabled", [("", True), ("1", True), ("off", False),
                                            ("0", False), ("False", False), ("no", False)])
def test_direct_calls_can_be_turned_off(monkeypatch, value: str, enabled: bool) -> None:
    monkeypatch.setenv("REPLAYFLOW_DIRECT_CALLS", value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    assert (SwfBackend("d")._direct is not None) is enabled
    assert SwfBackend("d", client=client())._direct is None  # a client handed in: as is


def test_a_malformed_answer_is_botocores_parser_error(server_for) -> None:
    _, caller, _ = server_for(answer("200 OK", b"<html>not json</html>"))
    with pytest.raises(ResponseParserError):
        caller.call("PollForActivityTask", POLL)


def test_http_429_is_throttling(server_for) -> None:
    server, caller, pauses = server_for(answer("429 Too Many Requests", b""),
                                        answer("200 OK", b'{"taskToken":"t"}'))
    assert caller.call("PollForActivityTask", POLL) == {"taskToken": "t"}
    assert len(pauses) == 1 and len(server.requests) == 2

