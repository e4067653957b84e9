"""`replayflow workflow.start --local` as users run it: subprocess, stdout, stderr, exit code."""

from __future__ import annotations

import json

import pytest
from support.cli import assert_one_line_error, run_cli
from support.history_model import assert_valid_history

from replayflow.history import load_history_file


def test_quickstart_prints_4():
    proc = run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   "[1, 0]")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "4\n"


@pytest.mark.parametrize(("workflow", "input_json", "expected"), [
    ("examples.fanout.FanoutWorkflow", "[10]", 285),
    ("examples.retry.RetryWorkflow", '["job"]', "job: succeeded on attempt 3"),
    ("examples.failure.HandledFailureWorkflow", None, {
        "handled": {"task": "activity-examples.failure.divide-1", "error": "ZeroDivisionError"},
        "quiet_result": None, "quiet_error": "ZeroDivisionError"}),
])
def test_examples_print_their_result(workflow, input_json, expected):
    args = ["workflow.start", "--local", workflow]
    if input_json is not None:
        args += ["--input", input_json]
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == expected


def test_an_unhandled_failure_exits_1_naming_the_task_and_error():
    proc = run_cli("workflow.start", "--local", "examples.failure.UnhandledFailureWorkflow")
    line = assert_one_line_error(proc, 1)
    assert "activity-examples.failure.divide-1 failed: ZeroDivisionError" in line
    assert proc.stdout == ""


def test_input_conventions(tmp_path):
    # {"args", "kwargs"}, a plain object as kwargs, a scalar as one argument, and stdin.
    assert run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   '{"args": [2], "kwargs": {"t": 0}}').stdout == "6\n"
    assert run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   '{"x": 3}').stdout == "8\n"
    assert run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   "4").stdout == "10\n"
    assert run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow",
                   "--input-file", "-", input="[5]").stdout == "12\n"
    path = tmp_path / "input.json"
    path.write_text("[6]")
    assert run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow",
                   "--input-file", str(path)).stdout == "14\n"


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_module.Flow"], "no module named 'no_such_module'"),
    (["examples.basic.NoSuchFlow"], "has no 'NoSuchFlow'"),
    (["examples.basic.increment"], "is not a Workflow subclass"),
    (["NoDots"], "MODULE.CLASS"),
    (["examples.basic.BasicWorkflow", "--input", "[1,"], "--input is not valid JSON"),
    (["examples.basic.BasicWorkflow", "--input", "[1, 2, 3, 4]"], "does not fit"),
    (["examples.basic.BasicWorkflow", "--input", '{"nope": 1}'], "does not fit"),
    (["examples.basic.BasicWorkflow", "--input-file", "/no/such/file"], "cannot read"),
    (["examples.basic.BasicWorkflow", "--input", "[1]", "--input-file", "-"], "not both"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    proc = run_cli("workflow.start", "--local", *args)
    line = assert_one_line_error(proc, 2)
    assert message in line


def test_history_file_is_a_valid_swf_history(tmp_path):
    path = tmp_path / "run.json"
    proc = run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                   "[1, 0]", "--history-file", str(path))
    assert proc.returncode == 0, proc.stderr
    history = load_history_file(path)
    types = [e["eventType"] for e in history.events]
    assert types[0] == "WorkflowExecutionStarted"
    assert types[-1] == "WorkflowExecutionCompleted"
    assert types.count("ActivityTaskCompleted") == 3
    assert history.workflow_type == {"name": "basic", "version": "example"}
    assert_valid_history(json.loads(path.read_text()))


def test_version_and_module_entry_point():
    proc = run_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("replayflow, version ")
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "workflow.start" in proc.stdout


def test_logs_go_to_stderr_and_only_the_result_to_stdout():
    import os

    env = dict(os.environ, LOG_LEVEL="DEBUG")
    proc = run_cli("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input", "[1]",
                   env=env)
    assert proc.returncode == 0
    assert proc.stdout == "4\n"
