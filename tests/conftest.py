"""Shared pytest fixtures (fixtures only; helpers live in tests/support/).

pytest puts tests/ on sys.path (rootdir conftest, no tests/__init__.py), so test support code is
imported as `support.*` whatever the working directory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import pytest
from support.moto_server import UNSET_ENV_VARS, MotoServer

# --- the integration marker -------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that uses the moto server is an integration test, whatever its module says.

    Runs before `-m` deselects, so `pytest -m "not integration"` starts no server. A fixture
    that needs the server must depend on `moto_server` (directly or through aws_env,
    swf_domain, s3_bucket) for this to see it.
    """
    for item in items:
        if "moto_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


# --- moto server ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto_server process for the session; empty SWF polls wait 0.05 s instead of 1 s."""
    server = MotoServer().start(poll_sleep=0.05)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point os.environ at the moto server for this test; returns a full env for subprocesses."""
    for name in UNSET_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    return moto_server.subprocess_env()


def _client(server: MotoServer, service: str):
    return boto3.client(
        service,
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def swf_domain(moto_server: MotoServer) -> str:
    """A freshly registered SWF domain, unique to this test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    _client(moto_server, "swf").register_domain(
        name=name, workflowExecutionRetentionPeriodInDays="1"
    )
    return name


@pytest.fixture
def s3_bucket(moto_server: MotoServer) -> str:
    """A fresh empty S3 bucket, unique to this test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    _client(moto_server, "s3").create_bucket(Bucket=name)
    return name


# --- history files ----------------------------------------------------------------------------
