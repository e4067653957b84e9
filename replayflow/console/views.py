"""A run's history as the console shows it: info, tasks, profile and the dataflow graph.

The folding of events into tasks is `replayflow.inspection`'s (the CLI's operator commands read
the same rows); this module only reshapes it for the API and adds the graph. Graph edges come
from the `control` field of each scheduling event (see `replayflow.dataflow`), so they exist for
any run whose decider recorded them, watched by a console or not; older histories draw no edges.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import dataflow, operator
from ..history import attributes
from ..inspection import TaskRow, profile_rows, task_rows, workflow_window
from ..operator import RunHistory
from .models import (
    ExecutionInfo,
    Graph,
    GraphEdge,
    GraphNode,
    Phase,
    Profile,
    ProfileEntry,
    Span,
    Task,
)

Decode = Callable[[str | None], str | None]

#: Above this many tasks, the tasks of one type are drawn as one group node.
GROUP_ABOVE = 200

_PHASES: dict[str, Phase] = {
    "SCHEDULED": "scheduled",
    "RUNNING": "running",
    "COMPLETED": "completed", "FIRED": "completed", "RECEIVED": "completed",
    "RECORDED": "completed", "REUSED": "completed",
    "FAILED": "failed", "SCHEDULE_FAILED": "failed", "START_FAILED": "failed",
    "TIMED_OUT": "timed_out",
    "CANCELED": "cancelled", "CANCEL_REQUESTED": "cancelled", "TERMINATED": "cancelled",
    "ABANDONED": "cancelled",  # still open when its run closed: it will never finish
}
#: The order a group's phase is picked in: the most alarming state its members are in.
_PHASE_RANK: tuple[Phase, ...] = ("failed", "timed_out", "running", "waiting", "scheduled",
                                  "cancelled", "completed")


def phase_of(kind: str, state: str) -> Phase:
    """The colour of a task: a running timer is a durable sleep, so it is `waiting`."""
    if kind == "timer" and state == "RUNNING":
        return "waiting"
    return _PHASES.get(state, "scheduled")


def info(history: RunHistory, decode: Decode, actions: list[str]) -> ExecutionInfo:
    data = operator.run_info(history, decode)
    known = {k: data.get(k) for k in ExecutionInfo.__struct_fields__
             if k not in ("source", "actions")}
    return ExecutionInfo(**known, source=history.source, actions=actions)  # type: ignore[arg-type]


def _traceback(details: Any) -> str | None:
    if isinstance(details, dict) and isinstance(details.get("traceback"), str):
        return details["traceback"]
    return None


def _task(row: TaskRow) -> Task:
    return Task(
        task_id=row.task_id, kind=row.kind, name=row.name, version=row.version,
        state=row.state, phase=phase_of(row.kind, row.state), attempts=row.attempts,
        scheduled=row.scheduled, started=row.started, closed=row.closed, error=row.error,
        details=row.details, traceback=_traceback(row.details), input=row.input,
        result=row.result,
    )


def tasks(history: RunHistory, decode: Decode) -> list[Task]:
    return [_task(row) for row in task_rows(history.events, decode)]


def profile(history: RunHistory, decode: Decode) -> Profile:
    now = history.now()
    start, end = workflow_window(history.events, now)
    entries = [
        ProfileEntry(
            task_id=row.task_id, kind=row.kind, name=row.name, state=row.state,
            phase=phase_of(row.kind, row.state), attempts=row.attempts,
            scheduled=row.scheduled, started=row.started, closed=row.closed,
            waiting=row.waiting, running=row.running, percentage=row.percentage,
            spans=[Span(s, e, p) for s, e, p in row.spans],  # type: ignore[arg-type]
        )
        for row in profile_rows(history.events, decode, now=now)
    ]
    return Profile(start=start, end=end, entries=entries)


# --------------------------------------------------------------------------------------------
# the graph
# --------------------------------------------------------------------------------------------


def _node_id(row: TaskRow) -> str:
    # Timer ids may be reused once closed; every other row's id is unique in its run.
    return f"{row.task_id}@{row.first_event_id}" if row.kind == "timer" else row.task_id


def _dependencies(events: Iterable[dict], decode: Decode) -> tuple[dict[int, list[str]],
                                                                    dict[str, str]]:
    """(dependency task ids by scheduling event id, a child's row id by its engine task id)."""
    deps: dict[int, list[str]] = {}
    child_rows: dict[str, str] = {}
    for event in events:
        etype = event["eventType"]
        if etype not in ("ActivityTaskScheduled", "StartChildWorkflowExecutionInitiated"):
            continue
        attrs = attributes(event)
        control = attrs.get("control")
        if not control:
            continue
        task_id, found = dataflow.read_control(decode(control))
        if etype == "StartChildWorkflowExecutionInitiated" and task_id:
            child_rows[task_id] = attrs.get("workflowId", "")
        if found:
            deps[event["eventId"]] = found
    return deps, child_rows


def graph(history: RunHistory, decode: Decode, expand: Iterable[str] = (),
          group_above: int = GROUP_ABOVE) -> Graph:
    """Nodes (one per task) and edges (a future passed from one task into another).

    Above `group_above` tasks, each name (activity type, child workflow type) with more than one
    task becomes one node with counts per phase, unless listed in `expand`.
    """
    rows = task_rows(history.events, decode)
    deps, child_rows = _dependencies(history.events, decode)
    node_of_task: dict[str, str] = {}
    for row in rows:
        node_id = _node_id(row)
        if row.kind == "timer":
            node_of_task[row.task_id] = node_id  # the latest start of that timer id
        else:
            node_of_task.setdefault(row.task_id, node_id)
    for engine_id, workflow_id in child_rows.items():
        node_of_task[engine_id] = workflow_id

    edges: dict[tuple[str, str], int] = {}
    for row in rows:
        target = _node_id(row)
        for dep in deps.get(row.first_event_id, ()):
            source = node_of_task.get(dep)
            if source is not None and source != target:
                edges[(source, target)] = 1

    grouped = len(rows) > group_above
    expanded = set(expand)
    group_of: dict[str, str] = {}
    if grouped:
        by_name: dict[tuple[str, str], int] = {}
        for row in rows:
            by_name[(row.kind, row.name)] = by_name.get((row.kind, row.name), 0) + 1
        for row in rows:
            if by_name[(row.kind, row.name)] > 1 and row.name not in expanded:
                group_of[_node_id(row)] = f"group:{row.kind}:{row.name}"

    nodes: list[GraphNode] = []
    groups: dict[str, GraphNode] = {}
    for row in rows:
        node_id = _node_id(row)
        phase = phase_of(row.kind, row.state)
        group_id = group_of.get(node_id)
        if group_id is None:
            nodes.append(GraphNode(
                id=node_id, kind=row.kind, name=row.name, label=_label(row), phase=phase,
                state=row.state, attempts=row.attempts, scheduled=row.scheduled,
                started=row.started, closed=row.closed, error=row.error,
            ))
            continue
        group = groups.get(group_id)
        if group is None:
            group = groups[group_id] = GraphNode(
                id=group_id, kind=row.kind, name=row.name, label=_short_name(row.name),
                phase=phase, state=row.state, attempts=0, scheduled=row.scheduled,
                started=row.started, closed=row.closed, error=None, group=True, size=0,
            )
            nodes.append(group)
        group.size += 1
        group.attempts += row.attempts
        group.counts[phase] = group.counts.get(phase, 0) + 1
        if row.started and (group.started is None or row.started < group.started):
            group.started = row.started
        if group.closed is not None:
            group.closed = row.closed if row.closed and row.closed > group.closed else (
                group.closed if row.closed else None)
        if group.error is None and row.error:
            group.error = row.error
    for group in groups.values():
        group.phase = next(p for p in _PHASE_RANK if p in group.counts)
        group.state = group.phase.upper()

    folded: dict[tuple[str, str], int] = {}
    for (source, target), count in edges.items():
        key = (group_of.get(source, source), group_of.get(target, target))
        if key[0] != key[1]:
            folded[key] = folded.get(key, 0) + count
    info = operator.run_info(history, decode)
    return Graph(
        workflow_id=history.workflow_execution.get("workflowId"),
        run_id=history.workflow_execution.get("runId"),
        status=info["status"], task_count=len(rows), grouped=bool(groups), nodes=nodes,
        edges=[GraphEdge(s, t, c) for (s, t), c in folded.items()],
    )


def _short_name(name: str) -> str:
    """`examples.fanout.square` -> `square`: the module is in the node's tooltip."""
    return name.rpartition(".")[2] or name


def _label(row: TaskRow) -> str:
    if row.kind == "activity":
        number = row.task_id.rpartition("-")[2]
        return f"{_short_name(row.name)} #{number}" if number.isdigit() else \
            _short_name(row.name)
    if row.kind == "child_workflow":
        return f"{row.name} ({row.task_id})"
    return f"{row.kind} {row.name}"
