"""The inspection commands replayed from pytest-vcr cassettes: they pass with no moto server.

The cassettes in tests/cli/cassettes/operator/ hold the SWF HTTP exchanges of each test, recorded
once against the moto server on runs made by hand (tests/support/swf_runs.py): finished after a
retried activity, failed, running, terminated. Commands run in-process through click's CliRunner,
because vcr cannot see a subprocess's HTTP. Requests are matched on method, path, X-Amz-Target
and body, never on host or port, so re-recording on any port works; the cassettes name a fixed
fake endpoint, FAKE_ENDPOINT, which playback points boto3 at (it does not resolve, so a request
missing from a cassette can never reach a network). Authorization, dates and SDK ids are
stripped before anything is written. A request the cassette has no (unplayed) answer for fails
the test saying the recording no longer matches, never as the "Cannot reach" error the CLI
would print for it.

Re-record (needed when a command starts sending different requests, or when moto changes):

    rm -r tests/cli/cassettes/operator
    .venv/bin/pytest tests/cli/test_operator_vcr.py --vcr-record=all

A missing cassette is recorded by a plain `pytest` run too (record mode "once"): the module then
starts the moto server and makes the runs first. Commit the new YAML files.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from support import swf_runs as runs
from support.moto_server import UNSET_ENV_VARS
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.stubs import VCRConnection

import replayflow.cli.operator  # noqa: F401 - registers the commands on `cli`
from replayflow.backends.swf import SwfBackend
from replayflow.cli.app import cli

FAKE_ENDPOINT = "http://moto.replayflow.invalid:5000"
DOMAIN = "operator-vcr"
CASSETTE_DIR = Path(__file__).resolve().parent / "cassettes" / "operator"
#: Request headers that carry credentials, clocks or per-call ids: never written to a cassette.
SECRET_HEADERS = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256",
                  "amz-sdk-invocation-id", "amz-sdk-request", "user-agent"]


def _clean_request(request: Any) -> Any:
    """The request as written: at FAKE_ENDPOINT, with readable (text) header values."""
    parts = urllib.parse.urlsplit(request.uri)
    fake = urllib.parse.urlsplit(FAKE_ENDPOINT)
    request.uri = urllib.parse.urlunsplit(parts._replace(scheme=fake.scheme,
                                                         netloc=fake.netloc))
    for name, value in list(request.headers.items()):
        if isinstance(value, bytes):
            request.headers[name] = value.decode("utf-8", "replace")
    return request


def _operation(request: Any) -> str:
    value = request.headers.get("X-Amz-Target", "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _same_operation(r1: Any, r2: Any) -> None:
    """SWF sends every call to POST /: ListOpen and ListClosed differ only in X-Amz-Target."""
    assert _operation(r1) == _operation(r2)


def _drop_response_noise(response: dict) -> dict:
    response["headers"] = {k: v for k, v in response["headers"].items()
                           if k.lower() in ("content-type", "content-length")}
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "record_mode": "once",
        "match_on": ["method", "path", "operation", "body"],
        "filter_headers": SECRET_HEADERS,
        "before_record_request": _clean_request,
        "before_record_response": _drop_response_noise,
        "decode_compressed_response": True,
    }


@pytest.fixture(scope="module")
def vcr(vcr):  # noqa: ANN001, ANN201 - pytest-vcr's VCR, plus our matcher
    vcr.register_matcher("operation", _same_operation)
    return vcr


@pytest.fixture(scope="module")
def vcr_cassette_dir() -> str:
    return str(CASSETTE_DIR)


#: Tests that play against a cassette they deliberately lack: never a reason to record.
NEVER_RECORDED = {"test_a_request_the_recording_lacks_is_reported_as_such"}


def _recording(request: pytest.FixtureRequest, module: Any) -> bool:
    mode = request.config.getoption("--vcr-record")
    if mode in ("all", "new_episodes"):
        return True
    if mode == "none":
        return False
    names = [name for name in dir(module) if name.startswith("test_")
             and name not in NEVER_RECORDED]
    return not all((CASSETTE_DIR / f"{name}.yaml").exists() for name in names)


@pytest.fixture(scope="module")
def endpoint(request: pytest.FixtureRequest) -> str:
    """FAKE_ENDPOINT when playing back; when recording, the moto server, with the runs made."""
    if not _recording(request, request.module):
        return FAKE_ENDPOINT
    server = request.getfixturevalue("moto_server")
    client = boto3.client("swf", endpoint_url=server.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    backend = SwfBackend(DOMAIN, client=client)
    backend.register_domain()
    driver = runs.HandDriver(backend)
    runs.make_finished(driver, "vcr-finished")
    runs.make_failed(driver, "vcr-failed")
    runs.make_running(driver, "vcr-running")
    terminated = driver.start("vcr-terminated", runs.call_json(2, 0))
    backend.terminate(terminated.workflow_id, terminated.run_id, reason="stopped by the test")
    return server.endpoint_url


@pytest.fixture
def cassette_misses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Requests the cassette could not answer, noted where vcr refuses them.

    botocore wraps vcr's refusal in a connection error, which the CLI reports as "Cannot
    reach <endpoint>": true of a network, misleading for a recording.
    """
    misses: list[str] = []
    original = VCRConnection.getresponse

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ANN001
        try:
            return original(self, *args, **kwargs)
        except CannotOverwriteExistingCassetteException as exc:
            request = getattr(exc, "failed_request", None) or self._vcr_request
            misses.append(f"{_operation(request) or request.method} {request.path} "
                          f"{(request.body or b'')[:200]!r}")
            raise

    monkeypatch.setattr(VCRConnection, "getresponse", getresponse)
    return misses


