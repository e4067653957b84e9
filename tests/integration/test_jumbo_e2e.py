"""Large payloads end to end: jumbo fields through every boundary, on moto and through --local.

Each payload path (workflow input, activity result, failure details, signal input) runs as
users run it: `replayflow standalone` (decider and worker subprocesses) against the moto server,
and `replayflow workflow.start --local`, with REPLAYFLOW_JUMBO_FIELDS_BUCKET naming the test's
bucket. An activity digests what it received (length and sha256), so the test compares digests
instead of 50 MB strings. 50 MB runs only where it proves something 5 MB does not (workflow
input and activity result), to keep this file fast. The workflows live in
tests/support/jumbo_workflows.py.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support.cli import assert_one_line_error
from support.jumbo_workflows import SIGNAL, SignalWorkflow, digest_of, make_payload
from support.processes import kill_group as stop
from support.processes import spawn_replayflow as spawn

from replayflow import encoding, jumbo
from replayflow.backends.swf import SwfBackend
from replayflow.local import LocalRunner

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent
DEADLINE = 90
WORKFLOWS = "support.jumbo_workflows"

KB100, MB5, MB50 = 100_000, 5_000_000, 50_000_000
SMALL_SIZES = [pytest.param(KB100, id="100kB"), pytest.param(MB5, id="5MB")]
ALL_SIZES = [*SMALL_SIZES, pytest.param(MB50, id="50MB")]
#: Just over SWF's 32,768-character limit once JSON-encoded.
OVER_LIMIT = 40_000


@functools.cache
def expected(size: int) -> dict:
    return digest_of(make_payload(size))


@pytest.fixture
def base_env(aws_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The moto env for subprocesses, with the test workflows importable and a private cache."""
    path = os.pathsep.join(p for p in (str(TESTS_DIR), str(REPO), aws_env.get("PYTHONPATH"))
                           if p)
    env = {**aws_env, "PYTHONPATH": path, "LOG_LEVEL": "WARNING",
           jumbo.CACHE_DIR_ENV: str(tmp_path / "cache")}
    env.pop(jumbo.BUCKET_ENV, None)
    return env


@pytest.fixture
def env(base_env: dict[str, str], s3_bucket: str) -> dict[str, str]:
    """`base_env` with jumbo fields enabled, under a prefix (the shape production uses)."""
    return {**base_env, jumbo.BUCKET_ENV: f"{s3_bucket}/e2e"}


