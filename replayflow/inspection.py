"""What did this run do, where did the time go, why did it fail: answers read from a history.

Everything here is a pure function of a list of boto3-shaped SWF history events (see
`replayflow.history`), so the operator commands can be tested from fixture files and used on a
saved history with no AWS at all. Jumbo-field references are resolved by a `decode` callable the
caller passes in (the CLI hands in the S3/diskcache reader); the default leaves fields as they are.

Task states: SCHEDULED, RUNNING, COMPLETED, FAILED, TIMED_OUT, CANCEL_REQUESTED, CANCELED,
TERMINATED (child workflows), SCHEDULE_FAILED / START_FAILED (SWF refused the decision),
FIRED (timers), RECEIVED (signals), RECORDED (markers), REUSED (an activity a repaired run took
from the run it repairs instead of scheduling it, see replayflow/repair.py), WAITING (submitted
past the run's open-item cap, so not scheduled yet: no event names it, and it is known only from
the execution context the decider records with each answer, see `waiting_of`), and ABANDONED:
the run closed while the task was still open (or still waiting), so its history will never say
how it ended. A saga's compensation task (`compensate-...`, see replayflow/saga.py) says in
`compensates` which task it undoes.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import encoding
from .dataflow import read_control
from .engine.reuse import MARKER as REPAIRED_MARKER
from .engine.reuse import REPAIR_KEY
from .history import CLOSE_STATUS, attributes
from .naming import compensated_task
from .validation import HISTORY_WARNING_EVENTS, MAX_EVENTS

Decode = Callable[[str | None], str | None]

#: Timers the engine starts for itself (retry back-off, ...) carry this prefix.
INTERNAL_TIMER_PREFIX = "replayflow-"


#: States after which a task will not change any more.
CLOSED_STATES = frozenset({
    "COMPLETED", "FAILED", "TIMED_OUT", "CANCELED", "TERMINATED", "SCHEDULE_FAILED",
    "START_FAILED", "FIRED", "RECEIVED", "RECORDED", "REUSED", "ABANDONED",
})
#: Tasks that happen at one instant: no waiting, no running time.
INSTANT_KINDS = frozenset({"signal", "marker"})
#: Tasks whose running time is work done (a timer's is a wait).
WORK_KINDS = frozenset({"activity", "child_workflow"})


def identity(value: str | None) -> str | None:
    """The default `decode`: fields are used as they are stored in the history."""
    return value


def decode_field(value: str | None, decode: Decode = identity) -> Any:
    """Resolve a (possibly jumbo) field, then parse it as JSON; text that is not JSON stays text."""
    value = decode(value)
    if value is None or value == "":
        return None
    try:  # strict, and bounded in depth: what is shown must be walkable and printable
        return encoding.loads(value)
    except (TypeError, ValueError):
        return value


@dataclass
class Attempt:
    """One try of a task: an activity attempt, a child workflow run, a timer."""

    number: int
    scheduled: datetime | None
    started: datetime | None = None
    closed: datetime | None = None
    state: str = "SCHEDULED"
    error: str | None = None
    details: Any = None
    #: The poller identity that started it (a worker's `host:pid`, or a pod name).
    worker: str | None = None
    #: The activity id of this attempt (`<task_id>#<n>`), or the child's workflow id.
    activity_id: str | None = None
    #: Event ids: the DecisionTaskCompleted that scheduled it, and the event that closed it.
    decided_by: int | None = None
    close_event_id: int | None = None


@dataclass
class TaskRow:
    """One task of the execution, all its attempts folded into one line."""

    task_id: str
    kind: str  # activity | child_workflow | timer | signal | signal_sent | marker
    name: str
    version: str | None = None
    state: str = "SCHEDULED"
    input: Any = None
    result: Any = None
    error: str | None = None
    details: Any = None
    attempt_list: list[Attempt] = field(default_factory=list)
    first_event_id: int = 0
    #: For a saga's compensation task: the id of the task it undoes (`saga.add` for an undo
    #: step of its own); None for every other task.
    compensates: str | None = None

    @property
    def attempts(self) -> int:
        return len(self.attempt_list)

    @property
    def scheduled(self) -> datetime | None:
        return self.attempt_list[0].scheduled if self.attempt_list else None

    @property
    def started(self) -> datetime | None:
        return next((a.started for a in self.attempt_list if a.started), None)

    @property
    def closed(self) -> datetime | None:
        if self.state not in CLOSED_STATES or not self.attempt_list:
            return None
        return self.attempt_list[-1].closed

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data, one key per printable column."""
        return {
            "task_id": self.task_id, "kind": self.kind, "name": self.name,
            "version": self.version, "state": self.state, "attempts": self.attempts,
            "scheduled": self.scheduled, "started": self.started, "closed": self.closed,
            "error": self.error, "details": self.details, "input": self.input,
            "result": self.result, "compensates": self.compensates,
        }


