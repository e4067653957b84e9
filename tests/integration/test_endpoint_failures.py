"""An endpoint that hangs or goes away: reported in seconds, and ridden out by `--wait`.

The endpoint is a real TCP proxy in front of the moto server (tests/support/tcp_proxy.py) that
the test takes down, hangs and brings back; the decider and worker talk to moto directly, so the
run goes on while the waiting command is cut off, as it would when only its network fails.
Timing figures are printed by bench/endpoint.py; here a generous subprocess timeout only catches
a hang (it took 376 s before).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, run_cli
from support.tcp_proxy import TcpProxy

from replayflow.backends.swf import SwfBackend

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD = 60  # seconds; the budget is about 12 s


@pytest.fixture
def proxy(moto_server):
    with TcpProxy(moto_server.port) as tcp:
        yield tcp


def through(env: dict[str, str], proxy: TcpProxy, **extra: str) -> dict[str, str]:
    return {**env, "AWS_ENDPOINT_URL": proxy.endpoint_url, **extra}


@pytest.mark.parametrize("command", [
    ["workflow.list"],
    ["workflow.start", "examples.basic.BasicWorkflow", "--input", "[1]"],
    ["worker.start", "--task-list", "t"],
])
def test_an_endpoint_that_never_answers_is_reported_in_seconds(aws_env, proxy, command):
    proxy.hang()
    env = through(aws_env, proxy)
    proc = run_cli(command[0], "--domain", "any", *command[1:], env=env, timeout=HANG_GUARD)
    line = assert_one_line_error(proc, 2)
    assert f"Cannot reach {proxy.endpoint_url} (it accepts connections but does not answer)" \
        in line


def test_a_refused_connection_is_reported_too(aws_env, proxy):
    proxy.down()
    proc = run_cli("workflow.list", "--domain", "any", env=through(aws_env, proxy),
                   timeout=HANG_GUARD)
    assert f"Cannot reach {proxy.endpoint_url}:" in assert_one_line_error(proc, 2)


# --- --wait through an outage ---------------------------------------------------------------------


class Services:
    """A decider and a worker on the real endpoint, on task lists of their own."""

    def __init__(self, env: dict[str, str], domain: str) -> None:
        self.decisions = f"decisions-{uuid.uuid4().hex[:8]}"
        activities = f"activities-{uuid.uuid4().hex[:8]}"
        base = [sys.executable, "-m", "replayflow"]
        self.procs = [subprocess.Popen(argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True) for argv in (
            base + ["decider.start", "--domain", domain, "--task-list", self.decisions,
                    "--activity-task-list", activities, "examples.basic.BasicWorkflow"],
            base + ["worker.start", "--domain", domain, "--task-list", activities,
                    "--module", "examples.basic"],
        )]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_waiting(env: dict[str, str], domain: str, *options: str) -> tuple[subprocess.Popen,
                                                                             str, str]:
    """`workflow.start --wait` in the background; returns it once it has printed its ids."""
    waiter = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "workflow.start", "--domain", domain,
         "examples.basic.BasicWorkflow", "--wait", *options],
        env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + HANG_GUARD
    while time.monotonic() < deadline:
        line = waiter.stderr.readline()
        if not line:
            break
        words = line.split()
        if len(words) == 2 and not line.startswith("Error"):
            return waiter, words[0], words[1]
    waiter.kill()
    raise AssertionError(f"workflow.start never printed its ids: {waiter.communicate()}")


def finish(waiter: subprocess.Popen) -> tuple[str, str]:
    try:
        out, err = waiter.communicate(timeout=HANG_GUARD * 3)
    except subprocess.TimeoutExpired:
        os.killpg(waiter.pid, signal.SIGKILL)
        raise
    return out, err


def test_wait_rides_out_an_outage_and_prints_the_result(aws_env, swf_domain, proxy):
    services = Services(aws_env, swf_domain)
    try:
        proxy.up()
        # One attempt per call, so the outage reaches the wait loop instead of botocore's retries.
        env = through(aws_env, proxy, REPLAYFLOW_CONNECTION_RETRIES="1", LOG_LEVEL="WARNING")
        waiter, workflow_id, run_id = start_waiting(
            env, swf_domain, "--input", "[1, 3]", "--task-list", services.decisions)
        proxy.down()
        # The run finishes meanwhile (its delay is 3 s), seen on moto directly; the waiter,
        # behind the proxy, cannot see it.
        direct = SwfBackend(swf_domain)
        deadline = time.monotonic() + HANG_GUARD
        while direct.describe_workflow_execution(workflow_id, run_id)["executionInfo"][
                "executionStatus"] != "CLOSED":
            assert time.monotonic() < deadline, "the run never closed"
            time.sleep(0.1)
        proxy.up()
        out, err = finish(waiter)
    finally:
        services.stop()
    assert waiter.returncode == 0, err
    assert out == "4\n"
    assert "lost contact with SWF while waiting for" in err
    assert "in contact with SWF again after" in err
    assert "Traceback" not in err


def test_wait_gives_up_with_exit_3_and_says_how_to_follow_the_run(aws_env, swf_domain, proxy):
    proxy.up()
    env = through(aws_env, proxy, REPLAYFLOW_CONNECTION_RETRIES="1", REPLAYFLOW_WAIT_OUTAGE="3")
    waiter, workflow_id, run_id = start_waiting(env, swf_domain, "--input", "[1]")
    proxy.down()  # and never back
    out, err = finish(waiter)
    line = assert_one_line_error(subprocess.CompletedProcess([], waiter.returncode, out, err), 3)
    assert f"while waiting for {workflow_id} (run {run_id})" in line
    assert f"replayflow workflow.info --domain {swf_domain} {workflow_id} {run_id}" in line
    assert out == ""
    backend = SwfBackend(swf_domain)  # straight to moto: the run is still there, and open
    assert backend.list_executions("open", workflow_id=workflow_id)
    backend.terminate(workflow_id, run_id, reason="test over")


def test_a_bad_outage_setting_is_refused_before_anything_starts(aws_env, swf_domain):
    env = {**aws_env, "REPLAYFLOW_WAIT_OUTAGE": "a while"}
    proc = run_cli("workflow.start", "--domain", swf_domain, "examples.basic.BasicWorkflow",
                   "--input", "[1]", "--wait", "--workflow-id", "never-started", env=env)
    assert "REPLAYFLOW_WAIT_OUTAGE='a while'" in assert_one_line_error(proc, 2)
    assert not SwfBackend(swf_domain).list_executions("all", workflow_id="never-started")
