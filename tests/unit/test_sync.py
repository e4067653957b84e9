"""Latches and semaphores across workflows, run locally: the real decider against the in-process
SWF, coordinator and launcher workflows included (replayflow/sync.py).

What each test asserts is read from the histories: the coordinator's (the order it saw requests
in, the answers it sent, its markers) and the requesters'.
"""

from __future__ import annotations

import json

import pytest
from support import sync_workflows as sw

from replayflow.backends.memory import Run
from replayflow.local import LocalRunner
from replayflow.sync import (
    ANSWER_SIGNAL,
    CLAMPED_MARKER,
    IGNORED_MARKER,
    LEASE_EXPIRED_MARKER,
    REQUEST_SIGNAL,
    UNDELIVERED_MARKER,
    SyncCoordinator,
)
from replayflow.testing import replay


def attrs(event: dict) -> dict:
    kind = event["eventType"]
    return event[kind[0].lower() + kind[1:] + "EventAttributes"]


def runs_of(runner: LocalRunner, workflow_id: str) -> list[Run]:
    return [run for run in runner.all_runs if run.workflow_id == workflow_id]


def requests_seen(run: Run) -> list[dict]:
    """Every request the coordinator run received, in history order (its input's first)."""
    args = json.loads(attrs(run.events[0])["input"])["args"]
    seen = list(args[2] if len(args) > 2 and args[2] else [])
    for event in run.events:
        if (event["eventType"] == "WorkflowExecutionSignaled"
                and attrs(event)["signalName"] == REQUEST_SIGNAL):
            value = json.loads(attrs(event)["input"])
            seen.extend(value if isinstance(value, list) else [value])
    return seen


def answers_sent(run: Run) -> list[tuple[int, str, dict]]:
    """(event id, target workflow id, input) of each answer the coordinator sent."""
    return [(e["eventId"], attrs(e)["workflowId"], json.loads(attrs(e)["input"]))
            for e in run.events if e["eventType"] == "SignalExternalWorkflowExecutionInitiated"
            and attrs(e)["signalName"] == ANSWER_SIGNAL]


def markers(run: Run) -> list[tuple[str, dict]]:
    return [(attrs(e)["markerName"], json.loads(attrs(e).get("details") or "null"))
            for e in run.events if e["eventType"] == "MarkerRecorded"]


def close_type(run: Run) -> str | None:
    return run.close_event["eventType"] if run.close_event else None


def assert_replays(runner: LocalRunner) -> None:
    """Every run (coordinators and launchers too) replays to the same end from its history."""
    from replayflow.sync import MACHINERY_WORKFLOWS

    for run in runner.all_runs:
        name = run.workflow_type["name"]
        cls = runner.workflows.get(name) or MACHINERY_WORKFLOWS[name]
        result = replay(run.history(), cls)
        if run.closed:
            assert result.closed, run.workflow_id


# --- latches ------------------------------------------------------------------------------------

def test_a_countdown_with_no_coordinator_running_resolves_at_once():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.CountdownWaiter, ["idle"])
    assert result.result == "zero"
    assert "replayflow-sync.idle" not in runner.executions  # nothing was started for it
    types = [e["eventType"] for e in result.run.events]
    assert "SignalExternalWorkflowExecutionFailed" in types
    assert "StartChildWorkflowExecutionInitiated" not in types


def test_a_countdown_resolves_only_after_the_last_release():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.CountedBatch, ["batch-1", 3])
    assert result.result == "zero"
    coordinator = runs_of(runner, "replayflow-sync.batch-1")[-1]
    ops = [r["op"] for r in requests_seen(coordinator)]
    assert sorted(ops) == ["acquire"] * 3 + ["countdown"] + ["release"] * 3
    assert ops[:3] == ["acquire"] * 3
    answers = answers_sent(coordinator)
    assert [a[2]["op"] for a in answers] == ["countdown"]
    last_release = max(e["eventId"] for e in coordinator.events
                       if e["eventType"] == "WorkflowExecutionSignaled"
                       and "release" in attrs(e)["input"])
    assert answers[0][0] > last_release
    assert close_type(coordinator) == "WorkflowExecutionCompleted"  # idle at the end
    assert json.loads(attrs(coordinator.close_event)["result"]) == {"name": "batch-1",
                                                                    "operations": 7}
    assert_replays(runner)