def replayflow(env: dict[str, str], *argv: str, timeout: float = DEADLINE
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replayflow", *argv], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def input_file(tmp_path: Path, value: object) -> str:
    path = tmp_path / f"input-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(value))
    return str(path)


def standalone(env: dict[str, str], domain: str, workflow: str, *options: str
               ) -> subprocess.CompletedProcess[str]:
    return replayflow(env, "standalone", "--domain", domain, f"{WORKFLOWS}.{workflow}", *options)


def local(env: dict[str, str], workflow: str, *options: str) -> subprocess.CompletedProcess[str]:
    return replayflow(env, "workflow.start", "--local", f"{WORKFLOWS}.{workflow}", *options)


def completed(done: subprocess.CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def events_of(domain: str, workflow_id: str, event_type: str) -> list[dict]:
    history = SwfBackend(domain).get_workflow_execution_history(workflow_id)
    key = event_type[0].lower() + event_type[1:] + "EventAttributes"
    return [event[key] for event in history if event["eventType"] == event_type]


def assert_failure_result(result: dict, size: int) -> None:
    """What the workflow's TaskFailed carried: the whole message, nothing cut."""
    assert result["error_type"] == "ValueError"
    assert result["message"] == expected(size)
    assert result["details_message"] == expected(size)
    assert result["traceback_tail"] == expected(size)
    assert result["reason_prefix"] == "ValueError: 00000000"
    assert result["reason_length"] == len("ValueError: ") + size


def assert_cut_reason(reason: str) -> None:
    assert len(reason) == encoding.MAX_REASON and reason.endswith("…"), reason
    assert reason.startswith("ValueError: 00000000")


# --- (a) workflow input -------------------------------------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_workflow_input_on_moto(env, swf_domain, tmp_path, size):
    path = input_file(tmp_path, [make_payload(size)])
    done = standalone(env, swf_domain, "InputWorkflow", "--input-file", path)
    assert completed(done) == expected(size)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_workflow_input_local(env, tmp_path, size):
    path = input_file(tmp_path, [make_payload(size)])
    assert completed(local(env, "InputWorkflow", "--input-file", path)) == expected(size)


# --- (b) activity result passed to the next activity --------------------------------------------


@pytest.mark.parametrize("size", ALL_SIZES)
def test_activity_result_on_moto(env, swf_domain, size):
    done = standalone(env, swf_domain, "ResultWorkflow", "--input", json.dumps([size]))
    assert completed(done) == expected(size)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_activity_result_local(env, size):
    assert completed(local(env, "ResultWorkflow", "--input", json.dumps([size]))) == expected(size)


@pytest.mark.parametrize("where", ["moto", "local"])
def test_fields_the_decider_writes(env, swf_domain, where):
    """An activity input built by run() itself, and the workflow's own result."""
    def run(*input_args: object) -> object:
        options = ("--input", json.dumps(list(input_args)))
        if where == "local":
            return completed(local(env, "DecidedWorkflow", *options))
        return completed(standalone(env, swf_domain, "DecidedWorkflow", *options))

    assert run(KB100) == expected(KB100)
    assert digest_of(run(KB100, True)) == expected(KB100)



def test_full_replays_and_operator_commands_read_jumbo_fields(env, swf_domain):
    """A decider with no cache replays every decision from the history, references included;
    `workflow.tasks` shows the payloads, not the references."""
    task_list = f"jumbo-{uuid.uuid4().hex[:8]}"
    workflow_id = f"jumbo-replay-{uuid.uuid4().hex[:8]}"
    procs = [
        spawn(env, "decider.start", "--domain", swf_domain, "--task-list", task_list,
              "--activity-task-list", task_list, "--cache-size", "0",
              f"{WORKFLOWS}.ResultWorkflow"),
        spawn(env, "worker.start", "--domain", swf_domain, "--task-list", task_list,
              "--module", WORKFLOWS),
    ]
    try:
        done = replayflow(env, "workflow.start", "--domain", swf_domain, "--task-list",
                          task_list, "--workflow-id", workflow_id, "--wait",
                          f"{WORKFLOWS}.ResultWorkflow", "--input", json.dumps([MB5]))
    finally:
        for proc in procs:
            stop(proc)
    assert completed(done) == expected(MB5)
    shown = replayflow(env, "--format", "json", "workflow.tasks", "--domain", swf_domain,
                       workflow_id)
    produce, digest = completed(shown)
    assert digest_of(produce["result"]) == expected(MB5)
    assert digest_of(digest["input"]["args"][0]) == expected(MB5)


# --- (c) failure details ------------------------------------------------------------------------


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_failure_details_on_moto(env, swf_domain, size):
    workflow_id = f"jumbo-failure-{uuid.uuid4().hex[:8]}"
    done = standalone(env, swf_domain, "FailureWorkflow", "--input", json.dumps([size]),
                      "--workflow-id", workflow_id)
    assert_failure_result(completed(done), size)
    # On the wire: the reason cut to SWF's 256 characters, the details a reference to S3.
    [failed] = events_of(swf_domain, workflow_id, "ActivityTaskFailed")
    assert_cut_reason(failed["reason"])
    assert jumbo.is_reference(failed["details"])


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_failure_details_local(env, size):
    assert_failure_result(completed(local(env, "FailureWorkflow", "--input", json.dumps([size]))),
                          size)


def test_unhandled_failure_keeps_the_whole_text_in_the_workflow_details(env, swf_domain,
                                                                       monkeypatch):
    workflow_id = f"jumbo-unhandled-{uuid.uuid4().hex[:8]}"
    done = standalone(env, swf_domain, "UnhandledFailureWorkflow", "--input",
                      json.dumps([KB100]), "--workflow-id", workflow_id)
    assert done.returncode == 1, done.stderr[-3000:]
    # The terminal gets one readable line, not the 100 kB message.
    [line] = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert "ValueError: 00000000" in line and len(line) < 3000
    assert line.endswith("characters; the whole text is in the failure details)")
    [closed] = events_of(swf_domain, workflow_id, "WorkflowExecutionFailed")
    assert len(closed["reason"]) <= encoding.MAX_REASON
    # A reader needs the writers' bucket setting: references elsewhere are never read.
    for name in (jumbo.CACHE_DIR_ENV, jumbo.BUCKET_ENV):
        monkeypatch.setenv(name, env[name])
    details = json.loads(jumbo.decode_field(closed["details"]))
    message = details["reason"].rpartition("ValueError: ")[2]
    assert digest_of(message) == expected(KB100)


# --- (d) signal input ---------------------------------------------------------------------------


def wait_until_open(domain: str, workflow_id: str) -> None:
    backend = SwfBackend(domain)
    deadline = time.monotonic() + DEADLINE
    while not backend.list_executions("open", workflow_id=workflow_id):
        assert time.monotonic() < deadline, f"{workflow_id} never started"
        time.sleep(0.05)


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_signal_input_on_moto(env, swf_domain, tmp_path, size):
    workflow_id = f"jumbo-signal-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "standalone", "--domain", swf_domain,
         f"{WORKFLOWS}.SignalWorkflow", "--workflow-id", workflow_id],
        env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until_open(swf_domain, workflow_id)
        # Far over a command line's limit: the CLI reads it from a file and sends a reference.
        sent = replayflow(env, "workflow.signal", "--domain", swf_domain, workflow_id, SIGNAL,
                          "--input-file", input_file(tmp_path, make_payload(size)))
        assert sent.returncode == 0, sent.stderr
        stdout, stderr = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert proc.returncode == 0, stderr[-3000:]
    assert json.loads(stdout) == expected(size)
    [signaled] = events_of(swf_domain, workflow_id, "WorkflowExecutionSignaled")
    assert jumbo.is_reference(signaled["input"])


def test_signal_takes_input_or_input_file_not_both(base_env, tmp_path):
    done = replayflow(base_env, "workflow.signal", "--domain", "unused", "some-id", SIGNAL,
                      "--input", "1", "--input-file", input_file(tmp_path, 2))
    assert "--input-file" in assert_one_line_error(done, 2)


@pytest.mark.parametrize("size", SMALL_SIZES)
def test_signal_input_local(env, size):
    # --local: the workflow signals itself (SignalExternalWorkflowExecution); moto lacks that.
    done = local(env, "SignalWorkflow", "--input", json.dumps([size]))
    assert completed(done) == expected(size)


def test_signal_from_outside_into_a_local_run(env, monkeypatch):
    """`LocalRunner.signal` (the Python API's outside signal) stores a big input as SWF would."""
    for name in (jumbo.BUCKET_ENV, jumbo.CACHE_DIR_ENV):
        monkeypatch.setenv(name, env[name])
    backend = LocalRunner(2)
    execution = backend.start(SignalWorkflow, workflow_id="outside")
    backend.signal("outside", SIGNAL, make_payload(KB100))
    assert backend.run_until_closed(execution).result == expected(KB100)
    [signaled] = [e["workflowExecutionSignaledEventAttributes"] for e in execution.events
                  if e["eventType"] == "WorkflowExecutionSignaled"]
    assert jumbo.is_reference(signaled["input"])


# --- without a bucket ---------------------------------------------------------------------------


def assert_names_the_limit(line: str, field: str, size: int) -> None:
    assert field in line, line
    assert f"{size} characters" in line, line
    assert str(encoding.MAX_INPUT) in line, line
    assert jumbo.BUCKET_ENV in line, line


@pytest.mark.parametrize("where", ["swf", "local"])
def test_oversized_start_input_without_a_bucket_is_a_cli_error(base_env, swf_domain, tmp_path,
                                                               where):
    payload = "x" * OVER_LIMIT
    path = input_file(tmp_path, [payload])
    target = ["--local"] if where == "local" else ["--domain", swf_domain]
    done = replayflow(base_env, "workflow.start", *target, f"{WORKFLOWS}.InputWorkflow",
                      "--input-file", path)
    line = assert_one_line_error(done, 2)
    assert_names_the_limit(line, "input", len(encoding.encode_call([payload], {})))
    if where == "swf":
        assert not SwfBackend(swf_domain).list_executions("all")


def test_oversized_result_without_a_bucket_fails_the_task_on_moto(base_env, swf_domain):
    workflow_id = f"jumbo-no-bucket-{uuid.uuid4().hex[:8]}"
    done = standalone(base_env, swf_domain, "ResultWorkflow", "--input",
                      json.dumps([OVER_LIMIT]), "--workflow-id", workflow_id)
    line = assert_one_line_error(done, 1)
    result_size = len(encoding.dumps(make_payload(OVER_LIMIT)))
    assert "produce-1" in line
    assert_names_the_limit(line, "result", result_size)
    [failed] = events_of(swf_domain, workflow_id, "ActivityTaskFailed")
    assert jumbo.BUCKET_ENV in json.loads(failed["details"])["message"]


@pytest.mark.parametrize("where", ["moto", "local"])
def test_oversized_decision_field_without_a_bucket_fails_the_workflow(base_env, swf_domain,
                                                                      where):
    options = ("--input", json.dumps([OVER_LIMIT]))
    if where == "local":
        done = local(base_env, "DecidedWorkflow", *options)
    else:
        done = standalone(base_env, swf_domain, "DecidedWorkflow", *options)
    line = assert_one_line_error(done, 1)
    assert_names_the_limit(line, "input",
                           len(encoding.encode_call([make_payload(OVER_LIMIT)], {})))


def test_oversized_result_without_a_bucket_fails_the_task_local(base_env):
    done = local(base_env, "ResultWorkflow", "--input", json.dumps([OVER_LIMIT]))
    line = assert_one_line_error(done, 1)
    assert "produce-1" in line
    assert_names_the_limit(line, "result", len(encoding.dumps(make_payload(OVER_LIMIT))))


# --- a bucket prefix that leaves no room for a reference ------------------------------------------


@pytest.mark.parametrize("command", ["decider.start", "worker.start", "workflow.start",
                                     "workflow.start --local", "standalone"])
def test_too_long_prefix_is_refused_at_start_up(base_env, s3_bucket, swf_domain, command):
    env = {**base_env, jumbo.BUCKET_ENV: f"{s3_bucket}/{'p' * 2000}"}
    argv = {
        "decider.start": ["decider.start", "--domain", swf_domain, f"{WORKFLOWS}.InputWorkflow"],
        "worker.start": ["worker.start", "--domain", swf_domain, "--task-list", "jumbo"],
        "workflow.start": ["workflow.start", "--domain", swf_domain,
                           f"{WORKFLOWS}.InputWorkflow", "--input", '["small"]'],
        "workflow.start --local": ["workflow.start", "--local", f"{WORKFLOWS}.InputWorkflow",
                                   "--input", '["small"]'],
        "standalone": ["standalone", "--domain", swf_domain, f"{WORKFLOWS}.InputWorkflow",
                       "--input", '["small"]'],
    }[command]
    # A decider or worker that misses the check would run until killed: a short deadline.
    line = assert_one_line_error(replayflow(env, *argv, timeout=20), 2)
    assert jumbo.BUCKET_ENV in line and "shorter prefix" in line, line
    assert not SwfBackend(swf_domain).list_executions("all")