@pytest.fixture
def run_cli(endpoint: str, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN201
            cassette_misses: list[str], request: pytest.FixtureRequest):
    for name in UNSET_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "SWF_DOMAIN": DOMAIN, "REPLAYFLOW_CONNECTION_RETRIES": "1",
                        "COLUMNS": "200"}.items():
        monkeypatch.setenv(name, value)

    def run(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
        if cassette_misses:
            pytest.fail(
                f"the recording {request.node.name}.yaml no longer matches the requests "
                f"`replayflow {' '.join(args)}` sends; unanswered: {cassette_misses[0]}. If the "
                "command is meant to send them now, re-record the cassettes (see this module's "
                "docstring).", pytrace=False)
        assert result.exit_code == code, (result.stdout, result.stderr)
        return result

    return run


def as_json(run_cli, *args: str) -> Any:  # noqa: ANN001
    return json.loads(run_cli("--format", "json", *args).stdout)


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


pytestmark = pytest.mark.vcr


def test_list(run_cli):
    rows = as_json(run_cli, "workflow.list", "--status", "all")
    assert {row["workflow_id"]: row["status"] for row in rows} == {
        "vcr-finished": "COMPLETED", "vcr-failed": "FAILED", "vcr-running": "OPEN",
        "vcr-terminated": "TERMINATED"}
    assert all(row["type"] == "basic" for row in rows)
    open_rows = as_json(run_cli, "workflow.list")
    assert [row["workflow_id"] for row in open_rows] == ["vcr-running"]


def test_info_of_each_run(run_cli):
    finished = as_json(run_cli, "workflow.info", "vcr-finished")
    assert finished["status"] == "COMPLETED"
    assert finished["input"] == {"args": [1, 0], "kwargs": {}}
    assert finished["result"] == 4
    assert finished["tags"] == ["team:ops"]
    assert finished["task_counts"] == {"COMPLETED": 2}

    failed = as_json(run_cli, "workflow.info", "vcr-failed")
    assert failed["status"] == "FAILED"
    assert failed["reason"].endswith("ZeroDivisionError: division by zero")

    running = as_json(run_cli, "workflow.info", "vcr-running")
    assert (running["status"], running["closed"]) == ("OPEN", None)

    terminated = as_json(run_cli, "workflow.info", "vcr-terminated")
    assert (terminated["status"], terminated["reason"]) == ("TERMINATED", "stopped by the test")


def test_info_with_a_run_id_from_the_list(run_cli):
    rows = as_json(run_cli, "workflow.list", "--status", "closed")
    run_id = next(row["run_id"] for row in rows if row["workflow_id"] == "vcr-failed")
    info = as_json(run_cli, "workflow.info", "vcr-failed", run_id)
    assert (info["run_id"], info["status"]) == (run_id, "FAILED")


def test_tasks(run_cli):
    rows = as_json(run_cli, "workflow.tasks", "vcr-finished")
    assert [(r["task_id"], r["state"], r["attempts"], r["result"]) for r in rows] == [
        (runs.INCREMENT, "COMPLETED", 2, 2), (runs.DOUBLE, "COMPLETED", 1, 4)]
    running = as_json(run_cli, "workflow.tasks", "vcr-running")
    assert [(r["task_id"], r["state"]) for r in running] == [
        (runs.INCREMENT, "COMPLETED"), (runs.DELAY, "RUNNING")]
    header, line = run_cli("workflow.tasks", "vcr-failed").stdout.splitlines()
    assert header.split() == ["task_id", "name", "state", "attempts", "waited", "ran", "error"]
    assert line.split()[:4] == [runs.DIVIDE, "examples.failure.divide", "FAILED", "1"]
    assert line.endswith("ZeroDivisionError: division by zero")
    bare = run_cli("workflow.tasks", "--no-header", "vcr-failed").stdout.splitlines()
    assert [row.split() for row in bare] == [line.split()]


def test_profile(run_cli):
    rows = as_json(run_cli, "workflow.profile", "vcr-finished")
    assert {row["task_id"] for row in rows} == {runs.INCREMENT, runs.DOUBLE}
    assert rows[0]["running"] >= rows[1]["running"]
    assert all(0 < row["percentage"] <= 100 for row in rows)
    assert sum(row["percentage"] for row in rows) <= 100
    table = run_cli("workflow.profile", "--no-header", "vcr-finished").stdout.splitlines()
    assert len(table) == 2 and all("█" in line for line in table)
    summary = run_cli("workflow.profile", "vcr-finished").stdout.splitlines()[0]
    assert summary.startswith("wall ") and "longest path" in summary


def test_history(run_cli):
    events = as_json(run_cli, "workflow.history", "vcr-finished")
    assert [e["eventId"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["eventType"] == "WorkflowExecutionStarted"
    assert events[-1]["eventType"] == "WorkflowExecutionCompleted"
    raw = run_cli("workflow.history", "--raw", "--no-header", "vcr-finished").stdout.splitlines()
    assert len(raw) == len(events)


def test_activity_rerun(run_cli):
    result = run_cli("activity.rerun", "-m", "examples.basic", "vcr-finished", runs.INCREMENT)
    assert json.loads(result.stdout) == 2


def test_task_info(run_cli):
    detail = as_json(run_cli, "task.info", "vcr-finished", runs.INCREMENT)
    assert (detail["state"], detail["attempts"], detail["result"]) == ("COMPLETED", 2, 2)
    assert [a["state"] for a in detail["attempt_list"]] == ["FAILED", "COMPLETED"]
    assert detail["attempt_list"][0]["error"] == "ConnectionError: flaky"
    assert detail["attempt_list"][0]["worker"] == "hand-worker"


def test_filter(run_cli):
    rows = as_json(run_cli, "workflow.filter", "--status", "failed")
    assert [row["workflow_id"] for row in rows] == ["vcr-failed"]
    rows = as_json(run_cli, "workflow.filter", "--status", "all", "--workflow-id-prefix",
                   "vcr-f", "--limit", "1")
    assert len(rows) == 1 and rows[0]["workflow_id"] in ("vcr-finished", "vcr-failed")


def test_unknown_workflow_and_run_ids(run_cli):
    line = one_line_error(run_cli("workflow.info", "vcr-never", code=2))
    assert "'vcr-never'" in line
    line = one_line_error(run_cli("workflow.tasks", "vcr-finished", "no-such-run", code=2))
    assert "no-such-run" in line


@pytest.mark.vcr(record_mode="none")
def test_a_request_the_recording_lacks_is_reported_as_such(run_cli, cassette_misses):
    """This test has no cassette: its one request is refused, and the refusal is noted, so
    `run_cli` can say the recording no longer matches instead of the CLI's "Cannot reach"."""
    result = CliRunner().invoke(cli, ["workflow.info", "--domain", DOMAIN, "vcr-finished"],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "Cannot reach" in result.stderr  # what a user would have seen
    assert len(cassette_misses) == 1
    assert cassette_misses[0].startswith("SimpleWorkflowService.ListOpenWorkflowExecutions")
