"""SWF in this process: the service `--local` runs against, with SWF's own rules.

`MemorySwf` implements the service surface of `backends/base.py`. It keeps SWF-shaped histories,
turns decisions into the events SWF records (its failure events included), hands out decision
and activity tasks by task list, enforces activity, decision and execution timeouts, runs
timers, starts child workflows, delivers signals and cancellations, follows continue-as-new, and
refuses what SWF refuses (field sizes, unknown types, stale task tokens). It holds no decider
policy and runs no activity: `replayflow.local` polls it with the real `Decider` and the worker's
activity runner, so a local run goes through the code an SWF run goes through.

Threading: one thread, the loop's, owns every history (`bind_loop`). A call from any other
thread that changes state (an activity reporting from a pool thread, a signal from outside) is
posted to an inbox that the loop applies in order (`drain`); a heartbeat only reads and stores
plain attributes. Time moves when the loop calls `fire_due_timers`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import encoding
from ..errors import ExecutionNotFound, UnknownDomain
from ..history import CLOSE_STATUS, HistoryFile
from ..naming import MAX_ID_LENGTH, attributes_key, decision_attributes_key
from ..validation import MAX_EVENTS, MAX_OPEN, MAX_REQUEST_BYTES  # SWF's limits, written once
from .base import Duration, ServiceError

log = logging.getLogger(__name__)

_FIELD_LIMITS = {"input": encoding.MAX_INPUT, "result": encoding.MAX_RESULT,
                 "details": encoding.MAX_DETAILS, "control": encoding.MAX_CONTROL,
                 "reason": encoding.MAX_REASON}

_monotonic = time.monotonic
_get_ident = threading.get_ident
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_time_ns = time.time_ns
_last_stamp: tuple[int, datetime] = (0, _EPOCH)


def _timestamp() -> datetime:
    """Now, at SWF's resolution (milliseconds): the events recorded within one millisecond
    share one datetime instead of allocating their own."""
    global _last_stamp
    ms = _time_ns() // 1_000_000
    last = _last_stamp
    if ms != last[0]:
        last = _last_stamp = (ms, _EPOCH + timedelta(milliseconds=ms))
    return last[1]


def _seconds(value: str | None) -> float | None:
    if value is None or value == "NONE":
        return None
    return float(value)


def _duration(value: Duration) -> str:
    if value is None:
        return "NONE"
    return str(value)


_TIMEOUT_SECONDS: dict[tuple[str, str, str, str], tuple[float | None, ...]] = {}


def _timeout_seconds(timeouts: tuple[str, str, str, str]) -> tuple[float | None, ...]:
    seconds = _TIMEOUT_SECONDS.get(timeouts)
    if seconds is None:
        seconds = _TIMEOUT_SECONDS[timeouts] = tuple(_seconds(t) for t in timeouts)
    return seconds


def _unknown(what: str) -> ServiceError:
    return ServiceError(what, "UnknownResourceFault")


def _invalid(what: str) -> ServiceError:
    return ServiceError(what, "ValidationException")


class OpenActivity:
    """An activity task between its ActivityTaskScheduled event and its closing event."""

    __slots__ = ("run", "scheduled_event_id", "activity_id", "activity_type", "task_list",
                 "input", "schedule_to_close", "schedule_to_start", "start_to_close",
                 "heartbeat_timeout", "scheduled_at", "started_event_id", "last_heartbeat",
                 "details", "cancel_requested", "token", "supervised", "closed")

    def __init__(self, run: Run, scheduled_event_id: int, activity_id: str,
                 activity_type: dict, task_list: str, input: str | None,
                 timeouts: tuple[float | None, ...]) -> None:
        self.run = run
        self.scheduled_event_id = scheduled_event_id
        self.activity_id = activity_id
        self.activity_type = activity_type
        self.task_list = task_list
        self.input = input
        (self.schedule_to_close, self.schedule_to_start, self.start_to_close,
         self.heartbeat_timeout) = timeouts
        self.scheduled_at = 0.0  # time.monotonic() when scheduled, if a schedule-to-* applies
        self.started_event_id = 0
        self.last_heartbeat = 0.0
        self.details: str | None = None  # the latest heartbeat details
        self.cancel_requested = False
        self.token = ""
        #: Taken by an in-process worker that heartbeats for it while it runs (as the SWF
        #: worker does for its children), so only a dead worker could miss a heartbeat.
        self.supervised = False
        self.closed = False

    def overdue(self, now: float) -> str | None:
        """The schedule-to-* timeout this not-yet-started task has run past at `now`, if any."""
        if self.schedule_to_start is not None and now >= self.scheduled_at + self.schedule_to_start:
            return "SCHEDULE_TO_START"
        if self.schedule_to_close is not None and now >= self.scheduled_at + self.schedule_to_close:
            return "SCHEDULE_TO_CLOSE"
        return None


class Run:
    """One run of a workflow execution: its history and what is open in it."""

    def __init__(self, workflow_id: str, run_id: str, workflow_type: dict, task_list: str,
                 decision_timeout: str, execution_timeout: str, child_policy: str,
                 tags: list[str]) -> None:
        self.workflow_id = workflow_id
        self.run_id = run_id
        #: {"workflowId", "runId"}: one dict, shared by the tasks and events that name the run
        #: (like every dict in a history, never changed once recorded)
        self.execution = {"workflowId": workflow_id, "runId": run_id}
        self.workflow_type = workflow_type
        self.task_list = task_list
        self.decision_timeout = decision_timeout
        self.execution_timeout = execution_timeout
        self.child_policy = child_policy
        self.tags = tags
        self.events: list[dict] = []
        self.closed = False
        self.close_event: dict | None = None
        self.parent: Run | None = None
        self.parent_initiated_event_id = 0
        self.continued_as: Run | None = None
        self.decision_scheduled_id = 0  # a scheduled, not yet started decision task
        self.decision_started_id = 0  # the started decision task, until it completes
        self.started_scheduled_id = 0  # the DecisionTaskScheduled of the started task
        self.previous_started_id = 0
        self.decision_wanted = False  # events came while a decision task was started
        self.decision_token = ""
        self.open_activities: dict[str, OpenActivity] = {}
        self.open_timers: dict[str, int] = {}  # timerId -> started event id
        self.children: dict[str, tuple[Run, int]] = {}  # workflowId -> (first run, initiated)
        self.cancel_requested = False
        self.execution_context: str | None = None
        self.latest_activity_stamp: datetime | None = None
        #: the decision task list as DecisionTaskScheduled records it (one dict per run)
        self.decision_task_list = {"name": task_list}

    @property
    def status(self) -> str:
        if not self.closed or self.close_event is None:
            return "OPEN"
        return CLOSE_STATUS[self.close_event["eventType"]]

    def history(self) -> HistoryFile:
        return HistoryFile(self.events, self.execution, dict(self.workflow_type), "local")

    def last(self) -> Run:
        """This run, or the run it continued as (followed to the end)."""
        run = self
        while run.continued_as is not None:
            run = run.continued_as
        return run


class MemorySwf:
    """One SWF domain in this process (see the module docstring)."""

    def __init__(self, domain: str = "local") -> None:
        self.domain = domain
        self.runs: list[Run] = []  # every run, in start order
        self.executions: dict[str, Run] = {}  # workflow id -> its latest run
        self.workflow_types: dict[tuple[str, str], dict[str, Any]] = {}
        self.activity_types: dict[tuple[str, str], dict[str, Any]] = {}
        # The queues, timers and inbox are read directly by the in-process driver's hot loop
        # (local.py); only this class changes them.
        self.decision_queue: deque[Run] = deque()  # runs with a scheduled decision task
        self.activity_queue: deque[OpenActivity] = deque()  # scheduled, not started
        self._decision_tokens: dict[str, Run] = {}
        self._activity_tokens: dict[str, OpenActivity] = {}
        self.timers: list[tuple[float, int, str, Callable[..., None], tuple]] = []
        self._seq = itertools.count()
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._loop_thread: int | None = None
        self._now: datetime | None = None  # one timestamp per transaction
        #: called (on the loop thread) whenever a decision or activity task becomes available
        self.on_work: Callable[[], None] | None = None

    # ------------------------------------------------------------------ the loop's side
    def bind_loop(self, thread_id: int | None = None) -> None:
        """Make the calling thread (or `thread_id`) the one that owns the histories."""
        self._loop_thread = thread_id if thread_id is not None else threading.get_ident()

    def _on_loop(self) -> bool:
        owner = self._loop_thread
        return owner is None or owner == threading.get_ident()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the loop thread, in order (used by other threads)."""
        self.inbox.put((fn, args))

    def drain(self, timeout: float | None = 0.0) -> bool:
        """Apply what other threads posted; wait up to `timeout` for the first item (None:
        forever). Returns True if anything was applied."""
        inbox = self.inbox
        try:
            if timeout == 0.0:
                item = inbox.get_nowait()
            else:
                item = inbox.get(timeout=timeout)
        except queue.Empty:
            return False
        while True:
            fn, args = item
            try:
                fn(*args)
            except ServiceError as exc:  # a late answer for a task that timed out, ...
                log.warning("%s", exc)
            try:
                item = inbox.get_nowait()
            except queue.Empty:
                return True

    def inbox_empty(self) -> bool:
        return self.inbox.empty()

    def next_deadline(self) -> float | None:
        """time.monotonic() of the next timer, if any."""
        return self.timers[0][0] if self.timers else None

    def fire_due_timers(self, now: float | None = None) -> bool:
        """Fire every timer due at `now` (default: the current time); True if any fired."""
        timers = self.timers
        if not timers:
            return False
        now = _monotonic() if now is None else now
        fired = False
        while timers and timers[0][0] <= now:
            _due, _seq, _kind, action, args = heapq.heappop(timers)
            action(*args)
            fired = True
        return fired

    def only_execution_timers(self) -> bool:
        """True when the only timers left are execution timeouts and inert activity checks."""
        return all(entry[2] in ("execution-timeout", "activity") for entry in self.timers)

    def has_decision_task(self) -> bool:
        return bool(self.decision_queue)

    def has_activity_task(self) -> bool:
        return bool(self.activity_queue)

    def queued_activities(self) -> int:
        return len(self.activity_queue)

    def _add_timer(self, seconds: float, action: Callable[..., None], kind: str = "timer",
                   *args: Any) -> None:
        """Call `action(*args)` (on the loop thread) `seconds` from now."""
        heapq.heappush(self.timers, (_monotonic() + seconds, next(self._seq), kind, action, args))

    # ------------------------------------------------------------------ history
    def _append(self, run: Run, event_type: str, attrs: dict) -> dict:
        events = run.events
        event = {
            "eventId": len(events) + 1,
            "eventTimestamp": self._now or _timestamp(),
            "eventType": event_type,
            attributes_key(event_type): attrs,
        }
        events.append(event)
        return event

    def _schedule_decision(self, run: Run) -> None:
        """Record DecisionTaskScheduled unless one is pending (SWF keeps at most one scheduled
        and one started); events that come while one is started get a task after it."""
        if run.closed or run.decision_scheduled_id:
            return
        if run.decision_started_id:
            run.decision_wanted = True
            return
        events = run.events
        if len(events) >= MAX_EVENTS - 1:
            self._terminate_for_event_limit(run)
            return
        run.decision_scheduled_id = event_id = len(events) + 1
        events.append({
            "eventId": event_id,
            "eventTimestamp": self._now or _timestamp(),
            "eventType": "DecisionTaskScheduled",
            "decisionTaskScheduledEventAttributes": {
                "taskList": run.decision_task_list,
                "startToCloseTimeout": run.decision_timeout,
            },
        })
        self.decision_queue.append(run)

    def _full(self, run: Run) -> bool:
        """True (and the run terminated) when its history has room for one more event only:
        called before each transaction adds its events, so a history never passes SWF's
        25,000."""
        if len(run.events) < MAX_EVENTS - 1:
            return False
        if not run.closed:
            self._terminate_for_event_limit(run)
        return True

    def _terminate_for_event_limit(self, run: Run) -> None:
        """SWF's 25,000-event ceiling: the termination is the last event the history takes."""
        log.error("workflow %s reached %d events: SWF terminates it (EVENT_LIMIT_EXCEEDED); "
                  "use continue_as_new to keep histories small", run.workflow_id, MAX_EVENTS)
        self._close(run, "WorkflowExecutionTerminated", {
            "childPolicy": run.child_policy, "cause": "EVENT_LIMIT_EXCEEDED"})

    # ------------------------------------------------------------------ domain and types
    def check_domain(self) -> dict[str, Any]:
        return {"domainInfo": {"name": self.domain, "status": "REGISTERED"},
                "configuration": {"workflowExecutionRetentionPeriodInDays": "0"}}

    def register_domain(self, name: str | None = None, retention_days: int = 1,
                        description: str | None = None) -> bool:
        if name not in (None, self.domain):
            raise UnknownDomain(f"this in-process SWF has one domain, {self.domain!r}")
        return False

    def register_workflow_type(
        self, name: str, version: str, task_list: str, execution_timeout: Duration,
        decision_task_timeout: Duration = 300, child_policy: str = "TERMINATE",
        description: str | None = None,
    ) -> bool:
        key = (name, version)
        if key in self.workflow_types:
            return False
        self.workflow_types[key] = {
            "taskList": task_list, "executionStartToCloseTimeout": _duration(execution_timeout),
            "taskStartToCloseTimeout": _duration(decision_task_timeout),
            "childPolicy": child_policy}
        return True

    def register_activity_type(
        self, name: str, version: str, task_list: str, *,
        schedule_to_start_timeout: Duration = "NONE", start_to_close_timeout: Duration = "NONE",
        schedule_to_close_timeout: Duration = "NONE", heartbeat_timeout: Duration = "NONE",
        description: str | None = None,
    ) -> bool:
        key = (name, version)
        if key in self.activity_types:
            return False
        self.activity_types[key] = {
            "taskList": task_list, "scheduleToStartTimeout": _duration(schedule_to_start_timeout),
            "startToCloseTimeout": _duration(start_to_close_timeout),
            "scheduleToCloseTimeout": _duration(schedule_to_close_timeout),
            "heartbeatTimeout": _duration(heartbeat_timeout)}
        return True

    # ------------------------------------------------------------------ executions
    def start_workflow_execution(
        self, workflow_id: str, name: str, version: str, *, input: str | None = None,
        task_list: str | None = None, execution_timeout: Duration = None,
        decision_task_timeout: Duration = None, child_policy: str | None = None,
        tags: Sequence[str] | None = None, priority: int | None = None,
    ) -> str:
        """Start a run (on the loop thread, or before the loop runs); returns its run id."""
        defaults = self.workflow_types.get((name, version))
        if defaults is None:
            raise _unknown(f"Unknown type: WorkflowType=[name={name}, version={version}]")
        _check_id("workflowId", workflow_id)
        _check_field("input", input)
        existing = self.executions.get(workflow_id)
        if existing is not None and not existing.last().closed:
            raise ServiceError(f"workflow {workflow_id} is already running",
                               "WorkflowExecutionAlreadyStartedFault")
        if tags and len(tags) > 5:
            raise _invalid("at most 5 tags")
        run = self._start_run(workflow_id, {"name": name, "version": version}, defaults, input,
                              list(tags or ()), task_list=task_list,
                              execution_timeout=execution_timeout,
                              decision_task_timeout=decision_task_timeout,
                              child_policy=child_policy)
        return run.run_id

    def _start_run(self, workflow_id: str, workflow_type: dict, defaults: Mapping[str, Any],
                   input_text: str | None, tags: list[str], *, task_list: str | None = None,
                   execution_timeout: Duration = None, decision_task_timeout: Duration = None,
                   child_policy: str | None = None, parent: Run | None = None,
                   parent_initiated: int = 0, continued_from: str | None = None) -> Run:
        timeout = _duration(execution_timeout) if execution_timeout is not None \
            else defaults["executionStartToCloseTimeout"]
        run = Run(workflow_id, uuid.uuid4().hex, workflow_type, task_list or defaults["taskList"],
                  _duration(decision_task_timeout) if decision_task_timeout is not None
                  else defaults["taskStartToCloseTimeout"],
                  timeout, child_policy or defaults["childPolicy"], tags)
        run.parent = parent
        run.parent_initiated_event_id = parent_initiated
        self.executions[workflow_id] = run
        self.runs.append(run)
        attrs: dict[str, Any] = {
            "workflowType": workflow_type,
            "taskList": {"name": run.task_list},
            "executionStartToCloseTimeout": run.execution_timeout,
            "taskStartToCloseTimeout": run.decision_timeout,
            "childPolicy": run.child_policy,
        }
        if input_text is not None:
            attrs["input"] = input_text
        if tags:
            attrs["tagList"] = list(tags)
        if continued_from:
            attrs["continuedExecutionRunId"] = continued_from
        if parent is not None:
            attrs["parentWorkflowExecution"] = parent.execution
            attrs["parentInitiatedEventId"] = parent_initiated
        self._append(run, "WorkflowExecutionStarted", attrs)
        seconds = _seconds(run.execution_timeout)
        if seconds is not None:
            self._add_timer(seconds, lambda: self._execution_timed_out(run), "execution-timeout")
        self._schedule_decision(run)
        return run

    def _run(self, workflow_id: str, run_id: str | None) -> Run:
        run = self.executions.get(workflow_id)
        if run is not None and run_id:
            run = next((r for r in self.runs if r.workflow_id == workflow_id
                        and r.run_id == run_id), None)
        if run is None:
            raise ExecutionNotFound(
                f"No execution found for workflow id {workflow_id!r}"
                + (f" run {run_id}" if run_id else "") + f" in domain {self.domain!r}")
        return run

    def _open_run(self, workflow_id: str, run_id: str | None) -> Run:
        run = self._run(workflow_id, run_id)
        if run.closed:
            raise _unknown(f"Unknown execution: WorkflowExecution=[workflowId={workflow_id}, "
                           f"runId={run.run_id}] is closed")
        return run

    def describe_workflow_execution(self, workflow_id: str,
                                    run_id: str | None = None) -> dict[str, Any]:
        run = self._run(workflow_id, run_id)
        return {
            "executionInfo": self._info(run),
            "executionConfiguration": {
                "taskStartToCloseTimeout": run.decision_timeout,
                "executionStartToCloseTimeout": run.execution_timeout,
                "taskList": {"name": run.task_list}, "childPolicy": run.child_policy},
            "openCounts": {
                "openActivityTasks": 0 if run.closed else len(run.open_activities),
                "openDecisionTasks": int(bool(not run.closed and (
                    run.decision_scheduled_id or run.decision_started_id))),
                "openTimers": 0 if run.closed else len(run.open_timers),
                "openChildWorkflowExecutions": 0 if run.closed else sum(
                    1 for child, _ in run.children.values() if not child.last().closed),
                "openLambdaFunctions": 0},
            **({"latestActivityTaskTimestamp": run.latest_activity_stamp}
               if run.latest_activity_stamp else {}),
            **({"latestExecutionContext": run.execution_context}
               if run.execution_context is not None else {}),
        }

    def _info(self, run: Run) -> dict[str, Any]:
        info: dict[str, Any] = {
            "execution": run.execution,
            "workflowType": dict(run.workflow_type),
            "startTimestamp": run.events[0]["eventTimestamp"],
            "executionStatus": "CLOSED" if run.closed else "OPEN",
            "cancelRequested": run.cancel_requested,
        }
        if run.closed and run.close_event is not None:
            info["closeTimestamp"] = run.close_event["eventTimestamp"]
            info["closeStatus"] = run.status
        if run.tags:
            info["tagList"] = list(run.tags)
        if run.parent is not None:
            info["parent"] = run.parent.execution
        return info

    def close_event(self, workflow_id: str, run_id: str) -> dict[str, Any] | None:
        run = self._run(workflow_id, run_id)
        return dict(run.close_event) if run.close_event is not None else None

    def get_workflow_execution_history(
        self, workflow_id: str, run_id: str | None = None, *, reverse: bool = False,
        for_engine: bool = False,
    ) -> list[dict[str, Any]]:
        events = list(self._run(workflow_id, run_id).events)
        return events[::-1] if reverse else events

    def list_executions(
        self, status: str = "open", since: datetime | None = None,
        type_name: str | None = None, tag: str | None = None, *,
        workflow_id: str | None = None, type_version: str | None = None,
    ) -> list[dict[str, Any]]:
        if status not in ("open", "closed", "all"):
            raise _invalid(f"Invalid status {status!r}: use open, closed or all")
        out = []
        for run in reversed(self.runs):
            if (status == "open" and run.closed) or (status == "closed" and not run.closed):
                continue
            if workflow_id and run.workflow_id != workflow_id:
                continue
            if type_name and run.workflow_type["name"] != type_name:
                continue
            if type_version and run.workflow_type["version"] != type_version:
                continue
            if tag and tag not in run.tags:
                continue
            if since and run.events[0]["eventTimestamp"] < since:
                continue
            out.append(self._info(run))
        return out

    def find_latest_run(self, workflow_id: str) -> dict[str, Any]:
        return self._info(self._run(workflow_id, None))

    def terminate(self, workflow_id: str, run_id: str | None = None, *,
                  reason: str | None = None, details: str | None = None,
                  child_policy: str | None = None) -> None:
        run = self._open_run(workflow_id, run_id)
        attrs: dict[str, Any] = {"childPolicy": child_policy or run.child_policy}
        if reason:
            attrs["reason"] = encoding.truncate_reason(reason)
        if details is not None:
            attrs["details"] = details
        self._call(self._terminate, run, attrs)

    def _terminate(self, run: Run, attrs: dict) -> None:
        if not run.closed:
            self._close(run, "WorkflowExecutionTerminated", attrs)

    def signal(self, workflow_id: str, signal_name: str, input: str | None = None,
               run_id: str | None = None) -> None:
        _check_id("signalName", signal_name)
        _check_field("input", input)
        run = self._open_run(workflow_id, run_id)
        self._call(self._signal_from_outside, run, signal_name, input)

    def _signal_from_outside(self, run: Run, name: str, input_text: str | None) -> None:
        if not run.closed:
            self._deliver_signal(run, name, input_text, None)

    def request_cancel(self, workflow_id: str, run_id: str | None = None) -> None:
        run = self._open_run(workflow_id, run_id)
        self._call(self._cancel_requested, run, {})

    def _cancel_requested(self, run: Run, attrs: dict) -> None:
        if run.closed or self._full(run):
            return
        run.cancel_requested = True
        self._append(run, "WorkflowExecutionCancelRequested", attrs)
        self._schedule_decision(run)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Apply now on the loop thread; from any other thread, post it to the loop."""
        if self._on_loop():
            fn(*args)
        else:
            self.post(fn, *args)

    # ------------------------------------------------------------------ decision tasks
    def poll_for_decision_task(
        self, task_list: str, identity: str | None = None, *,
        start_at_previous_started_event: bool = False, for_engine: bool = False,
    ) -> dict[str, Any] | None:
        """The oldest decision task on `task_list` (None if there is none: no long poll here).

        Its decision start-to-close timeout runs from now: a task left unanswered times out
        and is scheduled again, as on SWF.
        """
        for run in self.decision_queue:
            if run.task_list == task_list:
                self.decision_queue.remove(run)
                task = self._start_decision(run, identity or "local")
                if task is None:
                    return None
                timeout = _seconds(run.decision_timeout)
                if timeout is not None:
                    started = run.decision_started_id
                    self._add_timer(timeout, lambda run=run, started=started:
                                    self._decision_timed_out(run, started), "decision")
                return task
        return None

    def next_decision_task(self) -> dict[str, Any] | None:
        """The oldest decision task on any list, for an in-process decider that always answers
        (or closes the run itself): no decision timeout is armed."""
        queue_ = self.decision_queue
        while queue_:
            run = queue_.popleft()
            if not run.closed:
                task = self._start_decision(run, "local")
                if task is not None:
                    return task
        return None

    def _start_decision(self, run: Run, identity: str) -> dict[str, Any] | None:
        if self._full(run):
            return None
        events = run.events
        run.decision_started_id = started_id = len(events) + 1
        events.append({
            "eventId": started_id,
            "eventTimestamp": _timestamp(),
            "eventType": "DecisionTaskStarted",
            "decisionTaskStartedEventAttributes": {"scheduledEventId": run.decision_scheduled_id,
                                                   "identity": identity},
        })
        run.started_scheduled_id = run.decision_scheduled_id
        run.decision_token = token = f"{run.run_id}/{started_id}"
        self._decision_tokens[token] = run
        task = {
            "taskToken": token,
            "startedEventId": started_id,
            "previousStartedEventId": run.previous_started_id,
            "workflowExecution": run.execution,
            "workflowType": run.workflow_type,
            # The live list: the decider reads it before anything else can append to it.
            "events": events,
        }
        run.decision_scheduled_id = 0
        return task

    def _decision_timed_out(self, run: Run, started_id: int) -> None:
        if run.closed or run.decision_started_id != started_id:
            return
        self._decision_tokens.pop(run.decision_token, None)
        self._append(run, "DecisionTaskTimedOut", {
            "timeoutType": "START_TO_CLOSE", "scheduledEventId": run.started_scheduled_id,
            "startedEventId": started_id})
        run.decision_started_id = 0
        run.decision_wanted = False
        self._schedule_decision(run)

    def respond_decision_task_completed(
        self, token: str, decisions: Sequence[Mapping[str, Any]], *,
        execution_context: str | None = None, task_list: str | None = None,
        schedule_to_start_timeout: Duration = None,
    ) -> None:
        """Apply a decider's answer: the whole request is validated first, as SWF does."""
        run = self._decision_tokens.get(token)
        if run is None or run.closed or run.decision_token != token:
            raise _unknown("Unknown decision task: its token is stale (the task timed out, "
                           "or the execution closed)")
        _validate_decisions(decisions)
        if self._full(run):
            return
        if execution_context is not None and len(execution_context) > encoding.MAX_CONTROL:
            raise _invalid("executionContext is over 32,768 characters")
        del self._decision_tokens[token]
        now = self._now = _timestamp()
        try:
            scheduled_id = run.started_scheduled_id
            started_id = run.decision_started_id
            events = run.events
            completed_id = len(events) + 1
            completed_attrs: dict[str, Any] = {"scheduledEventId": scheduled_id,
                                               "startedEventId": started_id}
            if execution_context is not None:
                completed_attrs["executionContext"] = execution_context
                run.execution_context = execution_context
            events.append({
                "eventId": completed_id,
                "eventTimestamp": now,
                "eventType": "DecisionTaskCompleted",
                "decisionTaskCompletedEventAttributes": completed_attrs,
            })
            run.previous_started_id = started_id
            run.decision_started_id = 0
            run.decision_token = ""
            handlers = _DECISION_HANDLERS
            for decision in decisions:
                if run.closed:
                    break
                if len(events) >= MAX_EVENTS - 1:
                    self._terminate_for_event_limit(run)
                    break
                kind = decision["decisionType"]
                handler = handlers.get(kind) or _decision_handler(kind)
                handler[0](self, run, decision[handler[1]], completed_id)
            if run.decision_wanted and not run.closed:
                run.decision_wanted = False
                self._schedule_decision(run)
            elif len(events) >= MAX_EVENTS - 1 and not run.closed:
                self._terminate_for_event_limit(run)
        finally:
            self._now = None

    # ------------------------------------------------------------------ activity tasks
    def poll_for_activity_task(self, task_list: str,
                               identity: str | None = None) -> dict[str, Any] | None:
        for activity in self.activity_queue:
            if activity.task_list == task_list:
                self.activity_queue.remove(activity)
                if not activity.closed:
                    return self._start_activity(activity, identity or "local")
        return None

    def next_activity_task(self, identity: str = "local",
                           supervised: bool = True) -> dict[str, Any] | None:
        """The oldest activity task on any list, for an in-process worker. `supervised`: the
        worker heartbeats for it while it runs (see OpenActivity.supervised)."""
        queue_ = self.activity_queue
        while queue_:
            activity = queue_.popleft()
            if activity.closed:
                continue
            if activity.scheduled_at:
                late = activity.overdue(_monotonic())
                if late is not None:  # its timer has not fired yet: it never starts now
                    self._activity_timed_out(activity, late)
                    continue
            activity.supervised = supervised
            task = self._start_activity(activity, identity)
            if task is not None:
                return task
        return None

    def _start_activity(self, activity: OpenActivity, identity: str) -> dict[str, Any] | None:
        run = activity.run
        if self._full(run):
            return None
        events = run.events
        activity.started_event_id = started_id = len(events) + 1
        now = _timestamp()
        events.append({
            "eventId": started_id,
            "eventTimestamp": now,
            "eventType": "ActivityTaskStarted",
            "activityTaskStartedEventAttributes": {
                "scheduledEventId": activity.scheduled_event_id, "identity": identity},
        })
        run.latest_activity_stamp = now
        activity.last_heartbeat = _monotonic()  # also its start time, for start-to-close
        activity.token = token = f"{run.run_id}/{activity.scheduled_event_id}"
        self._activity_tokens[token] = activity
        if activity.start_to_close is not None:
            heapq.heappush(self.timers, (
                activity.last_heartbeat + activity.start_to_close, next(self._seq), "activity",
                self._activity_timed_out, (activity, "START_TO_CLOSE")))
        if activity.heartbeat_timeout is not None:
            self._arm_heartbeat_check(activity)
        task: dict[str, Any] = {
            "taskToken": token,
            "activityId": activity.activity_id,
            "startedEventId": started_id,
            "workflowExecution": run.execution,
            "activityType": activity.activity_type,
        }
        if activity.input is not None:
            task["input"] = activity.input
        return task

    def _arm_heartbeat_check(self, activity: OpenActivity) -> None:
        def check() -> None:
            if activity.closed:
                return
            if activity.supervised:  # its worker is alive and heartbeats for it
                activity.last_heartbeat = _monotonic()
            late = _monotonic() - activity.last_heartbeat
            assert activity.heartbeat_timeout is not None
            if late >= activity.heartbeat_timeout:
                self._activity_timed_out(activity, "HEARTBEAT")
            else:
                self._add_timer(activity.heartbeat_timeout - late, check, "activity")
        self._add_timer(activity.heartbeat_timeout or 0, check, "activity")

    def open_activity(self, token: str) -> OpenActivity | None:
        """The open activity task a token names (None once it closed)."""
        activity = self._activity_tokens.get(token)
        return activity if activity is not None and not activity.closed else None

    def _open_task(self, token: str) -> OpenActivity:
        activity = self._activity_tokens.get(token)
        if activity is None or activity.closed:
            raise _unknown("Unknown activity task: it already closed (timed out, cancelled, or "
                           "its execution closed)")
        return activity

    def respond_activity_task_completed(self, token: str, result: str | None = None) -> None:
        if result is not None and len(result) > encoding.MAX_RESULT:
            _check_field("result", result)
        activity = self._activity_tokens.get(token)
        if activity is None or activity.closed:
            self._open_task(token)  # raises: a stale token is refused, as SWF refuses it
        owner = self._loop_thread
        if owner is None or owner == _get_ident():
            self._completed(activity, result)  # type: ignore[arg-type]
        else:
            self.post(self._completed_later, token, result)

    def respond_activity_task_failed(self, token: str, reason: str | None = None,
                                     details: str | None = None) -> None:
        _check_field("reason", reason)
        _check_field("details", details)
        self._respond(token, "ActivityTaskFailed", reason, details)

    def respond_activity_task_canceled(self, token: str, details: str | None = None) -> None:
        _check_field("details", details)
        activity = self._open_task(token)
        if not activity.cancel_requested:
            raise ServiceError("RespondActivityTaskCanceled: no cancellation was requested for "
                               "this activity task", "OperationNotPermittedFault")
        self._respond(token, "ActivityTaskCanceled", None, details)

    def record_activity_task_heartbeat(self, token: str, details: str | None = None) -> bool:
        if details is not None and len(details) > encoding.MAX_HEARTBEAT_DETAILS:
            raise _invalid("heartbeat details are over 2,048 characters")
        activity = self._open_task(token)
        activity.last_heartbeat = _monotonic()  # plain stores: safe from any thread
        if details is not None:
            activity.details = details
        return activity.cancel_requested

    def _respond(self, token: str, event_type: str, reason: str | None,
                 details: str | None) -> None:
        if self._on_loop():
            self._closed_by_worker(self._open_task(token), event_type, reason, details)
        else:
            self._open_task(token)
            self.post(self._closed_later, token, event_type, reason, details)

    def _completed_later(self, token: str, result: str | None) -> None:
        self._completed(self._open_task(token), result)

    def _closed_later(self, token: str, event_type: str, reason: str | None,
                      details: str | None) -> None:
        self._closed_by_worker(self._open_task(token), event_type, reason, details)

    def _completed(self, activity: OpenActivity, result: str | None) -> None:
        run = self._close_activity(activity)
        if self._full(run):
            return
        attrs = {"scheduledEventId": activity.scheduled_event_id,
                 "startedEventId": activity.started_event_id}
        if result is not None:
            attrs["result"] = result
        events = run.events
        events.append({
            "eventId": len(events) + 1,
            "eventTimestamp": _timestamp(),
            "eventType": "ActivityTaskCompleted",
            "activityTaskCompletedEventAttributes": attrs,
        })
        self._schedule_decision(run)

    def _closed_by_worker(self, activity: OpenActivity, event_type: str, reason: str | None,
                          details: str | None) -> None:
        run = self._close_activity(activity)
        if self._full(run):
            return
        attrs: dict[str, Any] = {"scheduledEventId": activity.scheduled_event_id,
                                 "startedEventId": activity.started_event_id}
        if reason is not None:
            attrs["reason"] = reason
        if details is not None:
            attrs["details"] = details
        self._append(run, event_type, attrs)
        self._schedule_decision(run)

    def _close_activity(self, activity: OpenActivity) -> Run:
        activity.closed = True
        run = activity.run
        del run.open_activities[activity.activity_id]
        self._activity_tokens.pop(activity.token, None)
        return run

    def _activity_timed_out(self, activity: OpenActivity, timeout_type: str) -> None:
        """Close a task as SWF does when one of its timeouts fires; a late answer is refused."""
        if activity.closed or activity.run.closed:
            return
        if activity.started_event_id:
            if timeout_type == "SCHEDULE_TO_START":
                return  # it started in time
        elif activity in self.activity_queue:  # still queued: it never starts now
            self.activity_queue.remove(activity)
        run = self._close_activity(activity)
        activity.cancel_requested = True  # a local activity still running learns it must stop
        if self._full(run):
            return
        # startedEventId is required by SWF's model: 0 for a task that never started
        attrs: dict[str, Any] = {"timeoutType": timeout_type,
                                 "scheduledEventId": activity.scheduled_event_id,
                                 "startedEventId": activity.started_event_id}
        if activity.details is not None:
            attrs["details"] = activity.details
        self._append(run, "ActivityTaskTimedOut", attrs)
        self._schedule_decision(run)

    # ------------------------------------------------------------------ decisions
    def _decide_ScheduleActivityTask(self, run: Run, attrs: dict, completed_id: int) -> None:
        activity_id = attrs["activityId"]
        activity_type = attrs["activityType"]
        defaults = self.activity_types.get((activity_type["name"], activity_type["version"]))
        cause = None
        if defaults is None:
            cause = "ACTIVITY_TYPE_DOES_NOT_EXIST"
        elif activity_id in run.open_activities:
            cause = "ACTIVITY_ID_ALREADY_IN_USE"
        elif len(run.open_activities) >= MAX_OPEN:
            cause = "OPEN_ACTIVITIES_LIMIT_EXCEEDED"
        if cause is not None:
            self._append(run, "ScheduleActivityTaskFailed", {
                "activityType": activity_type, "activityId": activity_id, "cause": cause,
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        assert defaults is not None
        task_list = attrs.get("taskList") or {"name": defaults["taskList"]}
        timeouts = (attrs.get("scheduleToCloseTimeout") or defaults["scheduleToCloseTimeout"],
                    attrs.get("scheduleToStartTimeout") or defaults["scheduleToStartTimeout"],
                    attrs.get("startToCloseTimeout") or defaults["startToCloseTimeout"],
                    attrs.get("heartbeatTimeout") or defaults["heartbeatTimeout"])
        event_attrs = {
            "activityType": activity_type,
            "activityId": activity_id,
            "taskList": task_list,
            "decisionTaskCompletedEventId": completed_id,
            "scheduleToCloseTimeout": timeouts[0],
            "scheduleToStartTimeout": timeouts[1],
            "startToCloseTimeout": timeouts[2],
            "heartbeatTimeout": timeouts[3],
        }
        input_text = attrs.get("input")
        if input_text is not None:
            event_attrs["input"] = input_text
        if attrs.get("control") is not None:
            event_attrs["control"] = attrs["control"]
        if "taskPriority" in attrs:
            event_attrs["taskPriority"] = attrs["taskPriority"]
        events = run.events
        scheduled_id = len(events) + 1
        events.append({
            "eventId": scheduled_id,
            "eventTimestamp": self._now or _timestamp(),
            "eventType": "ActivityTaskScheduled",
            "activityTaskScheduledEventAttributes": event_attrs,
        })
        activity = OpenActivity(run, scheduled_id, activity_id, activity_type, task_list["name"],
                                input_text, _TIMEOUT_SECONDS.get(timeouts)
                                or _timeout_seconds(timeouts))
        run.open_activities[activity_id] = activity
        self.activity_queue.append(activity)
        if activity.schedule_to_start is not None or activity.schedule_to_close is not None:
            activity.scheduled_at = _monotonic()
            if activity.schedule_to_start is not None:
                self._add_timer(activity.schedule_to_start, lambda: self._activity_timed_out(
                    activity, "SCHEDULE_TO_START"), "activity")
            if activity.schedule_to_close is not None:
                self._add_timer(activity.schedule_to_close, lambda: self._activity_timed_out(
                    activity, "SCHEDULE_TO_CLOSE"), "activity")

    def _decide_RequestCancelActivityTask(self, run: Run, attrs: dict, completed_id: int) -> None:
        activity_id = attrs["activityId"]
        activity = run.open_activities.get(activity_id)
        if activity is None:
            self._append(run, "RequestCancelActivityTaskFailed", {
                "activityId": activity_id, "cause": "ACTIVITY_ID_UNKNOWN",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        self._append(run, "ActivityTaskCancelRequested", {
            "activityId": activity_id, "decisionTaskCompletedEventId": completed_id})
        activity.cancel_requested = True
        if not activity.started_event_id:  # never started: cancelled on the spot
            if activity in self.activity_queue:
                self.activity_queue.remove(activity)
            self._close_activity(activity)
            self._append(run, "ActivityTaskCanceled", {
                "scheduledEventId": activity.scheduled_event_id, "startedEventId": 0})
            self._schedule_decision(run)

    # timers ---------------------------------------------------------------------------------
    def _decide_StartTimer(self, run: Run, attrs: dict, completed_id: int) -> None:
        timer_id = attrs["timerId"]
        cause = None
        if timer_id in run.open_timers:
            cause = "TIMER_ID_ALREADY_IN_USE"
        elif len(run.open_timers) >= MAX_OPEN:
            cause = "OPEN_TIMERS_LIMIT_EXCEEDED"
        if cause is not None:
            self._append(run, "StartTimerFailed", {
                "timerId": timer_id, "cause": cause,
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        event_attrs = {"timerId": timer_id, "startToFireTimeout": attrs["startToFireTimeout"],
                       "decisionTaskCompletedEventId": completed_id}
        if attrs.get("control") is not None:
            event_attrs["control"] = attrs["control"]
        started_id = self._append(run, "TimerStarted", event_attrs)["eventId"]
        run.open_timers[timer_id] = started_id

        def fire() -> None:
            if run.open_timers.get(timer_id) == started_id and not run.closed:
                del run.open_timers[timer_id]
                if self._full(run):
                    return
                self._append(run, "TimerFired", {"timerId": timer_id,
                                                 "startedEventId": started_id})
                self._schedule_decision(run)

        self._add_timer(float(attrs["startToFireTimeout"]), fire)

    def _decide_CancelTimer(self, run: Run, attrs: dict, completed_id: int) -> None:
        timer_id = attrs["timerId"]
        started_id = run.open_timers.pop(timer_id, None)
        if started_id is None:
            self._append(run, "CancelTimerFailed", {
                "timerId": timer_id, "cause": "TIMER_ID_UNKNOWN",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        self._append(run, "TimerCanceled", {
            "timerId": timer_id, "startedEventId": started_id,
            "decisionTaskCompletedEventId": completed_id})

    def _decide_RecordMarker(self, run: Run, attrs: dict, completed_id: int) -> None:
        event_attrs = {"markerName": attrs["markerName"],
                       "decisionTaskCompletedEventId": completed_id}
        if attrs.get("details") is not None:
            event_attrs["details"] = attrs["details"]
        self._append(run, "MarkerRecorded", event_attrs)

    # closing ----------------------------------------------------------------------------------
    def _decide_CompleteWorkflowExecution(self, run: Run, attrs: dict,
                                          completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id}
        if attrs.get("result") is not None:
            event_attrs["result"] = attrs["result"]
        self._close(run, "WorkflowExecutionCompleted", event_attrs)

    def _decide_FailWorkflowExecution(self, run: Run, attrs: dict, completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id}
        for key in ("reason", "details"):
            if attrs.get(key) is not None:
                event_attrs[key] = attrs[key]
        self._close(run, "WorkflowExecutionFailed", event_attrs)

    def _decide_CancelWorkflowExecution(self, run: Run, attrs: dict, completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id}
        if attrs.get("details") is not None:
            event_attrs["details"] = attrs["details"]
        self._close(run, "WorkflowExecutionCanceled", event_attrs)

    def _decide_ContinueAsNewWorkflowExecution(self, run: Run, attrs: dict,
                                               completed_id: int) -> None:
        version = attrs.get("workflowTypeVersion") or run.workflow_type["version"]
        workflow_type = {"name": run.workflow_type["name"], "version": version}
        defaults = self.workflow_types.get((workflow_type["name"], version))
        if defaults is None:
            self._append(run, "ContinueAsNewWorkflowExecutionFailed", {
                "cause": "WORKFLOW_TYPE_DOES_NOT_EXIST",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        new = self._start_run(
            run.workflow_id, workflow_type, defaults, attrs.get("input"),
            list(attrs.get("tagList") or run.tags),
            task_list=(attrs.get("taskList") or {}).get("name") or run.task_list,
            execution_timeout=attrs.get("executionStartToCloseTimeout") or run.execution_timeout,
            decision_task_timeout=attrs.get("taskStartToCloseTimeout") or run.decision_timeout,
            child_policy=attrs.get("childPolicy") or run.child_policy,
            parent=run.parent, parent_initiated=run.parent_initiated_event_id,
            continued_from=run.run_id)
        run.continued_as = new
        close_attrs: dict[str, Any] = {
            "decisionTaskCompletedEventId": completed_id, "newExecutionRunId": new.run_id,
            "taskList": {"name": new.task_list},
            "executionStartToCloseTimeout": new.execution_timeout,
            "taskStartToCloseTimeout": new.decision_timeout,
            "childPolicy": new.child_policy, "workflowType": workflow_type}
        if attrs.get("input") is not None:
            close_attrs["input"] = attrs["input"]
        if new.tags:
            close_attrs["tagList"] = list(new.tags)
        self._close(run, "WorkflowExecutionContinuedAsNew", close_attrs, continued=True)

    def _execution_timed_out(self, run: Run) -> None:
        if not run.closed:
            self._close(run, "WorkflowExecutionTimedOut", {
                "timeoutType": "START_TO_CLOSE", "childPolicy": run.child_policy})

    def _close(self, run: Run, event_type: str, attrs: dict, continued: bool = False) -> None:
        run.closed = True
        run.close_event = self._append(run, event_type, attrs)
        self._decision_tokens.pop(run.decision_token, None)
        run.decision_started_id = run.decision_scheduled_id = 0
        for activity in list(run.open_activities.values()):
            activity.closed = True  # a late answer is refused, as SWF refuses it
            activity.cancel_requested = True  # its heartbeat tells the activity to stop
            self._activity_tokens.pop(activity.token, None)
        run.open_activities.clear()
        run.open_timers.clear()
        if run.child_policy in ("TERMINATE", "REQUEST_CANCEL"):
            for child, _initiated in run.children.values():
                last = child.last()
                if last.closed:
                    continue
                if run.child_policy == "TERMINATE":
                    self._close(last, "WorkflowExecutionTerminated", {
                        "reason": "parent closed (child policy TERMINATE)",
                        "childPolicy": last.child_policy, "cause": "CHILD_POLICY_APPLIED"})
                else:
                    self._cancel_requested(last, {"cause": "CHILD_POLICY_APPLIED"})
        if run.parent is not None and not continued:
            self._notify_parent(run)

    # children, signals, cancellation of other executions -------------------------------------
    def _decide_StartChildWorkflowExecution(self, run: Run, attrs: dict,
                                            completed_id: int) -> None:
        workflow_type = attrs["workflowType"]
        workflow_id = attrs["workflowId"]
        defaults = self.workflow_types.get((workflow_type["name"], workflow_type["version"]))
        base = {"workflowId": workflow_id, "workflowType": workflow_type,
                "decisionTaskCompletedEventId": completed_id}
        if attrs.get("control") is not None:
            base["control"] = attrs["control"]
        existing = self.executions.get(workflow_id)
        cause = None
        if defaults is None:
            cause = "WORKFLOW_TYPE_DOES_NOT_EXIST"
        elif len(run.children) >= MAX_OPEN and sum(
                1 for child, _ in run.children.values() if not child.last().closed) >= MAX_OPEN:
            cause = "OPEN_CHILDREN_LIMIT_EXCEEDED"
        if cause is not None:
            self._append(run, "StartChildWorkflowExecutionFailed",
                         {**base, "cause": cause, "initiatedEventId": 0})
            self._schedule_decision(run)
            return
        assert defaults is not None
        initiated_attrs = {
            **base,
            "taskList": attrs.get("taskList") or {"name": defaults["taskList"]},
            "childPolicy": attrs.get("childPolicy") or defaults["childPolicy"],
            "executionStartToCloseTimeout": attrs.get("executionStartToCloseTimeout")
            or defaults["executionStartToCloseTimeout"],
            "taskStartToCloseTimeout": attrs.get("taskStartToCloseTimeout")
            or defaults["taskStartToCloseTimeout"],
        }
        input_text = attrs.get("input")
        if input_text is not None:
            initiated_attrs["input"] = input_text
        if attrs.get("tagList"):
            initiated_attrs["tagList"] = attrs["tagList"]
        initiated = self._append(run, "StartChildWorkflowExecutionInitiated", initiated_attrs)
        if existing is not None and not existing.last().closed:
            # SWF initiates the start, then fails it, pointing at the Initiated event (the only
            # cause for which it does: see StartChildWorkflowExecutionFailedEventAttributes).
            self._append(run, "StartChildWorkflowExecutionFailed", {
                **base, "cause": "WORKFLOW_ALREADY_RUNNING",
                "initiatedEventId": initiated["eventId"]})
            self._schedule_decision(run)
            return
        child = self._start_run(
            workflow_id, workflow_type, defaults, input_text, list(attrs.get("tagList") or []),
            task_list=initiated_attrs["taskList"]["name"],
            execution_timeout=initiated_attrs["executionStartToCloseTimeout"],
            decision_task_timeout=initiated_attrs["taskStartToCloseTimeout"],
            child_policy=initiated_attrs["childPolicy"], parent=run,
            parent_initiated=initiated["eventId"])
        run.children[workflow_id] = (child, initiated["eventId"])
        self._append(run, "ChildWorkflowExecutionStarted", {
            "workflowExecution": child.execution, "workflowType": workflow_type,
            "initiatedEventId": initiated["eventId"]})
        self._schedule_decision(run)

    def _notify_parent(self, child: Run) -> None:
        parent = child.parent.last() if child.parent else None
        if parent is None or parent.closed or self._full(parent):
            return
        entry = parent.children.get(child.workflow_id)
        if entry is None:
            return
        _first_run, initiated_id = entry
        close = child.close_event or {}
        close_type = close.get("eventType", "")
        close_attrs = close.get(attributes_key(close_type)) or {} if close_type else {}
        attrs = {
            "workflowExecution": child.execution,
            "workflowType": dict(child.workflow_type),
            "initiatedEventId": initiated_id,
            "startedEventId": initiated_id + 1,
        }
        event_type, keys = _CHILD_CLOSE[close_type]
        for key in keys:
            if close_attrs.get(key) is not None:
                attrs[key] = close_attrs[key]
        self._append(parent, event_type, attrs)
        self._schedule_decision(parent)

    def _deliver_signal(self, target: Run, name: str, input_text: str | None,
                        source: Run | None, initiated_id: int = 0) -> None:
        if self._full(target):
            return
        attrs: dict[str, Any] = {"signalName": name}
        if input_text is not None:
            attrs["input"] = input_text
        if source is not None:
            attrs["externalWorkflowExecution"] = source.execution
            attrs["externalInitiatedEventId"] = initiated_id
        self._append(target, "WorkflowExecutionSignaled", attrs)
        self._schedule_decision(target)

    def _decide_SignalExternalWorkflowExecution(self, run: Run, attrs: dict,
                                                completed_id: int) -> None:
        initiated_attrs = dict(attrs)
        initiated_attrs["decisionTaskCompletedEventId"] = completed_id
        initiated = self._append(run, "SignalExternalWorkflowExecutionInitiated",
                                 initiated_attrs)
        target = self.executions.get(attrs["workflowId"])
        run_id = attrs.get("runId")
        if target is not None and run_id:
            target = next((r for r in self.runs if r.workflow_id == attrs["workflowId"]
                           and r.run_id == run_id), None)
        if target is None or target.closed:
            failed = {"workflowId": attrs["workflowId"], "runId": run_id or "",
                      "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                      "initiatedEventId": initiated["eventId"],
                      "decisionTaskCompletedEventId": completed_id}
            if attrs.get("control"):
                failed["control"] = attrs["control"]
            self._append(run, "SignalExternalWorkflowExecutionFailed", failed)
            self._schedule_decision(run)
            return
        self._deliver_signal(target, attrs["signalName"], attrs.get("input"), run,
                             initiated["eventId"])
        if not run.closed:
            # SWF's ExternalWorkflowExecutionSignaled has no control: the initiated event does
            self._append(run, "ExternalWorkflowExecutionSignaled", {
                "workflowExecution": target.execution, "initiatedEventId": initiated["eventId"]})
            self._schedule_decision(run)

    def _decide_RequestCancelExternalWorkflowExecution(self, run: Run, attrs: dict,
                                                       completed_id: int) -> None:
        initiated = self._append(run, "RequestCancelExternalWorkflowExecutionInitiated", {
            **attrs, "decisionTaskCompletedEventId": completed_id})
        target = self.executions.get(attrs["workflowId"])
        if target is None or target.last().closed:
            self._append(run, "RequestCancelExternalWorkflowExecutionFailed", {
                "workflowId": attrs["workflowId"], "runId": attrs.get("runId", ""),
                "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                "initiatedEventId": initiated["eventId"],
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(run)
            return
        target = target.last()
        target.cancel_requested = True
        self._append(target, "WorkflowExecutionCancelRequested", {
            "externalWorkflowExecution": run.execution,
            "externalInitiatedEventId": initiated["eventId"]})
        self._schedule_decision(target)
        self._append(run, "ExternalWorkflowExecutionCancelRequested", {
            "workflowExecution": target.execution, "initiatedEventId": initiated["eventId"]})
        self._schedule_decision(run)


_CHILD_CLOSE = {
    "WorkflowExecutionCompleted": ("ChildWorkflowExecutionCompleted", ("result",)),
    "WorkflowExecutionFailed": ("ChildWorkflowExecutionFailed", ("reason", "details")),
    "WorkflowExecutionCanceled": ("ChildWorkflowExecutionCanceled", ("details",)),
    "WorkflowExecutionTerminated": ("ChildWorkflowExecutionTerminated", ()),
    "WorkflowExecutionTimedOut": ("ChildWorkflowExecutionTimedOut", ("timeoutType",)),
}

_DECISION_HANDLERS: dict[str, tuple[Callable[..., None], str]] = {}


def _decision_handler(kind: str) -> tuple[Callable[..., None], str]:
    handler = getattr(MemorySwf, f"_decide_{kind}", None)
    if handler is None:
        raise _invalid(f"unknown decision type {kind!r}")
    route = _DECISION_HANDLERS[kind] = (handler, decision_attributes_key(kind))
    return route


#: Per decision type: its attributes key, the members SWF requires, the members that are ids or
#: names (1 to 256 characters), and the text members with a size limit.
_RULES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    kind: (decision_attributes_key(kind), required, ids, texts)
    for kind, required, ids, texts in (
        ("ScheduleActivityTask", ("activityType", "activityId"), ("activityId",),
         ("input", "control")),
        ("RequestCancelActivityTask", ("activityId",), ("activityId",), ()),
        ("StartTimer", ("timerId", "startToFireTimeout"), ("timerId",), ("control",)),
        ("CancelTimer", ("timerId",), ("timerId",), ()),
        ("RecordMarker", ("markerName",), ("markerName",), ("details",)),
        ("CompleteWorkflowExecution", (), (), ("result",)),
        ("FailWorkflowExecution", (), (), ("reason", "details")),
        ("CancelWorkflowExecution", (), (), ("details",)),
        ("ContinueAsNewWorkflowExecution", (), (), ("input",)),
        ("StartChildWorkflowExecution", ("workflowType", "workflowId"), ("workflowId",),
         ("input", "control")),
        ("SignalExternalWorkflowExecution", ("workflowId", "signalName"),
         ("workflowId", "signalName"), ("input", "control")),
        ("RequestCancelExternalWorkflowExecution", ("workflowId",), ("workflowId",),
         ("control",)),
    )
}


def _check_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ID_LENGTH:
        raise _invalid(f"{name} must be 1 to {MAX_ID_LENGTH} characters, got {value!r:.80}")


def _check_field(name: str, value: str | None) -> None:
    if value is not None and len(value) > _FIELD_LIMITS[name]:
        raise _invalid(f"{name} is {len(value)} characters, over SWF's limit of "
                       f"{_FIELD_LIMITS[name]}")


def _validate_decisions(decisions: Sequence[Mapping[str, Any]]) -> None:
    """Refuse the whole response as SWF would: a missing or over-long member, or a response
    over SWF's 1 MB request limit."""
    count_size = len(decisions) * encoding.MAX_INPUT > MAX_REQUEST_BYTES  # else it cannot be
    total = 0
    for decision in decisions:
        kind = decision.get("decisionType")
        rules = _RULES.get(kind)  # type: ignore[arg-type]
        if rules is None:
            raise _invalid(f"unknown decision type {kind!r}")
        key, required, ids, texts = rules
        attrs = decision.get(key)
        if attrs is None:
            if required:
                raise _invalid(f"{kind} needs its attributes")
            continue
        for member in required:
            if not attrs.get(member):
                raise _invalid(f"{kind}: {member} is required")
        for member in ids:
            value = attrs[member]
            if type(value) is not str or len(value) > MAX_ID_LENGTH:
                _check_id(f"{kind}.{member}", value)
        for member in texts:
            value = attrs.get(member)
            if value is not None:
                if count_size:
                    total += len(value)
                if len(value) > _FIELD_LIMITS[member]:
                    raise _invalid(f"{kind}.{member} is {len(value)} characters, over SWF's "
                                   f"limit of {_FIELD_LIMITS[member]}")
    if count_size and total + 1000 * len(decisions) > MAX_REQUEST_BYTES:  # then measure it
        size = len(encoding.dumps(list(decisions)).encode())
        if size > MAX_REQUEST_BYTES:
            raise _invalid(f"RespondDecisionTaskCompleted is {size} bytes, over SWF's request "
                           f"limit of {MAX_REQUEST_BYTES}")


__all__ = ["MAX_EVENTS", "MAX_OPEN", "MAX_REQUEST_BYTES", "MemorySwf", "OpenActivity", "Run"]