@dataclass
class ProfileRow:
    """Where one task's time went, in seconds and as a percentage (0-100) of the wall time."""

    task_id: str
    kind: str
    name: str
    state: str
    attempts: int
    scheduled: datetime | None
    started: datetime | None
    closed: datetime | None
    waiting: float
    running: float
    percentage: float
    #: (start, end, "waiting" | "running") segments, for the Gantt bar.
    spans: list[tuple[datetime, datetime, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id, "kind": self.kind, "name": self.name, "state": self.state,
            "attempts": self.attempts, "scheduled": self.scheduled, "started": self.started,
            "closed": self.closed, "waiting": self.waiting, "running": self.running,
            "percentage": self.percentage,
        }


def split_activity_id(activity_id: str) -> tuple[str, int | None]:
    """`<task_id>#<attempt>` -> (task_id, attempt); ids without a numeric suffix are the task id."""
    task_id, sep, attempt = activity_id.rpartition("#")
    if sep and attempt.isdigit():
        return task_id, int(attempt)
    return activity_id, None


class _Rows:
    """Folds events into TaskRows; one pass, no per-event regex."""

    def __init__(self, decode: Decode) -> None:
        self.decode = decode
        self.rows: dict[tuple[str, str], TaskRow] = {}
        self.by_event: dict[int, tuple[TaskRow, Attempt]] = {}
        self.open_timers: dict[str, tuple[TaskRow, Attempt]] = {}
        #: DecisionTaskCompleted event id -> its DecisionTaskStarted event id.
        self.decision_started: dict[int, int] = {}
        #: The last execution context a decider recorded, and the event that carries it.
        self.context: str | None = None
        self.last_event_id = 0
        self.run_closed: datetime | None = None
        self.run_close_event_id: int | None = None
        #: The run's input as recorded, and (read at a repaired run's first reused task) the
        #: results it was started with, by task id.
        self.start_input: str | None = None
        self.reused_results: dict[str, Any] | None = None

    def _row(self, kind: str, task_id: str, name: str, event_id: int) -> TaskRow:
        key = (kind, task_id)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = TaskRow(task_id, kind, name, first_event_id=event_id)
        return row

    def _new_attempt(self, row: TaskRow, event: dict, state: str = "SCHEDULED") -> Attempt:
        attrs = attributes(event)
        attempt = Attempt(row.attempts + 1, event["eventTimestamp"], state=state,
                          activity_id=attrs.get("activityId") or attrs.get("workflowId"),
                          decided_by=attrs.get("decisionTaskCompletedEventId"))
        row.attempt_list.append(attempt)
        row.state = state
        row.error = row.details = row.result = None
        self.by_event[event["eventId"]] = (row, attempt)
        return attempt

    def _close(self, ref: int | None, event: dict, state: str, *, error: str | None = None,
               details: str | None = None, result: str | None = None) -> None:
        found = self.by_event.get(ref) if ref is not None else None
        if found is None:
            return  # a partial history (e.g. a page after a sticky poll): nothing to attach to
        row, attempt = found
        attempt.closed = event["eventTimestamp"]
        attempt.close_event_id = event["eventId"]
        attempt.state = row.state = state
        attempt.error = row.error = error
        row.details = attempt.details = decode_field(details, self.decode)
        if result is not None:
            row.result = decode_field(result, self.decode)

    def _start(self, ref: int | None, event: dict) -> None:
        found = self.by_event.get(ref) if ref is not None else None
        if found is not None:
            row, attempt = found
            attempt.started = event["eventTimestamp"]
            attempt.worker = attributes(event).get("identity") or attempt.worker
            if row.state == "SCHEDULED" and attempt is row.attempt_list[-1]:
                row.state = attempt.state = "RUNNING"
            self.by_event[event["eventId"]] = found

    def feed(self, event: dict) -> None:
        self.last_event_id = event["eventId"]
        etype = event["eventType"]
        attrs = attributes(event)
        handler = getattr(self, "_on_" + etype, None)
        if handler is not None:
            handler(event, attrs)
        elif etype in CLOSE_STATUS:
            self.run_closed = event["eventTimestamp"]
            self.run_close_event_id = event["eventId"]

    def _on_DecisionTaskCompleted(self, event: dict, attrs: dict) -> None:
        started = attrs.get("startedEventId")
        if started is not None:
            self.decision_started[event["eventId"]] = started
        context = attrs.get("executionContext")
        if context is not None:
            self.context = context

    def add_waiting_tasks(self) -> None:
        """Rows for the tasks the last execution context names as waiting for a slot."""
        summary = parse_slots(self.context)
        if summary is None:
            return
        state = "WAITING" if self.run_closed is None else "ABANDONED"
        for kind, task_id, name in summary["next"]:
            key = (kind, f"{task_id}@waiting" if kind == "timer" else task_id)
            row = self.rows.get(key)
            if row is None:  # listed after every task the history has, in their order
                row = self.rows[key] = TaskRow(task_id, kind, name,
                                               first_event_id=self.last_event_id + 1)
            row.state = state

    def abandon_open_tasks(self) -> None:
        """Once the run closed, a task still open will never close in this history."""
        if self.run_closed is None:
            return
        for row in self.rows.values():
            if row.state in CLOSED_STATES or not row.attempt_list:
                continue
            attempt = row.attempt_list[-1]
            attempt.closed = self.run_closed
            attempt.close_event_id = self.run_close_event_id
            attempt.state = row.state = "ABANDONED"

    # -- activities ---------------------------------------------------------------------------

    def _on_ActivityTaskScheduled(self, event: dict, attrs: dict) -> None:
        task_id, _ = split_activity_id(attrs.get("activityId", ""))
        activity_type = attrs.get("activityType") or {}
        row = self._row("activity", task_id, activity_type.get("name", ""), event["eventId"])
        row.version = activity_type.get("version")
        if row.input is None:
            row.input = decode_field(attrs.get("input"), self.decode)
            row.compensates = compensated_task(task_id)
        self._new_attempt(row, event)

    def _on_ScheduleActivityTaskFailed(self, event: dict, attrs: dict) -> None:
        task_id, _ = split_activity_id(attrs.get("activityId", ""))
        activity_type = attrs.get("activityType") or {}
        row = self._row("activity", task_id, activity_type.get("name", ""), event["eventId"])
        row.version = activity_type.get("version")
        attempt = self._new_attempt(row, event, "SCHEDULE_FAILED")
        attempt.closed = event["eventTimestamp"]
        attempt.error = row.error = attrs.get("cause")

    def _on_ActivityTaskStarted(self, event: dict, attrs: dict) -> None:
        self._start(attrs.get("scheduledEventId"), event)

    def _on_ActivityTaskCompleted(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("scheduledEventId"), event, "COMPLETED",
                    result=attrs.get("result"))

    def _on_ActivityTaskFailed(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("scheduledEventId"), event, "FAILED", error=attrs.get("reason"),
                    details=attrs.get("details"))

    def _on_ActivityTaskTimedOut(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("scheduledEventId"), event, "TIMED_OUT",
                    error=f"timed out ({attrs.get('timeoutType', 'unknown')})",
                    details=attrs.get("details"))

    def _on_ActivityTaskCanceled(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("scheduledEventId"), event, "CANCELED",
                    details=attrs.get("details"))

    def _on_ActivityTaskCancelRequested(self, event: dict, attrs: dict) -> None:
        task_id, _ = split_activity_id(attrs.get("activityId", ""))
        row = self.rows.get(("activity", task_id))
        if row is not None and row.state not in CLOSED_STATES:
            row.state = "CANCEL_REQUESTED"

    # -- child workflows ----------------------------------------------------------------------

    def _on_StartChildWorkflowExecutionInitiated(self, event: dict, attrs: dict) -> None:
        workflow_type = attrs.get("workflowType") or {}
        row = self._row("child_workflow", attrs.get("workflowId", ""),
                        workflow_type.get("name", ""), event["eventId"])
        row.version = workflow_type.get("version")
        if row.input is None:
            row.input = decode_field(attrs.get("input"), self.decode)
            row.compensates = compensated_task(read_control(self.decode(attrs.get("control")))[0])
        self._new_attempt(row, event)

    def _on_StartChildWorkflowExecutionFailed(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "START_FAILED",
                    error=attrs.get("cause"))

    def _on_ChildWorkflowExecutionStarted(self, event: dict, attrs: dict) -> None:
        self._start(attrs.get("initiatedEventId"), event)

    def _on_ChildWorkflowExecutionCompleted(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "COMPLETED",
                    result=attrs.get("result"))

    def _on_ChildWorkflowExecutionFailed(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "FAILED", error=attrs.get("reason"),
                    details=attrs.get("details"))

    def _on_ChildWorkflowExecutionTimedOut(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "TIMED_OUT",
                    error=f"timed out ({attrs.get('timeoutType', 'unknown')})")

    def _on_ChildWorkflowExecutionCanceled(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "CANCELED",
                    details=attrs.get("details"))

    def _on_ChildWorkflowExecutionTerminated(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "TERMINATED", error="terminated")

    # -- timers -------------------------------------------------------------------------------

    def _on_TimerStarted(self, event: dict, attrs: dict) -> None:
        # A timer id may be reused once the timer closed: each start is its own row.
        timer_id = attrs.get("timerId", "")
        row = TaskRow(timer_id, "timer", timer_id, first_event_id=event["eventId"])
        self.rows[("timer", f"{timer_id}@{event['eventId']}")] = row
        timeout = attrs.get("startToFireTimeout")
        row.input = int(timeout) if timeout and timeout.isdigit() else timeout
        attempt = self._new_attempt(row, event, "RUNNING")
        attempt.started = event["eventTimestamp"]
        self.open_timers[timer_id] = (row, attempt)

    def _on_StartTimerFailed(self, event: dict, attrs: dict) -> None:
        timer_id = attrs.get("timerId", "")
        row = TaskRow(timer_id, "timer", timer_id, first_event_id=event["eventId"])
        self.rows[("timer", f"{timer_id}@{event['eventId']}")] = row
        attempt = self._new_attempt(row, event, "START_FAILED")
        attempt.closed = event["eventTimestamp"]
        attempt.error = row.error = attrs.get("cause")

    def _close_timer(self, event: dict, attrs: dict, state: str) -> None:
        found = self.by_event.get(attrs.get("startedEventId", -1))
        if found is None and attrs.get("timerId") in self.open_timers:
            found = self.open_timers[attrs["timerId"]]
        if found is None and not attrs and len(self.open_timers) == 1:
            # boto3 drops the attributes of moto's misspelt TimerCancelled event: the timer is
            # only known when exactly one is open.
            found = next(iter(self.open_timers.values()))
        if found is None:
            return
        row, attempt = found
        self.open_timers.pop(row.task_id, None)
        attempt.closed = event["eventTimestamp"]
        attempt.close_event_id = event["eventId"]
        attempt.state = row.state = state

    def _on_TimerFired(self, event: dict, attrs: dict) -> None:
        self._close_timer(event, attrs, "FIRED")

    def _on_TimerCanceled(self, event: dict, attrs: dict) -> None:
        self._close_timer(event, attrs, "CANCELED")

    _on_TimerCancelled = _on_TimerCanceled  # moto's spelling

    # -- signals and markers ------------------------------------------------------------------

    def _instant(self, kind: str, name: str, event: dict, state: str) -> TaskRow:
        row = self._row(kind, f"{kind}-{event['eventId']}", name, event["eventId"])
        attempt = self._new_attempt(row, event, state)
        attempt.started = attempt.closed = event["eventTimestamp"]
        return row

    def _on_WorkflowExecutionStarted(self, event: dict, attrs: dict) -> None:
        self.start_input = attrs.get("input")

    def _on_WorkflowExecutionSignaled(self, event: dict, attrs: dict) -> None:
        row = self._instant("signal", attrs.get("signalName", ""), event, "RECEIVED")
        row.input = decode_field(attrs.get("input"), self.decode)

    def _on_MarkerRecorded(self, event: dict, attrs: dict) -> None:
        details = decode_field(attrs.get("details"), self.decode)
        if (attrs.get("markerName") == REPAIRED_MARKER and isinstance(details, dict)
                and isinstance(details.get("task_id"), str)):
            self._reused(event, details)
            return
        row = self._instant("marker", attrs.get("markerName", ""), event, "RECORDED")
        row.result = details

    def _reused(self, event: dict, details: dict) -> None:
        """A repaired run's reused activity: a row of its own, as if it ran in no time."""
        row = self._row("activity", details["task_id"], str(details.get("activity") or ""),
                        event["eventId"])
        attempt = self._new_attempt(row, event, "REUSED")
        attempt.started = attempt.closed = event["eventTimestamp"]
        row.details = {"reused_from_run": details.get("from_run")}
        if self.reused_results is None:
            self.reused_results = {}
            call = decode_field(self.start_input, self.decode)
            kwargs = call.get("kwargs") if isinstance(call, dict) else None
            table = kwargs.get(REPAIR_KEY) if isinstance(kwargs, dict) else None
            tasks = table.get("tasks") if isinstance(table, dict) else None
            if isinstance(tasks, dict):
                self.reused_results = tasks
        entry = self.reused_results.get(row.task_id)
        if isinstance(entry, list) and len(entry) == 3 and isinstance(entry[2], str | None):
            row.result = decode_field(entry[2], self.decode)

    def _on_RecordMarkerFailed(self, event: dict, attrs: dict) -> None:
        row = self._instant("marker", attrs.get("markerName", ""), event, "FAILED")
        row.error = row.attempt_list[-1].error = attrs.get("cause")

    def _on_SignalExternalWorkflowExecutionInitiated(self, event: dict, attrs: dict) -> None:
        row = self._row("signal_sent", f"signal_sent-{event['eventId']}",
                        attrs.get("signalName", ""), event["eventId"])
        row.input = decode_field(attrs.get("input"), self.decode)
        self._new_attempt(row, event)

    def _on_ExternalWorkflowExecutionSignaled(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "COMPLETED")

    def _on_SignalExternalWorkflowExecutionFailed(self, event: dict, attrs: dict) -> None:
        self._close(attrs.get("initiatedEventId"), event, "FAILED", error=attrs.get("cause"))


def _is_internal(row: TaskRow) -> bool:
    return row.kind == "timer" and row.task_id.startswith(INTERNAL_TIMER_PREFIX)


def task_rows(events: Iterable[dict], decode: Decode = identity, *,
              include_internal: bool = False) -> list[TaskRow]:
    """One row per task in the order the tasks were first scheduled.

    Activity attempts (`<task_id>#<n>`) are folded into one row whose state is the last
    attempt's. The engine's own timers (`replayflow-...`) are noise to an operator and are left
    out unless `include_internal` is set.
    """
    return _fold(events, decode, include_internal=include_internal)[0]


def _fold(events: Iterable[dict], decode: Decode = identity, *,
          include_internal: bool = False) -> tuple[list[TaskRow], _Rows]:
    folder = _Rows(decode)
    for event in events:
        folder.feed(event)
    folder.abandon_open_tasks()
    folder.add_waiting_tasks()
    rows = sorted(folder.rows.values(), key=lambda r: r.first_event_id)
    if not include_internal:
        rows = [row for row in rows if not _is_internal(row)]
    return rows, folder


def parse_slots(context: str | None) -> dict[str, Any] | None:
    """The `slots` of an execution context written by replayflow's decider (see
    decider.with_slots), or None for any other (or none): `open`, `waiting` and `max_open`
    count by kind, `next` lists [kind, task id, name] of the first tasks waiting for a slot."""
    if not context or not context.startswith("{"):
        return None
    try:
        summary = encoding.loads(context)
    except ValueError:
        return None
    summary = summary.get("slots") if isinstance(summary, dict) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("waiting"), dict):
        return None
    listed = summary.get("next")
    summary["next"] = [entry for entry in listed if isinstance(entry, list) and len(entry) == 3
                       and all(isinstance(x, str) for x in entry)] if isinstance(listed,
                                                                                  list) else []
    return summary


