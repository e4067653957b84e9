"""A jumbo reference is read only from the configured bucket and prefix, within the size limit.

Anyone who can signal or start a run writes fields the decider and workers decode with their own
credentials. These tests play that attacker against a real moto S3 (and a real decider process),
and read the server's own access log to prove that a refused object was never requested.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from support.moto_server import MotoServer
from support.security_workflows import SIGNAL

from replayflow import jumbo
from replayflow.backends.swf import SwfBackend
from replayflow.client import wait_for_close
from replayflow.encoding import MAX_INPUT
from replayflow.errors import JumboFieldError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
PREFIX = "runs"
SECRET = b'"the production database password"'


@pytest.fixture
def secret(moto_server: MotoServer) -> tuple[str, str]:
    """Another team's bucket, holding an object the decider's credentials can read."""
    bucket = f"secrets-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=moto_server.endpoint_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret", Body=SECRET)
    return bucket, "secret"


@pytest.fixture
def pinned(aws_env, s3_bucket, tmp_path, monkeypatch) -> str:
    """Jumbo fields on, to `s3_bucket/runs`, with a private cache; yields the bucket."""
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"{s3_bucket}/{PREFIX}")
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(jumbo.MAX_SIZE_ENV, raising=False)
    jumbo.reset_default_store()
    yield s3_bucket
    jumbo.reset_default_store()


def reads_of(server: MotoServer, bucket: str, key: str | None = None) -> list[str]:
    """Every GET or HEAD the S3 server received for `bucket` (or one key of it)."""
    target = f"/{bucket}/{key}" if key else f"/{bucket}/"
    return [path for method, path in server.requests()
            if method in ("GET", "HEAD") and path.split("?")[0].startswith(target)]


def refused(reference: str) -> str:
    with pytest.raises(JumboFieldError) as info:
        jumbo.decode_field(reference)
    return str(info.value)


def put(bucket: str, key: str, body: bytes) -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


# --- in-process: every kind of reference that must not be read -----------------------------------


def test_another_bucket_is_refused_and_never_requested(pinned, secret, moto_server):
    bucket, key = secret
    message = refused(f"replayflow+s3://{bucket}/{key} {len(SECRET)}")
    assert jumbo.BUCKET_ENV in message and "outside" in message and "Nothing was fetched" in message
    assert reads_of(moto_server, bucket) == []


@pytest.mark.parametrize("key", [
    f"elsewhere/{uuid.uuid4()}",          # the bucket, but not the prefix
    f"{PREFIX}/config.json",              # under the prefix, but not a key replayflow writes
    f"{PREFIX}/../{uuid.uuid4()}",        # a path trick some S3-compatible stores normalise
    f"{PREFIX}/{uuid.uuid4()}/more",
    f"{PREFIX}-other/{uuid.uuid4()}",
    str(uuid.uuid4()).upper(),
])
def test_the_configured_bucket_outside_prefix_and_uuid_keys_is_refused(pinned, moto_server, key):
    put(pinned, key, b'"not for you"')
    message = refused(f"replayflow+s3://{pinned}/{key} 13")
    assert f"s3://{pinned}/{PREFIX}/<uuid> only" in message
    assert reads_of(moto_server, pinned, key) == []


def test_without_a_configured_bucket_every_reference_is_refused(aws_env, tmp_path, monkeypatch,
                                                                secret, moto_server):
    monkeypatch.delenv(jumbo.BUCKET_ENV, raising=False)
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(tmp_path / "cache"))
    jumbo.reset_default_store()
    bucket, key = secret
    message = refused(f"replayflow+s3://{bucket}/{key} {len(SECRET)}")
    assert f"{jumbo.BUCKET_ENV} is not set" in message
    assert reads_of(moto_server, bucket) == []


def test_a_size_over_the_maximum_is_refused_before_download(pinned, moto_server, monkeypatch):
    monkeypatch.setenv(jumbo.MAX_SIZE_ENV, "1MB")
    key = f"{PREFIX}/{uuid.uuid4()}"
    put(pinned, key, b"7" * 2_000_000)
    message = refused(f"replayflow+s3://{pinned}/{key} 2000000")
    assert f"over {jumbo.MAX_SIZE_ENV} (1000000 bytes)" in message
    assert reads_of(moto_server, pinned, key) == []


def test_a_reference_that_understates_the_size_never_reveals_the_real_one(pinned, monkeypatch):
    monkeypatch.setenv(jumbo.MAX_SIZE_ENV, "1MB")
    key = f"{PREFIX}/{uuid.uuid4()}"
    put(pinned, key, b"7" * 2_000_000)  # bigger than the maximum, claimed small
    message = refused(f"replayflow+s3://{pinned}/{key} 40000")
    assert "is not the 40000 bytes the reference names" in message
    assert "2000000" not in message and "2,000,000" not in message


def test_the_size_is_checked_on_a_cache_hit_too(pinned):
    text = "x" * 40_000
    reference = jumbo.encode_field("input", text, MAX_INPUT)  # the writer caches its payload
    bucket, key, size = jumbo.parse_reference(reference)
    assert jumbo.decode_field(reference) == text  # a cache hit
    for wrong in (size - 1, size + 1):
        message = refused(f"replayflow+s3://{bucket}/{key} {wrong}")
        assert f"not the {wrong} bytes" in message  # S3 was asked, and the sizes differ
    assert jumbo.decode_field(reference) == text  # the good entry is still served


@pytest.mark.parametrize("size", ["1" * 25, "١٢", "²"])
def test_an_absurd_size_is_a_malformed_reference(pinned, size):
    # thousands of digits used to reach int(); Unicode digits crashed it with ValueError
    assert "malformed" in refused(f"replayflow+s3://{pinned}/{PREFIX}/{uuid.uuid4()} {size}")


# --- the attack as it happens: a signal to a run, read by a real decider -------------------------


def test_a_signal_naming_another_bucket_never_brings_its_object_into_the_run(
        aws_env, pinned, secret, swf_domain, moto_server, tmp_path):
    """The issue's reproduction: `replayflow+s3://other-bucket/secret 33` as a signal's input."""
    bucket, key = secret
    env = {**aws_env, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]),
           jumbo.BUCKET_ENV: f"{pinned}/{PREFIX}", jumbo.CACHE_DIR_ENV: str(tmp_path / "cache"),
           "LOG_LEVEL": "INFO"}
    workflow = "support.security_workflows.EchoSignalWorkflow"
    log_path = tmp_path / "decider.log"
    with open(log_path, "w") as log:
        decider = subprocess.Popen(
            [sys.executable, "-m", "replayflow", "decider.start", "--domain", swf_domain,
             workflow], env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    try:
        started = subprocess.run(
            [sys.executable, "-m", "replayflow", "workflow.start", "--domain", swf_domain,
             workflow], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert started.returncode == 0, started.stderr
        workflow_id, run_id = started.stdout.split()
        reference = f"replayflow+s3://{bucket}/{key} {len(SECRET)}"
        boto3.client("swf").signal_workflow_execution(
            domain=swf_domain, workflowId=workflow_id, runId=run_id, signalName=SIGNAL,
            input=reference)

        # The decider refuses the reference and fails the run at once, naming it: no wedge.
        outcome = wait_for_close(SwfBackend(swf_domain), workflow_id, run_id, timeout=60)
    finally:
        os.killpg(decider.pid, signal.SIGTERM)
        decider.wait(timeout=30)
    assert outcome.status == "FAILED", (outcome, log_path.read_text()[-3000:])
    assert "cannot read signal 'payload'" in outcome.reason
    assert f"outside {jumbo.BUCKET_ENV}" in outcome.reason and "Nothing was fetched" in \
        outcome.reason
    assert reads_of(moto_server, bucket) == []
    backend = SwfBackend(swf_domain)
    every_field = repr(backend.get_workflow_execution_history(workflow_id))
    assert SECRET.decode().strip('"') not in every_field
