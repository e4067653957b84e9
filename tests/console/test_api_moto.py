"""The console's API over a real moto server: reads, caches, live updates, and the actions."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
import support.swf_runs as hand
from starlette.testclient import TestClient
from support.cli import run_cli

from replayflow.backends.swf import SwfBackend
from replayflow.console import SwfRuns, create_app
from replayflow.console.live import LiveRuns
from replayflow.history import attributes

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def console(aws_env, swf_domain) -> Iterator[tuple[TestClient, hand.HandDriver, SwfRuns]]:
    runs = SwfRuns(swf_domain, open_ttl=0.2, list_ttl=0.2)
    with TestClient(create_app(runs, token=TOKEN, poll_interval=0.1)) as client:
        yield client, hand.HandDriver(SwfBackend(swf_domain)), runs


def path(run: hand.Run, suffix: str = "") -> str:
    return f"/api/executions/{run.workflow_id}/{run.run_id}" + (f"/{suffix}" if suffix else "")


def test_reads_of_finished_failed_and_running_runs(console):
    client, driver, _ = console
    finished = hand.make_finished(driver, "c-finished")
    failed = hand.make_failed(driver, "c-failed")
    running = hand.make_running(driver, "c-running")

    listed = client.get("/api/executions").json()["executions"]
    assert {(r["workflow_id"], r["status"]) for r in listed} == {
        ("c-finished", "COMPLETED"), ("c-failed", "FAILED"), ("c-running", "OPEN")}
    opened = client.get("/api/executions", params={"status": "open"}).json()["executions"]
    assert [r["workflow_id"] for r in opened] == ["c-running"]
    tagged = client.get("/api/executions", params={"tag": "team:ops"}).json()["executions"]
    assert [r["workflow_id"] for r in tagged] == ["c-finished"]

    info = client.get(path(finished)).json()
    assert (info["status"], info["result"], info["actions"]) == ("COMPLETED", 4, ["restart"])
    assert client.get("/api/executions/c-finished/latest").json()["run_id"] == finished.run_id
    assert client.get(path(running)).json()["actions"] == ["terminate", "cancel", "signal"]

    tasks = {t["task_id"]: t for t in client.get(path(finished, "tasks")).json()["tasks"]}
    assert tasks[hand.INCREMENT]["attempts"] == 2
    assert tasks[hand.INCREMENT]["phase"] == "completed"
    failures = client.get(path(failed, "tasks"), params={"failed": "true"}).json()["tasks"]
    assert [(t["task_id"], t["error"]) for t in failures] == [
        (hand.DIVIDE, "ZeroDivisionError: division by zero")]
    assert "ZeroDivisionError" in failures[0]["traceback"]

    nodes = client.get(path(running, "graph")).json()["nodes"]
    assert {n["id"]: n["phase"] for n in nodes} == {hand.INCREMENT: "completed",
                                                    hand.DELAY: "running"}
    profile = client.get(path(running, "profile")).json()
    assert {e["task_id"] for e in profile["entries"]} == {hand.INCREMENT, hand.DELAY}
    events = client.get(path(finished, "history")).json()
    assert events[-1]["eventType"] == "WorkflowExecutionCompleted"


def test_unknown_runs_and_workflows_are_404s(console):
    client, driver, _ = console
    run = hand.make_waiting(driver, "c-known")
    for url in ("/api/executions/nobody/latest", "/api/executions/nobody/latest/graph",
                f"/api/executions/c-known/{run.run_id}x", f"/api/executions/c-known/"
                f"{run.run_id}x/tasks"):
        response = client.get(url)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["error"]


def test_a_closed_run_is_read_once_and_an_open_one_again_after_its_ttl(console):
    client, driver, runs = console
    finished = hand.make_finished(driver, "c-cache")
    waiting = hand.make_waiting(driver, "c-cache-open")
    reads: list[tuple] = []
    real = runs.backend.get_workflow_execution_history

    def counted(*args, **kwargs):
        reads.append(args)
        return real(*args, **kwargs)

    runs.backend.get_workflow_execution_history = counted
    for _ in range(3):
        for suffix in ("", "tasks", "graph", "profile"):
            assert client.get(path(finished, suffix)).status_code == 200
    assert len(reads) == 1  # closed: never changes, kept for good
    first = runs.get(waiting.workflow_id, waiting.run_id)
    assert runs.get(waiting.workflow_id, waiting.run_id) is first  # within the TTL
    reads.clear()
    runs.open_ttl = 0.0
    runs.get(waiting.workflow_id, waiting.run_id)
    assert len(reads) == 1


def test_a_real_runs_graph_has_the_edges_its_futures_made(aws_env, swf_domain):
    done = run_cli("standalone", "--domain", swf_domain, "examples.basic.BasicWorkflow",
                   "--input", "[1]", "--workflow-id", "c-standalone", env=aws_env, timeout=180)
    assert done.returncode == 0, done.stderr
    with TestClient(create_app(SwfRuns(swf_domain), token=TOKEN)) as client:
        graph = client.get("/api/executions/c-standalone/latest/graph").json()
    assert {(e["source"], e["target"]) for e in graph["edges"]} == {
        ("activity-examples.basic.increment-1", "activity-examples.basic.delay-1"),
        ("activity-examples.basic.increment-1", "activity-examples.basic.double-1")}
    assert {n["phase"] for n in graph["nodes"]} == {"completed"}


def test_one_poll_per_watched_run_is_shared_by_every_tab(aws_env, swf_domain):
    driver = hand.HandDriver(SwfBackend(swf_domain))
    run = driver.start("c-live", hand.call_json(1, 0))
    runs = SwfRuns(swf_domain, open_ttl=0.05)
    reads: list[int] = []
    real = runs.get

    def counted(*args, **kwargs):
        reads.append(1)
        return real(*args, **kwargs)

    runs.get = counted  # type: ignore[method-assign]
    live = LiveRuns(runs, interval=0.1)

    async def tab(seen: list[dict]) -> None:
        async for chunk in live.stream(real(run.workflow_id, run.run_id)):
            event, data = chunk.decode().strip().split("\n")
            seen.append({"event": event.removeprefix("event: "),
                         **json.loads(data.removeprefix("data: "))})

    def finish() -> None:
        driver.decide(run, hand.schedule(f"{hand.INCREMENT}#1", "examples.basic.increment",
                                         hand.call_json(1)))
        driver.succeed(f"{hand.INCREMENT}#1", 2)
        driver.decide(run, hand.complete("2"))

    async def main() -> tuple[list[dict], list[dict], int]:
        first: list[dict] = []
        second: list[dict] = []
        tabs = [asyncio.create_task(tab(first)), asyncio.create_task(tab(second))]
        for _ in range(100):  # both tabs subscribed (each read the run first)
            await asyncio.sleep(0.1)
            if live.watches and len(next(iter(live.watches.values())).queues) == 2:
                break
        await asyncio.sleep(0.5)
        reads.clear()
        await asyncio.sleep(0.5)
        assert len(live.watches) == 1
        assert len(next(iter(live.watches.values())).queues) == 2
        polls_before = len(reads)
        await asyncio.to_thread(finish)
        await asyncio.wait_for(asyncio.gather(*tabs), 30)
        return first, second, polls_before

    first, second, polls_before = asyncio.run(main())
    assert first == second
    assert first[0]["status"] == "OPEN" and not first[0]["closed"]
    assert first[-2]["status"] == "COMPLETED" and first[-2]["closed"]
    assert first[-1] == {"event": "end", "reason": "closed"}
    assert 1 <= polls_before <= 7  # one poller for both tabs: about 0.5 s / 0.1 s, not 2 x
    assert live.watches == {}


def test_actions_need_the_token(console):
    client, driver, _ = console
    run = hand.make_waiting(driver, "c-token")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = client.post(path(run, "terminate"), json={}, headers=headers)
        assert response.status_code == 401, headers
        assert "token" in response.json()["error"]
    assert client.get(path(run)).json()["status"] == "OPEN"


def test_terminate_then_restart_then_the_old_run_is_left_alone(console):
    client, driver, _ = console
    run = hand.make_waiting(driver, "c-terminate")
    response = client.post(path(run, "terminate"), json={"reason": "from the test"},
                           headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {"action": "terminate", "workflow_id": run.workflow_id,
                               "run_id": run.run_id}
    info = client.get(path(run)).json()
    assert (info["status"], info["reason"]) == ("TERMINATED", "from the test")
    # Its task, scheduled when the run was terminated, will never run: drawn as cancelled.
    nodes = client.get(path(run, "graph")).json()["nodes"]
    assert [(n["id"], n["state"], n["phase"]) for n in nodes] == [
        (hand.INCREMENT, "ABANDONED", "cancelled")]
    again = client.post(path(run, "terminate"), json={}, headers=AUTH)
    assert again.status_code == 409
    assert "already closed" in again.json()["error"]

    restarted = client.post(path(run, "restart"), json={"input": [5, 0]}, headers=AUTH)
    assert restarted.status_code == 201, restarted.text
    new_run = restarted.json()["run_id"]
    assert new_run != run.run_id
    new_info = client.get(f"/api/executions/{run.workflow_id}/latest").json()
    assert (new_info["run_id"], new_info["input"]) == (new_run, {"args": [5, 0], "kwargs": {}})
    assert client.post(f"/api/executions/{run.workflow_id}/latest/restart", json={},
                       headers=AUTH).status_code == 409  # the new run is open


def test_signal_reaches_the_history_and_bad_bodies_are_400s(console):
    client, driver, _ = console
    run = hand.make_waiting(driver, "c-signal")
    sent = client.post(path(run, "signal"), json={"name": "go", "input": {"n": 3}},
                       headers=AUTH)
    assert sent.status_code == 200, sent.text
    events = client.get(path(run, "history")).json()
    signalled = [attributes(e) for e in events if e["eventType"] == "WorkflowExecutionSignaled"]
    assert [(a["signalName"], json.loads(a["input"])) for a in signalled] == [("go", {"n": 3})]
    for body in (b"", b"not json", b'{"input": 1}', b'{"name": ""}', b'{"name": "x", "y": 1}',
                 b'[1, 2]'):
        response = client.post(path(run, "signal"), content=body, headers=AUTH)
        assert response.status_code == 400, body
        assert response.json()["error"]


def test_start_a_run_of_an_importable_class(console):
    client, _, _ = console
    started = client.post("/api/executions", json={
        "workflow": "examples.basic.BasicWorkflow", "input": [1], "workflow_id": "c-started",
        "tags": ["from-console"]}, headers=AUTH)
    assert started.status_code == 201, started.text
    info = client.get(f"/api/executions/c-started/{started.json()['run_id']}").json()
    assert (info["workflow_type"], info["status"], info["tags"]) == (
        "basic", "OPEN", ["from-console"])
    for body, message in (({"workflow": "nowhere.Nothing"}, "nowhere"),
                          ({"workflow": "examples.basic.BasicWorkflow", "input": [1, 2, 3, 4]},
                           "argument"),
                          ({"workflow": "examples.basic.BasicWorkflow", "tags": list("abcdef")},
                           "")):
        response = client.post("/api/executions", json=body, headers=AUTH)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["error"]


def test_a_read_only_console_on_swf_refuses_every_action(aws_env, swf_domain):
    driver = hand.HandDriver(SwfBackend(swf_domain))
    run = hand.make_waiting(driver, "c-read-only")
    app = create_app(SwfRuns(swf_domain), token=TOKEN, read_only=True)
    with TestClient(app) as client:
        assert client.get(path(run)).json()["actions"] == []
        response = client.post(path(run, "terminate"), json={}, headers=AUTH)
        assert response.status_code == 405
        assert "read-only" in response.json()["error"]
        assert client.get(path(run)).json()["status"] == "OPEN"


def test_cancel_of_a_closed_run_is_a_409(console):
    client, driver, _ = console
    run = hand.make_failed(driver, "c-cancel")
    response = client.post(path(run, "cancel"), json={}, headers=AUTH)
    assert response.status_code == 409
    assert "already closed" in response.json()["error"]


def test_moto_is_reached_from_threads(console):
    # The handlers run SWF calls in the thread pool: several at once must all answer.
    client, driver, _ = console
    run = hand.make_waiting(driver, "c-threads")
    answers: list[int] = []

    def read() -> None:
        answers.append(client.get(path(run, "graph")).status_code)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [200] * 6
