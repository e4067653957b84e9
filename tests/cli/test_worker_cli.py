"""`replayflow worker.start` as a user runs it: a subprocess, one-line errors, clean exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**env, "PYTHONPATH": str(TESTS_DIR)}
    return subprocess.run([sys.executable, "-m", "replayflow", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_unknown_domain_is_one_line_exit_2(aws_env: dict[str, str]) -> None:
    done = run_cli("worker.start", "--domain", "no-such-domain", "--task-list", "t", env=aws_env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "'no-such-domain' is not registered" in lines[0]
    assert "replayflow domain.register no-such-domain" in lines[0]


def test_unreachable_endpoint_is_one_line_exit_2(aws_env: dict[str, str]) -> None:
    env = {**aws_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "REPLAYFLOW_CONNECTION_RETRIES": "1"}
    done = run_cli("worker.start", "--domain", "d", "--task-list", "t", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "Cannot reach http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_module_is_one_line_exit_2(aws_env: dict[str, str], swf_domain: str) -> None:
    done = run_cli("worker.start", "--domain", swf_domain, "--task-list", "t",
                   "--module", "support.nope", env=aws_env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: --module support.nope: no module named 'support.nope'; is it on PYTHONPATH or "
        "in the current directory?"
    ]


def test_module_types_registered_and_sigint_exits_0(
    aws_env: dict[str, str], swf_domain: str, moto_server
) -> None:
    env = {**aws_env, "PYTHONPATH": str(TESTS_DIR), "LOG_LEVEL": "INFO"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "worker.start", "--domain", swf_domain,
         "--task-list", "idle", "--processes", "2", "--module", "support.activities"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = boto3.client("swf", endpoint_url=moto_server.endpoint_url, region_name="us-east-1")
    try:
        deadline = time.monotonic() + 20
        names: set[str] = set()
        expected = {"support.activities.add", "support.activities.segfault",
                    "support.activities.long_heartbeat"}  # the first, one between, the last
        while time.monotonic() < deadline and not expected <= names:
            types = client.list_activity_types(domain=swf_domain,
                                               registrationStatus="REGISTERED")["typeInfos"]
            names = {t["activityType"]["name"] for t in types}
            time.sleep(0.05)
        assert expected <= names
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert out == ""
    assert "Traceback" not in err


def test_help_lists_the_options() -> None:
    done = subprocess.run([sys.executable, "-m", "replayflow", "worker.start", "--help"],
                          capture_output=True, text=True, env={**os.environ}, cwd=REPO)
    assert done.returncode == 0
    for option in ("--domain", "--task-list", "--processes", "--heartbeat", "--grace-period",
                   "--module"):
        assert option in done.stdout
