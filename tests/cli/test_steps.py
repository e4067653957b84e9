"""`self.step`: a second run of the same workflow id skips the steps the first one did, locally
(a steps directory) and on SWF (S3, under the jumbo prefix); --force-steps runs them again."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from support.cli import run_cli

from replayflow.history import attributes, load_history_file

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = "examples.steps.MonthlyLoad"


def _scheduled(history: Path) -> list[str]:
    return [attributes(e)["activityType"]["name"] for e in load_history_file(history).events
            if e["eventType"] == "ActivityTaskScheduled"]


def test_a_second_local_run_skips_what_the_first_did(tmp_path):
    env = {**os.environ, "REPLAYFLOW_STEPS_DIR": str(tmp_path / "steps")}
    env.pop("REPLAYFLOW_JUMBO_FIELDS_BUCKET", None)
    workflow_id = f"load-{uuid.uuid4().hex[:6]}"

    def start(*extra: str) -> tuple[dict, list[str]]:
        history = tmp_path / f"{uuid.uuid4().hex}.json"
        done = run_cli("workflow.start", "--local", WORKFLOW, "--input", '["2026-11"]',
                       "--workflow-id", workflow_id, "--history-file", str(history), *extra,
                       env=env)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout), _scheduled(history)

    first, scheduled = start()
    assert first == {"loaded": 3, "skipped": []}
    assert "examples.steps.extract" in scheduled and "examples.steps.load" in scheduled
    second, scheduled = start()
    assert second == {"loaded": 3, "skipped": ["extract-2026-11", "load-2026-11"]}
    assert scheduled == ["replayflow.steps.check", "replayflow.steps.check"]  # no real work
    forced, scheduled = start("--force-steps", "load-2026-11")
    assert forced == {"loaded": 3, "skipped": ["extract-2026-11"]}
    assert "examples.steps.load" in scheduled and "examples.steps.extract" not in scheduled
    # another workflow id has its own steps
    other = run_cli("workflow.start", "--local", WORKFLOW, "--input", '["2026-11"]', env=env)
    assert json.loads(other.stdout) == {"loaded": 3, "skipped": []}


@pytest.mark.integration
def test_steps_are_remembered_in_s3_on_swf(aws_env, swf_domain, s3_bucket):
    env = {**aws_env, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING",
           "REPLAYFLOW_JUMBO_FIELDS_BUCKET": f"{s3_bucket}/jumbo"}
    workflow_id = f"load-{uuid.uuid4().hex[:6]}"
    results = []
    for _ in range(2):
        done = run_cli("standalone", "--domain", swf_domain, WORKFLOW, "--input", '["2026-12"]',
                       "--workflow-id", workflow_id, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        results.append(json.loads(done.stdout))
    assert results == [{"loaded": 3, "skipped": []},
                       {"loaded": 3, "skipped": ["extract-2026-12", "load-2026-12"]}]
    import boto3

    keys = [obj["Key"] for obj in boto3.client("s3").list_objects_v2(
        Bucket=s3_bucket, Prefix="jumbo/steps/")["Contents"]]
    assert sorted(keys) == sorted([f"jumbo/steps/{workflow_id}/extract-2026-12",
                                   f"jumbo/steps/{workflow_id}/load-2026-12"])