def test_operations_of_one_decision_arrive_together_and_in_order():
    """acquire() then release() with no coordinator running: the release must not find "no
    coordinator" (and be clamped) while the acquire starts one; both go in one request."""
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.LatchOps, ["pair", ["acquire", "release", "acquire", "release"]])
    assert result.ok
    (coordinator,) = runs_of(runner, "replayflow-sync.pair")
    assert [r["op"] for r in requests_seen(coordinator)] == ["acquire", "release"] * 2
    assert markers(coordinator) == [] and markers(result.run) == []
    assert json.loads(attrs(coordinator.close_event)["result"])["operations"] == 4
    launchers = [r for r in runner.all_runs if r.workflow_id.startswith("replayflow-sync-start.")]
    assert len(launchers) == 1


def test_a_release_below_zero_is_clamped_and_recorded():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.LatchOps, ["clamp", ["acquire", "release", "release", "acquire",
                                                "release"]])
    assert result.ok
    (coordinator,) = runs_of(runner, "replayflow-sync.clamp")
    (marker,) = markers(coordinator)
    assert marker[0] == CLAMPED_MARKER
    assert marker[1]["latch"] == "clamp" and marker[1]["count"] == 0
    assert marker[1]["workflow_id"] == result.workflow_id
    assert close_type(coordinator) == "WorkflowExecutionCompleted"  # back at zero at the end


def test_a_release_with_no_coordinator_running_is_clamped_where_it_was_made():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.LatchOps, ["nobody", ["release"]])
    assert result.ok
    assert "replayflow-sync.nobody" not in runner.executions
    assert [m[0] for m in markers(result.run)] == [CLAMPED_MARKER]


def test_an_acquire_made_just_before_run_returns_still_counts():
    runner = LocalRunner(max_workers=2)
    first = runner.run(sw.LatchOps, ["late", ["acquire"], False])
    assert first.ok
    types = [e["eventType"] for e in first.run.events]
    # The run stayed open until its launcher had started the coordinator.
    assert types.index("ChildWorkflowExecutionCompleted") < types.index(
        "WorkflowExecutionCompleted")
    coordinator = runner.executions["replayflow-sync.late"]
    assert not coordinator.closed  # the count is 1: it waits
    runner.start(sw.LatchOps, ["late", ["release"]])
    assert runner.run_until_closed(coordinator).ok  # the release brings it back to zero
    assert markers(coordinator) == []


# --- semaphores ---------------------------------------------------------------------------------

def test_a_semaphore_admits_at_most_its_permits_first_come_first_served():
    sw.GAUGE.update(now=0, max=0)
    runner = LocalRunner(max_workers=8)
    result = runner.run(sw.GuardedBatch, ["pool", 5, 2])
    assert result.result == [0, 1, 2, 3, 4]
    assert sw.GAUGE["max"] == 2  # two at a time, never more
    coordinator = runs_of(runner, "replayflow-sync.pool")[-1]
    requested = [(r["workflow_id"], r["request"]) for r in requests_seen(coordinator)
                 if r["op"] == "sem-acquire"]
    granted = [(a[1], a[2]["request"]) for a in answers_sent(coordinator)]
    assert granted == requested and len(granted) == 5  # in the order they asked
    holding = most = 0
    for event in coordinator.events:  # at most 2 granted and not yet given back, at any time
        if event["eventType"] == "SignalExternalWorkflowExecutionInitiated":
            holding += 1
        elif event["eventType"] == "WorkflowExecutionSignaled" and "sem-release" in attrs(
                event)["input"]:
            holding -= 1
        most = max(most, holding)
    assert most == 2
    assert close_type(coordinator) == "WorkflowExecutionCompleted"
    # Five parts found no coordinator at once: five launchers raced, one started it, and each
    # of the others saw its start fail (recorded after its Initiated event, as SWF does) and
    # signalled the winner instead.
    launchers = [r for r in runner.all_runs if r.workflow_id.startswith("replayflow-sync-start.")]
    assert len(launchers) == 5
    outcomes = sorted(json.loads(attrs(r.close_event)["result"]) for r in launchers)
    assert outcomes == ["signalled"] * 4 + ["started"]
    for launcher in launchers:
        failed = [e for e in launcher.events
                  if e["eventType"] == "StartChildWorkflowExecutionFailed"]
        for event in failed:
            assert attrs(event)["cause"] == "WORKFLOW_ALREADY_RUNNING"
            initiated = launcher.events[attrs(event)["initiatedEventId"] - 1]
            assert initiated["eventType"] == "StartChildWorkflowExecutionInitiated"
    assert_replays(runner)