def waiting_of(events: Iterable[dict]) -> dict[str, Any] | None:
    """What the run's last answer said waits for a free slot (None if nothing ever waited)."""
    context = None
    for event in events:
        if event["eventType"] == "DecisionTaskCompleted":
            context = attributes(event).get("executionContext", context)
    return parse_slots(context)


def history_warning(event_count: int) -> str | None:
    """What to say about a history past 10,000 events (SWF terminates a run at 25,000)."""
    if event_count <= HISTORY_WARNING_EVENTS:
        return None
    return (f"the history has {event_count:,} events, past {HISTORY_WARNING_EVENTS:,}; SWF "
            f"terminates a run at {MAX_EVENTS:,}: have the workflow call continue_as_new "
            "(see Workflow.history_length)")


def workflow_window(events: list[dict], now: datetime | None = None
                    ) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the run; an open run ends at `now`, or at its last event if not given."""
    if not events:
        return None, None
    start = next((e["eventTimestamp"] for e in events
                  if e["eventType"] == "WorkflowExecutionStarted"), events[0]["eventTimestamp"])
    last = events[-1]
    if last["eventType"] in CLOSE_STATUS or now is None:
        return start, last["eventTimestamp"]
    return start, now


def execution_info(events: list[dict], decode: Decode = identity, *,
                   workflow_execution: dict | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """The run at a glance: type, status, times, the workflow's own input, result or failure.

    The input is the one of `WorkflowExecutionStarted`, never a task's. `workflow_execution`
    (`{"workflowId", "runId"}`, not part of any event) is copied in when the caller knows it.
    """
    info: dict[str, Any] = {
        "workflow_id": (workflow_execution or {}).get("workflowId"),
        "run_id": (workflow_execution or {}).get("runId"),
        "workflow_type": None, "workflow_version": None, "task_list": None, "tags": [],
        "status": "OPEN", "started": None, "closed": None, "duration": None,
        "input": None, "result": None, "reason": None, "details": None,
        "parent_workflow_id": None, "parent_run_id": None,
        "continued_from_run_id": None, "continued_as_run_id": None,
        "cancel_requested": False, "event_count": len(events),
        "task_counts": {},
    }
    for event in events:
        etype = event["eventType"]
        attrs = attributes(event)
        if etype == "WorkflowExecutionStarted":
            workflow_type = attrs.get("workflowType") or {}
            parent = attrs.get("parentWorkflowExecution") or {}
            info.update(
                workflow_type=workflow_type.get("name"),
                workflow_version=workflow_type.get("version"),
                task_list=(attrs.get("taskList") or {}).get("name"),
                tags=list(attrs.get("tagList") or []),
                started=event["eventTimestamp"],
                input=decode_field(attrs.get("input"), decode),
                parent_workflow_id=parent.get("workflowId"),
                parent_run_id=parent.get("runId"),
                continued_from_run_id=attrs.get("continuedExecutionRunId"),
            )
        elif etype == "WorkflowExecutionCancelRequested":
            info["cancel_requested"] = True
        elif etype in CLOSE_STATUS:
            info["status"] = CLOSE_STATUS[etype]
            info["closed"] = event["eventTimestamp"]
            if "result" in attrs:
                info["result"] = decode_field(attrs.get("result"), decode)
            if etype == "WorkflowExecutionTimedOut":
                info["reason"] = f"timed out ({attrs.get('timeoutType', 'unknown')})"
            elif etype == "WorkflowExecutionTerminated":
                info["reason"] = attrs.get("reason") or f"terminated ({attrs.get('cause', '')})"
            else:
                info["reason"] = attrs.get("reason")
            info["details"] = decode_field(attrs.get("details"), decode)
            info["continued_as_run_id"] = attrs.get("newExecutionRunId")
    start, end = workflow_window(events, now)
    if start is not None and end is not None:
        info["duration"] = max((end - start).total_seconds(), 0.0)
    counts: dict[str, int] = {}
    for row in task_rows(events, decode):
        counts[row.state] = counts.get(row.state, 0) + 1
    info["task_counts"] = dict(sorted(counts.items()))
    summary = waiting_of(events)
    if summary is not None and info["status"] == "OPEN":
        waiting = {kind: n for kind, n in summary["waiting"].items()
                   if isinstance(n, int) and n > 0}
        if waiting:
            info["waiting"] = waiting
            info["open_tasks"] = summary.get("open")
    warning = history_warning(len(events))
    if warning is not None:
        info["warning"] = warning
    return info


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None or end is None:
        return 0.0
    return max((end - start).total_seconds(), 0.0)


def task_spans(row: TaskRow, end: datetime | None
               ) -> tuple[float, float, list[tuple[datetime, datetime, str]]]:
    """(seconds waiting for a worker, seconds running, the spans) of a task, over its attempts.

    An attempt still open counts up to `end` (the end of the run's window); the gaps between
    attempts (a retry's back-off) count as neither.
    """
    waiting = running = 0.0
    spans: list[tuple[datetime, datetime, str]] = []
    for attempt in row.attempt_list:
        if attempt.scheduled is None:
            continue
        wait_end = attempt.started or attempt.closed or end
        if wait_end is not None and wait_end > attempt.scheduled:
            spans.append((attempt.scheduled, wait_end, "waiting"))
            waiting += _seconds(attempt.scheduled, wait_end)
        if attempt.started is not None:
            run_end = attempt.closed or end
            if run_end is not None:
                spans.append((attempt.started, max(run_end, attempt.started), "running"))
                running += _seconds(attempt.started, run_end)
    return waiting, running, spans


def task_records(events: list[dict], decode: Decode = identity, *,
                 now: datetime | None = None, include_internal: bool = False
                 ) -> list[dict[str, Any]]:
    """`task_rows` as dicts, each with `waited` and `ran` in seconds (None for an instant).

    What `workflow.tasks` prints: durations read at a glance, where timestamps need arithmetic.
    """
    _, end = workflow_window(events, now)
    out = []
    for row in task_rows(events, decode, include_internal=include_internal):
        record = row.as_dict()
        if row.kind in INSTANT_KINDS:
            record["waited"] = record["ran"] = None
        else:
            waiting, running, _ = task_spans(row, end)
            record["waited"], record["ran"] = round(waiting, 3), round(running, 3)
        out.append(record)
    return out


def find_task(rows: list[TaskRow], task_id: str) -> TaskRow | None:
    """The row of `task_id`, or of the task an activity id `<task_id>#<n>` belongs to.

    A timer id may have been used more than once: the latest use is the one returned.
    """
    found = [row for row in rows if row.task_id == task_id]
    if not found:
        bare, attempt = split_activity_id(task_id)
        if attempt is not None:
            found = [row for row in rows if row.task_id == bare]
    return found[-1] if found else None


def _traceback_of(details: Any) -> str | None:
    if isinstance(details, dict) and isinstance(details.get("traceback"), str):
        return details["traceback"]
    return None


def task_detail(events: list[dict], task_id: str, decode: Decode = identity, *,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Everything the history says about one task, attempt by attempt; None if unknown.

    The input, the result or the last error with its remote traceback, and per attempt its
    activity id, state, times, durations, the worker that ran it and its own error.
    """
    rows = task_rows(events, decode, include_internal=True)
    row = find_task(rows, task_id)
    if row is None:
        return None
    _, end = workflow_window(events, now)
    waiting, running, _ = task_spans(row, end)
    attempts = []
    for attempt in row.attempt_list:
        single = TaskRow(row.task_id, row.kind, row.name, attempt_list=[attempt])
        a_wait, a_run, _ = task_spans(single, end)
        attempts.append({
            "attempt": attempt.number, "activity_id": attempt.activity_id,
            "state": attempt.state, "scheduled": attempt.scheduled,
            "started": attempt.started, "closed": attempt.closed,
            "waited": round(a_wait, 3), "ran": round(a_run, 3),
            "worker": attempt.worker, "error": attempt.error,
            "traceback": _traceback_of(attempt.details),
        })
    instant = row.kind in INSTANT_KINDS
    return {
        "task_id": row.task_id, "kind": row.kind, "name": row.name, "version": row.version,
        "state": row.state, "attempts": row.attempts, "scheduled": row.scheduled,
        "started": row.started, "closed": row.closed,
        "waited": None if instant else round(waiting, 3),
        "ran": None if instant else round(running, 3),
        "input": row.input, "result": row.result, "error": row.error,
        "traceback": _traceback_of(row.details), "details": row.details,
        "compensates": row.compensates, "attempt_list": attempts,
    }


def profile_rows(events: list[dict], decode: Decode = identity, *,
                 now: datetime | None = None, include_internal: bool = False,
                 kinds: Iterable[str] = ("activity", "child_workflow", "timer")
                 ) -> list[ProfileRow]:
    """Per task: time waiting for a worker and time running, longest-running first.

    Times add up over attempts (the gaps between attempts count as neither). A task still open
    runs until the end of the workflow's window (`now`, or the last event). `percentage` is
    running time over the workflow's wall time, 0-100: sequential tasks sum to at most 100,
    parallel ones may sum to more.
    """
    wf_start, wf_end = workflow_window(events, now)
    wall = _seconds(wf_start, wf_end)
    wanted = set(kinds)
    out = []
    for row in task_rows(events, decode, include_internal=include_internal):
        if row.kind not in wanted:
            continue
        waiting, running, spans = task_spans(row, wf_end)
        # SWF stamps events to the millisecond: more digits would be noise.
        percentage = round(100.0 * running / wall, 2) if wall > 0 else 0.0
        out.append(ProfileRow(
            row.task_id, row.kind, row.name, row.state, row.attempts, row.scheduled,
            row.started, row.closed, round(waiting, 3), round(running, 3), percentage, spans,
        ))
    out.sort(key=lambda r: (-r.running,
                            r.scheduled.timestamp() if r.scheduled else math.inf, r.task_id))
    return out


def _union_seconds(spans: list[tuple[datetime, datetime]]) -> float:
    total = 0.0
    current: tuple[datetime, datetime] | None = None
    for start, end in sorted(spans):
        if current is None or start > current[1]:
            if current is not None:
                total += _seconds(*current)
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += _seconds(*current)
    return total


def profile_summary(events: list[dict], decode: Decode = identity, *,
                    now: datetime | None = None) -> dict[str, Any]:
    """The run in three figures: wall time, busy time and the longest path, in seconds.

    `busy` is the time at least one activity or child workflow was running. The longest path
    is the chain of tasks that ends with the last one to finish, where each task's predecessor
    is the last task to close before the decision that scheduled it (the one `run()` was
    waiting for, as far as the history can tell). Its time splits into the tasks' own waiting
    and running, and `between`: deciding, back-offs, and waits on signals.
    """
    wf_start, wf_end = workflow_window(events, now)
    rows, folder = _fold(events, decode)
    tasks = [row for row in rows if row.kind in ("activity", "child_workflow", "timer")
             and row.attempt_list]
    busy_spans = []
    for row in tasks:
        if row.kind in WORK_KINDS:
            busy_spans += [(a, b) for a, b, phase in task_spans(row, wf_end)[2]
                           if phase == "running"]
    summary: dict[str, Any] = {
        "wall": round(_seconds(wf_start, wf_end), 3),
        "busy": round(_union_seconds(busy_spans), 3),
        "tasks": len(tasks),
        "longest_path": 0.0, "path": [], "path_waiting": 0.0, "path_running": 0.0,
        "path_between": 0.0,
    }
    if not tasks or wf_start is None:
        return summary

    def finish(row: TaskRow) -> datetime:
        return row.attempt_list[-1].closed or wf_end or wf_start

    def close_id(row: TaskRow) -> int:
        return row.attempt_list[-1].close_event_id or math.inf  # type: ignore[return-value]

    closed = sorted((r for r in tasks if r.attempt_list[-1].close_event_id is not None),
                    key=close_id)
    close_ids = [close_id(r) for r in closed]

    def predecessor(row: TaskRow) -> TaskRow | None:
        decided = folder.decision_started.get(row.attempt_list[0].decided_by or -1)
        if decided is None:
            return None
        index = bisect_left(close_ids, decided) - 1
        while index >= 0 and closed[index] is row:
            index -= 1
        candidate = closed[index] if index >= 0 else None
        # A predecessor closed before this task was first scheduled, never after.
        if candidate is not None and close_id(candidate) >= row.first_event_id:
            return None
        return candidate

    last = max(tasks, key=lambda r: (finish(r), close_id(r)))
    path: list[TaskRow] = []
    node: TaskRow | None = last
    seen: set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        path.append(node)
        node = predecessor(node)
    path.reverse()
    waiting = running = 0.0
    for row in path:
        row_wait, row_run, _ = task_spans(row, wf_end)
        waiting += row_wait
        running += row_run
    length = _seconds(wf_start, finish(last))
    summary.update(
        longest_path=round(length, 3), path=[row.task_id for row in path],
        path_waiting=round(waiting, 3), path_running=round(running, 3),
        path_between=round(max(length - waiting - running, 0.0), 3),
    )
    return summary


GANTT_WAITING = "░"
GANTT_RUNNING = "█"


def gantt_bar(row: ProfileRow, wf_start: datetime, wf_end: datetime, width: int = 40) -> str:
    """A `width`-character bar: spaces outside the task, ░ while waiting, █ while running.

    Every span gets at least one cell, so a short task still shows where it happened.
    """
    cells = [" "] * width
    total = (wf_end - wf_start).total_seconds()
    for start, end, phase in sorted(row.spans, key=lambda s: s[2] == "running"):
        if total <= 0:
            first, last = 0, width
        else:
            first = math.floor((start - wf_start).total_seconds() / total * width)
            last = math.ceil((end - wf_start).total_seconds() / total * width)
            first = min(max(first, 0), width - 1)
            last = min(max(last, first + 1), width)
        char = GANTT_RUNNING if phase == "running" else GANTT_WAITING
        for i in range(first, last):
            cells[i] = char
    return "".join(cells)
