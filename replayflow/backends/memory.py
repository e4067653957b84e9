"""An in-process stand-in for SWF, so `--local` runs the very engine the decider runs.

It keeps SWF-shaped histories, turns decisions into the events SWF would record (including the
failure events, such as ScheduleActivityTaskFailed), runs activities on a thread pool so that
independent branches really run at the same time, fires timers, starts child workflows, delivers
signals and cancellations, and follows continue-as-new. One thread owns every history and every
ExecutionState; activity threads only post their outcomes to a queue.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import logging
import queue
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import encoding
from ..activity import ActivityContext
from ..engine.replay import ExecutionState
from ..errors import PayloadTooLarge, ReplayflowError
from ..execution import run_activity  # shared with the SWF worker: one behaviour
from ..history import CLOSE_STATUS, HistoryFile

log = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 32
# An activity type seen to finish faster than this runs on the loop thread from then on: handing
# a trivial call to a pool thread and back costs more than the call itself. The first inline call
# whose cost (a moving average) goes over it sends the type back to the pool for the rest of the
# run.
DEFAULT_INLINE_THRESHOLD = 0.001

_monotonic = time.monotonic
_perf_counter = time.perf_counter

_ATTRS_KEYS: dict[str, str] = {}
_DECISION_ROUTES: dict[str, tuple[Callable[..., None], str]] = {}  # decisionType -> handler
# ScheduleActivityTask timeouts as given (schedule-to-close, schedule-to-start, start-to-close,
# heartbeat) -> seconds or None; a workflow schedules few distinct combinations, many times.
_TIMEOUT_SECONDS: dict[tuple[str, str, str, str], tuple[float | None, ...]] = {}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_time_ns = time.time_ns
_last_stamp: tuple[int, datetime] = (0, _EPOCH)


def _timestamp() -> datetime:
    """Now, at SWF's resolution (milliseconds): taken once per SWF transaction, and the events
    recorded within one millisecond share one datetime instead of allocating their own."""
    global _last_stamp
    ms = _time_ns() // 1_000_000
    last = _last_stamp
    if ms != last[0]:
        last = _last_stamp = (ms, _EPOCH + timedelta(milliseconds=ms))
    return last[1]


def _unchanged(text: str | None) -> str | None:
    return text


def _attrs_key(event_type: str) -> str:
    key = _ATTRS_KEYS.get(event_type)
    if key is None:
        key = _ATTRS_KEYS[event_type] = event_type[0].lower() + event_type[1:] + "EventAttributes"
    return key


def _timeout_seconds(timeouts: tuple[str, str, str, str]) -> tuple[float | None, ...]:
    seconds = _TIMEOUT_SECONDS.get(timeouts)
    if seconds is None:
        seconds = _TIMEOUT_SECONDS[timeouts] = tuple(_seconds(t) for t in timeouts)
    return seconds


def _check_size(name: str, text: str | None, limit: int) -> str | None:
    if text is not None and len(text) > limit:
        raise PayloadTooLarge(name, len(text), limit,
                              "set REPLAYFLOW_JUMBO_FIELDS_BUCKET to store large fields in S3")
    return text


class OpenActivity:
    """An activity task between its ActivityTaskScheduled event and its closing event."""

    __slots__ = ("execution", "scheduled_event_id", "activity_id", "type_name", "input",
                 "schedule_to_close", "schedule_to_start", "start_to_close", "heartbeat_timeout",
                 "scheduled_at", "started_event_id", "last_heartbeat", "cancel_requested",
                 "decode")

    def __init__(self, execution: LocalExecution, scheduled_event_id: int, activity_id: str,
                 type_name: str, input: str | None,
                 timeouts: tuple[float | None, ...] = (None, None, None, None)) -> None:
        self.execution = execution
        self.scheduled_event_id = scheduled_event_id
        self.activity_id = activity_id
        self.type_name = type_name
        self.input = input
        (self.schedule_to_close, self.schedule_to_start, self.start_to_close,
         self.heartbeat_timeout) = timeouts
        # time.monotonic() when scheduled, read only by the schedule-to-* checks (0.0: unset)
        self.scheduled_at = 0.0
        self.started_event_id = 0
        self.last_heartbeat = 0.0
        self.cancel_requested = False
        # what the activity's thread applies to `input`: only an input this backend stored as a
        # jumbo field needs decoding (the engine never writes a reference itself)
        self.decode: Callable[[str | None], str | None] = _unchanged

    def heartbeat(self, details: str | None) -> bool:
        """ActivityContext's hook, called from the activity's thread."""
        self.last_heartbeat = _monotonic()  # a float store: atomic under the GIL
        return self.cancel_requested

    def overdue(self, now: float) -> str | None:
        """The schedule-to-* timeout this not-yet-started task has run past at `now`, if any."""
        if self.schedule_to_start is not None and now >= self.scheduled_at + self.schedule_to_start:
            return "SCHEDULE_TO_START"
        if self.schedule_to_close is not None and now >= self.scheduled_at + self.schedule_to_close:
            return "SCHEDULE_TO_CLOSE"
        return None


@dataclass
class LocalExecution:
    """One run: its history, its engine state, and what is open in it."""

    workflow_cls: type
    workflow_id: str
    run_id: str
    state: ExecutionState
    events: list[dict] = field(default_factory=list)
    fed: int = 0
    decision_scheduled: bool = False
    decision_scheduled_id: int = 0
    applying: bool = False  # inside a decision batch: SWF schedules the next task after it
    decision_wanted: bool = False
    closed: bool = False
    close_event: dict | None = None
    parent: LocalExecution | None = None
    parent_initiated_event_id: int = 0
    continued_as: LocalExecution | None = None
    open_activities: dict[str, OpenActivity] = field(default_factory=dict)
    open_timers: dict[str, int] = field(default_factory=dict)  # timerId -> started event id
    children: dict[str, tuple[LocalExecution, int]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # DecisionTaskScheduled's attributes, fixed for the run (the task list dict is shared by
    # its events, as an activity type's dicts are shared by its ActivityTaskScheduled events)
    decision_task_list: dict = field(default_factory=dict)
    decision_timeout: str = ""

    def __post_init__(self) -> None:
        self.decision_task_list = {"name": self.workflow_cls.task_list}
        self.decision_timeout = str(self.workflow_cls.decision_task_timeout)

    @property
    def status(self) -> str:
        if not self.closed or self.close_event is None:
            return "OPEN"
        return CLOSE_STATUS[self.close_event["eventType"]]

    def history(self) -> HistoryFile:
        return HistoryFile(
            self.events,
            {"workflowId": self.workflow_id, "runId": self.run_id},
            {"name": self.workflow_cls.type_name(), "version": self.workflow_cls.version},
            "local",
        )


@dataclass
class LocalResult:
    """How a local run ended (following continue-as-new to the last run)."""

    execution: LocalExecution
    status: str
    result: Any = None
    reason: str | None = None
    details: Any = None
    runs: list[LocalExecution] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"


class StuckWorkflow(ReplayflowError):
    """Nothing is running and nothing can happen, yet the workflow is open."""


def _record_started(activity: OpenActivity) -> None:
    """Append the activity's ActivityTaskStarted event (built in place: this is the hot path)."""
    events = activity.execution.events
    activity.started_event_id = started_id = len(events) + 1
    events.append({
        "eventId": started_id,
        "eventTimestamp": _timestamp(),
        "eventType": "ActivityTaskStarted",
        "activityTaskStartedEventAttributes": {
            "scheduledEventId": activity.scheduled_event_id, "identity": "local"},
    })


