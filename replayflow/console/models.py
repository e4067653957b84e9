"""What the console's API takes and returns, as msgspec types.

The handlers encode these and the OpenAPI document is generated from the very same types, so the
published schema cannot drift from what is served. Times are RFC 3339 (UTC), durations seconds.
Values decoded from a history (inputs, results, details) are whatever JSON the run stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

#: What the page colours a task by; `waiting` is a timer (a durable sleep) still counting.
Phase = Literal["scheduled", "running", "completed", "failed", "timed_out", "cancelled",
                "waiting"]


class ErrorBody(Struct):
    """Every error the API answers: one sentence for a person."""

    error: str


class ExecutionSummary(Struct):
    """One run in the list."""

    workflow_id: str
    run_id: str
    type: str | None
    version: str | None
    status: str
    started: datetime | None
    closed: datetime | None
    duration: float | None
    tags: list[str]


class ExecutionPage(Struct):
    """A page of runs, newest first; pass `next_page_token` back for the next one."""

    executions: list[ExecutionSummary]
    next_page_token: str | None = None


class ExecutionInfo(Struct):
    """One run at a glance: what `workflow.info` shows, plus what the console may do to it."""

    workflow_id: str | None
    run_id: str | None
    workflow_type: str | None
    workflow_version: str | None
    task_list: str | None
    tags: list[str]
    status: str
    started: datetime | None
    closed: datetime | None
    duration: float | None
    input: Any
    result: Any
    reason: str | None
    details: Any
    parent_workflow_id: str | None
    parent_run_id: str | None
    continued_from_run_id: str | None
    continued_as_run_id: str | None
    cancel_requested: bool
    event_count: int
    task_counts: dict[str, int]
    #: "swf", or the history file the run was read from.
    source: str
    #: The actions that apply to this run here and now (none on a read-only console).
    actions: list[Literal["terminate", "cancel", "signal", "restart"]]


class Task(Struct):
    """One task of a run (all its attempts folded), with its payloads decoded."""

    task_id: str
    kind: str
    name: str
    version: str | None
    state: str
    phase: Phase
    attempts: int
    scheduled: datetime | None
    started: datetime | None
    closed: datetime | None
    error: str | None
    details: Any
    traceback: str | None
    input: Any
    result: Any


class TaskList(Struct):
    tasks: list[Task]


class Span(Struct):
    start: datetime
    end: datetime
    phase: Literal["waiting", "running"]


class ProfileEntry(Struct):
    """Where one task's time went: seconds waiting for a worker and running."""

    task_id: str
    kind: str
    name: str
    state: str
    phase: Phase
    attempts: int
    scheduled: datetime | None
    started: datetime | None
    closed: datetime | None
    waiting: float
    running: float
    percentage: float
    spans: list[Span]


class Profile(Struct):
    """The run's window and its tasks, longest-running first (the timeline's data)."""

    start: datetime | None
    end: datetime | None
    entries: list[ProfileEntry]


class GraphNode(Struct):
    """A task, or a group of the tasks of one type (`group`), with counts per phase."""

    id: str
    kind: str
    name: str
    label: str
    phase: Phase
    state: str
    attempts: int
    scheduled: datetime | None
    started: datetime | None
    closed: datetime | None
    error: str | None
    group: bool = False
    size: int = 1
    counts: dict[str, int] = msgspec.field(default_factory=dict)


class GraphEdge(Struct):
    """`source`'s result went into `target` (`count` edges folded, between groups)."""

    source: str
    target: str
    count: int = 1


class Graph(Struct):
    """The run's dataflow: nodes and edges read from its history alone."""

    workflow_id: str | None
    run_id: str | None
    status: str
    task_count: int
    grouped: bool
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class LiveUpdate(Struct):
    """What a server-sent `update` event carries: enough to know whether to re-read the run."""

    workflow_id: str | None
    run_id: str | None
    status: str
    event_count: int
    closed: bool


class StreamEnd(Struct):
    """The last server-sent event: the run closed, or it is a snapshot (a history file)."""

    reason: Literal["closed", "snapshot"]


class ActionResult(Struct):
    """The run an action went to (for start and restart: the new run)."""

    action: str
    workflow_id: str
    run_id: str


class TerminateRequest(Struct, forbid_unknown_fields=True):
    reason: Annotated[str, Meta(max_length=32_768)] | None = None


class CancelRequest(Struct, forbid_unknown_fields=True):
    """Nothing to say: the run's decider decides how it cancels."""


class SignalRequest(Struct, forbid_unknown_fields=True):
    name: Annotated[str, Meta(min_length=1, max_length=256)]
    input: Any = None


class RestartRequest(Struct, forbid_unknown_fields=True):
    """Without `input`, the old run's input is reused unchanged."""

    input: Any = None


class StartRequest(Struct, forbid_unknown_fields=True):
    """Start a run of `workflow` (MODULE.CLASS importable by the console process)."""

    workflow: Annotated[str, Meta(min_length=1, max_length=1024)]
    input: Any = None
    workflow_id: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    task_list: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    tags: Annotated[list[Annotated[str, Meta(max_length=256)]], Meta(max_length=5)] = \
        msgspec.field(default_factory=list)
    execution_timeout: Annotated[int, Meta(ge=1, le=31_536_000)] | None = None
