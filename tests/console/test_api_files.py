"""The console's API over history files: every endpoint, its errors, and the read-only rule."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from support.cli import run_cli
from support.console import HISTORIES
from support.console_workflows import DataflowWorkflow

from examples.basic import BasicWorkflow
from replayflow.console import FileRuns, create_app
from replayflow.history import write_history_file
from replayflow.local import run_local
from replayflow.testing import replay

FAILED = "/api/executions/dataflow-failed/latest"
FILES = ["console_dataflow_failed", "console_dataflow_completed", "basic_completed", "failed",
         "open", "child_workflow"]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = create_app(FileRuns([str(HISTORIES / f"{name}.json") for name in FILES]), token="t")
    with TestClient(app) as client:
        yield client


def test_the_list_shows_every_file_newest_first_with_filters_and_pages(client):
    page = client.get("/api/executions").json()
    assert {row["workflow_id"] for row in page["executions"]} == {
        "dataflow-failed", "dataflow-ok", "wf-basic_completed", "fanout-1", "basic-open-1",
        "parent-7"}
    started = [row["started"] for row in page["executions"]]
    assert started == sorted(started, reverse=True)
    assert page["next_page_token"] is None

    opened = client.get("/api/executions", params={"status": "open"}).json()["executions"]
    assert [row["workflow_id"] for row in opened] == ["basic-open-1"]
    dataflow = "support.console_workflows.DataflowWorkflow"
    typed = client.get("/api/executions", params={"type": dataflow}).json()
    assert {row["status"] for row in typed["executions"]} == {"FAILED", "COMPLETED"}

    first = client.get("/api/executions", params={"page_size": 4}).json()
    assert len(first["executions"]) == 4 and first["next_page_token"]
    second = client.get("/api/executions", params={
        "page_size": 4, "page_token": first["next_page_token"]}).json()
    assert [r["workflow_id"] for r in first["executions"] + second["executions"]] == \
        [r["workflow_id"] for r in page["executions"]]
    assert second["next_page_token"] is None


@pytest.mark.parametrize("params, message", [
    ({"status": "sleeping"}, "status must be open, closed or all"),
    ({"since": "yesterday"}, "neither a duration"),
    ({"page_size": "0"}, "page_size must be"),
    ({"page_token": "not-a-token"}, "page_token is not one this console gave"),
])
def test_bad_list_filters_are_400s_with_a_sentence(client, params, message):
    response = client.get("/api/executions", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_token_for_other_filters_is_refused(client):
    token = client.get("/api/executions", params={"page_size": 2}).json()["next_page_token"]
    response = client.get("/api/executions", params={"page_size": 2, "status": "closed",
                                                     "page_token": token})
    assert response.status_code == 400


def test_one_run_is_what_workflow_info_shows_and_takes_no_action_from_files(client):
    info = client.get(FAILED).json()
    assert info["workflow_id"] == "dataflow-failed"
    assert info["status"] == "FAILED"
    assert info["input"] == {"args": [3, 10], "kwargs": {}}
    assert "total 14 is over 10" in info["reason"]
    assert info["task_counts"] == {"COMPLETED": 5, "FAILED": 1}
    assert info["actions"] == []
    assert info["source"].endswith("console_dataflow_failed.json")
    by_run_id = client.get(f"/api/executions/dataflow-failed/{info['run_id']}").json()
    assert by_run_id == info


def test_tasks_are_decoded_and_failed_only_keeps_the_failure_with_its_traceback(client):
    tasks = client.get(FAILED + "/tasks").json()["tasks"]
    assert [t["name"].rpartition(".")[2] for t in tasks] == [
        "load", "square", "square", "square", "total", "check"]
    assert tasks[0]["result"] == [1, 2, 3]
    assert tasks[4]["input"] == {"args": [[1, 4, 9]], "kwargs": {}}
    failed = client.get(FAILED + "/tasks", params={"failed": "true"}).json()["tasks"]
    assert [t["task_id"] for t in failed] == ["activity-support.console_workflows.check-1"]
    assert failed[0]["phase"] == "failed"
    assert failed[0]["error"] == "ValueError: total 14 is over 10"
    assert "raise ValueError" in failed[0]["traceback"]
    assert client.get(FAILED + "/tasks", params={"failed": "maybe"}).status_code == 400


def test_the_profile_gives_the_timeline_its_window_and_spans(client):
    profile = client.get(FAILED + "/profile").json()
    assert profile["start"] < profile["end"]
    assert len(profile["entries"]) == 6
    for entry in profile["entries"]:
        assert entry["spans"], entry
        for span in entry["spans"]:
            assert profile["start"] <= span["start"] <= span["end"] <= profile["end"]


def test_the_graph_has_one_node_per_task_and_an_edge_per_future_passed(client):
    graph = client.get(FAILED + "/graph").json()
    tasks = client.get(FAILED + "/tasks").json()["tasks"]
    assert [n["id"] for n in graph["nodes"]] == [t["task_id"] for t in tasks]
    phases = {n["id"].rpartition(".")[2]: n["phase"] for n in graph["nodes"]}
    assert phases == {"load-1": "completed", "square-1": "completed", "square-2": "completed",
                      "square-3": "completed", "total-1": "completed", "check-1": "failed"}
    short = {(e["source"].rpartition(".")[2], e["target"].rpartition(".")[2])
             for e in graph["edges"]}
    assert short == {("load-1", "square-1"), ("load-1", "square-2"), ("load-1", "square-3"),
                     ("square-1", "total-1"), ("square-2", "total-1"),
                     ("square-3", "total-1"), ("total-1", "check-1")}
    assert graph["grouped"] is False


def test_above_200_tasks_each_type_is_one_node_with_counts_until_expanded(tmp_path):
    result = run_local(DataflowWorkflow, [250, 1])  # check fails: 14 > 1
    source = tmp_path / "wide.json"
    write_history_file(source, result.history())
    workflow_id = result.history().workflow_execution["workflowId"]
    with TestClient(create_app(FileRuns([str(source)]))) as client:
        url = f"/api/executions/{workflow_id}/latest/graph"
        graph = client.get(url).json()
        expanded = client.get(url, params={"expand": "support.console_workflows.square"}).json()
    assert graph["grouped"] is True and graph["task_count"] == 253
    nodes = {n["name"].rpartition(".")[2]: n for n in graph["nodes"]}
    assert set(nodes) == {"load", "square", "total", "check"}
    assert (nodes["square"]["group"], nodes["square"]["size"], nodes["square"]["counts"]) == (
        True, 250, {"completed": 250})
    assert nodes["check"]["phase"] == "failed"
    edges = {(e["source"].rpartition(".")[2], e["target"].rpartition(".")[2]): e["count"]
             for e in graph["edges"]}
    assert edges == {("load-1", "square"): 250, ("square", "total-1"): 250,
                     ("total-1", "check-1"): 1}
    assert len(expanded["nodes"]) == 253 and len(expanded["edges"]) == 501
    assert not any(n["group"] for n in expanded["nodes"])


def test_an_old_history_without_recorded_dependencies_draws_with_no_edges(client):
    graph = client.get("/api/executions/wf-basic_completed/latest/graph").json()
    assert len(graph["nodes"]) == 3
    assert graph["edges"] == []


def test_child_workflows_are_nodes(client):
    graph = client.get("/api/executions/parent-7/latest/graph").json()
    assert "child_workflow" in {n["kind"] for n in graph["nodes"]}


def test_history_decoded_and_raw_is_byte_for_byte_what_the_cli_writes(client, tmp_path):
    path = str(HISTORIES / "console_dataflow_failed.json")
    raw = client.get(FAILED + "/history", params={"raw": "true"})
    assert raw.status_code == 200
    assert "attachment" in raw.headers["content-disposition"]
    cli = run_cli("--format", "json", "workflow.history", "--raw", "--history-file", path)
    assert cli.returncode == 0, cli.stderr
    assert raw.text == cli.stdout
    events = client.get(FAILED + "/history").json()
    assert [e["eventId"] for e in events] == list(range(1, 39))


def test_a_downloaded_history_replays_in_a_test(tmp_path):
    result = run_local(BasicWorkflow, [1])
    source = tmp_path / "basic.json"
    write_history_file(source, result.history())
    with TestClient(create_app(FileRuns([str(source)]))) as client:
        workflow_id = result.history().workflow_execution["workflowId"]
        raw = client.get(f"/api/executions/{workflow_id}/latest/history?raw=true")
    downloaded = tmp_path / "downloaded.json"
    downloaded.write_text(raw.text)
    replay(str(downloaded), BasicWorkflow)  # raises if the download did not replay
    assert json.loads(raw.text)[-1]["eventType"] == "WorkflowExecutionCompleted"


def test_live_events_of_a_file_are_one_update_then_the_end(client):
    with client.stream("GET", FAILED + "/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    blocks = [b for b in text.split("\n\n") if b.strip()]
    assert blocks[0].startswith("event: update\ndata: ")
    update = json.loads(blocks[0].split("data: ", 1)[1])
    assert update == {"workflow_id": "dataflow-failed", "run_id": update["run_id"],
                      "status": "FAILED", "event_count": 38, "closed": True}
    assert blocks[1] == 'event: end\ndata: {"reason":"closed"}'


def test_an_open_run_in_a_file_is_a_snapshot(client):
    with client.stream("GET", "/api/executions/basic-open-1/latest/events") as response:
        text = "".join(response.iter_text())
    assert '"closed":false' in text
    assert 'event: end\ndata: {"reason":"snapshot"}' in text


@pytest.mark.parametrize("path", [
    "/api/executions/nobody/latest", "/api/executions/nobody/latest/tasks",
    "/api/executions/dataflow-failed/not-a-run/graph", "/api/executions/nobody/x/history",
    "/api/executions/nobody/x/profile", "/api/executions/nobody/x/events",
    "/api/executions/dataflow-failed/latest/nothing-here", "/api/nothing",
])
def test_an_unknown_run_or_path_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]


@pytest.mark.parametrize("path, body", [
    (FAILED + "/terminate", {}), (FAILED + "/cancel", {}),
    (FAILED + "/signal", {"name": "go"}), (FAILED + "/restart", {}),
    ("/api/executions", {"workflow": "examples.basic.BasicWorkflow"}),
])
def test_history_files_are_read_only_even_with_the_token(client, path, body):
    response = client.post(path, json=body, headers={"Authorization": "Bearer t"})
    assert response.status_code == 405
    assert "POST" not in response.headers["allow"]
    assert "read-only" in response.json()["error"]


def test_a_read_only_console_has_no_action_paths(client):
    assert client.get(FAILED + "/terminate").status_code == 404


def test_the_openapi_document_lists_the_reads_and_no_action_for_files(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/executions", "/api/executions/{workflow_id}/{run_id}",
        *(f"/api/executions/{{workflow_id}}/{{run_id}}/{s}"
          for s in ("tasks", "profile", "history", "graph", "events"))}
    assert "post" not in document["paths"]["/api/executions"]
    graph = document["paths"]["/api/executions/{workflow_id}/{run_id}/graph"]["get"]
    assert graph["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Graph"}
    assert "GraphNode" in document["components"]["schemas"]
    examples = {p["name"]: p.get("example") for p in graph["parameters"] if p["in"] == "path"}
    assert client.get(f"/api/executions/{examples['workflow_id']}/{examples['run_id']}"
                      ).status_code == 200


def test_the_page_and_its_modules_are_served_with_a_strict_policy(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/js/app.js">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    module = client.get("/static/js/app.js")
    assert module.status_code == 200
    assert "javascript" in module.headers["content-type"]
    assert client.get("/static/vendor/dagre/dagre.esm.js").status_code == 200
