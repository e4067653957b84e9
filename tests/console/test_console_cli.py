"""`replayflow console` as users run it: a real process, real HTTP, one-line errors."""

from __future__ import annotations

import http.client
import os
import urllib.parse

import pytest
import support.swf_runs as hand
from support.cli import assert_one_line_error, run_cli
from support.console import HISTORIES, ConsoleProcess

from replayflow.backends.swf import SwfBackend

FAILED_FILE = str(HISTORIES / "console_dataflow_failed.json")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SWF_DOMAIN", "REPLAYFLOW_CONSOLE_TOKEN")}
    env.update(extra)
    return env


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0", "--history-file", FAILED_FILE], "REPLAYFLOW_CONSOLE_TOKEN"),
    ([], "give --domain D"),
    (["--history-file", "/nowhere/run.json"], "does not exist"),
    (["--domain", "d", "--history-file", FAILED_FILE], "not both"),
])
def test_bad_starts_are_one_line_errors(args, message):
    proc = run_cli("console", "--port", "0", *args, env=clean_env())
    assert message in assert_one_line_error(proc)


def test_an_unknown_domain_is_one_line(aws_env):
    env = {**aws_env, "SWF_DOMAIN": ""}
    proc = run_cli("console", "--port", "0", "--domain", "never-registered", env=env)
    assert "never-registered" in assert_one_line_error(proc)


def test_history_files_are_served_read_only_with_no_aws():
    env = clean_env(AWS_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens: no AWS used
    with ConsoleProcess("--history-file", FAILED_FILE, env=env) as console:
        assert console.url.startswith("http://127.0.0.1:")
        assert console.token is None  # nothing to act on: no token printed
        status, page = console.get("/api/executions")
        assert status == 200
        assert [r["workflow_id"] for r in page["executions"]] == ["dataflow-failed"]
        status, graph = console.get("/api/executions/dataflow-failed/latest/graph")
        assert (status, len(graph["nodes"]), len(graph["edges"])) == (200, 6, 7)
        status, index = console.get("/")
        assert status == 200 and "replayflow console" in index
        assert console.request("POST", "/api/executions/dataflow-failed/latest/terminate",
                               {})[0] == 405
        assert "read-only" in console.stderr()


def test_a_foreign_host_header_is_refused():
    with ConsoleProcess("--history-file", FAILED_FILE, env=clean_env()) as console:
        netloc = urllib.parse.urlsplit(console.url).netloc
        connection = http.client.HTTPConnection(netloc, timeout=10)
        connection.request("GET", "/api/executions", headers={"Host": "evil.example"})
        response = connection.getresponse()
        assert response.status == 400
        assert b"Host header" in response.read()
        connection.close()


def test_a_domain_console_prints_its_token_and_actions_need_it(aws_env, swf_domain):
    run = hand.make_waiting(hand.HandDriver(SwfBackend(swf_domain)), "cli-token")
    with ConsoleProcess("--domain", swf_domain, env={**aws_env, "SWF_DOMAIN": ""}) as console:
        assert console.token and len(console.token) >= 24
        target = f"/api/executions/{run.workflow_id}/{run.run_id}/terminate"
        assert console.request("POST", target, {})[0] == 401
        status, body = console.request("POST", target, {}, token=console.token)
        assert (status, body["action"]) == (200, "terminate")
        status, info = console.get(f"/api/executions/{run.workflow_id}/{run.run_id}")
        assert info["status"] == "TERMINATED"


def test_the_token_can_come_from_the_environment(aws_env, swf_domain):
    run = hand.make_waiting(hand.HandDriver(SwfBackend(swf_domain)), "cli-env-token")
    env = {**aws_env, "SWF_DOMAIN": swf_domain, "REPLAYFLOW_CONSOLE_TOKEN": "from-env-token"}
    with ConsoleProcess("--host", "0.0.0.0", env=env) as console:
        assert console.token is None  # a token the user set is never echoed
        port = urllib.parse.urlsplit(console.url).port
        console.url = f"http://127.0.0.1:{port}"
        status, _ = console.request(
            "POST", f"/api/executions/{run.workflow_id}/latest/signal", {"name": "go"},
            token="from-env-token")
        assert status == 200