def test_a_permit_whose_lease_ends_goes_to_the_next_in_line():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.HolderScenario, ["leased", "lease"])
    assert result.ok, result.reason
    assert result.result["outcome"]["expires"] is True
    coordinator = runs_of(runner, "replayflow-sync.leased")[-1]
    (marker,) = markers(coordinator)
    assert marker == (LEASE_EXPIRED_MARKER, {
        "semaphore": "leased", "workflow_id": result.workflow_id, "run_id": result.run.run_id,
        "request": result.result["request"]})
    assert len(answers_sent(coordinator)) == 2  # the holder, then the child after the lease
    assert close_type(coordinator) == "WorkflowExecutionCompleted"  # the late release: ignored


def test_a_grant_to_a_closed_requester_moves_on():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.HolderScenario, ["ghosts", "ghost"])
    assert result.ok, result.reason
    coordinator = runs_of(runner, "replayflow-sync.ghosts")[-1]
    names = [m[0] for m in markers(coordinator)]
    assert names == [IGNORED_MARKER, UNDELIVERED_MARKER]
    assert "unknown op 'explode'" in markers(coordinator)[0][1]["why"]
    assert markers(coordinator)[1][1]["workflow_id"] == "ghost"
    targets = [a[1] for a in answers_sent(coordinator)]
    assert targets[:2] == [result.workflow_id, "ghost"] and len(targets) == 3
    failed = [e for e in coordinator.events
              if e["eventType"] == "SignalExternalWorkflowExecutionFailed"]
    assert [attrs(e)["workflowId"] for e in failed] == ["ghost"]
    assert close_type(coordinator) == "WorkflowExecutionCompleted"


def test_a_requester_cancelled_in_the_queue_gives_its_place_back():
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.HolderScenario, ["cancel", "cancel"])
    assert result.ok, result.reason
    assert result.result["outcome"] == "cancelled"
    coordinator = runs_of(runner, "replayflow-sync.cancel")[-1]
    assert [a[1] for a in answers_sent(coordinator)] == [result.workflow_id]  # only the holder
    ops = [r["op"] for r in requests_seen(coordinator)]
    assert ops == ["sem-acquire", "sem-acquire", "sem-release", "sem-release"]
    assert close_type(coordinator) == "WorkflowExecutionCompleted"


def test_the_coordinator_continues_as_new_with_its_holders_and_queue(monkeypatch):
    monkeypatch.setattr(SyncCoordinator, "operations_per_run", 3)
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.HolderScenario, ["busy", "continue", 3])
    assert result.ok, result.reason
    runs = runs_of(runner, "replayflow-sync.busy")
    assert len(runs) >= 3
    assert [close_type(r) for r in runs[:-1]] == ["WorkflowExecutionContinuedAsNew"] * (
        len(runs) - 1)
    assert close_type(runs[-1]) == "WorkflowExecutionCompleted"
    carried = [json.loads(attrs(r.events[0])["input"])["args"][1] for r in runs[1:]]
    assert all(state["holders"][0]["workflow_id"] == result.workflow_id for state in carried)
    assert any(state["queue"] for state in carried)  # the child waited through a new run
    # every continued run restarted the holder's lease timer
    assert all(any(e["eventType"] == "TimerStarted" for e in r.events) for r in runs[1:])
    total = json.loads(attrs(runs[-1].close_event)["result"])["operations"]
    assert total == sum(len(requests_seen(r)) for r in runs)
    assert_replays(runner)


# --- mistakes -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("which", "message"), [
    ("colon", "contains ':'"),
    ("long", "over SWF's limit of 256"),
    ("permits", "permits must be a whole number of at least 1"),
    ("lease", "lease must be at most"),
])
def test_what_swf_could_not_name_fails_where_it_is_asked_for(which, message):
    result = LocalRunner(max_workers=2).run(sw.BadNames, [which])
    assert result.status == "FAILED"
    assert message in result.reason


def test_operations_beyond_one_signals_input_go_in_several_in_order():
    ops = ["acquire"] * 200 + ["release"] * 200
    runner = LocalRunner(max_workers=2)
    result = runner.run(sw.LatchOps, ["many", ops])
    assert result.ok, result.reason
    sent = [attrs(e)["input"] for e in result.run.events
            if e["eventType"] == "SignalExternalWorkflowExecutionInitiated"]
    assert len(sent) >= 2 and all(len(text) <= 32768 for text in sent)
    (coordinator,) = runs_of(runner, "replayflow-sync.many")
    assert [r["op"] for r in requests_seen(coordinator)] == ops
    assert [r["request"] for r in requests_seen(coordinator)] == [
        f"sync-{n}" for n in range(1, 401)]
    assert markers(coordinator) == []
    assert close_type(coordinator) == "WorkflowExecutionCompleted"
