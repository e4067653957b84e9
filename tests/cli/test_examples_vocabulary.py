"""Each vocabulary example runs as its docstring says: `replayflow workflow.start --local ...`.

The examples run as subprocesses, all at once (each is mostly interpreter start-up and a timer of
at most a second), and each test checks one example's stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.cli import run_cli

from examples.dag import PageWorkflow
from examples.determinism import RaffleWorkflow
from examples.long_loop import EVENTS_PER_RUN
from examples.sync import BatchWorkflow
from replayflow.testing import replay

EXAMPLES = {
    "timers": ("examples.timers.TimerWorkflow", "[1]"),
    "signals": ("examples.signals.ApprovalWorkflow", '[["o-1", "o-2"]]'),
    "markers": ("examples.markers.MarkerWorkflow", '[["a", "b", "c"]]'),
    "children": ("examples.children.InventoryWorkflow", '[["eu", "us", "nowhere"]]'),
    "cancellation": ("examples.cancellation.DeadlineWorkflow", "[1]"),
    "continue_as_new": ("examples.continue_as_new.PagingWorkflow", "[7, 3]"),
    "long_loop": ("examples.long_loop.TickerWorkflow", "[3000]"),
    "canvas": ("examples.canvas.ThumbnailWorkflow", '[["cat.png", "dog.png", "owl.png"], 2]'),
    "failure_policy": ("examples.failure_policy.ResilientWorkflow", None),
    "determinism": ("examples.determinism.RaffleWorkflow", '[["ann", "bob", "cid"]]'),
    "steps": ("examples.steps.MonthlyLoad", '["2026-11"]'),
    "dag": ("examples.dag.PageWorkflow", '["https://example.com/a"]'),
    "shell": ("examples.shell.ShellWorkflow", '["to be or not to be", "be"]'),
    "saga": ("examples.saga.TripWorkflow", '["ann", 5000]'),
    "saga_booked": ("examples.saga.TripWorkflow", '["ann", 300]'),
    "sync": ("examples.sync.BatchWorkflow", '["nightly", 4]'),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    out = tmp_path_factory.mktemp("examples")

    def start(name: str) -> tuple[subprocess.CompletedProcess, Path]:
        workflow, input_json = EXAMPLES[name]
        history = out / f"{name}.json"
        args = ["workflow.start", "--local", workflow, "--history-file", str(history)]
        if input_json is not None:
            args += ["--input", input_json]
        return run_cli(*args, timeout=60), history

    with ThreadPoolExecutor(len(EXAMPLES)) as pool:
        return dict(zip(EXAMPLES, pool.map(start, EXAMPLES), strict=True))


def output(runs, name: str):
    proc, _history = runs[name]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def test_timers(runs):
    assert output(runs, "timers") == {"slept_seconds": 1, "report": "report for 2 items",
                                      "deadline": "cancelled"}


def test_signals(runs):
    assert output(runs, "signals") == {"o-1": "approved", "o-2": "rejected"}


def test_markers(runs):
    assert output(runs, "markers") == {
        "processed": ["A", "B", "C"],
        "markers": [["progress", {"done": n, "of": 3}] for n in (1, 2, 3)]}


def test_children(runs):
    assert output(runs, "children") == {"eu": 2, "us": 3,
                                        "nowhere": "failed: unknown region 'nowhere'"}


def test_cancellation(runs):
    assert output(runs, "cancellation") == {"crawl": "cancelled", "report": "cancelled"}
    events = json.loads(runs["cancellation"][1].read_text())["events"]
    types = [e["eventType"] for e in events]
    for expected in ("ActivityTaskCancelRequested", "ActivityTaskCanceled",
                     "RequestCancelExternalWorkflowExecutionInitiated",
                     "ChildWorkflowExecutionCanceled"):
        assert expected in types


def test_continue_as_new(runs):
    assert output(runs, "continue_as_new") == {"pages": 7, "total": 28, "runs": 3}


def test_long_loop_keeps_every_run_short(runs):
    assert output(runs, "long_loop") == {"ticks": 3000, "total": 3 * sum(range(3000)),
                                         "runs": 4}
    data = json.loads(runs["long_loop"][1].read_text())
    sizes = [len(run["events"]) for run in data["previousRuns"]] + [len(data["events"])]
    assert len(sizes) == 4
    assert all(size <= EVENTS_PER_RUN + 10 for size in sizes)  # never near 10,000
    assert "continue_as_new" not in runs["long_loop"][0].stderr  # no long-history warning


def test_canvas(runs):
    assert output(runs, "canvas") == {
        "thumbnails": ["cat-64px.png", "dog-64px.png", "owl-64px.png"],
        "published": [f"https://cdn.example/{n}-64px.png" for n in ("cat", "dog", "owl")],
        "index": "3 thumbnails"}


def test_failure_policy(runs):
    assert output(runs, "failure_policy") == {"mirror": "fetched from mirror on attempt 2",
                                              "thumbnail": None}
    events = json.loads(runs["failure_policy"][1].read_text())["events"]
    timers = [e["timerStartedEventAttributes"]["timerId"] for e in events
              if e["eventType"] == "TimerStarted"]
    assert timers == ["retry-activity-examples.failure_policy.fetch-1-1"]


def test_determinism_and_its_recorded_history_replays(runs):
    result = output(runs, "determinism")
    assert result["winner"] in ("ann", "bob", "cid")
    assert result["message"] == f"{result['winner']} wins with ticket {result['ticket']}"
    # The way the example tells users to guard deployments: replay the recorded history.
    outcome = replay(runs["determinism"][1], RaffleWorkflow)
    assert outcome.close_status == "WorkflowExecutionCompleted"


def test_dag(runs):
    expected = {"fetch": "title: page a\nrow: a-1\nrow: a-2\nrow: a-3\n",
                "parse": ["a-1", "a-2", "a-3"], "checksum": "ca2b1816c487",
                "store": "stored 3 records under ca2b1816c487"}
    assert output(runs, "dag") == {"by_edges": expected, "by_data": expected}
    assert replay(runs["dag"][1], PageWorkflow).close_status == "WorkflowExecutionCompleted"


def test_shell(runs):
    result = output(runs, "shell")
    assert result.pop("missing").startswith(
        "CommandFailed: `cat /nonexistent/replayflow-example` exited with code 1; the end of its "
        "stderr:\ncat: ")
    assert result == {"words": 6, "matches": 2, "absent": 1, "checksum": "2814505409"}


def test_steps(runs):
    assert output(runs, "steps") == {"loaded": 3, "skipped": []}  # a fresh workflow id


def test_saga_undoes_the_booking_in_reverse_and_the_tables_say_so(runs):
    assert output(runs, "saga_booked") == {"booked": True, "car": "car-ann",
                                           "hotel": "hotel-ann-car-ann",
                                           "receipt": "ann paid 300"}
    assert output(runs, "saga") == {"booked": False, "error": "card declined for 5000",
                                    "undone": 4}
    history = runs["saga"][1]
    tasks = run_cli("--format", "json", "workflow.tasks", "--history-file", str(history))
    assert tasks.returncode == 0, tasks.stderr
    undos = [(row["task_id"], row["name"], row["compensates"], row["result"])
             for row in json.loads(tasks.stdout) if row["compensates"]]
    assert undos == [
        ("compensate-activity-examples.saga.charge-1", "examples.saga.refund",
         "activity-examples.saga.charge-1", "nothing to refund (card declined for 5000)"),
        ("compensate-step-examples.saga.notify_undo-1", "examples.saga.notify_undo",
         "saga.add", "told ann the trip is off"),
        ("compensate-activity-examples.saga.book_hotel-1", "examples.saga.cancel_hotel",
         "activity-examples.saga.book_hotel-1", "cancelled hotel-ann-car-ann"),
        ("compensate-activity-examples.saga.reserve_car-1", "examples.saga.cancel_car",
         "activity-examples.saga.reserve_car-1", "cancelled car-ann"),
    ]
    table = run_cli("workflow.tasks", "--history-file", str(history), env={
        **os.environ, "COLUMNS": "200"})
    assert "undo: examples.saga.cancel_car" in table.stdout
    assert "marker replayflow-compensation-started" in table.stdout
    info = run_cli("task.info", "--history-file", str(history),
                   "compensate-activity-examples.saga.reserve_car-1")
    assert "compensates  activity-examples.saga.reserve_car-1" in info.stdout


def test_sync(runs):
    assert output(runs, "sync") == {
        "batch": "nightly", "models": [f"nightly-{part}.model" for part in range(4)]}
    # The history written is the batch's; it replays, and shows the latch at work: its
    # operations went to the coordinator replayflow-sync.batch-nightly as signals.
    history = runs["sync"][1]
    assert replay(history, BatchWorkflow).close_status == "WorkflowExecutionCompleted"
    events = json.loads(history.read_text())["events"]
    targets = {e["signalExternalWorkflowExecutionInitiatedEventAttributes"]["workflowId"]
               for e in events if e["eventType"] == "SignalExternalWorkflowExecutionInitiated"}
    assert targets == {"replayflow-sync.batch-nightly"}