class MemoryBackend:
    """Runs workflows in this process, recording SWF-shaped histories."""

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        *,
        encode_field: Callable[[str, str | None, int], str | None] | None = None,
        decode_field: Callable[[str | None], str | None] | None = None,
        workflow_registry: dict[str, type] | None = None,
        inline_threshold: float = DEFAULT_INLINE_THRESHOLD,
    ) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self.inline_threshold = inline_threshold
        self._fast: dict[str, bool] = {}  # activity type -> may run inline
        self._inline_cost: dict[str, float] = {}  # activity type -> moving average (s)
        self._inline: deque[OpenActivity] = deque()
        self.encode_field = encode_field or _check_size
        self.decode_field = decode_field or (lambda text: text)
        self.executions: dict[str, LocalExecution] = {}  # by workflow id: the latest run
        self.all_runs: list[LocalExecution] = []
        self.workflow_registry = dict(workflow_registry or {})
        self._now: datetime | None = None  # set while a decision's events are recorded
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = 0
        self._outcomes: queue.SimpleQueue = queue.SimpleQueue()
        self._decisions: deque[LocalExecution] = deque()
        self._waiting_to_start: deque[OpenActivity] = deque()
        self._running = 0
        self._timers: list[tuple[float, int, str, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public API
    def start(self, workflow_cls: type, args: list | tuple = (), kwargs: dict | None = None, *,
              workflow_id: str | None = None, tags: list[str] | None = None,
              input_text: str | None = None) -> LocalExecution:
        """Start a run; it makes progress inside `run_until_closed`."""
        if input_text is None:
            input_text = encoding.encode_call(args, kwargs or {})
        workflow_id = workflow_id or f"{workflow_cls.type_name()}-{uuid.uuid4().hex[:12]}"
        return self._start_run(workflow_cls, workflow_id, input_text, tags or list(
            getattr(workflow_cls, "tags", ()) or ()))

    def run(self, workflow_cls: type, args: list | tuple = (), kwargs: dict | None = None,
            **options: Any) -> LocalResult:
        """Start a workflow and drive it to the end; returns how it ended."""
        execution = self.start(workflow_cls, args, kwargs, **options)
        return self.run_until_closed(execution)

    def run_until_closed(self, execution: LocalExecution) -> LocalResult:
        # A run allocates many small, long-lived dicts (its history); the default collector
        # thresholds would rescan them over and over. Collect less often while we run.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], 50_000), max(thresholds[1], 50),
                         max(thresholds[2], 100))
        try:
            self._loop(lambda: self._last_run(execution).closed)
        finally:
            gc.set_threshold(*thresholds)
            self.shutdown()
        return self.result_of(execution)

    def result_of(self, execution: LocalExecution) -> LocalResult:
        runs = [execution]
        while runs[-1].continued_as is not None:
            runs.append(runs[-1].continued_as)
        last = runs[-1]
        event = last.close_event or {}
        attrs = event.get(_attrs_key(event.get("eventType", "X"))) or {}
        res = LocalResult(last, last.status, runs=runs)
        if last.status == "COMPLETED":
            res.result = encoding.loads(self.decode_field(attrs.get("result")))
        else:
            res.reason = attrs.get("reason") or attrs.get("cause") or last.status.lower()
            raw = self.decode_field(attrs.get("details"))
            try:
                res.details = encoding.loads(raw)
            except ValueError:
                res.details = raw
            if isinstance(res.details, dict) and res.details.get("reason"):
                res.reason = res.details["reason"]
        return res

    def signal(self, workflow_id: str, name: str, input: Any = None,
               run_id: str | None = None) -> bool:
        """Deliver a signal from outside (thread-safe: it goes through the outcome queue)."""
        # Encoded here, in the caller's thread: a big input goes to S3 as it would on SWF, and
        # PayloadTooLarge (no bucket) reaches the caller instead of the backend's loop.
        text = self.encode_field(f"input of signal {name}", encoding.dumps(input),
                                 encoding.MAX_INPUT)
        self._outcomes.put(("signal", workflow_id, run_id, name, text))
        return True

    def request_cancel(self, workflow_id: str) -> None:
        self._outcomes.put(("cancel", workflow_id))

    def terminate(self, workflow_id: str, reason: str = "terminated") -> None:
        self._outcomes.put(("terminate", workflow_id, reason))

    def shutdown(self) -> None:
        """Let idle activity threads exit; a thread still inside an activity is a daemon."""
        for _ in range(self._threads):
            self._work.put(None)
        self._threads = 0

    # ------------------------------------------------------------------ history
    def _append(self, ex: LocalExecution, event_type: str, attrs: dict,
                now: datetime | None = None) -> dict:
        events = ex.events
        event = {
            "eventId": len(events) + 1,
            "eventTimestamp": now or self._now or _timestamp(),
            "eventType": event_type,
            _ATTRS_KEYS.get(event_type) or _attrs_key(event_type): attrs,
        }
        events.append(event)
        return event

    def _schedule_decision(self, ex: LocalExecution, now: datetime | None = None) -> None:
        """Record DecisionTaskScheduled unless one is pending; `now`: the transaction's time."""
        if ex.closed or ex.decision_scheduled:
            return
        if ex.applying:
            ex.decision_wanted = True
            return
        ex.decision_scheduled = True
        events = ex.events
        ex.decision_scheduled_id = event_id = len(events) + 1
        events.append({
            "eventId": event_id,
            "eventTimestamp": now or self._now or _timestamp(),
            "eventType": "DecisionTaskScheduled",
            "decisionTaskScheduledEventAttributes": {
                "taskList": ex.decision_task_list,
                "startToCloseTimeout": ex.decision_timeout,
            },
        })
        self._decisions.append(ex)

    def _last_run(self, ex: LocalExecution) -> LocalExecution:
        while ex.continued_as is not None:
            ex = ex.continued_as
        return ex

    # ------------------------------------------------------------------ starting runs
    def _start_run(self, workflow_cls: type, workflow_id: str, input_text: str | None,
                   tags: list[str], *, parent: LocalExecution | None = None,
                   parent_initiated: int = 0, continued_from: str | None = None,
                   execution_timeout: int | None = None, task_list: str | None = None,
                   child_policy: str | None = None) -> LocalExecution:
        input_text = self.encode_field("workflow input", input_text, encoding.MAX_INPUT)
        run_id = uuid.uuid4().hex
        state = ExecutionState(workflow_cls, workflow_id=workflow_id, run_id=run_id,
                               decode=self.decode_field)
        ex = LocalExecution(workflow_cls, workflow_id, run_id, state, parent=parent,
                            parent_initiated_event_id=parent_initiated, tags=list(tags))
        self.executions[workflow_id] = ex
        self.all_runs.append(ex)
        self.workflow_registry.setdefault(workflow_cls.type_name(), workflow_cls)
        timeout = execution_timeout or workflow_cls.execution_timeout
        attrs: dict[str, Any] = {
            "workflowType": {"name": workflow_cls.type_name(), "version": workflow_cls.version},
            "taskList": {"name": task_list or workflow_cls.task_list},
            "executionStartToCloseTimeout": str(timeout),
            "taskStartToCloseTimeout": str(workflow_cls.decision_task_timeout),
            "childPolicy": child_policy or workflow_cls.child_policy,
        }
        if input_text is not None:
            attrs["input"] = input_text
        if tags:
            attrs["tagList"] = list(tags)
        if continued_from:
            attrs["continuedExecutionRunId"] = continued_from
        if parent is not None:
            attrs["parentWorkflowExecution"] = {"workflowId": parent.workflow_id,
                                                "runId": parent.run_id}
            attrs["parentInitiatedEventId"] = parent_initiated
        self._append(ex, "WorkflowExecutionStarted", attrs)
        self._add_timer(float(timeout), lambda: self._execution_timed_out(ex), "execution-timeout")
        self._schedule_decision(ex)
        return ex

    # ------------------------------------------------------------------ the loop
    def _loop(self, finished: Callable[[], bool]) -> None:
        outcomes = self._outcomes
        decisions, inline = self._decisions, self._inline  # never replaced
        while True:
            while decisions or inline:
                while decisions:
                    self._decide(decisions.popleft())
                if inline:
                    self._run_inline(inline.popleft())
            if finished():
                return
            timeout = None
            if self._timers:
                now = time.monotonic()
                if self._timers[0][0] <= now:
                    self._fire_due_timers(now)
                    continue
                timeout = self._timers[0][0] - now
            if not self._running and not self._waiting_to_start and not self._inline \
                    and self._only_run_timers() and outcomes.empty():  # signals may be queued
                self._report_stuck()
            try:
                message = outcomes.get(timeout=timeout)
            except queue.Empty:
                continue
            self._handle(message)
            while True:
                try:
                    message = outcomes.get_nowait()
                except queue.Empty:
                    break
                self._handle(message)

    def _only_run_timers(self) -> bool:
        """True when the only thing left that could ever happen is an execution timeout.

        Called when no activity is open anywhere, so an activity's timeout timer is inert.
        """
        return all(kind == "execution-timeout" or kind == "activity"
                   for _due, _seq, kind, _action in self._timers)

    def _report_stuck(self) -> None:
        waiting = []
        for ex in self.all_runs:
            if not ex.closed:
                for name, match, _fut in ex.state._signal_waits:
                    waiting.append(f"signal {name!r}" + (f" matching {match}" if match else ""))
        what = ", ".join(waiting) if waiting else "a future that can never resolve"
        raise StuckWorkflow(
            f"the workflow is waiting for {what}, and nothing else can happen in a local run")

    def _add_timer(self, seconds: float, action: Callable[[], None], kind: str = "timer") -> None:
        heapq.heappush(self._timers, (time.monotonic() + seconds, next(self._seq), kind, action))

    def _fire_due_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            _due, _seq, _kind, action = heapq.heappop(self._timers)
            action()

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "done":
            _, activity, outcome, elapsed = message
            self._activity_done(activity, outcome, elapsed)
        elif kind == "signal":
            _, workflow_id, run_id, name, input_text = message
            ex = self.executions.get(workflow_id)
            if ex is not None and not ex.closed and (run_id is None or run_id == ex.run_id):
                self._deliver_signal(ex, name, input_text, None)
        elif kind == "cancel":
            ex = self.executions.get(message[1])
            if ex is not None and not ex.closed:
                self._append(ex, "WorkflowExecutionCancelRequested", {})
                self._schedule_decision(ex)
        elif kind == "terminate":
            ex = self.executions.get(message[1])
            if ex is not None and not ex.closed:
                self._close(ex, "WorkflowExecutionTerminated",
                            {"reason": message[2], "childPolicy": ex.workflow_cls.child_policy})

    # ------------------------------------------------------------------ decisions
    def _decide(self, ex: LocalExecution) -> None:
        if ex.closed:
            return
        ex.decision_scheduled = False
        scheduled_id = ex.decision_scheduled_id
        events = ex.events
        started_id = len(events) + 1
        events.append({
            "eventId": started_id,
            "eventTimestamp": _timestamp(),
            "eventType": "DecisionTaskStarted",
            "decisionTaskStartedEventAttributes": {"scheduledEventId": scheduled_id,
                                                   "identity": "local"},
        })
        new_events = events[ex.fed:]
        ex.fed = started_id
        try:
            decisions = ex.state.handle(new_events)
        except Exception as exc:  # noqa: BLE001 - an engine error must not vanish
            log.error("decision for %s failed: %s", ex.workflow_id, exc)
            self._close(ex, "WorkflowExecutionFailed", {
                "reason": encoding.truncate_reason(f"decider error: {exc}"),
                "details": encoding.dumps({"reason": f"decider error: {exc}",
                                           "traceback": traceback.format_exc()}),
            })
            return
        # SWF records a response's events, and the decision task it may schedule, at one time.
        now = self._now = _timestamp()
        completed_id = len(events) + 1
        events.append({
            "eventId": completed_id,
            "eventTimestamp": now,
            "eventType": "DecisionTaskCompleted",
            "decisionTaskCompletedEventAttributes": {"scheduledEventId": scheduled_id,
                                                     "startedEventId": started_id},
        })
        ex.applying = True
        routes = _DECISION_ROUTES
        try:
            for decision in decisions:
                if ex.closed:
                    break
                kind = decision["decisionType"]
                route = routes.get(kind) or _decision_route(kind)
                attrs = decision[route[1]]
                try:
                    route[0](self, ex, attrs, completed_id)
                except PayloadTooLarge as exc:
                    self._payload_failure(ex, kind, attrs, completed_id, exc)
            ex.applying = False
            if ex.decision_wanted:
                ex.decision_wanted = False
                self._schedule_decision(ex)
        finally:
            ex.applying = False
            self._now = None

    def _payload_failure(self, ex: LocalExecution, kind: str, attrs: dict, completed_id: int,
                         exc: PayloadTooLarge) -> None:
        # SWF would refuse the whole response; the closest honest outcome is to fail the run.
        self._close(ex, "WorkflowExecutionFailed", {
            "reason": encoding.truncate_reason(f"{kind}: {exc}"),
            "details": encoding.dumps({"reason": f"{kind}: {exc}"}),
        })

    def _decide_ScheduleActivityTask(self, ex: LocalExecution, attrs: dict,
                                     completed_id: int) -> None:
        activity_id = attrs["activityId"]
        if activity_id in ex.open_activities:
            self._append(ex, "ScheduleActivityTaskFailed", {
                "activityType": attrs["activityType"], "activityId": activity_id,
                "cause": "ACTIVITY_ID_ALREADY_IN_USE",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(ex)
            return
        input_text = attrs.get("input")
        if input_text is not None and len(input_text) > encoding.MAX_INPUT:  # name built rarely
            input_text = self.encode_field(f"input of activity {activity_id}", input_text,
                                           encoding.MAX_INPUT)
        timeouts = (attrs.get("scheduleToCloseTimeout", "NONE"),
                    attrs.get("scheduleToStartTimeout", "NONE"),
                    attrs.get("startToCloseTimeout", "NONE"),
                    attrs.get("heartbeatTimeout", "NONE"))
        event_attrs = {
            "activityType": attrs["activityType"],
            "activityId": activity_id,
            "taskList": attrs["taskList"],
            "decisionTaskCompletedEventId": completed_id,
            "scheduleToCloseTimeout": timeouts[0],
            "scheduleToStartTimeout": timeouts[1],
            "startToCloseTimeout": timeouts[2],
            "heartbeatTimeout": timeouts[3],
        }
        if input_text is not None:
            event_attrs["input"] = input_text
        if "taskPriority" in attrs:
            event_attrs["taskPriority"] = attrs["taskPriority"]
        events = ex.events
        scheduled_id = len(events) + 1
        events.append({
            "eventId": scheduled_id,
            "eventTimestamp": self._now or _timestamp(),
            "eventType": "ActivityTaskScheduled",
            "activityTaskScheduledEventAttributes": event_attrs,
        })
        activity = OpenActivity(ex, scheduled_id, activity_id, attrs["activityType"]["name"],
                                input_text, _TIMEOUT_SECONDS.get(timeouts)
                                or _timeout_seconds(timeouts))
        if input_text is not attrs.get("input"):
            activity.decode = self.decode_field
        ex.open_activities[activity_id] = activity
        limited = activity.schedule_to_start is not None or activity.schedule_to_close is not None
        if limited:
            activity.scheduled_at = _monotonic()
        if self._fast.get(activity.type_name):
            self._inline.append(activity)  # its schedule-to-* limits are checked around its run
            return
        if self._running < self.max_workers:
            self._start_activity(activity)
        else:  # every thread is busy: it waits, as a task waits on SWF for a free worker
            self._waiting_to_start.append(activity)
            if activity.schedule_to_start is not None:
                self._add_timer(activity.schedule_to_start, lambda: self._activity_timed_out(
                    activity, "SCHEDULE_TO_START"), "activity")
        if activity.schedule_to_close is not None:
            self._add_timer(activity.schedule_to_close, lambda: self._activity_timed_out(
                activity, "SCHEDULE_TO_CLOSE"), "activity")

    def _start_activity(self, activity: OpenActivity) -> None:
        _record_started(activity)
        activity.last_heartbeat = _monotonic()
        self._running += 1
        ctx = self._context_for(activity)
        if self._threads < self._running:
            self._threads += 1
            threading.Thread(target=self._work_loop, name=f"activity-{self._threads}",
                             daemon=True).start()
        self._work.put((activity, ctx))
        if activity.start_to_close is not None:
            self._add_timer(activity.start_to_close,
                            lambda: self._activity_timed_out(activity, "START_TO_CLOSE"),
                            "activity")
        if activity.heartbeat_timeout is not None:
            self._arm_heartbeat_check(activity)

    def _start_next_waiting(self) -> None:
        """A thread is free: start the oldest waiting task that has not run out of time."""
        waiting = self._waiting_to_start
        while waiting:
            activity = waiting.popleft()
            if activity.scheduled_at:  # its timer may not have fired yet
                late = activity.overdue(_monotonic())
                if late is not None:
                    self._activity_timed_out(activity, late)
                    continue
            self._start_activity(activity)
            return

    def _run_inline(self, activity: OpenActivity) -> None:
        """Run a known-fast activity on the loop thread (see DEFAULT_INLINE_THRESHOLD)."""
        ex = activity.execution
        if ex.open_activities.get(activity.activity_id) is not activity:
            return  # cancelled or closed while queued
        start = 0.0
        if activity.scheduled_at:  # no timer watches a queued inline task: check here
            start = _monotonic()
            late = activity.overdue(start)
            if late is not None:
                self._activity_timed_out(activity, late)
                return
        _record_started(activity)
        ctx = self._context_for(activity, True)
        begin = _perf_counter()
        outcome = run_activity(activity.type_name, activity.input, ctx, activity.decode)
        elapsed = _perf_counter() - begin
        # A moving average, so that one garbage-collector pause does not demote a trivial type
        # while one genuinely slow call does.
        type_name = activity.type_name
        average = self._inline_cost.get(type_name, 0.0) * 0.9 + elapsed * 0.1
        self._inline_cost[type_name] = average
        if average >= self.inline_threshold:
            self._fast[type_name] = False
        if activity.scheduled_at or (activity.start_to_close is not None
                                     and elapsed > activity.start_to_close):
            late = _expired_during_run(activity, start, elapsed)
            if late is not None:
                self._activity_timed_out(activity, late)
                return
        self._record_outcome(activity, outcome)

    def _context_for(self, activity: OpenActivity, inline: bool = False) -> ActivityContext:
        """The activity's ActivityContext. An inline run gets no heartbeat hook: nothing can
        cancel it or check its heartbeats while it holds the loop thread, so its heartbeat()
        answers False either way."""
        ex = activity.execution
        activity_id = activity.activity_id
        task_id, _, attempt = activity_id.rpartition("#")
        # workflow_id, run_id, activity_id, task_id, attempt: positional is half the cost
        if inline:
            return ActivityContext(ex.workflow_id, ex.run_id, activity_id,
                                   task_id or activity_id,
                                   int(attempt) if attempt.isdigit() else 1)
        return ActivityContext(ex.workflow_id, ex.run_id, activity_id, task_id or activity_id,
                               int(attempt) if attempt.isdigit() else 1,
                               _heartbeat=activity.heartbeat)

    def _arm_heartbeat_check(self, activity: OpenActivity) -> None:
        def check() -> None:
            if activity.activity_id not in activity.execution.open_activities:
                return
            late = time.monotonic() - activity.last_heartbeat
            assert activity.heartbeat_timeout is not None
            if late >= activity.heartbeat_timeout:
                self._activity_timed_out(activity, "HEARTBEAT")
            else:
                self._add_timer(activity.heartbeat_timeout - late, check, "activity")
        self._add_timer(activity.heartbeat_timeout or 0, check, "activity")

    def _work_loop(self) -> None:
        """An activity thread: a plain loop over a queue, cheaper than an executor's futures."""
        work = self._work
        while True:
            item = work.get()
            if item is None:
                return
            self._execute(*item)

    def _execute(self, activity: OpenActivity, ctx: ActivityContext) -> None:
        """Runs in a pool thread: call the function, post the outcome and how long it took."""
        begin = time.perf_counter()
        outcome = run_activity(activity.type_name, activity.input, ctx, activity.decode)
        self._outcomes.put(("done", activity, outcome, time.perf_counter() - begin))

    def _activity_done(self, activity: OpenActivity, outcome: tuple, elapsed: float) -> None:
        self._running -= 1
        # A pool timing includes waits for the GIL, so it may only promote a type; slow
        # inline calls (honest timings) demote it for good.
        if elapsed < self.inline_threshold and activity.type_name not in self._fast:
            self._fast[activity.type_name] = True
        if self._waiting_to_start:
            self._start_next_waiting()
        self._record_outcome(activity, outcome)

    def _record_outcome(self, activity: OpenActivity, outcome: tuple) -> None:
        ex = activity.execution
        open_activities = ex.open_activities
        if open_activities.get(activity.activity_id) is not activity:
            return  # timed out or closed already: a late answer is dropped, as SWF does
        del open_activities[activity.activity_id]
        if ex.closed:
            return
        now = _timestamp()  # the response's events and the decision task it schedules
        ids = {"scheduledEventId": activity.scheduled_event_id,
               "startedEventId": activity.started_event_id}
        if activity.cancel_requested:
            self._append(ex, "ActivityTaskCanceled", ids, now)
        elif outcome[0] == "completed":
            result = outcome[1]
            if result is not None and len(result) > encoding.MAX_RESULT:
                try:
                    result = self.encode_field(f"result of activity {activity.activity_id}",
                                               result, encoding.MAX_RESULT)
                except PayloadTooLarge as exc:
                    reason, details = encoding.describe_exception(exc)
                    self._append(ex, "ActivityTaskFailed", {
                        **ids, "reason": reason, "details": encoding.dumps(details)}, now)
                    self._schedule_decision(ex, now)
                    return
            if result is not None:
                ids["result"] = result
            events = ex.events
            events.append({
                "eventId": len(events) + 1,
                "eventTimestamp": now,
                "eventType": "ActivityTaskCompleted",
                "activityTaskCompletedEventAttributes": ids,
            })
        else:
            _, reason, details = outcome
            try:
                details = self.encode_field(f"failure details of activity {activity.activity_id}",
                                            details, encoding.MAX_DETAILS)
            except PayloadTooLarge:  # keep what fits: the message's start, the traceback's end
                details = encoding.shrink_details(details, encoding.MAX_DETAILS)
            self._append(ex, "ActivityTaskFailed", {**ids, "reason": reason, "details": details},
                         now)
        self._schedule_decision(ex, now)

    def _activity_timed_out(self, activity: OpenActivity, timeout_type: str) -> None:
        """Close a task as SWF does when one of its timeouts fires; a late answer is dropped."""
        ex = activity.execution
        if ex.open_activities.get(activity.activity_id) is not activity or ex.closed:
            return
        if activity.started_event_id:
            if timeout_type == "SCHEDULE_TO_START":
                return  # it started in time
        else:  # still queued: it never starts now
            for waiting in (self._waiting_to_start, self._inline):
                if activity in waiting:
                    waiting.remove(activity)
                    break
        del ex.open_activities[activity.activity_id]
        # startedEventId is required by SWF's model: 0 for a task that never started
        now = self._append(ex, "ActivityTaskTimedOut", {
            "timeoutType": timeout_type, "scheduledEventId": activity.scheduled_event_id,
            "startedEventId": activity.started_event_id})["eventTimestamp"]
        self._schedule_decision(ex, now)

    def _decide_RequestCancelActivityTask(self, ex: LocalExecution, attrs: dict,
                                          completed_id: int) -> None:
        activity_id = attrs["activityId"]
        activity = ex.open_activities.get(activity_id)
        if activity is None:
            self._append(ex, "RequestCancelActivityTaskFailed", {
                "activityId": activity_id, "cause": "ACTIVITY_ID_UNKNOWN",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(ex)
            return
        self._append(ex, "ActivityTaskCancelRequested", {
            "activityId": activity_id, "decisionTaskCompletedEventId": completed_id})
        activity.cancel_requested = True
        queued = next((q for q in (self._waiting_to_start, self._inline) if activity in q), None)
        if queued is not None:  # never started: cancelled on the spot
            queued.remove(activity)
            del ex.open_activities[activity_id]
            self._append(ex, "ActivityTaskCanceled", {
                "scheduledEventId": activity.scheduled_event_id, "startedEventId": 0})
            self._schedule_decision(ex)

    # timers ---------------------------------------------------------------------------------
    def _decide_StartTimer(self, ex: LocalExecution, attrs: dict, completed_id: int) -> None:
        timer_id = attrs["timerId"]
        if timer_id in ex.open_timers:
            self._append(ex, "StartTimerFailed", {
                "timerId": timer_id, "cause": "TIMER_ID_ALREADY_IN_USE",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(ex)
            return
        started = self._append(ex, "TimerStarted", {
            "timerId": timer_id, "startToFireTimeout": attrs["startToFireTimeout"],
            "decisionTaskCompletedEventId": completed_id})
        started_id = started["eventId"]
        ex.open_timers[timer_id] = started_id

        def fire() -> None:
            if ex.open_timers.get(timer_id) == started_id and not ex.closed:
                del ex.open_timers[timer_id]
                self._append(ex, "TimerFired", {"timerId": timer_id,
                                                "startedEventId": started_id})
                self._schedule_decision(ex)

        self._add_timer(float(attrs["startToFireTimeout"]), fire)

    def _decide_CancelTimer(self, ex: LocalExecution, attrs: dict, completed_id: int) -> None:
        timer_id = attrs["timerId"]
        started_id = ex.open_timers.pop(timer_id, None)
        if started_id is None:
            self._append(ex, "CancelTimerFailed", {
                "timerId": timer_id, "cause": "TIMER_ID_UNKNOWN",
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(ex)
            return
        self._append(ex, "TimerCanceled", {
            "timerId": timer_id, "startedEventId": started_id,
            "decisionTaskCompletedEventId": completed_id})

    def _decide_RecordMarker(self, ex: LocalExecution, attrs: dict, completed_id: int) -> None:
        event_attrs = {"markerName": attrs["markerName"],
                       "decisionTaskCompletedEventId": completed_id}
        details = self.encode_field(f"details of marker {attrs['markerName']}",
                                    attrs.get("details"), encoding.MAX_DETAILS)
        if details is not None:
            event_attrs["details"] = details
        self._append(ex, "MarkerRecorded", event_attrs)

    # closing ----------------------------------------------------------------------------------
    def _decide_CompleteWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                          completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id}
        try:
            result = self.encode_field("workflow result", attrs.get("result"),
                                       encoding.MAX_RESULT)
        except PayloadTooLarge as exc:
            self._close(ex, "WorkflowExecutionFailed", {
                "reason": encoding.truncate_reason(str(exc)),
                "details": encoding.dumps({"reason": str(exc)}),
                "decisionTaskCompletedEventId": completed_id})
            return
        if result is not None:
            event_attrs["result"] = result
        self._close(ex, "WorkflowExecutionCompleted", event_attrs)

    def _decide_FailWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                      completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id,
                       "reason": attrs.get("reason", "")}
        if attrs.get("details") is not None:
            try:
                event_attrs["details"] = self.encode_field(
                    "workflow failure details", attrs["details"], encoding.MAX_DETAILS)
            except PayloadTooLarge:
                event_attrs["details"] = attrs["details"][: encoding.MAX_DETAILS]
        self._close(ex, "WorkflowExecutionFailed", event_attrs)

    def _decide_CancelWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                        completed_id: int) -> None:
        event_attrs = {"decisionTaskCompletedEventId": completed_id}
        if attrs.get("details") is not None:
            event_attrs["details"] = attrs["details"]
        self._close(ex, "WorkflowExecutionCanceled", event_attrs)

    def _decide_ContinueAsNewWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                               completed_id: int) -> None:
        new = self._start_run(
            ex.workflow_cls, ex.workflow_id, attrs.get("input"),
            list(attrs.get("tagList") or ex.tags), parent=ex.parent,
            parent_initiated=ex.parent_initiated_event_id, continued_from=ex.run_id,
            execution_timeout=_int_or_none(attrs.get("executionStartToCloseTimeout")),
            task_list=(attrs.get("taskList") or {}).get("name"),
            child_policy=attrs.get("childPolicy"))
        ex.continued_as = new
        self.executions[ex.workflow_id] = new
        self._close(ex, "WorkflowExecutionContinuedAsNew", {
            "decisionTaskCompletedEventId": completed_id, "newExecutionRunId": new.run_id,
            "input": attrs.get("input"), "taskList": {"name": new.workflow_cls.task_list},
            "executionStartToCloseTimeout": str(new.workflow_cls.execution_timeout),
            "taskStartToCloseTimeout": str(new.workflow_cls.decision_task_timeout),
            "childPolicy": attrs.get("childPolicy") or new.workflow_cls.child_policy,
            "workflowType": {"name": new.workflow_cls.type_name(),
                             "version": new.workflow_cls.version},
        }, continued=True)

    def _execution_timed_out(self, ex: LocalExecution) -> None:
        if not ex.closed:
            self._close(ex, "WorkflowExecutionTimedOut", {
                "timeoutType": "START_TO_CLOSE", "childPolicy": ex.workflow_cls.child_policy})

    def _close(self, ex: LocalExecution, event_type: str, attrs: dict,
               continued: bool = False) -> None:
        ex.closed = True
        ex.close_event = self._append(ex, event_type, attrs)
        if ex.state is not None:
            ex.state.discard()
        for activity in list(ex.open_activities.values()):
            activity.cancel_requested = True
            if activity in self._waiting_to_start:
                self._waiting_to_start.remove(activity)
        ex.open_activities.clear()
        ex.open_timers.clear()
        for child, _initiated in ex.children.values():
            if not child.closed and ex.workflow_cls.child_policy == "TERMINATE":
                self._close(self._last_run(child), "WorkflowExecutionTerminated", {
                    "reason": "parent closed (child policy TERMINATE)",
                    "childPolicy": "TERMINATE", "cause": "CHILD_POLICY_APPLIED"})
        if ex.parent is not None and not continued:
            self._notify_parent(ex)

    # children, signals, cancellation of other executions -------------------------------------
    def _decide_StartChildWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                            completed_id: int) -> None:
        type_name = attrs["workflowType"]["name"]
        workflow_id = attrs["workflowId"]
        child_cls = self.workflow_registry.get(type_name) or _loaded_workflow_class(type_name)
        base = {"workflowId": workflow_id, "workflowType": attrs["workflowType"],
                "decisionTaskCompletedEventId": completed_id}
        if attrs.get("control") is not None:
            base["control"] = attrs["control"]
        existing = self.executions.get(workflow_id)
        cause = None
        if child_cls is None:
            cause = "WORKFLOW_TYPE_DOES_NOT_EXIST"
        elif existing is not None and not self._last_run(existing).closed:
            cause = "WORKFLOW_ALREADY_RUNNING"
        if cause is not None:
            self._append(ex, "StartChildWorkflowExecutionFailed",
                         {**base, "cause": cause, "initiatedEventId": 0})
            self._schedule_decision(ex)
            return
        initiated_attrs = {
            **base,
            "taskList": attrs.get("taskList") or {"name": child_cls.task_list},
            "childPolicy": attrs.get("childPolicy") or child_cls.child_policy,
            "executionStartToCloseTimeout": attrs.get("executionStartToCloseTimeout")
            or str(child_cls.execution_timeout),
            "taskStartToCloseTimeout": str(child_cls.decision_task_timeout),
        }
        input_text = self.encode_field(f"input of child workflow {workflow_id}",
                                       attrs.get("input"), encoding.MAX_INPUT)
        if input_text is not None:
            initiated_attrs["input"] = input_text
        if attrs.get("tagList"):
            initiated_attrs["tagList"] = attrs["tagList"]
        initiated = self._append(ex, "StartChildWorkflowExecutionInitiated", initiated_attrs)
        child = self._start_run(
            child_cls, workflow_id, input_text, list(attrs.get("tagList") or []), parent=ex,
            parent_initiated=initiated["eventId"],
            execution_timeout=_int_or_none(attrs.get("executionStartToCloseTimeout")),
            task_list=(attrs.get("taskList") or {}).get("name"),
            child_policy=attrs.get("childPolicy"))
        ex.children[workflow_id] = (child, initiated["eventId"])
        self._append(ex, "ChildWorkflowExecutionStarted", {
            "workflowExecution": {"workflowId": workflow_id, "runId": child.run_id},
            "workflowType": attrs["workflowType"], "initiatedEventId": initiated["eventId"]})
        self._schedule_decision(ex)

    def _notify_parent(self, child: LocalExecution) -> None:
        parent = self._last_run(child.parent) if child.parent else None
        if parent is None or parent.closed:
            return
        entry = parent.children.get(child.workflow_id)
        if entry is None:
            return
        first_run, initiated_id = entry
        close = child.close_event or {}
        close_type = close.get("eventType", "")
        close_attrs = close.get(_attrs_key(close_type)) or {}
        base = {
            "workflowExecution": {"workflowId": child.workflow_id, "runId": child.run_id},
            "workflowType": {"name": child.workflow_cls.type_name(),
                             "version": child.workflow_cls.version},
            "initiatedEventId": initiated_id,
            "startedEventId": initiated_id + 1,
        }
        mapping = {
            "WorkflowExecutionCompleted": ("ChildWorkflowExecutionCompleted", ("result",)),
            "WorkflowExecutionFailed": ("ChildWorkflowExecutionFailed", ("reason", "details")),
            "WorkflowExecutionCanceled": ("ChildWorkflowExecutionCanceled", ("details",)),
            "WorkflowExecutionTerminated": ("ChildWorkflowExecutionTerminated", ()),
            "WorkflowExecutionTimedOut": ("ChildWorkflowExecutionTimedOut", ("timeoutType",)),
        }
        event_type, keys = mapping[close_type]
        attrs = dict(base)
        for key in keys:
            if close_attrs.get(key) is not None:
                attrs[key] = close_attrs[key]
        self._append(parent, event_type, attrs)
        self._schedule_decision(parent)

    def _deliver_signal(self, target: LocalExecution, name: str, input_text: str | None,
                        source: LocalExecution | None, initiated_id: int = 0) -> None:
        attrs: dict[str, Any] = {"signalName": name}
        if input_text is not None:
            attrs["input"] = input_text
        if source is not None:
            attrs["externalWorkflowExecution"] = {"workflowId": source.workflow_id,
                                                  "runId": source.run_id}
            attrs["externalInitiatedEventId"] = initiated_id
        self._append(target, "WorkflowExecutionSignaled", attrs)
        self._schedule_decision(target)

    def _decide_SignalExternalWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                                completed_id: int) -> None:
        input_text = self.encode_field(f"input of signal {attrs['signalName']}",
                                       attrs.get("input"), encoding.MAX_INPUT)
        initiated_attrs = {k: v for k, v in attrs.items() if k != "input"}
        initiated_attrs["decisionTaskCompletedEventId"] = completed_id
        if input_text is not None:
            initiated_attrs["input"] = input_text
        initiated = self._append(ex, "SignalExternalWorkflowExecutionInitiated", initiated_attrs)
        target = self.executions.get(attrs["workflowId"])
        run_id = attrs.get("runId")
        if target is not None:
            target = self._last_run(target) if not run_id else target
        if target is None or target.closed or (run_id and target.run_id != run_id):
            self._append(ex, "SignalExternalWorkflowExecutionFailed", {
                "workflowId": attrs["workflowId"], "runId": run_id or "",
                "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                "initiatedEventId": initiated["eventId"],
                "decisionTaskCompletedEventId": completed_id,
                **({"control": attrs["control"]} if attrs.get("control") else {})})
            self._schedule_decision(ex)
            return
        self._deliver_signal(target, attrs["signalName"], input_text, ex, initiated["eventId"])
        if not ex.closed:
            self._append(ex, "ExternalWorkflowExecutionSignaled", {
                "workflowExecution": {"workflowId": target.workflow_id, "runId": target.run_id},
                "initiatedEventId": initiated["eventId"]})
            self._schedule_decision(ex)

    def _decide_RequestCancelExternalWorkflowExecution(self, ex: LocalExecution, attrs: dict,
                                                       completed_id: int) -> None:
        initiated = self._append(ex, "RequestCancelExternalWorkflowExecutionInitiated", {
            **attrs, "decisionTaskCompletedEventId": completed_id})
        target = self.executions.get(attrs["workflowId"])
        if target is None or self._last_run(target).closed:
            self._append(ex, "RequestCancelExternalWorkflowExecutionFailed", {
                "workflowId": attrs["workflowId"], "runId": attrs.get("runId", ""),
                "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                "initiatedEventId": initiated["eventId"],
                "decisionTaskCompletedEventId": completed_id})
            self._schedule_decision(ex)
            return
        target = self._last_run(target)
        self._append(target, "WorkflowExecutionCancelRequested", {
            "externalWorkflowExecution": {"workflowId": ex.workflow_id, "runId": ex.run_id},
            "externalInitiatedEventId": initiated["eventId"]})
        self._schedule_decision(target)
        self._append(ex, "ExternalWorkflowExecutionCancelRequested", {
            "workflowExecution": {"workflowId": target.workflow_id, "runId": target.run_id},
            "initiatedEventId": initiated["eventId"]})
        self._schedule_decision(ex)


def _decision_route(kind: str) -> tuple[Callable[..., None], str]:
    """The handler of a decision type, and the key of its attributes."""
    route = _DECISION_ROUTES[kind] = (getattr(MemoryBackend, f"_decide_{kind}"),
                                      kind[0].lower() + kind[1:] + "DecisionAttributes")
    return route


def _expired_during_run(activity: OpenActivity, start: float, elapsed: float) -> str | None:
    """The timeout an inline run went past, if any: of two, the one whose deadline came first,
    as SWF would have recorded it. `start` is time.monotonic() at the start (schedule-to-close
    limits only)."""
    overruns = []
    if activity.start_to_close is not None and elapsed > activity.start_to_close:
        overruns.append((elapsed - activity.start_to_close, "START_TO_CLOSE"))
    if activity.schedule_to_close is not None:
        past = start + elapsed - activity.scheduled_at - activity.schedule_to_close
        if past > 0:
            overruns.append((past, "SCHEDULE_TO_CLOSE"))
    return max(overruns)[1] if overruns else None


def _loaded_workflow_class(type_name: str) -> type | None:
    """The imported Workflow subclass with this SWF type name (a child is imported with its
    parent's module, and a custom `name` cannot be imported from its type name)."""
    from ..workflow import Workflow

    todo = list(Workflow.__subclasses__())
    while todo:
        cls = todo.pop(0)
        if cls.type_name() == type_name:
            return cls
        todo.extend(cls.__subclasses__())
    return None


def _seconds(value: str | None) -> float | None:
    if value is None or value == "NONE":
        return None
    return float(value)


def _int_or_none(value: str | None) -> int | None:
    if value is None or value == "NONE":
        return None
    return int(value)
