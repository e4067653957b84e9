"""The operator commands, run as `python -m replayflow ...` against the moto server.

The runs are made by the test itself (tests/support/swf_runs.py plays decider and worker by
hand): one finished after a retried activity, one failed, one running, one terminated. Read-only
tests share one domain; tests that start or change runs get their own, so nobody else's poll
picks up their tasks.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from support import swf_runs as runs
from support.moto_server import MotoServer

from replayflow.backends.swf import SwfBackend

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HISTORIES = REPO / "tests" / "histories"


def replayflow(*args: str, env: dict[str, str], check: int | None = 0
               ) -> subprocess.CompletedProcess[str]:
    """Run the CLI; with `check`, assert the exit code (and show stderr when it differs)."""
    proc = subprocess.run([sys.executable, "-m", "replayflow", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def as_json(*args: str, env: dict[str, str]) -> Any:
    return json.loads(replayflow("--format", "json", *args, env=env).stdout)


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int,
                          *fragments: str) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


class Shared:
    """The read-only runs, made once for the module."""

    def __init__(self, domain: str, env: dict[str, str], backend: SwfBackend,
                 made: dict[str, runs.Run]) -> None:
        self.domain = domain
        self.env = env
        self.backend = backend
        self.runs = made

    def ids(self, name: str) -> tuple[str, str]:
        run = self.runs[name]
        return run.workflow_id, run.run_id


def backend_on(server: MotoServer, domain: str) -> SwfBackend:
    client = boto3.client("swf", endpoint_url=server.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return SwfBackend(domain, client=client)


@pytest.fixture(scope="module")
def shared(moto_server: MotoServer) -> Shared:
    domain = "operator-cli"
    backend = backend_on(moto_server, domain)
    backend.register_domain()
    driver = runs.HandDriver(backend)
    made = {
        "finished": runs.make_finished(driver, "ops-finished"),
        "failed": runs.make_failed(driver, "ops-failed"),
        "running": runs.make_running(driver, "ops-running"),
    }
    terminated = driver.start("ops-terminated", runs.call_json(2, 0))
    driver.decide(terminated, runs.schedule(f"{runs.INCREMENT}#1", "examples.basic.increment",
                                            runs.call_json(2)))
    backend.terminate(terminated.workflow_id, terminated.run_id, reason="stopped by the test")
    made["terminated"] = terminated
    return Shared(domain, moto_server.subprocess_env(), backend, made)


@pytest.fixture
def own(aws_env: dict[str, str], swf_domain: str) -> tuple[runs.HandDriver, dict[str, str]]:
    """A fresh domain for tests that start or change runs."""
    return runs.HandDriver(SwfBackend(swf_domain)), aws_env


# -- workflow.list ------------------------------------------------------------------------------


def test_list_shows_every_run_with_its_status(shared):
    rows = as_json("workflow.list", "--domain", shared.domain, "--status", "all",
                   env=shared.env)
    by_id = {row["workflow_id"]: row for row in rows}
    assert {wid: row["status"] for wid, row in by_id.items()} == {
        "ops-finished": "COMPLETED", "ops-failed": "FAILED", "ops-running": "OPEN",
        "ops-terminated": "TERMINATED",
    }
    for name, run in shared.runs.items():
        row = by_id[run.workflow_id]
        assert row["run_id"] == run.run_id, name
        assert row["type"] == "basic"
        assert row["started"]
        if name != "terminated":  # moto 5.2.5 records no close time for a terminated run
            assert row["duration"] >= 0
    assert by_id["ops-running"]["closed"] is None
    assert by_id["ops-finished"]["closed"] >= by_id["ops-finished"]["started"]
    starts = [row["started"] for row in rows]
    assert starts == sorted(starts, reverse=True)  # newest first


def test_list_filters(shared):
    def ids(*args: str) -> set[str]:
        rows = as_json("workflow.list", "--domain", shared.domain, *args, env=shared.env)
        return {row["workflow_id"] for row in rows}

    assert ids() == {"ops-running"}  # open runs by default
    assert ids("--status", "closed") == {"ops-finished", "ops-failed", "ops-terminated"}
    assert ids("--status", "all", "--tag", "team:ops") == {"ops-finished"}
    assert len(ids("--status", "all", "--type", "basic", "--since", "1h")) == 4
    assert ids("--status", "all", "--since", "2999-01-01") == set()


def test_list_table_has_the_columns(shared):
    out = replayflow("--header", "workflow.list", "--domain", shared.domain, "--status", "all",
                     env=shared.env).stdout.splitlines()
    assert out[0].split() == ["workflow_id", "run_id", "type", "status", "started", "closed",
                              "duration"]
    assert len(out) == 5
    running = next(line for line in out if line.startswith("ops-running "))
    assert shared.runs["running"].run_id in running and " OPEN " in running


def test_filter_is_list_with_close_status_prefix_and_limit(shared):
    def ids(command: str, *args: str) -> list[str]:
        rows = as_json(command, "--domain", shared.domain, *args, env=shared.env)
        return [row["workflow_id"] for row in rows]

    # the same command under both names
    assert ids("workflow.filter", "--status", "all") == ids("workflow.list", "--status", "all")
    assert ids("workflow.filter", "--status", "failed") == ["ops-failed"]
    assert ids("workflow.filter", "--status", "TERMINATED") == ["ops-terminated"]
    assert ids("workflow.filter", "--status", "completed") == ["ops-finished"]
    assert ids("workflow.filter", "--status", "timed_out") == []
    assert sorted(ids("workflow.filter", "--status", "all", "--workflow-id-prefix",
                      "ops-f")) == ["ops-failed", "ops-finished"]
    newest_two = ids("workflow.list", "--status", "all")[:2]
    assert ids("workflow.filter", "--status", "all", "--limit", "2") == newest_two
    assert ids("workflow.filter", "--status", "open", "--workflow-id-prefix", "ops-r",
               "--limit", "1") == ["ops-running"]

    bad = replayflow("workflow.filter", "--domain", shared.domain, "--status", "broken",
                     env=shared.env, check=None)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "'broken' is not one of" in bad.stderr and "timed_out" in bad.stderr
    zero = replayflow("workflow.filter", "--domain", shared.domain, "--limit", "0",
                      env=shared.env, check=None)
    assert zero.returncode == 2 and "--limit" in zero.stderr


@pytest.mark.parametrize("since", ["yesterday", "2024-13-45"])
def test_list_rejects_a_bad_since(shared, since):
    proc = replayflow("workflow.list", "--domain", shared.domain, "--since", since,
                      env=shared.env, check=None)
    assert_one_line_error(proc, 2, "--since", "30m")


def test_domain_comes_from_the_environment_or_is_asked_for(shared):
    env = dict(shared.env, SWF_DOMAIN=shared.domain)
    rows = as_json("workflow.list", env=env)
    assert [row["workflow_id"] for row in rows] == ["ops-running"]
    env.pop("SWF_DOMAIN")
    proc = replayflow("workflow.info", "ops-finished", env=env, check=None)
    assert_one_line_error(proc, 2, "--domain", "SWF_DOMAIN")


# -- workflow.info ------------------------------------------------------------------------------


def test_info_finds_the_newest_run_even_when_closed(shared):
    info = as_json("workflow.info", "--domain", shared.domain, "ops-finished", env=shared.env)
    assert info["run_id"] == shared.runs["finished"].run_id
    assert info["status"] == "COMPLETED"
    assert info["workflow_type"] == "basic"
    assert info["workflow_version"] == "example"
    assert info["task_list"] == runs.DECIDERS
    assert info["tags"] == ["team:ops"]
    assert info["input"] == {"args": [1, 0], "kwargs": {}}  # the workflow's, not increment's
    assert info["result"] == 4
    assert info["reason"] is None
    assert info["task_counts"] == {"COMPLETED": 2}
    assert info["duration"] > 0

    with_run = as_json("workflow.info", "--domain", shared.domain,
                       *shared.ids("finished"), env=shared.env)
    assert with_run["run_id"] == info["run_id"] and with_run["result"] == 4


def test_info_of_failed_running_and_terminated_runs(shared):
    failed = as_json("workflow.info", "--domain", shared.domain, "ops-failed", env=shared.env)
    assert failed["status"] == "FAILED"
    assert failed["input"] == {"args": [7, 0], "kwargs": {}}
    assert failed["reason"] == (f"TaskFailed: {runs.DIVIDE} failed: ZeroDivisionError: "
                                "division by zero")
    assert failed["details"]["type"] == "replayflow.errors.TaskFailed"
    assert failed["task_counts"] == {"FAILED": 1}

    running = as_json("workflow.info", "--domain", shared.domain, "ops-running", env=shared.env)
    assert running["status"] == "OPEN"
    assert running["closed"] is None
    assert running["task_counts"] == {"COMPLETED": 1, "RUNNING": 1}

    terminated = as_json("workflow.info", "--domain", shared.domain, "ops-terminated",
                         env=shared.env)
    assert terminated["status"] == "TERMINATED"
    assert terminated["reason"] == "stopped by the test"
    # scheduled, then abandoned when the run was terminated: it will never run
    assert terminated["task_counts"] == {"ABANDONED": 1}


def test_info_table(shared):
    out = replayflow("workflow.info", "--domain", shared.domain, "ops-failed",
                     env=shared.env).stdout
    lines = dict(line.split(None, 1) for line in out.splitlines() if len(line.split()) > 1)
    assert lines["status"] == "FAILED"
    assert lines["input"] == '{"args":[7,0],"kwargs":{}}'
    assert "ZeroDivisionError" in lines["reason"]


# -- workflow.tasks -----------------------------------------------------------------------------


def test_tasks_of_each_run(shared):
    def tasks(name: str) -> dict[str, dict]:
        rows = as_json("workflow.tasks", "--domain", shared.domain, *shared.ids(name),
                       env=shared.env)
        return {row["task_id"]: row for row in rows}

    finished = tasks("finished")
    assert list(finished) == [runs.INCREMENT, runs.DOUBLE]
    assert finished[runs.INCREMENT]["attempts"] == 2
    assert finished[runs.INCREMENT]["state"] == "COMPLETED"
    assert finished[runs.INCREMENT]["error"] is None  # the retry succeeded
    assert finished[runs.INCREMENT]["input"] == {"args": [1], "kwargs": {}}
    assert finished[runs.INCREMENT]["result"] == 2
    assert finished[runs.DOUBLE]["attempts"] == 1
    assert finished[runs.DOUBLE]["result"] == 4
    assert finished[runs.DOUBLE]["name"] == "examples.basic.double"
    for row in finished.values():
        assert row["scheduled"] <= row["started"] <= row["closed"]

    failed = tasks("failed")[runs.DIVIDE]
    assert (failed["state"], failed["attempts"]) == ("FAILED", 1)
    assert failed["error"] == "ZeroDivisionError: division by zero"
    assert failed["details"]["type"] == "ZeroDivisionError"

    running = tasks("running")
    assert {tid: row["state"] for tid, row in running.items()} == {
        runs.INCREMENT: "COMPLETED", runs.DELAY: "RUNNING"}
    assert running[runs.DELAY]["closed"] is None

    terminated = tasks("terminated")
    assert terminated[runs.INCREMENT]["state"] == "ABANDONED"
    assert terminated[runs.INCREMENT]["started"] is None
    assert terminated[runs.INCREMENT]["ran"] == 0


def test_tasks_table_and_csv(shared):
    env = dict(shared.env, COLUMNS="200")
    table = replayflow("workflow.tasks", "--domain", shared.domain, "ops-finished",
                       env=env).stdout.splitlines()
    assert table[0].split() == ["task_id", "name", "state", "attempts", "waited", "ran", "error"]
    assert table[1].split()[:4] == [runs.INCREMENT, "examples.basic.increment", "COMPLETED", "2"]
    assert re.fullmatch(r"\d+ms|\d+\.\ds", table[1].split()[4])  # waited, a duration
    assert len(table) == 3
    assert replayflow("workflow.tasks", "--no-header", "--domain", shared.domain,
                      "ops-finished", env=env).stdout.splitlines()[0].split() == table[1].split()
    terminated = replayflow("workflow.tasks", "--domain", shared.domain, "ops-terminated",
                            env=env).stdout.splitlines()
    assert terminated[1].split()[:3] == [runs.INCREMENT, "examples.basic.increment", "ABANDONED"]

    csv_out = replayflow("--format", "csv", "workflow.tasks", "--domain", shared.domain,
                         "ops-failed", env=shared.env).stdout.splitlines()
    assert len(csv_out) == 1  # no header by default: csv is read by programs
    fields = next(csv.reader(csv_out))
    assert fields[:5] == [runs.DIVIDE, "activity", "examples.failure.divide", "FAILED", "1"]
    assert fields[8] == "ZeroDivisionError: division by zero"
    assert all(fields[5:8])  # the timestamps stay
    assert float(fields[9]) >= 0 and float(fields[10]) >= 0  # waited, ran in seconds


# -- task.info ----------------------------------------------------------------------------------


def test_task_info_of_a_retried_activity(shared):
    detail = as_json("task.info", "--domain", shared.domain, "ops-finished", runs.INCREMENT,
                     env=shared.env)
    assert (detail["task_id"], detail["kind"], detail["name"]) == (
        runs.INCREMENT, "activity", "examples.basic.increment")
    assert (detail["state"], detail["attempts"]) == ("COMPLETED", 2)
    assert detail["input"] == {"args": [1], "kwargs": {}}
    assert detail["result"] == 2
    assert detail["error"] is None
    first, second = detail["attempt_list"]
    assert (first["activity_id"], first["state"]) == (f"{runs.INCREMENT}#1", "FAILED")
    assert first["error"] == "ConnectionError: flaky"
    assert first["traceback"].endswith("ConnectionError: flaky")
    assert first["worker"] == "hand-worker"
    assert (second["activity_id"], second["state"]) == (f"{runs.INCREMENT}#2", "COMPLETED")
    for attempt in (first, second):
        assert attempt["scheduled"] <= attempt["started"] <= attempt["closed"]
        assert attempt["waited"] >= 0 and attempt["ran"] >= 0
    assert detail["ran"] == pytest.approx(first["ran"] + second["ran"], abs=0.002)

    # the run id and an attempt's activity id work too
    again = as_json("task.info", "--domain", shared.domain, *shared.ids("finished"),
                    f"{runs.INCREMENT}#2", env=shared.env)
    assert again["task_id"] == runs.INCREMENT


def test_task_info_table_of_a_failed_activity(shared):
    out = replayflow("task.info", "--domain", shared.domain, "ops-failed", runs.DIVIDE,
                     env=shared.env).stdout
    fields = dict(line.split(None, 1) for line in out.split("\n\n")[0].splitlines()
                  if len(line.split(None, 1)) == 2)
    assert fields["state"] == "FAILED"
    assert fields["input"] == '{"args":[1,0],"kwargs":{}}'
    assert fields["error"] == "ZeroDivisionError: division by zero"
    attempts = out.split("\n\n")[1].splitlines()
    assert attempts[0].split() == ["attempt", "activity_id", "state", "waited", "ran", "worker",
                                   "error"]
    assert attempts[1].split()[:3] == ["1", f"{runs.DIVIDE}#1", "FAILED"]
    assert out.split("\n\n")[2].splitlines() == [
        "traceback of attempt 1:", "Traceback (most recent call last):",
        "ZeroDivisionError: division by zero"]


def test_task_info_errors_are_one_line(shared):
    proc = replayflow("task.info", "--domain", shared.domain, "ops-finished", "nope",
                      env=shared.env, check=None)
    assert_one_line_error(proc, 2, "'nope'", runs.INCREMENT, runs.DOUBLE)
    proc = replayflow("task.info", "--domain", shared.domain, "nope", env=shared.env, check=None)
    assert_one_line_error(proc, 2, "WORKFLOW_ID")
    proc = replayflow("task.info", "--domain", shared.domain, "no-such-workflow", "t",
                      env=shared.env, check=None)
    assert_one_line_error(proc, 2, "'no-such-workflow'")


# -- workflow.profile ---------------------------------------------------------------------------


def test_profile_has_real_percentages_sorted_by_running_time(shared):
    rows = as_json("workflow.profile", "--domain", shared.domain, "ops-finished",
                   env=shared.env)
    info = as_json("workflow.info", "--domain", shared.domain, "ops-finished", env=shared.env)
    assert {row["task_id"] for row in rows} == {runs.INCREMENT, runs.DOUBLE}
    assert [row["running"] for row in rows] == sorted((r["running"] for r in rows),
                                                      reverse=True)
    for row in rows:
        assert 0 <= row["percentage"] <= 100
        # a percentage of the wall time, not a fraction of it
        # "running" is rounded to the millisecond: allow for that on a short run.
        rounding = 100 * 0.0005 / info["duration"]
        assert row["percentage"] == pytest.approx(100 * row["running"] / info["duration"],
                                                  abs=1.0 + rounding)
    assert sum(row["percentage"] for row in rows) <= 100  # sequential tasks
    increment = next(row for row in rows if row["task_id"] == runs.INCREMENT)
    assert increment["attempts"] == 2


def test_profile_of_a_running_run_counts_up_to_now(shared):
    rows = as_json("workflow.profile", "--domain", shared.domain, "ops-running",
                   env=shared.env)
    assert rows[0]["task_id"] == runs.DELAY  # still running: the longest
    assert rows[0]["state"] == "RUNNING"
    assert rows[0]["percentage"] > rows[1]["percentage"]


def test_profile_table_draws_gantt_bars(shared):
    out = replayflow("workflow.profile", "--domain", shared.domain, "ops-finished",
                     env=shared.env).stdout.splitlines()
    assert out[0].startswith("wall ") and "busy" in out[0] and "longest path" in out[0]
    assert out[1] == f"path: {runs.INCREMENT} -> {runs.DOUBLE}"
    assert out[2] == ""
    assert out[3].split()[:7] == ["task_id", "name", "state", "attempts", "waiting(s)",
                                  "running(s)", "%wall"]
    assert out[3].split()[7] == "timeline"
    assert len(out) == 6
    assert all("█" in line for line in out[4:])


# -- workflow.history ---------------------------------------------------------------------------


def test_history_prints_every_event(shared):
    events = as_json("workflow.history", "--domain", shared.domain, "ops-finished",
                     env=shared.env)
    expected = shared.backend.get_workflow_execution_history(*shared.ids("finished"))
    assert [e["eventId"] for e in events] == list(range(1, len(expected) + 1))
    assert len(events) > 10
    assert events[0]["eventType"] == "WorkflowExecutionStarted"
    assert events[-1]["eventType"] == "WorkflowExecutionCompleted"
    assert events[-1]["workflowExecutionCompletedEventAttributes"]["result"] == "4"

    table = replayflow("workflow.history", "--domain", shared.domain, "ops-finished",
                       env=shared.env).stdout.splitlines()
    assert table[0].split() == ["event_id", "timestamp", "event_type", "attributes"]
    assert len(table) == len(expected) + 1
    assert table[-1].split()[3] == "WorkflowExecutionCompleted"


def test_history_json_reads_back_as_a_history_file(shared, tmp_path):
    path = tmp_path / "saved.json"
    path.write_text(replayflow("--format", "json", "workflow.history", "--domain", shared.domain,
                               "ops-failed", env=shared.env).stdout)
    info = as_json("workflow.info", "--history-file", str(path), env=shared.env)
    assert info["status"] == "FAILED"
    assert info["input"] == {"args": [7, 0], "kwargs": {}}


def test_history_decodes_jumbo_fields_unless_raw(own, s3_bucket, monkeypatch, tmp_path):
    driver, env = own
    env = dict(env, REPLAYFLOW_JUMBO_FIELDS_BUCKET=s3_bucket,
               REPLAYFLOW_CACHE_DIR=str(tmp_path / "cache"))
    for name in ("REPLAYFLOW_JUMBO_FIELDS_BUCKET", "REPLAYFLOW_CACHE_DIR"):
        monkeypatch.setenv(name, env[name])
    from replayflow import jumbo

    big = runs.call_json("x" * 40_000, 0)
    reference = jumbo.encode_field("input", big, 32_768)
    assert reference.startswith("replayflow+s3://")
    run = driver.start("ops-jumbo", reference)
    # Another machine: an empty cache, so the payload really comes from S3.
    env["REPLAYFLOW_CACHE_DIR"] = str(tmp_path / "other-cache")

    args = ("workflow.history", "--domain", driver.backend.domain, run.workflow_id)
    decoded = as_json(*args, env=env)[0]["workflowExecutionStartedEventAttributes"]["input"]
    raw = as_json(*args, "--raw", env=env)[0]["workflowExecutionStartedEventAttributes"]["input"]
    assert decoded == big
    assert raw == reference
    info = as_json("workflow.info", "--domain", driver.backend.domain, run.workflow_id, env=env)
    assert info["input"]["args"][0] == "x" * 40_000


# -- --history-file -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_history(tmp_path_factory, moto_server) -> Path:
    path = tmp_path_factory.mktemp("local") / "basic.json"
    proc = replayflow("workflow.start", "--local", "examples.basic.BasicWorkflow", "--input",
                      "[1, 0]", "--history-file", str(path),
                      env=moto_server.subprocess_env())
    assert proc.stdout.strip() == "4"
    return path


def test_history_file_of_a_local_run(local_history, shared):
    env = shared.env
    info = as_json("workflow.info", "--history-file", str(local_history), env=env)
    assert info["status"] == "COMPLETED"
    assert info["input"] == {"args": [1, 0], "kwargs": {}}
    assert info["result"] == 4
    assert info["workflow_type"] == "basic"
    assert info["task_counts"] == {"COMPLETED": 3}

    tasks = as_json("workflow.tasks", "--history-file", str(local_history), env=env)
    assert [(t["name"], t["state"], t["attempts"]) for t in tasks] == [
        ("examples.basic.increment", "COMPLETED", 1), ("examples.basic.delay", "COMPLETED", 1),
        ("examples.basic.double", "COMPLETED", 1)]
    assert [t["result"] for t in tasks] == [2, 2, 4]

    profile = as_json("workflow.profile", "--history-file", str(local_history), env=env)
    assert len(profile) == 3 and all(0 <= row["percentage"] <= 100 for row in profile)

    events = as_json("workflow.history", "--history-file", str(local_history), env=env)
    assert events[0]["eventType"] == "WorkflowExecutionStarted"
    assert events[-1]["eventType"] == "WorkflowExecutionCompleted"


def test_history_file_fixture_profile_has_exact_percentages(shared):
    path = str(HISTORIES / "completed_retry.json")
    rows = as_json("workflow.profile", "--history-file", path, env=shared.env)
    double = next(row for row in rows if row["task_id"] == "activity-examples.basic.double-2")
    assert rows[0] == double  # 5 s running over two attempts: the longest
    assert double["running"] == pytest.approx(5.0)
    assert double["percentage"] == pytest.approx(100 * 5.0 / 15.6, abs=0.01)
    table = replayflow("workflow.profile", "--no-header", "--history-file", path,
                       env=shared.env).stdout
    assert "32.05" in table.splitlines()[0]


def test_history_file_of_a_failed_fixture(shared):
    info = as_json("workflow.info", "--history-file", str(HISTORIES / "failed.json"),
                   env=shared.env)
    assert info["status"] == "FAILED"
    assert info["input"] == {"args": [[3, 4]], "kwargs": {"strict": True}}
    assert info["task_counts"] == {"COMPLETED": 1, "FAILED": 1}


# -- activity.rerun -----------------------------------------------------------------------------


def test_rerun_an_activity_of_a_swf_run(shared):
    proc = replayflow("activity.rerun", "--domain", shared.domain, "-m", "examples.basic",
                      "ops-finished", runs.INCREMENT, env=shared.env)
    assert json.loads(proc.stdout) == 2  # increment(1), the last attempt's input
    proc = replayflow("activity.rerun", "--domain", shared.domain, *shared.ids("finished"),
                      f"{runs.DOUBLE}#1", "--module", "examples.basic", env=shared.env)
    assert json.loads(proc.stdout) == 4


def test_rerun_a_failing_activity_exits_1_with_its_error(shared):
    proc = replayflow("activity.rerun", "--domain", shared.domain, "ops-failed", runs.DIVIDE,
                      "-m", "examples.failure", env=shared.env, check=1)
    assert proc.stdout == ""
    assert "ZeroDivisionError" in proc.stderr  # the activity's own traceback, for debugging
    last = proc.stderr.strip().splitlines()[-1]
    assert last == f"Error: {runs.DIVIDE}#1 failed: ZeroDivisionError: division by zero"


def test_rerun_from_a_local_history_file(local_history, shared):
    proc = replayflow("activity.rerun", "--history-file", str(local_history),
                      "activity-examples.basic.double-1", "-m", "examples.basic", env=shared.env)
    assert json.loads(proc.stdout) == 4


def test_rerun_refuses_a_type_no_loaded_module_declares(local_history, shared):
    """The history names the type; without --module it is not registered, so nothing runs."""
    proc = replayflow("activity.rerun", "--history-file", str(local_history),
                      "activity-examples.basic.double-1", env=shared.env, check=None)
    assert_one_line_error(proc, 2, "'examples.basic.double' is not registered", "--module")


def test_rerun_of_an_unknown_task_lists_the_known_ones(shared):
    proc = replayflow("activity.rerun", "--domain", shared.domain, "ops-finished", "nope",
                      env=shared.env, check=None)
    assert_one_line_error(proc, 2, "'nope'", runs.INCREMENT, runs.DOUBLE)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("command", "ids", "named"), [
    ("workflow.info", ["no-such-workflow"], "'no-such-workflow'"),
    ("workflow.history", ["no-such-workflow"], "'no-such-workflow'"),
    ("workflow.tasks", ["ops-finished", "no-such-run"], "no-such-run"),
    ("workflow.profile", ["ops-failed", "no-such-run"], "no-such-run"),
])
def test_unknown_workflow_or_run_id_is_one_line_exit_2(shared, command, ids, named):
    proc = replayflow(command, "--domain", shared.domain, *ids, env=shared.env, check=None)
    assert_one_line_error(proc, 2, named)


def test_unknown_domain_is_one_line_exit_2(shared):
    proc = replayflow("workflow.list", "--domain", "no-such-domain", env=shared.env, check=None)
    assert_one_line_error(proc, 2, "no-such-domain")


@pytest.mark.parametrize(("command", "content"), [
    ("workflow.info", None), ("workflow.tasks", "{not json"), ("workflow.profile", '{"events": 3}'),
    ("workflow.history", '[{"eventId": 1}]'), ("activity.rerun", "[]"),
])
def test_bad_history_file_is_one_line_exit_2(shared, tmp_path, command, content):
    path = tmp_path / "history.json"
    if content is not None:
        path.write_text(content)
    extra = ["some-task"] if command == "activity.rerun" else []
    proc = replayflow(command, "--history-file", str(path), *extra, env=shared.env, check=None)
    assert_one_line_error(proc, 2, str(path))


def test_history_file_and_ids_together_is_a_usage_error(shared):
    proc = replayflow("workflow.tasks", "--history-file", str(HISTORIES / "failed.json"),
                      "ops-finished", env=shared.env, check=None)
    assert_one_line_error(proc, 2, "--history-file")


def test_unreachable_endpoint_is_one_line(shared):
    env = dict(shared.env, AWS_ENDPOINT_URL="http://127.0.0.1:9",
               REPLAYFLOW_CONNECTION_RETRIES="1")
    proc = replayflow("workflow.info", "--domain", shared.domain, "ops-finished", env=env,
                      check=None)
    assert_one_line_error(proc, 2, "http://127.0.0.1:9")


# -- acting on runs -----------------------------------------------------------------------------


def test_terminate(own):
    driver, env = own
    run = driver.start("to-stop", runs.call_json(1, 0))
    driver.decide(run, runs.schedule(f"{runs.INCREMENT}#1", "examples.basic.increment",
                                     runs.call_json(1)))
    domain = driver.backend.domain
    proc = replayflow("workflow.terminate", "--domain", domain, "to-stop", "--reason",
                      "operator said so", env=env)
    assert run.run_id in proc.stderr
    info = as_json("workflow.info", "--domain", domain, "to-stop", env=env)
    assert (info["status"], info["reason"]) == ("TERMINATED", "operator said so")

    again = replayflow("workflow.terminate", "--domain", domain, "to-stop", run.run_id,
                       env=env, check=None)
    assert_one_line_error(again, 2, "already closed", "TERMINATED")
    unknown = replayflow("workflow.terminate", "--domain", domain, "never-was", env=env,
                         check=None)
    assert_one_line_error(unknown, 2, "'never-was'")


def test_signal_reaches_the_run(own):
    driver, env = own
    run = driver.start("to-signal", runs.call_json(1, 0))
    domain = driver.backend.domain
    replayflow("workflow.signal", "--domain", domain, "to-signal", "approve", "--input",
               '{"by": "ops"}', env=env)
    replayflow("workflow.signal", "--domain", domain, "to-signal", "ping", "--run-id",
               run.run_id, env=env)
    tasks = as_json("workflow.tasks", "--domain", domain, "to-signal", env=env)
    signals = [(t["kind"], t["name"], t["state"], t["input"]) for t in tasks]
    assert signals == [("signal", "approve", "RECEIVED", {"by": "ops"}),
                       ("signal", "ping", "RECEIVED", None)]

    bad = replayflow("workflow.signal", "--domain", domain, "to-signal", "x", "--input", "{",
                     env=env, check=None)
    assert_one_line_error(bad, 2, "--input")
    unknown = replayflow("workflow.signal", "--domain", domain, "never-was", "x", env=env,
                         check=None)
    assert_one_line_error(unknown, 2, "'never-was'")


def test_cancel(own):
    driver, env = own
    run = driver.start("to-cancel", runs.call_json(1, 0))
    domain = driver.backend.domain
    proc = replayflow("workflow.cancel", "--domain", domain, "to-cancel", env=env, check=None)
    # moto 5.2.5 does not implement RequestCancelWorkflowExecution (HTTP 500): the request went
    # out for the right run and the failure is one line. On SWF this exits 0.
    assert_one_line_error(proc, 1, "RequestCancelWorkflowExecution")

    driver.backend.terminate(run.workflow_id, run.run_id)
    closed = replayflow("workflow.cancel", "--domain", domain, "to-cancel", env=env, check=None)
    assert_one_line_error(closed, 2, "already closed")
    unknown = replayflow("workflow.cancel", "--domain", domain, "to-cancel", "no-such-run",
                         env=env, check=None)
    assert_one_line_error(unknown, 2, "no-such-run")


def test_restart_with_the_same_input_and_with_a_new_one(own):
    driver, env = own
    old = runs.make_finished(driver, "to-restart")
    domain = driver.backend.domain

    proc = replayflow("workflow.restart", "--domain", domain, "to-restart", env=env)
    workflow_id, run_id = proc.stdout.split()
    assert workflow_id == "to-restart" and run_id != old.run_id
    info = as_json("workflow.info", "--domain", domain, "to-restart", env=env)
    assert info["run_id"] == run_id
    assert info["status"] == "OPEN"
    assert (info["workflow_type"], info["workflow_version"]) == ("basic", "example")
    assert info["task_list"] == runs.DECIDERS
    assert info["tags"] == ["team:ops"]
    assert info["input"] == {"args": [1, 0], "kwargs": {}}

    still_open = replayflow("workflow.restart", "--domain", domain, "to-restart", env=env,
                            check=None)
    assert_one_line_error(still_open, 2, "still open")

    driver.backend.terminate("to-restart", run_id)
    proc = replayflow("workflow.restart", "--domain", domain, "to-restart", old.run_id,
                      "--input", '{"x": 3}', env=env)
    _, newest = proc.stdout.split()
    info = as_json("workflow.info", "--domain", domain, "to-restart", newest, env=env)
    assert info["input"] == {"args": [], "kwargs": {"x": 3}}
    assert info["tags"] == ["team:ops"]

    bad = replayflow("workflow.restart", "--domain", domain, "to-restart", "--input", "[",
                     env=env, check=None)
    assert_one_line_error(bad, 2, "--input")
