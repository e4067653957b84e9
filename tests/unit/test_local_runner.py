"""Local mode goes through the decider's and the worker's own code (issue 11).

These are the local-side checks; tests/integration/test_fidelity.py runs the same workflows on
moto and compares. No assertion here is about speed: concurrency is shown by a barrier that only
truly concurrent calls can pass, and a hang by a timeout that must fire while it lasts.
"""

from __future__ import annotations

import inspect
import json
import uuid

import pytest
from support import fidelity_workflows as fw
from support.history_model import validate_history

from replayflow.backends.base import SwfService
from replayflow.backends.memory import MemorySwf
from replayflow.backends.swf import SwfBackend
from replayflow.errors import WorkflowNotFound
from replayflow.history import attributes, events_to_wire
from replayflow.local import run_local


def test_both_services_implement_the_whole_surface():
    """The decider, worker and operator commands see one surface; both services have all of
    it, with parameters the callers can pass either way."""
    for service in (SwfBackend, MemorySwf):
        for name, member in inspect.getmembers(SwfService, inspect.isfunction):
            if name.startswith("_"):
                continue
            implemented = getattr(service, name, None)
            assert implemented is not None, f"{service.__name__} lacks {name}"
            wanted = inspect.signature(member).parameters
            have = inspect.signature(implemented).parameters
            for param in wanted:
                assert param in have, f"{service.__name__}.{name} lacks parameter {param}"
    assert isinstance(MemorySwf(), SwfService)


def test_a_fast_type_does_not_serialise_a_fan_out():
    """One instant call, then 20 calls of that type that only pass a 20-party barrier together
    (item 1: they used to run inline, one after another)."""
    result = run_local(fw.InstantThenTogether, [uuid.uuid4().hex, 20])
    assert (result.status, result.result) == ("COMPLETED", 20)


def test_a_known_fast_type_that_hangs_times_out_and_the_run_goes_on():
    """Item 1: an inline call that hangs used to hang the run; now its start-to-close timeout
    fires (and a timer set meanwhile fires) while it still runs."""
    try:
        result = run_local(fw.FastThenHung)
    finally:
        fw.release_hung()
    assert result.status == "COMPLETED", result.reason
    assert result.result == {"hung": "TaskTimedOut", "timer": "fired"}
    timeouts = [attributes(e)["timeoutType"] for e in result.run.events
                if e["eventType"] == "ActivityTaskTimedOut"]
    assert timeouts == ["START_TO_CLOSE"]


def test_dict_heartbeat_details_are_sent_as_json():
    result = run_local(fw.HeartbeatDetails, [3])
    assert (result.status, result.result) == ("COMPLETED", 3)


def test_an_activity_that_never_heartbeats_completes(tmp_path):
    """Item 3: the worker heartbeats for a running activity, locally as on SWF; a heartbeat
    timeout only catches a dead worker."""
    result = run_local(fw.NeverHeartbeats, [2.5])
    assert (result.status, result.result) == ("COMPLETED", "done quietly")


def test_middlewares_run_in_local_mode(tmp_path, monkeypatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("FIDELITY_MIDDLEWARE_LOG", str(log))
    result = run_local(fw.Recorded, [["a", "b"]], middlewares=[fw.Recorder()])
    assert result.result == ["a", "b"]
    task = f"activity-{fw.record.name}"
    assert sorted(log.read_text().splitlines()) == sorted([
        f"before {task}-1", f"after {task}-1 a", f"before {task}-2", f"after {task}-2 b"])


def test_an_exception_whose_str_raises_fails_the_task_cleanly():
    """Item 5: it used to kill a pool thread and leave the run waiting for an hour."""
    result = run_local(fw.UnprintableFailure)
    assert result.status == "FAILED"
    assert "BrokenStr" in result.reason


def test_run_local_keeps_the_workflows_input_apart_from_its_options():
    """Item 10: an input keyword named like an option reaches the workflow."""
    result = run_local(fw.EchoInput, [1], {"workflow_id": "mine", "max_workers": 3})
    assert result.result == {"args": [1], "kwargs": {"workflow_id": "mine", "max_workers": 3}}
    assert result.workflow_id != "mine"
    with pytest.raises(TypeError, match="args must be a list"):
        run_local(fw.EchoInput, 5)
    with pytest.raises(WorkflowNotFound, match="not a Workflow subclass"):
        run_local(dict)


def test_local_options_reach_the_history():
    """Item 11: tags, task list and execution timeout were validated, then ignored."""
    result = run_local(fw.Recorded, [["x"]], tags=["t1", "t2"], task_list="elsewhere",
                       execution_timeout=77, workflow_id="fixed-id")
    started = attributes(result.run.events[0])
    assert started["tagList"] == ["t1", "t2"]
    assert started["taskList"] == {"name": "elsewhere"}
    assert started["executionStartToCloseTimeout"] == "77"
    assert result.workflow_id == "fixed-id"
    assert validate_history(events_to_wire(result.run.events)) == []


def test_a_continue_as_new_chain_keeps_every_run():
    """Item 12: the history of a local continue-as-new run kept only its last run."""
    result = run_local(fw.Loops, [2])
    history = result.history()
    assert len(history.previous_runs) == 2
    assert [h.events[-1]["eventType"] for h in history.previous_runs] == [
        "WorkflowExecutionContinuedAsNew"] * 2
    data = history.to_json()
    assert len(data["previousRuns"]) == 2
    json.dumps(data)  # plain JSON


def test_local_runs_refuse_activities_outside_the_allowlist():
    """A plain function of a module nobody loaded is refused locally, as a worker refuses it;
    loading the module (--module) allows it."""
    refused = run_local(fw.UsesPlainFunction, ["hi"])
    assert refused.status == "FAILED"
    assert "'support.plain_activities.shout' is not registered" in refused.reason
    allowed = run_local(fw.UsesPlainFunction, ["hi"], modules=["support.plain_activities"])
    assert (allowed.status, allowed.result) == ("COMPLETED", "HI")


def test_a_long_chain_without_continue_as_new_is_terminated_at_25000_events():
    """Issue 13: locally, as SWF does, instead of a 30,005-event history."""
    result = run_local(fw.LongChain, [5000])
    assert result.status == "TERMINATED"
    events = result.run.events
    assert len(events) == 25_000
    assert attributes(events[-1])["cause"] == "EVENT_LIMIT_EXCEEDED"
