"""Careless or hostile input on the command line: one `Error:` line and exit 2, never a traceback.

Each case printed a Python traceback (or a meaningless table, or non-standard JSON) before:
input files that are not UTF-8, JSON nested about a thousand levels deep, NaN, a history whose
event ids are not numbers, a run whose input is too deep to show.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest
from support.cli import assert_one_line_error, run_cli

from replayflow.encoding import MAX_NESTING

REPO = Path(__file__).resolve().parents[2]
HISTORIES = REPO / "tests" / "histories"
TESTS = REPO / "tests"
BASIC = "examples.basic.BasicWorkflow"

NOT_UTF8 = b'["caf\xe9"]'  # Latin-1, as an editor on another system might save it
DEEP = "[" * 1000 + "]" * 1000


def fixture_with(tmp_path: Path, change) -> Path:
    data = json.loads((HISTORIES / "basic_completed.json").read_text())
    change(data["events"])
    path = tmp_path / f"history-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(data))
    return path


# --- input files and --input -------------------------------------------------------------------


def test_an_input_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(NOT_UTF8)
    line = assert_one_line_error(run_cli("workflow.start", "--local", BASIC, "--input-file",
                                         str(path)))
    assert f"--input-file {path} is not UTF-8 text (byte 0xe9 at offset 5)" in line


def test_stdin_that_is_not_utf8_is_one_line():
    # text=True would decode it on our side; send the raw bytes as a user's pipe does
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "replayflow", "workflow.start", "--local", BASIC,
                           "--input-file", "-"], input=NOT_UTF8, capture_output=True, cwd=REPO,
                          timeout=60)
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert stderr.startswith("Error: --input-file - is not UTF-8 text")


def test_a_signal_input_file_that_is_not_utf8_is_refused_before_any_aws_call(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(NOT_UTF8)
    env_without_aws = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}
    line = assert_one_line_error(run_cli("workflow.signal", "--domain", "d", "wf", "go",
                                         "--input-file", str(path), env=env_without_aws))
    assert "is not UTF-8 text" in line


@pytest.mark.parametrize("how", ["--input", "--input-file"])
def test_json_nested_a_thousand_deep_is_one_line(tmp_path, how):
    value = DEEP
    if how == "--input-file":
        path = tmp_path / "deep.json"
        path.write_text(DEEP)
        value = str(path)
    line = assert_one_line_error(run_cli("workflow.start", "--local", BASIC, how, value))
    assert f"more than {MAX_NESTING} levels deep" in line


@pytest.mark.parametrize("command", ["workflow.start", "standalone"])
def test_nan_in_the_input_is_refused(command):
    args = ["--local"] if command == "workflow.start" else ["--domain", "d"]
    line = assert_one_line_error(run_cli(command, *args, BASIC, "--input", "[NaN, 0]"))
    assert "--input is not valid JSON: NaN is not JSON" in line


def test_nan_in_a_signal_input_is_refused():
    line = assert_one_line_error(run_cli("workflow.signal", "--domain", "d", "wf", "go",
                                         "--input", "{\"x\": Infinity}"))
    assert "Infinity is not JSON" in line


# --- values the workflow produces ---------------------------------------------------------------


@pytest.mark.parametrize(("workflow", "where"), [
    ("NanResultWorkflow", "the result of activity-support.odd_workflows.ratio-1 is not "
                          "JSON-serialisable: it is NaN or Infinity"),
    ("NanOwnResultWorkflow", 'the result of run() is not JSON-serialisable: it holds NaN or '
                             'Infinity at ["total"]'),
    ("NanInputWorkflow", 'the input of activity-support.odd_workflows.ratio-1: it holds NaN or '
                         'Infinity at ["args"][0]'),
])
def test_nan_is_refused_where_the_workflow_produces_it(workflow, where):
    # It used to be printed as `NaN`, which no JSON reader accepts.
    env = {"PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"}
    proc = run_cli("workflow.start", "--local", f"support.odd_workflows.{workflow}", env=env)
    line = assert_one_line_error(proc, 1)
    assert where in line
    assert proc.stdout == ""


# --- history files -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["workflow.info", "workflow.tasks", "workflow.profile",
                                     "workflow.history"])
def test_an_event_id_that_is_not_a_number_is_refused(tmp_path, command):
    # It used to be accepted, and printed a meaningless table.
    path = fixture_with(tmp_path, lambda events: events[2].update(eventId="x"))
    line = assert_one_line_error(run_cli(command, "--history-file", str(path)))
    assert "event #3 (DecisionTaskStarted): eventId must be an integer above 2" in line


@pytest.mark.parametrize(("change", "message"), [
    (lambda events: events.reverse(), "eventId must be an integer above 23"),
    (lambda events: events[0].update(eventTimestamp=1e300), "eventTimestamp must be epoch seconds"),
    (lambda events: events[0].update(workflowExecutionStartedEventAttributes=5),
     "workflowExecutionStartedEventAttributes must be an object"),
    (lambda events: events[1].update(eventType=7), "eventType must be an event type name"),
])
def test_events_not_shaped_as_swf_sends_them_are_refused(tmp_path, change, message):
    path = fixture_with(tmp_path, change)
    line = assert_one_line_error(run_cli("workflow.tasks", "--history-file", str(path)))
    assert message in line


def test_a_history_file_nested_a_thousand_deep_is_one_line(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text('{"events": ' + DEEP + "}")
    line = assert_one_line_error(run_cli("workflow.history", "--history-file", str(path)))
    assert f"history file {path} is not valid JSON: it nests" in line


def test_a_history_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"events": [], "domain": "caf\xe9"}')
    line = assert_one_line_error(run_cli("workflow.info", "--history-file", str(path)))
    assert "is not UTF-8 text (byte 0xe9" in line


def test_info_of_a_run_whose_input_is_too_deep_shows_it_as_text(tmp_path):
    # 2,993 lines of traceback before: the input was parsed, then formatting recursed into it.
    deep_input = '{"args": ' + "[" * 900 + "]" * 900 + ', "kwargs": {}}'
    path = fixture_with(tmp_path, lambda events: events[0][
        "workflowExecutionStartedEventAttributes"].update(input=deep_input))
    proc = run_cli("--format", "json", "workflow.info", "--history-file", str(path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["input"] == deep_input


@pytest.mark.integration
def test_info_of_a_swf_run_whose_input_is_too_deep(aws_env, swf_domain):
    client = boto3.client("swf")
    client.register_workflow_type(domain=swf_domain, name="deep", version="1",
                                  defaultTaskList={"name": "deep"},
                                  defaultExecutionStartToCloseTimeout="600",
                                  defaultTaskStartToCloseTimeout="60",
                                  defaultChildPolicy="TERMINATE")
    deep_input = "[" * 990 + "]" * 990  # what any SWF client may send
    client.start_workflow_execution(domain=swf_domain, workflowId="deep-1", input=deep_input,
                                    workflowType={"name": "deep", "version": "1"})
    proc = run_cli("workflow.info", "--domain", swf_domain, "deep-1", env=aws_env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "[[[[" in proc.stdout
