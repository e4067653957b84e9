"""A cached execution state and a full replay must decide the same, on every history.

Also: the decider's parser (the engine's view) keeps every attribute the engine reads.

Property: for every history (the fixture files, and runs recorded here through the
LocalRunner) and every decision point in it, a fresh state fed the whole prefix and one state
fed the history decision task by decision task give identical decisions, or fail with the same
NonDeterministicWorkflow. The same holds through the Decider, with tasks carrying the whole
history (moto) or only the events since the previous decision (SWF's sticky poll).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from support.histories import engine_view

import examples
from replayflow import Workflow
from replayflow.decider import Decider
from replayflow.engine.replay import ExecutionState, attributes_read
from replayflow.errors import NonDeterministicWorkflow, WorkflowNotFound
from replayflow.history import attributes_key, load_history_file
from replayflow.loader import load_workflow
from replayflow.local import LocalRunner
from replayflow.sync import MACHINERY_WORKFLOWS

HISTORIES = Path(__file__).resolve().parents[2] / "histories"

RECORDED = [
    ("examples.basic.BasicWorkflow", [1, 0]),
    ("examples.cancellation.DeadlineWorkflow", [0]),
    ("examples.canvas.ThumbnailWorkflow", [["a.png", "b.png", "c.png"], 2]),
    ("examples.children.InventoryWorkflow", [["eu", "us", "nowhere"]]),
    ("examples.continue_as_new.PagingWorkflow", [7, 3]),
    ("examples.determinism.RaffleWorkflow", [["ann", "bob", "cid"]]),
    ("examples.failure.HandledFailureWorkflow", []),
    ("examples.failure.UnhandledFailureWorkflow", []),
    ("examples.fanout.FanoutWorkflow", [10]),
    ("examples.markers.MarkerWorkflow", [["a", "b", "c"]]),
    ("examples.retry.RetryWorkflow", []),
    ("examples.saga.TripWorkflow", ["ann", 5000]),  # compensation, one undo at a time
    ("examples.signals.ApprovalWorkflow", [["o-1", "o-2"]]),
    ("examples.sync.BatchWorkflow", ["nightly", 3]),  # coordinators and launchers too
    ("examples.timers.TimerWorkflow", [0]),
    ("support.workflows.ChainWorkflow", [6]),
    ("support.workflows.FanOutWorkflow", [150]),  # more than one response's worth
    ("support.workflows.HandledFailureWorkflow", []),
    ("support.limit_workflows.Capped", [6]),  # every kind of task waiting for a slot
    ("support.limit_workflows.BigInputs", [40, 30_000]),  # responses split by size
]


def _known_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    modules = [importlib.import_module(f"examples.{m.name}")
               for m in pkgutil.iter_modules(examples.__path__)]
    modules.append(importlib.import_module("support.workflows"))
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Workflow) and value is not Workflow:
                found.setdefault(value.type_name(), value)
    found.update(MACHINERY_WORKFLOWS)  # every decider knows the sync coordinator and launcher
    return found


KNOWN = _known_classes()


#: Hand-written fixtures that name a class no module defines: replay them with a stand-in (the
#: property holds whatever the class; a mismatch must just be detected the same way).
STAND_INS = {"examples.children.ParentWorkflow": "children"}


def _class_for(type_name: str) -> type | None:
    type_name = STAND_INS.get(type_name, type_name)
    if type_name in KNOWN:
        return KNOWN[type_name]
    try:
        return load_workflow(type_name)  # hand-written fixtures name classes by path
    except WorkflowNotFound:
        return None


def _fixture_histories() -> list[tuple[str, type, list[dict], str, str]]:
    cases = []
    for path in sorted(HISTORIES.glob("*.json")):
        history = load_history_file(path)
        started = history.events[0].get("workflowExecutionStartedEventAttributes", {})
        cls = _class_for(started.get("workflowType", {}).get("name", ""))
        if cls is not None:
            execution = history.workflow_execution
            cases.append((path.stem, cls, history.events, execution.get("workflowId", "wf"),
                          execution.get("runId", "run")))
    return cases


def _recorded_histories() -> list[tuple[str, type, list[dict], str, str]]:
    cases = []
    for path, args in RECORDED:
        backend = LocalRunner(max_workers=8)
        backend.run(load_workflow(path), args)
        for i, run in enumerate(backend.all_runs):
            cls = KNOWN.get(run.workflow_type["name"]) or backend.workflows[
                run.workflow_type["name"]]
            cases.append((f"{path}[{i}]", cls, list(run.events), run.workflow_id, run.run_id))
    return cases


def _outcome(fn: Any) -> Any:
    try:
        return ("decisions", fn())
    except NonDeterministicWorkflow as exc:
        return ("non-deterministic", str(exc))


def _decision_points(events: list[dict]) -> list[int]:
    return [i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted"]


CASES = _fixture_histories() + _recorded_histories()


def test_every_fixture_history_is_covered():
    names = {case[0] for case in CASES}
    assert len([n for n in names if "[" not in n]) == len(list(HISTORIES.glob("*.json")))


@pytest.mark.parametrize(("name", "cls", "events", "wid", "rid"), CASES,
                         ids=[c[0] for c in CASES])
def test_incremental_equals_full_replay_at_every_decision(name, cls, events, wid, rid):
    points = _decision_points(events)
    assert points, f"{name} has no decision point"
    cached = ExecutionState(cls, workflow_id=wid, run_id=rid)
    fed = 0
    broken: Any = None
    for point in points:
        full = _outcome(lambda point=point: ExecutionState(
            cls, workflow_id=wid, run_id=rid).handle(events[: point + 1]))
        if broken is None:
            step = _outcome(lambda point=point, fed=fed: cached.handle(events[fed: point + 1]))
            fed = point + 1
            if step[0] == "non-deterministic":
                broken = step
        else:
            step = broken  # a history that did not match stays unmatched
        assert step == full, f"{name}: decisions differ at event {events[point]['eventId']}"
    cached.discard()


RECORDED_CASES = [c for c in CASES if "[" in c[0]]


@pytest.mark.parametrize("partial", [False, True], ids=["full-history", "sticky-history"])
@pytest.mark.parametrize(("name", "cls", "events", "wid", "rid"), RECORDED_CASES,
                         ids=[c[0] for c in RECORDED_CASES])
def test_decider_with_and_without_cache_agree(name, cls, events, wid, rid, partial):
    class History:
        def get_workflow_execution_history(self, workflow_id: str, run_id: str, *,
                                           for_engine: bool = False) -> list[dict]:
            return engine_view(events) if for_engine else list(events)

    workflows = {cls.type_name(): cls}
    warm = Decider(History(), workflows, "d")
    cold = Decider(History(), workflows, "d", cache_size=0)
    previous = 0
    for point in _decision_points(events):
        upto = events[: point + 1]
        task = {
            "taskToken": "t", "startedEventId": events[point]["eventId"],
            "previousStartedEventId": previous,
            "workflowExecution": {"workflowId": wid, "runId": rid},
            "workflowType": {"name": cls.type_name(), "version": cls.version},
            "events": [e for e in upto if e["eventId"] >= previous] if partial and previous
            else upto,
        }
        first_miss = warm.stats.misses
        # The warm decider gets the events the way the real decider polls them (the engine's
        # view: epoch-second timestamps, only the attributes the engine reads); the cold one
        # gets boto3's full shape. Neither may change a decision.
        wire_task = dict(task, events=engine_view(task["events"]))
        assert warm.handle_task(wire_task) == cold.handle_task(dict(task, events=upto)), name
        assert warm.stats.misses == first_miss or previous == 0
        previous = events[point]["eventId"]
    assert warm.stats.misses == 1


class _Recording(dict):
    """Attributes that note every member a handler reads ("*" for a read of the whole)."""

    def __init__(self, data: dict, reads: set) -> None:
        super().__init__(data)
        self.reads = reads

    def __getitem__(self, key: str) -> Any:
        self.reads.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.reads.add(key)
        return super().__contains__(key)

    def _whole(self, name: str) -> Any:
        self.reads.add("*")
        return getattr(super(), name)()

    def keys(self) -> Any:
        return self._whole("keys")

    def values(self) -> Any:
        return self._whole("values")

    def items(self) -> Any:
        return self._whole("items")

    def __iter__(self) -> Any:
        self.reads.add("*")
        return super().__iter__()

    def copy(self) -> dict:
        return self._whole("copy")


@pytest.mark.parametrize(("name", "cls", "events", "wid", "rid"), CASES,
                         ids=[c[0] for c in CASES])
def test_the_engine_reads_only_what_the_deciders_parser_keeps(name, cls, events, wid, rid):
    """The decider parses histories in the engine's view (attributes_read): a member the table
    leaves out would be missing on SWF, and only there."""
    table = attributes_read()
    reads: dict[str, set] = {}
    recorded = []
    for event in events:
        event = dict(event)
        key = attributes_key(event["eventType"])
        if table.get(key) is not None:  # a type whose members the parser picks
            reads.setdefault(key, set())
            event[key] = _Recording(event.get(key) or {}, reads[key])
        recorded.append(event)
    _outcome(lambda: ExecutionState(cls, workflow_id=wid, run_id=rid).handle(recorded))
    for key, seen in reads.items():
        assert seen <= set(table[key]), f"{name}: the engine read {seen - set(table[key])} of {key}"
