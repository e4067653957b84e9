"""`standalone --repair RUN_ID` on moto and `workflow.start --local --repair FILE`: the repaired
run reuses what the failed run finished, schedules none of it, and records markers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import boto3
import pytest
from support.cli import assert_one_line_error, run_cli

from replayflow.history import attributes, load_history_file
from replayflow.naming import JUMBO_PREFIX
from replayflow.repair import MARKER

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = "examples.repair.ReportWorkflow"
GATHER = "activity-examples.repair.gather-1"
SUMMARISE = "activity-examples.repair.summarise-1"
PUBLISH = "activity-examples.repair.publish-1"


def _scheduled(events: list[dict]) -> list[str]:
    return [attributes(e)["activityId"].rpartition("#")[0] for e in events
            if e["eventType"] == "ActivityTaskScheduled"]


def _reused(events: list[dict]) -> list[str]:
    return [json.loads(attributes(e)["details"])["task_id"] for e in events
            if e["eventType"] == "MarkerRecorded" and attributes(e)["markerName"] == MARKER]


def _local_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REPLAYFLOW_JUMBO_FIELDS_BUCKET", None)
    return env


def test_a_local_repair_reuses_the_finished_activities(tmp_path):
    outbox, failed, fixed = tmp_path / "outbox", tmp_path / "failed.json", tmp_path / "fixed.json"
    env = _local_env()
    first = run_cli("workflow.start", "--local", WORKFLOW, "--input", json.dumps([str(outbox)]),
                    "--history-file", str(failed), env=env)
    assert first.returncode == 1 and f"the outbox {outbox} does not exist" in first.stderr
    outbox.mkdir()
    done = run_cli("workflow.start", "--local", WORKFLOW, "--repair", str(failed),
                   "--history-file", str(fixed), env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"published": str(outbox / "report.txt"),
                                       "reused": [GATHER, SUMMARISE]}
    old, new = load_history_file(failed), load_history_file(fixed)
    assert new.workflow_execution["workflowId"] == old.workflow_execution["workflowId"]
    assert _scheduled(old.events) == [GATHER, SUMMARISE, PUBLISH]
    assert _scheduled(new.events) == [PUBLISH]
    assert _reused(new.events) == [GATHER, SUMMARISE]
    tasks = run_cli("--format", "json", "workflow.tasks", "--history-file", str(fixed), env=env)
    assert tasks.returncode == 0, tasks.stderr
    assert [(row["task_id"], row["state"]) for row in json.loads(tasks.stdout)] == [
        (GATHER, "REUSED"), (SUMMARISE, "REUSED"), (PUBLISH, "COMPLETED")]
    # A completed run has nothing to repair; the input is the repaired run's own.
    again = run_cli("workflow.start", "--local", WORKFLOW, "--repair", str(fixed), env=env)
    assert "ended COMPLETED: nothing to repair" in assert_one_line_error(again)
    given = run_cli("workflow.start", "--local", WORKFLOW, "--repair", str(failed),
                    "--input", "[1]", env=env)
    assert "drop --input" in assert_one_line_error(given)


def test_repair_usage_errors_are_one_line(tmp_path):
    env = _local_env()
    missing = run_cli("workflow.start", "--local", WORKFLOW, "--repair",
                      str(tmp_path / "nope.json"), env=env)
    assert "nope.json does not exist" in assert_one_line_error(missing)
    on_swf = run_cli("workflow.start", WORKFLOW, "--repair", "x.json", env=env)
    assert "standalone --domain D WORKFLOW --repair RUN_ID" in assert_one_line_error(on_swf)
    with_input = run_cli("standalone", "--domain", "D", WORKFLOW, "--repair", "r1",
                         "--input", "[1]", env=env)
    assert "drop --input" in assert_one_line_error(with_input)


def _history(env: dict[str, str], domain: str, workflow_id: str, run_id: str) -> list[dict]:
    client = boto3.client("swf", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client.get_workflow_execution_history(
        domain=domain, execution={"workflowId": workflow_id, "runId": run_id})["events"]


def _started(stderr: str) -> tuple[str, str]:
    """The `<workflow_id> <run_id>` line standalone writes to stderr."""
    found = re.search(r"^(report-\S+) ([0-9A-Za-z+/=]{20,})$", stderr, re.MULTILINE)
    assert found, stderr
    return found.group(1), found.group(2)


@pytest.mark.integration
@pytest.mark.parametrize("jumbo", [False, True], ids=["small", "jumbo"])
def test_standalone_repair_on_swf(aws_env, swf_domain, s3_bucket, tmp_path, jumbo):
    """The 3rd activity fails; the repair (found by its run id alone) schedules only it. With a
    source of 12 kB, gather's result and summarise's input and result are jumbo fields: the
    reuse table keeps their references, read back through the jumbo reader."""
    env = {**aws_env, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"}
    if jumbo:
        env["REPLAYFLOW_JUMBO_FIELDS_BUCKET"] = f"{s3_bucket}/jumbo"
    source = "s" * 12_000 if jumbo else "sales"
    outbox = tmp_path / "outbox"
    first = run_cli("standalone", "--domain", swf_domain, WORKFLOW, "--input",
                    json.dumps([str(outbox), source]), "--tag", "nightly", env=env, timeout=120)
    assert first.returncode == 1, first.stderr
    workflow_id, old_run = _started(first.stderr)
    old = _history(env, swf_domain, workflow_id, old_run)
    assert _scheduled(old) == [GATHER, SUMMARISE, PUBLISH]
    if jumbo:
        results = [attributes(e)["result"] for e in old
                   if e["eventType"] == "ActivityTaskCompleted"]
        assert all(result.startswith(JUMBO_PREFIX) for result in results)
    outbox.mkdir()
    done = run_cli("standalone", "--domain", swf_domain, WORKFLOW, "--repair", old_run,
                   env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"published": str(outbox / "report.txt"),
                                       "reused": [GATHER, SUMMARISE]}
    assert (outbox / "report.txt").read_text() == (
        "3 rows: " + ", ".join(f"{source}-{n}" for n in range(3)) + "\n")
    same_id, new_run = _started(done.stderr)
    assert same_id == workflow_id and new_run != old_run
    new = _history(env, swf_domain, workflow_id, new_run)
    assert _scheduled(new) == [PUBLISH]  # no ActivityTaskScheduled for the reused tasks
    assert _reused(new) == [GATHER, SUMMARISE]
    assert "nightly" in describe_tags(env, swf_domain, workflow_id, new_run)
    tasks = run_cli("--format", "json", "workflow.tasks", "--domain", swf_domain, workflow_id,
                    new_run, env=env)
    assert tasks.returncode == 0, tasks.stderr
    rows = {row["task_id"]: row for row in json.loads(tasks.stdout)}
    assert rows[GATHER]["state"] == "REUSED"
    assert rows[GATHER]["result"] == [f"{source}-{n}" for n in range(3)]
    # A completed run has nothing to repair; an unknown run id is said so, on one line.
    again = run_cli("standalone", "--domain", swf_domain, WORKFLOW, "--repair", new_run,
                    env=env, timeout=60)
    assert "ended COMPLETED: nothing to repair" in assert_one_line_error(again)
    unknown = run_cli("standalone", "--domain", swf_domain, WORKFLOW, "--repair", "nosuchrun",
                      env=env, timeout=60)
    assert "no closed run nosuchrun" in assert_one_line_error(unknown)


def describe_tags(env: dict[str, str], domain: str, workflow_id: str, run_id: str) -> list[str]:
    client = boto3.client("swf", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return client.describe_workflow_execution(
        domain=domain, execution={"workflowId": workflow_id, "runId": run_id},
    )["executionInfo"].get("tagList", [])
