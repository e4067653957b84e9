"""An execution's state machine: feed SWF events in, get SWF decisions out.

Why greenlets: `run()` is plain Python that reads `future.result` wherever it likes, so the engine
must be able to stop it in the middle of a call stack and continue it later without re-running it
from the top (the cost that makes simpleflow's decisions O(history)). A greenlet does exactly that:
a switch costs about a microsecond, an idle suspended `run()` costs a few kilobytes (so a decider
can cache thousands of live executions), and, unlike a thread, it only ever runs when the engine
switches into it, which keeps replay single-threaded and deterministic.

The rules that make a cached state and a full replay agree by construction:
- event handlers only record facts (a task finished, a timer fired); they never decide anything;
- `run()` is resumed, and decisions are made, only at a DecisionTaskStarted event, exactly where
  the live decider made them;
- the commands made there are "pending" until a DecisionTaskCompleted event says which batch was
  sent (at most `max_decisions`, the same split every time), and the events that follow must match
  that batch, or the history was not made by this code (NonDeterministicWorkflow).
A full replay is a fresh ExecutionState fed every event; a cached one is fed only the new events.

SWF's hard limits are kept here, by the same rules, so they split and delay work identically on
every replay: at most 1,000 activities, timers and children open at once (less if the workflow
says so; what is over waits in submission order, and is decided at the decision point where a
slot is known to be free), a response under 1 MB (counted from each decision's encoded size, as
the decider will send it) as well as under `max_decisions`, and a decision SWF refused for a limit
or a rate sent again after a back-off timer.
"""

from __future__ import annotations

import hashlib
import json
import random as _random
import traceback
import uuid as _uuid
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from greenlet import GreenletExit, getcurrent, greenlet

from .. import dataflow, encoding
from .. import futures as _futures
from ..activity import Activity
from ..errors import (
    DependencyFailed,
    EventNotApplied,
    NonDeterministicWorkflow,
    TaskCancelled,
    TaskFailed,
    TaskTimedOut,
    WorkflowCancelled,
)
from ..futures import Future
from ..history import gc_paused
from ..naming import (
    BACKOFF_TIMER_PREFIX,
    CONTINUE_TIMER_PREFIX,
    JUMBO_PREFIX,
    MAX_REFERENCE_JSON,
    decision_attributes_key,
    fit_id,
)
from ..naming import activity_id as _activity_id
from ..validation import (
    MAX_OPEN,
    MAX_REQUEST_BYTES,
    MAX_RUN_ID_LENGTH,
    RETRYABLE_SCHEDULE_CAUSES,
    check_child_options,
    check_name,
    check_priority,
    check_seconds,
)
from .decisions import fail_workflow
from .reuse import MARKER as REPAIRED_MARKER
from .reuse import REPAIR_KEY, ReuseTable

MAX_DECISIONS = 100
#: Input keywords starting with this are replayflow's own run options, never run()'s arguments.
RUN_OPTION_PREFIX = "__replayflow_"
#: What a response's decisions may take: SWF's 1 MB less room for the rest of the request (the
#: task token, the execution context, the decider's task-list routing of up to 100 decisions).
MAX_DECISION_BYTES = MAX_REQUEST_BYTES - 64_000
#: Back-off before a refused decision is sent again: 1-2 s after the first refusal, doubling up to
#: BACKOFF_MAX_SECONDS (30-60 s), each jittered so that refused tasks do not come back together.
BACKOFF_FIRST_SECONDS = 2
BACKOFF_MAX_SECONDS = 60
#: A held task waits for a free slot, or for the back-off after SWF refused it.
HELD_FOR_SLOT = "slot"
HELD_FOR_BACKOFF = "backoff"
#: `submit` without `__priority`: the activity's declared priority (`__priority=None` is none).
DECLARED_PRIORITY: Any = object()


def _identity(text: str | None) -> str | None:
    return text


class _CloseRun(BaseException):
    """Raised inside `run()` to end it with a prepared close decision (fail, continue-as-new)."""

    def __init__(self, decision: dict) -> None:
        self.decision = decision


#: Command.task of a close proposed by run() (see ExecutionState.propose_close).
_PROPOSED: Any = object()


class Command:
    """One decision the workflow made, waiting to be sent or to be confirmed by its event."""

    __slots__ = ("key", "_decision", "task", "attempt", "size")

    def __init__(self, key: tuple, decision: dict | None, task: Any = None,
                 attempt: int = 0) -> None:
        self.key = key
        self._decision = decision
        self.task = task
        self.attempt = attempt
        self.size = 0  # bytes in the request, once counted (see _decision_bytes)

    @property
    def decision(self) -> dict:
        """The decision as SWF takes it. An activity's is built only if it is ever sent: in a
        replay, its ActivityTaskScheduled event confirms it first."""
        decision = self._decision
        if decision is None:
            decision = self._decision = _schedule_decision(self.task, self.key[1])
        return decision


def _schedule_decision(task: ActivityTask, activity_id: str) -> dict:
    attrs = dict(task.activity.decision_base)  # type, task list, timeouts: built once
    attrs["activityId"] = activity_id
    attrs["input"] = task.input_text
    if task.priority is not None:
        attrs["taskPriority"] = str(task.priority)
    if task.input_deps:
        attrs["control"] = _dependencies_control(task)
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attrs}


def _dependencies_control(task: _SubmittedTask, task_id: str | None = None) -> str:
    """The tasks whose futures `task` took as input, for the `control` field: SWF keeps it in
    the history (not for the worker), so any run's dataflow graph can be drawn from its history.
    """
    return dataflow.dependencies_control((f.task_id for f in task.input_deps or ()), task_id)


class TimerTask:
    __slots__ = ("timer_id", "seconds", "whole", "future", "started", "cancel_requested", "open",
                 "held", "refusals")

    def __init__(self, timer_id: str, seconds: float, future: Future, whole: int = 0) -> None:
        self.timer_id = timer_id
        self.seconds = seconds
        self.whole = whole  # the seconds SWF is sent
        self.future = future
        self.started = False
        self.cancel_requested = False
        self.open = False  # decided and not closed: it takes one of the execution's timer slots
        self.held: str | None = None  # HELD_FOR_SLOT or HELD_FOR_BACKOFF while it waits
        self.refusals = 0  # how often SWF refused it for a limit or a rate


class _SubmittedTask:
    """What activities and child workflows share: an input, attempts, a future, dependencies."""

    __slots__ = ("task_id", "args", "kwargs", "future", "attempt", "input_text", "deps",
                 "last_failure", "cancel_requested", "input_deps", "started", "held",
                 "refusals")

    def __init__(self, task_id: str, args: tuple, kwargs: dict, future: Future) -> None:
        self.task_id = task_id
        self.args = args
        self.kwargs = kwargs
        self.future = future
        self.attempt = 0
        self.input_text: str | None = None
        self.deps: list[Future] | None = None
        self.last_failure: TaskFailed | None = None
        self.cancel_requested = False
        #: The futures it took as arguments, once resolved (recorded in its decision's control).
        self.input_deps: list[Future] | None = None
        self.started = False  # an attempt (or the child) started: it may have done something
        self.held: str | None = None  # HELD_FOR_SLOT or HELD_FOR_BACKOFF while it waits
        self.refusals = 0  # how often SWF refused it for a limit or a rate (not attempts)


class ActivityTask(_SubmittedTask):
    """One submitted activity across all of its attempts."""

    __slots__ = ("activity", "priority", "open_activity_id")

    def __init__(self, task_id: str, activity: Activity, args: tuple, kwargs: dict,
                 future: Future, priority: int | None) -> None:
        _SubmittedTask.__init__(self, task_id, args, kwargs, future)
        self.activity = activity
        self.priority = priority
        self.open_activity_id: str | None = None


class ChildTask(_SubmittedTask):
    """A child workflow execution started by this one."""

    __slots__ = ("workflow_cls", "options", "workflow_id", "run_id", "initiated")

    def __init__(self, task_id: str, workflow_cls: type, args: tuple, kwargs: dict,
                 future: Future, options: dict) -> None:
        _SubmittedTask.__init__(self, task_id, args, kwargs, future)
        self.workflow_cls = workflow_cls
        self.options = options
        self.workflow_id = ""
        self.run_id: str | None = None
        self.initiated = False


class OpenSlots:
    """SWF's cap on one kind of open item (activities, timers or children) in one execution.

    `open` counts what was decided and has not closed yet, as SWF will count it (a decision not
    sent yet included, so a response never asks for more than the cap); `waiting` holds what was
    submitted past the cap, oldest first (made when first needed: a cached idle run that never
    waited carries no queue).
    """

    __slots__ = ("kind", "cap", "open", "waiting")

    def __init__(self, kind: str, cap: int) -> None:
        self.kind = kind
        self.cap = cap
        self.open = 0
        self.waiting: deque[Any] | None = None


_encode_text = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
#: Text fields the decider moves to S3 when they are over their limit (see Decider.prepare).
_JUMBO_LIMITS = {"input": encoding.MAX_INPUT, "control": encoding.MAX_CONTROL,
                 "result": encoding.MAX_RESULT, "details": encoding.MAX_DETAILS}
_ACTIVITY_BASE_BYTES: dict[Activity, int] = {}
#: The most a continuation timer's StartTimer takes (its id ends with an event id).
_CONTINUATION_BYTES = 200


def _decision_bytes(decision: dict) -> int:
    """What `decision` takes in the JSON request botocore sends (its separator included), with
    every field over its limit counted as the jumbo reference the decider puts in its place.

    The engine's own close decisions already fit their reason into SWF's 256 characters."""
    key = decision_attributes_key(decision["decisionType"])
    attrs = decision.get(key)
    extra = 0
    if attrs:
        for field, limit in _JUMBO_LIMITS.items():
            text = attrs.get(field)
            if text is not None and len(text) > limit:
                attrs = {**attrs, field: ""}
                extra += MAX_REFERENCE_JSON
        if extra:
            decision = {**decision, key: attrs}
    return len(json.dumps(decision)) + 2 + extra


def _activity_base(task: ActivityTask) -> int:
    """What the part of a ScheduleActivityTask every call of the activity shares takes."""
    activity = task.activity
    base = _ACTIVITY_BASE_BYTES[activity] = len(json.dumps({
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": activity.decision_base}))
    return base


def _activity_bytes(task: ActivityTask, activity_id: str) -> int:
    """`_decision_bytes` of an activity's ScheduleActivityTask, without building it: the part
    every call of the activity shares is measured once."""
    base = _ACTIVITY_BASE_BYTES.get(task.activity) or _activity_base(task)
    text = task.input_text
    size = base + 2 + 16 + len(_encode_text(activity_id)) + 11  # `, "activityId": `, `, "input": `
    size += (MAX_REFERENCE_JSON if text is not None and len(text) > encoding.MAX_INPUT
             else len(_encode_text(text)) if text is not None else 4)
    if task.priority is not None:
        size += 18 + len(str(task.priority)) + 2  # `, "taskPriority": "…"`
    return size


def backoff_seconds(refusals: int, key: str) -> int:
    """Whole seconds to wait before sending a refused decision again: capped exponential, with
    jitter drawn from `key` (the run, the task and the refusal), so it is the same on every
    replay without taking numbers from the workflow's own `self.random()`."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** min(refusals - 1, 16))
    low = max(1, ceiling // 2)
    draw = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2**64
    return low + int(draw * (ceiling - low + 1))  # whole seconds from `low` to `ceiling`


class Marker:
    """A recorded marker, as `Workflow.list_markers()` returns it; `event_id` is its
    MarkerRecorded event's, None while that event is still to come."""

    __slots__ = ("name", "details", "event_id")

    def __init__(self, name: str, details: Any, event_id: int | None = None) -> None:
        self.name = name
        self.details = details
        self.event_id = event_id

    def __repr__(self) -> str:
        return f"Marker({self.name!r}, {self.details!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Marker) and (self.name, self.details) == (other.name,
                                                                            other.details)


_PLAIN = frozenset({int, float, str, bool, type(None)})
_DONE = _futures._DONE_STATES


def _find_futures(value: Any, out: list[Future]) -> None:
    if isinstance(value, Future):
        out.append(value)
    elif isinstance(value, list | tuple):
        for item in value:
            _find_futures(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            _find_futures(item, out)


def _substitute(value: Any) -> Any:
    if isinstance(value, Future):
        return value.result
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, tuple):
        return [_substitute(v) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    return value


def _attr_key(event_type: str) -> str:
    return event_type[0].lower() + event_type[1:] + "EventAttributes"


class ExecutionState:
    """The live state of one workflow execution, rebuilt from (and advanced by) its events."""

    def __init__(
        self,
        workflow_cls: type,
        *,
        workflow_id: str = "",
        run_id: str = "",
        decode: Callable[[str | None], str | None] | None = None,
        max_decisions: int = MAX_DECISIONS,
        max_decision_bytes: int = MAX_DECISION_BYTES,
    ) -> None:
        self.workflow_cls = workflow_cls
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.decode = decode or _identity
        self.max_decisions = max_decisions
        self.max_decision_bytes = max_decision_bytes
        self.workflow: Any = None
        self.args: list = []
        self.kwargs: dict = {}
        self.input_text: str | None = None
        self.start_attributes: dict = {}
        #: Options replayflow carried in the run's input (`--force-steps`), out of run()'s way.
        self.run_options: dict[str, Any] = {}
        #: What a repair run may reuse instead of scheduling (see repair.py), None otherwise.
        self._reuse: ReuseTable | None = None
        self._stamp: Any = None  # the current decision's eventTimestamp, as it came
        self.last_event_id = 0
        self.last_started_event_id = 0
        self.closed = False
        self.close_status: str | None = None
        self.cancel_requested = False
        self.markers: list[Marker] = []
        #: Every future of this run that failed or was cancelled, in order (see Future._seen).
        self.failed_futures: list[Future] = []
        self._pending: list[Command] = []  # made, not sent yet
        self._awaiting: dict[tuple, Command] = {}  # sent, event not seen yet
        self._close_pending = False
        self._tasks: dict[str, Any] = {}
        self._counters: dict[str, int] = {}
        self._by_activity_id: dict[str, tuple[ActivityTask, int]] = {}
        self._by_scheduled_event: dict[int, tuple[ActivityTask, int]] = {}
        self._waiting_deps: list[ActivityTask] = []
        self._retry_due: list[Any] = []
        self._to_judge: list[tuple[Any, TaskFailed]] = []  # failures for on_task_failure
        self._children: dict[str, ChildTask] = {}  # by child workflow id
        self._children_by_initiated: dict[int, ChildTask] = {}
        self._outgoing_signals: dict[str, Future] = {}  # by control
        self._outgoing_by_initiated: dict[int, Future] = {}
        self._timers: dict[str, TimerTask] = {}
        self._signals: list[tuple[str, Any, int]] = []  # (name, input, event id), unconsumed
        self._signal_waits: list[tuple[str, dict | None, Future]] = []
        self._glet: greenlet | None = None
        self._blocked_on: Callable[[], bool] | None = None
        self._throw: BaseException | None = None
        self._random: _random.Random | None = None
        self._discarded = False
        self._drivers: list[tuple[Future, Callable[[], bool]]] = []  # canvas, see add_driver
        self._held: list[Future] = []  # see hold_open
        self._refusal: str | None = None  # see propose_close
        self._dispatch = _DISPATCH
        self._cancel_hook = self._cancel_future  # one bound method for every future
        self._init_limits()

    @property
    def now(self) -> datetime | None:
        """The time of the current decision task (its DecisionTaskStarted event).

        The decider feeds events with SWF's epoch seconds, the other sources with datetimes;
        only this one timestamp is ever read, so it alone is converted, when asked for.
        """
        stamp = self._stamp
        if isinstance(stamp, int | float):
            stamp = self._stamp = datetime.fromtimestamp(stamp, UTC)
        return stamp

    # ------------------------------------------------------------------ feeding events
    def handle(self, events: Iterable[dict]) -> list[dict]:
        """Feed new events (up to the current DecisionTaskStarted); return the decisions to send."""
        if isinstance(events, list) and len(events) > 1000:  # a full replay: see gc_paused
            with gc_paused():
                return self._handle(events)
        return self._handle(events)

    def _handle(self, events: Iterable[dict]) -> list[dict]:
        routes = _ROUTES
        no_attributes = _NO_ATTRIBUTES
        last = self.last_event_id  # no handler reads it: kept in a local, stored once
        event: Any = None
        try:
            for event in events:  # feed(), inlined: runs once per event of every history
                event_id = event["eventId"]
                if event_id <= last:
                    continue
                last = event_id
                route = routes.get(event["eventType"])
                if route is not None:
                    route[0](self, event, event.get(route[1]) or no_attributes)
        except NonDeterministicWorkflow:
            raise
        except Exception as exc:  # noqa: BLE001 - said once, with the event it happened at
            raise EventNotApplied(self._describe_event(event), exc) from exc
        finally:
            self.last_event_id = last
        return self.decisions()

    def feed(self, event: dict) -> None:
        """Feed one event (what `handle` does for each, without making decisions)."""
        try:
            event_id = event["eventId"]
            if event_id <= self.last_event_id:
                return  # already seen (a page overlap or a resent event)
            self.last_event_id = event_id
            route = _ROUTES.get(event["eventType"])
            if route is not None:
                route[0](self, event, event.get(route[1]) or _NO_ATTRIBUTES)
        except NonDeterministicWorkflow:
            raise
        except Exception as exc:  # noqa: BLE001 - as in _handle
            raise EventNotApplied(self._describe_event(event), exc) from exc

    def _describe_event(self, event: Any) -> str:
        """What the engine was doing with `event`, for a person: which signal, which task."""
        if not isinstance(event, dict):
            return f"cannot read the history ({event!r} is not an event)"
        event_type = event.get("eventType")
        where = f"event {event.get('eventId')}"
        attrs = event.get(_attr_key(event_type)) if isinstance(event_type, str) else None
        attrs = attrs if isinstance(attrs, dict) else {}
        if event_type == "DecisionTaskStarted":
            return f"cannot decide at {where}"
        if event_type == "WorkflowExecutionStarted":
            return f"cannot read the workflow's input ({where})"
        if event_type == "WorkflowExecutionSignaled":
            return f"cannot read signal {attrs.get('signalName')!r} ({where})"
        if event_type == "MarkerRecorded":
            return f"cannot read marker {attrs.get('markerName')!r} ({where})"
        task = None
        if isinstance(event_type, str) and event_type.startswith("ActivityTask"):
            found = self._by_scheduled_event.get(attrs.get("scheduledEventId", -1))
            task = found[0] if found else None
        elif isinstance(event_type, str) and event_type.startswith("ChildWorkflowExecution"):
            task = self._child_of(attrs)
        if task is not None:
            return f"cannot read what became of task {task.task_id} ({where}, {event_type})"
        return f"cannot apply {where} ({event_type})"

    def decisions(self) -> list[dict]:
        """The batch to send for the current decision task (at most `max_decisions`, under
        `max_decision_bytes`), as planned where the decision task started."""
        pending = self._pending
        cut = self._batch_cut
        if cut is None:
            return [cmd.decision for cmd in pending]
        batch = [cmd.decision for cmd in pending[:cut]]
        if self._batch_continuation is not None:
            batch.append(self._batch_continuation.decision)
        return batch

    def discard(self) -> None:
        """Unwind a suspended `run()` (its finally blocks see GreenletExit) and drop it."""
        self._discarded = True
        glet, self._glet = self._glet, None
        if glet is not None and not glet.dead:
            try:
                glet.parent = getcurrent()
                glet.throw(GreenletExit)
            except GreenletExit:
                pass
            except Exception:  # noqa: BLE001 - cleanup code of a dropped run must not leak out
                pass

    # ------------------------------------------------------------------ batches
    def _plan_batch(self, started_event_id: int) -> None:
        """Decide, where the decision task starts, how much of `_pending` this response carries.

        All of it, when it fits `max_decisions` and `max_decision_bytes`; else the longest start
        that fits, plus a zero-second timer whose firing brings the next decision task at once.
        The plan is kept for `decisions()` and DecisionTaskCompleted (events recorded between
        the two must not change it). No second continuation timer is started while one is open
        (its firing is coming), nor one over the timer cap: the rest then waits for the next
        event.
        """
        pending = self._pending
        self._batch_continuation = None
        count = len(pending)
        if count <= 1:  # one decision always fits (each field is at most 32 KB once jumbo)
            self._batch_cut = None
            return
        limit = self.max_decisions
        budget = self.max_decision_bytes
        window = pending[:limit] if count > limit else pending
        sizes: list[int] | None = None
        if self._bytes_at_most(window) <= budget - _CONTINUATION_BYTES:
            fit = len(window)  # the bytes cannot bind: only the count can
        else:
            sizes = []
            total = 0
            for cmd in window:
                size = cmd.size or self._count_bytes(cmd)
                total += size
                if total > budget:
                    break
                sizes.append(size)
            fit = len(sizes)
        if fit == count:
            self._batch_cut = None
            return
        if self._continuation is not None or self._timer_slots.open >= self.max_open_timers:
            self._batch_cut = max(1, fit)
            return
        timer_id = f"{CONTINUE_TIMER_PREFIX}{started_event_id}"
        cont = Command(("timer", timer_id), {
            "decisionType": "StartTimer",
            "startTimerDecisionAttributes": {"timerId": timer_id, "startToFireTimeout": "0"},
        })
        cut = min(fit, limit - 1)
        if sizes is not None:
            room = budget - _CONTINUATION_BYTES
            cut = total = 0
            for size in sizes[: limit - 1]:
                total += size
                if total > room:
                    break
                cut += 1
        self._batch_cut = max(1, cut)
        self._batch_continuation = cont

    def _bytes_at_most(self, window: list[Command]) -> int:
        """An upper bound of what `window` takes in a request, cheap enough for every decision:
        an activity counts its shared part, then 6 bytes a character of its id and input (12 if
        not ASCII), the most JSON ever writes for one; the rest is counted exactly."""
        total = 0
        for cmd in window:
            size = cmd.size
            if not size:
                task = cmd.task
                text = task.input_text if cmd._decision is None else None
                if text is None or task.input_deps or len(text) > encoding.MAX_INPUT:
                    size = self._count_bytes(cmd)
                else:
                    activity_id = cmd.key[1]
                    size = (_ACTIVITY_BASE_BYTES.get(task.activity) or _activity_base(task))
                    size += 80 + (6 if text.isascii() and activity_id.isascii() else 12) * (
                        len(text) + len(activity_id))
            total += size
        return total

    def _count_bytes(self, cmd: Command) -> int:
        task = cmd.task
        if cmd._decision is None and isinstance(task, ActivityTask) and not task.input_deps:
            cmd.size = _activity_bytes(task, cmd.key[1])
        else:
            cmd.size = _decision_bytes(cmd.decision)
        return cmd.size

    def _mark_sent(self) -> None:
        """DecisionTaskCompleted: the planned batch went out; it now waits for its events."""
        pending = self._pending
        cut = self._batch_cut
        awaiting = self._awaiting
        if cut is None:
            self._pending = []
            for cmd in pending:
                awaiting[cmd.key] = cmd
            return
        for cmd in pending[:cut]:
            awaiting[cmd.key] = cmd
        del pending[:cut]
        cont = self._batch_continuation
        if cont is not None:
            awaiting[cont.key] = cont
            self._continuation = cont.key[1]
        self._batch_cut = None
        self._batch_continuation = None

    def _confirm(self, key: tuple, event: dict) -> Command:
        cmd = self._awaiting.pop(key, None)
        if cmd is None:
            instead = next((c for k, c in self._awaiting.items() if k[0] == key[0]), None)
            difference = (f" (it decided {instead.decision['decisionType']} for {key[0]} "
                          f"{instead.key[1]!r} instead)" if instead is not None else "")
            raise NonDeterministicWorkflow(
                f"event {event['eventId']} ({event['eventType']}) is for {key[0]} {key[1]!r}, "
                f"which the current workflow code did not decide at that point{difference}; was "
                "the workflow changed while this execution was running?"
            )
        return cmd

    def _confirm_failed(self, kind: str, ident: str | None, event: dict) -> Command:
        """Confirm a decision by its *Failed event. One that lacks the id (moto records
        CancelTimerFailed without a timerId) is for the oldest decision of its kind still
        unconfirmed: SWF records a response's events in decision order."""
        if ident is None:
            ident = next((key[1] for key in self._awaiting if key[0] == kind), "")
        return self._confirm((kind, ident), event)

    def _check_all_confirmed(self, event: dict) -> None:
        if self._awaiting:
            cmd = next(iter(self._awaiting.values()))
            raise NonDeterministicWorkflow(
                f"the current workflow code decided {cmd.decision['decisionType']} for "
                f"{cmd.key[0]} {cmd.key[1]!r}, but the history has no such decision before event "
                f"{event['eventId']}; was the workflow changed while this execution was running?"
            )

    # ------------------------------------------------------------------ advancing run()
    def _advance(self) -> None:
        """Run the workflow forward as far as the known facts allow; make commands."""
        if self.closed or self._close_pending or self._discarded or self.workflow is None:
            return
        if self._glet is None:
            self._glet = greenlet(self._body, parent=getcurrent())
            self._glet.switch()
        while not self._close_pending:
            if not (self._to_judge or self._retry_due or self._waiting_deps or self._drivers
                    or self._throw is not None or self._held_work):
                # The common case (run() waits on one thing, nothing else is due): one check.
                blocked = self._blocked_on
                if blocked is None or not blocked():
                    break
                self._blocked_on = None
                self._resume()
                continue
            progressed = False
            if self._to_judge:
                self._judge_failures()
            if self._retry_due:
                due, self._retry_due = self._retry_due, []
                for task in due:
                    if task.future.done:
                        continue  # cancelled while its retry was due
                    if isinstance(task, ChildTask):
                        self._schedule_child(task)
                    else:
                        self._schedule_attempt(task)
            if self._held_work:
                self._step_held()
            if self._waiting_deps:
                progressed |= self._release_ready_tasks()
            if self._drivers:
                progressed |= self._step_drivers()
            if self._throw is not None and self._glet is not None and not self._glet.dead:
                self._resume()
                progressed = True
            elif self._blocked_on is not None and self._blocked_on():
                self._blocked_on = None
                self._resume()
                progressed = True
            if not progressed and not self._retry_due and not self._to_judge:
                break

    def hold_open(self, future: Future) -> None:
        """Keep the run from closing, however run() ends (returns, raises, continues as new),
        until `future` is done: machinery that must finish what run() started (a latch release
        on its way to a coordinator, one that may have to be started first: see sync.py)."""
        self._held.append(future)

    def _settle_held(self) -> None:
        held, self._held = self._held, []
        pending = [f for f in held if not f.done]
        if pending:
            self.block_until(_futures._AllDone(pending), checked=False)

    def propose_close(self, decision: dict) -> str:
        """Called from inside run(): send a close decision and suspend until SWF refuses it.

        SWF refuses a close when events came in while the decision task was open (cause
        UNHANDLED_DECISION: a signal, say). A run() that returns cannot see them, so the engine
        sends the close again; a run() that proposes its close is resumed instead, at the next
        decision task, with the refusal's cause, and handles what came in (the sync coordinator
        must never drop a request). If the close is accepted, run() is never resumed.
        """
        if self._discarded:
            raise GreenletExit
        self._refusal = None
        self._add_close(decision)
        self._pending[-1].task = _PROPOSED
        self.block_until(self._was_refused, checked=True)
        cause, self._refusal = self._refusal, None
        return cause or "UNKNOWN"

    def _was_refused(self) -> bool:
        return self._refusal is not None

    def add_driver(self, future: Future, step: Callable[[], bool]) -> None:
        """Step workflow-level code (canvas groups and chains) at every decision point.

        `step()` may submit tasks and resolve futures but never blocks; it returns True when it
        changed something. It runs in registration order until `future` is done, so a cached
        state and a full replay step it at the same points with the same facts.
        """
        self._drivers.append((future, step))

    def _step_drivers(self) -> bool:
        progressed = False
        for future, step in list(self._drivers):
            if not future.done:
                try:
                    progressed |= step()
                except Exception as exc:  # noqa: BLE001 - a step that raises fails its canvas
                    future._set_exception(exc)  # run() sees it where it reads that future
                    progressed = True
        self._drivers = [d for d in self._drivers if not d[0].done]
        return progressed

    def _resume(self) -> None:
        glet = self._glet
        if glet is None or glet.dead:
            return
        glet.parent = getcurrent()
        exc, self._throw = self._throw, None
        if exc is not None:
            self._blocked_on = None
            glet.throw(exc)
        else:
            glet.switch()

    def block_until(self, predicate: Callable[[], bool], checked: bool = False) -> None:
        """Called from inside `run()`: suspend until `predicate()` holds at a decision point.

        `checked=True` says the caller has just seen the predicate false.
        """
        if not checked and predicate():
            return
        current = getcurrent()
        if current is not self._glet:
            raise RuntimeError("a workflow future can only be waited on inside its own run()")
        if self._discarded:
            raise GreenletExit
        self._blocked_on = predicate
        current.parent.switch()
        if self._discarded:
            raise GreenletExit

    def _body(self) -> None:
        workflow = self.workflow
        try:
            try:
                result = workflow.run(*self.args, **self.kwargs)
            finally:
                if self._held:  # however run() ended, what it started gets there first
                    self._settle_held()
        except GreenletExit:
            raise
        except _CloseRun as close:
            self._add_close(close.decision)
            return
        except WorkflowCancelled as exc:
            if self.cancel_requested:
                self._add_close({
                    "decisionType": "CancelWorkflowExecution",
                    "cancelWorkflowExecutionDecisionAttributes": {
                        "details": encoding.dumps({"message": str(exc)}),
                    },
                })
            else:
                self._fail_from_exception(exc)
            return
        except TaskFailed as exc:
            full = str(exc)
            details = {
                "task_id": exc.task_id,
                "reason": full,
                "error": exc.details,
                "type": exc.error_type,
                "message": exc.message,
                "traceback": exc.traceback,
            }
            self._add_fail(full, details)
            return
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any error in run() fails it
            self._fail_from_exception(exc)
            return
        unobserved = self.unobserved_failures()
        if unobserved:
            self._fail_unobserved(unobserved)
            return
        try:
            result_text = encoding.dumps(result)
        except encoding.NotSerializable as exc:
            self._add_fail(f"the result of run() is not JSON-serialisable: {exc}", None)
            return
        self._add_close({
            "decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {"result": result_text},
        })

    def unobserved_failures(self) -> list[Future]:
        """The failures run() never took note of, one future per failure.

        A failure counts as seen when workflow code read `.result`, `.exception`, `.failed` or
        `.cancelled` of a future carrying it, or cancelled that future itself; a failure handed
        on (to a group or chain, or as a dependent task's DependencyFailed) is judged where it
        went instead. Quiet failures (raises_on_failure=False) are never reported; a
        cancellation the workflow did not ask for is.
        """
        failed = self.failed_futures
        if not failed:
            return []
        seen = {id(f._exception) for f in failed if f._seen == _futures.OBSERVED}
        out = []
        for future in failed:
            exc = future._exception
            if (future._seen or id(exc) in seen
                    or not (future._raises or future.state == _futures.CANCELLED)):
                continue
            seen.add(id(exc))  # an idempotent task's copies carry the same failure: once
            out.append(future)
        return out

    def _fail_unobserved(self, unobserved: list[Future]) -> None:
        errors = [str(f._exception) if isinstance(f._exception, TaskFailed | TaskCancelled)
                  else f"{f.task_id or 'a task'} failed: {type(f._exception).__name__}: "
                  f"{f._exception}" for f in unobserved]
        if len(errors) == 1:
            reason = f"run() returned without looking at a failed task: {errors[0]}"
        else:
            reason = (f"run() returned without looking at {len(errors)} failed tasks: "
                      f"{'; '.join(errors)}")
        failures = []
        for future in unobserved:
            exc = future._exception
            failures.append({
                "task_id": future.task_id,
                "reason": str(exc),
                "type": getattr(exc, "error_type", None) or type(exc).__name__,
                "message": getattr(exc, "message", None),
                "traceback": getattr(exc, "traceback", None),
            })
        self._add_fail(reason, {**failures[0], "failures": failures})

    def _fail_from_exception(self, exc: BaseException) -> None:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        _reason, details = encoding.describe_exception(exc, tb)
        self._add_fail(details["reason"], details)

    def _add_fail(self, full_reason: str, details: Any) -> None:
        self._add_close(fail_workflow(full_reason, details))

    def _add_close(self, decision: dict) -> None:
        self._close_pending = True
        self._pending.append(Command(("close", decision["decisionType"]), decision))

    # ------------------------------------------------------------------ workflow API (from run())
    def _next_id(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}-{n}"

    def submit_activity(self, activity: Activity, args: tuple, kwargs: dict,
                        priority: Any = DECLARED_PRIORITY) -> Future:
        """`priority`: an int, None for no priority, or (not given) the activity's own."""
        if self._discarded:
            raise GreenletExit
        if priority is DECLARED_PRIORITY:
            priority = activity.priority
        else:
            check_priority(priority)
        future = Future("", self, activity.raises_on_failure)
        future._cancel = self._cancel_hook
        task = ActivityTask("", activity, args, kwargs, future, priority)
        deps: list[Future] = []
        for arg in args:
            if type(arg) not in _PLAIN:
                _find_futures(arg, deps)
        if kwargs:
            _find_futures(kwargs, deps)
        if not activity.idempotent:
            prefix = activity.id_prefix
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
            task.task_id = future.task_id = task_id = f"{prefix}-{n}"
            self._tasks[task_id] = task
            if not deps:  # the common case: _start_task's work, minus what cannot apply
                try:
                    task.input_text = encoding.encode_call(args, kwargs)
                except encoding.NotSerializable as exc:
                    raise TypeError(f"the input of {task_id}: {exc}") from None
                if self._reuse is None or not self._reused(task):
                    self._schedule_attempt(task)
                return future
        if deps and not all(f.done for f in deps):
            task.deps = deps
            self._waiting_deps.append(task)
            return future
        return self._start_task(task, deps)

    def _start_task(self, task: ActivityTask, deps: list[Future]) -> Future:
        """Deps are all done: fail on a failed dep, else substitute values and schedule."""
        future = task.future
        for dep in deps:
            if dep.state == _futures.CANCELLED or (dep.state == _futures.FAILED and dep._raises):
                dep._carried()  # judged as this task's DependencyFailed from now on
                exc = dep._exception
                cause = exc.reason if isinstance(exc, TaskFailed) else str(exc)
                reason = f"its input {dep.task_id} {dep.state.lower()}: {cause}"
                if not task.task_id:
                    task.task_id = future.task_id = self._next_id(
                        f"activity-{task.activity.name}")
                    self._tasks[task.task_id] = task
                failure = DependencyFailed(task.task_id, reason, None,
                                           error_type=type(exc).__name__ if exc else None,
                                           message=str(exc) if exc else None)
                future._set_exception(failure)
                return future
        if deps:
            task.args = tuple(_substitute(list(task.args)))
            task.kwargs = _substitute(task.kwargs)
            task.input_deps = deps
        try:
            task.input_text = encoding.encode_call(task.args, task.kwargs)
        except encoding.NotSerializable as exc:
            raise TypeError(f"the input of {task.task_id or 'a task'}: {exc}") from None
        if isinstance(task, ChildTask):
            self._schedule_child(task)
            return future
        if task.activity.idempotent and not task.task_id:  # (a compensation has its own id)
            digest = hashlib.sha1(task.input_text.encode()).hexdigest()[:16]
            task_id = f"activity-{task.activity.name}-{digest}"
            existing = self._tasks.get(task_id)
            if existing is not None:
                existing.future._add_done_callback(lambda f: _copy_outcome(f, future))
                future.task_id = task_id
                return future
            task.task_id = future.task_id = task_id
            self._tasks[task_id] = task
        if self._reuse is None or not self._reused(task):
            self._schedule_attempt(task)
        return future

    def _reused(self, task: ActivityTask) -> bool:
        """A repair run: resolve the task from the repaired run's result, if it ran there with
        this activity and this input, and record a marker in place of scheduling it (on replay,
        the same table gives the same answer, and the marker's event confirms it)."""
        reuse = self._reuse
        assert reuse is not None and task.input_text is not None
        entry = reuse.match(task.task_id, task.activity.name, task.input_text)
        if entry is None:
            return False
        self.record_marker(REPAIRED_MARKER, {"task_id": task.task_id,
                                             "activity": task.activity.name,
                                             "from_run": reuse.from_run})
        value = encoding.loads(self.decode(entry[2]))
        load = task.activity.load_result
        task.future._set_result(value if load is None else load(value))
        return True

    def _release_ready_tasks(self) -> bool:
        ready = [t for t in self._waiting_deps if all(f.done for f in t.deps or ())]
        if not ready:
            return False
        self._waiting_deps = [t for t in self._waiting_deps if t not in ready]
        for task in ready:
            deps, task.deps = task.deps or [], None
            try:
                self._start_task(task, deps)
            except Exception as exc:  # noqa: BLE001 - what submit() would have raised in run()
                if not task.future.done:
                    task.future._set_exception(exc)
        return True

    def _schedule_attempt(self, task: ActivityTask) -> None:
        """A new attempt: decided now if an activity slot is free, else when one is."""
        task.attempt += 1
        slots = self._activity_slots
        if slots.open < slots.cap and not slots.waiting:  # _take_slot, inlined: every activity
            slots.open += 1
            self._send_attempt(task)
        else:
            self._take_slot(slots, task)

    def _send_attempt(self, task: ActivityTask) -> None:
        """Decide the current attempt (it holds a slot already)."""
        activity_id = _activity_id(task.task_id, task.attempt)
        self._by_activity_id[activity_id] = (task, task.attempt)
        task.open_activity_id = activity_id
        self._pending.append(Command(("activity", activity_id), None, task, task.attempt))

    def _cancel_future(self, future: Future) -> bool:
        task = self._tasks.get(future.task_id)
        if isinstance(task, ActivityTask):
            return self._cancel_activity(task)
        if isinstance(task, TimerTask):
            return self.cancel_timer(task.timer_id)
        if isinstance(task, ChildTask):
            return self._cancel_child(task)
        return False

    def _cancel_activity(self, task: ActivityTask) -> bool:
        if task.future.done or task.cancel_requested:
            return False
        task.cancel_requested = True
        if task.deps is not None:  # never scheduled: cancelled on the spot
            self._waiting_deps.remove(task)
            task.future._set_exception(TaskCancelled(task.task_id))
            return True
        activity_id = task.open_activity_id
        if self._unhold(task) or activity_id is None:
            # Waiting for a slot, for a back-off, or for its retry: nothing open to cancel.
            task.future._set_exception(TaskCancelled(task.task_id))
            return True
        for i, cmd in enumerate(self._pending):  # not sent yet: just don't send it
            if cmd.key == ("activity", activity_id):
                del self._pending[i]
                self._activity_slots.open -= 1
                task.open_activity_id = None
                task.future._set_exception(TaskCancelled(task.task_id))
                return True
        self._pending.append(Command(("cancel-activity", activity_id), {
            "decisionType": "RequestCancelActivityTask",
            "requestCancelActivityTaskDecisionAttributes": {"activityId": activity_id},
        }, task))
        return True

    # timers ---------------------------------------------------------------------------------
    def start_timer(self, timer_id: str, seconds: float, what: str = "timer") -> Future:
        if self._discarded:
            raise GreenletExit
        check_name("timer id", timer_id)
        whole = check_seconds(f"{what} {timer_id!r} seconds", seconds, zero_ok=True)
        if timer_id in self._timers:
            raise ValueError(f"timer {timer_id!r} was already started in this run")
        future = Future(timer_id, self)
        future._cancel = self._cancel_hook
        timer = TimerTask(timer_id, seconds, future, whole)
        self._timers[timer_id] = timer
        self._tasks[timer_id] = timer
        if self._take_slot(self._timer_slots, timer):
            self._send_timer(timer)
        return future

    def _send_timer(self, timer: TimerTask) -> None:
        """Decide a StartTimer (the timer holds a slot already)."""
        timer.open = True
        self._pending.append(Command(("timer", timer.timer_id), {
            "decisionType": "StartTimer",
            "startTimerDecisionAttributes": {
                "timerId": timer.timer_id, "startToFireTimeout": str(timer.whole),
            },
        }, timer))

    def _timer_closed(self, timer: TimerTask) -> None:
        if timer.open:
            timer.open = False
            self._timer_slots.open -= 1

    def cancel_timer(self, timer_id: str) -> bool:
        timer = self._timers.get(timer_id)
        if timer is None or timer.future.done or timer.cancel_requested:
            return False
        timer.cancel_requested = True
        timer.future._seen = _futures.OBSERVED  # cancelled on purpose: not a surprise failure
        if self._unhold(timer) or not timer.open:  # never decided, or refused: nothing to cancel
            timer.future._set_exception(TaskCancelled(timer_id))
            return True
        for i, cmd in enumerate(self._pending):
            if cmd.key == ("timer", timer_id):
                del self._pending[i]
                self._timer_closed(timer)
                timer.future._set_exception(TaskCancelled(timer_id))
                return True
        self._pending.append(Command(("cancel-timer", timer_id), {
            "decisionType": "CancelTimer",
            "cancelTimerDecisionAttributes": {"timerId": timer_id},
        }, timer))
        # Resolved now: SWF records TimerCanceled with the decision and schedules no decision
        # task for it, so a run() waiting for that event would never wake up. If the timer fired
        # meanwhile (CancelTimerFailed), the cancel still wins: it is what run() saw first.
        timer.future._set_exception(TaskCancelled(timer_id))
        return True

    # failure policy ---------------------------------------------------------------------------
    def _judge_failures(self) -> None:
        """Ask the workflow's on_task_failure hook what to do with each exhausted failure."""
        from ..policy import FailWorkflow, Ignore, RetryAfter, RetryNow, TaskFailure

        judged, self._to_judge = self._to_judge, []
        for task, failure in judged:
            if task.future.done:
                continue  # cancelled meanwhile
            if isinstance(task, ChildTask) and getattr(task.workflow_cls, "_replayflow_machinery",
                                                       False):
                task.future._set_exception(failure)  # sync.py's own children: not the user's
                continue
            name = (task.activity.name if isinstance(task, ActivityTask)
                    else task.workflow_cls.type_name())
            try:
                policy = self.workflow.on_task_failure(
                    TaskFailure(task.task_id, name, task.attempt, failure))
            except Exception as exc:  # noqa: BLE001 - a broken hook fails the workflow, loudly
                self._fail_from_exception(exc)
                return
            if isinstance(policy, RetryNow):
                self._retry_due.append(task)
            elif isinstance(policy, RetryAfter):
                timer = self.start_timer(fit_id(f"retry-{task.task_id}", f"-{task.attempt}"),
                                         policy.seconds, "RetryAfter")
                timer._add_done_callback(lambda _f, task=task: self._retry_due.append(task))
            elif isinstance(policy, Ignore):
                task.future._set_result(policy.result)
            elif isinstance(policy, FailWorkflow):
                task.future._set_exception(failure)
                self._add_fail(policy.reason or str(failure),
                               {"task_id": task.task_id, "reason": str(failure),
                                "error": failure.details})
                return
            else:
                task.future._set_exception(failure)

    # SWF's open-item limits and refusals ------------------------------------------------------
    def _init_limits(self) -> None:
        cls = self.workflow_cls
        self.max_open_timers = getattr(cls, "max_open_timers", MAX_OPEN)
        self._activity_slots = OpenSlots("activities", getattr(cls, "max_open_activities",
                                                               MAX_OPEN))
        # One timer slot stays free for the continuation timer of a split response (see
        # _plan_batch): without it, a run holding 1,000 long timers could not send the rest of
        # a batch before one of them fired.
        self._timer_slots = OpenSlots("timers", max(1, self.max_open_timers - 1))
        self._child_slots = OpenSlots("children", getattr(cls, "max_open_children", MAX_OPEN))
        self._continuation: str | None = None  # the continuation timer sent and not fired yet
        self._batch_cut: int | None = None  # see _plan_batch
        self._batch_continuation: Command | None = None
        self._refused: list[Any] = []  # refused for a limit or a rate: back-off to start
        self._resend: list[Any] = []  # back-off over: send again
        self._held_work = False  # something above, or something waiting for a slot
        #: True once anything had to wait for a slot: the decider then reports the waiting in
        #: every answer's execution context (see `waiting`).
        self.ever_waited = False

    def _take_slot(self, slots: OpenSlots, item: Any) -> bool:
        """True if `item` may be decided now (it then counts as open); else it waits its turn."""
        if slots.open < slots.cap and not slots.waiting:
            slots.open += 1
            return True
        item.held = HELD_FOR_SLOT
        if slots.waiting is None:
            slots.waiting = deque()
        slots.waiting.append(item)
        self._held_work = self.ever_waited = True
        return False

    def _step_held(self) -> None:
        """At a decision point: start back-off timers for refused decisions, send again those
        whose back-off is over, then give free slots to what waits, oldest first."""
        if self._refused:
            refused, self._refused = self._refused, []
            for item in refused:
                if not item.future.done:
                    self._start_backoff(item)
        if self._resend:
            resend, self._resend = self._resend, []
            for item in resend:
                item.held = None
                if not item.future.done:
                    self._send_again(item)
        for slots, send in ((self._activity_slots, self._send_attempt),
                            (self._timer_slots, self._send_timer),
                            (self._child_slots, self._send_child)):
            waiting = slots.waiting
            while waiting and slots.open < slots.cap:
                item = waiting.popleft()
                item.held = None
                slots.open += 1
                send(item)
        self._held_work = bool(self._refused or self._resend or self._activity_slots.waiting
                               or self._timer_slots.waiting or self._child_slots.waiting)

    def _start_backoff(self, item: Any) -> None:
        """A durable timer, then the same decision again (the same activity id, timer id or
        child workflow id: SWF never opened it, and it is not a new attempt)."""
        item.refusals += 1
        ident = item.timer_id if isinstance(item, TimerTask) else item.task_id
        seconds = backoff_seconds(item.refusals, f"{self.run_id}|{ident}|{item.refusals}")
        timer = self.start_timer(fit_id(f"{BACKOFF_TIMER_PREFIX}{ident}", f"-{item.refusals}"),
                                 seconds, "back-off")
        timer._seen = _futures.OBSERVED  # the engine's own: its outcome is never a surprise
        timer._add_done_callback(lambda _f, item=item: self._backoff_over(item))

    def _backoff_over(self, item: Any) -> None:
        self._resend.append(item)
        self._held_work = True

    def _send_again(self, item: Any) -> None:
        if isinstance(item, ActivityTask):
            if self._take_slot(self._activity_slots, item):
                self._send_attempt(item)
        elif isinstance(item, TimerTask):
            if self._take_slot(self._timer_slots, item):
                self._send_timer(item)
        elif self._take_slot(self._child_slots, item):
            self._send_child(item)

    def _unhold(self, item: Any) -> bool:
        """Forget a task that waits (for a slot or a back-off): True if it was waiting."""
        if item.held is None:
            return False
        if item.held == HELD_FOR_SLOT:
            slots = (self._timer_slots if isinstance(item, TimerTask) else self._child_slots
                     if isinstance(item, ChildTask) else self._activity_slots)
            slots.waiting.remove(item)  # type: ignore[union-attr] - it waits there
        item.held = None
        return True

    def waiting(self, listed: int = 10) -> dict[str, Any]:
        """What waits for a free slot, for operators (the decider sends it as the execution
        context of each answer once anything waited; workflow.tasks and workflow.info read it).

        `open` and `waiting` count by kind; `next` names the first `listed` waiting tasks of
        each kind, in the order they will be scheduled, as [kind, task id, name].
        """
        out: dict[str, Any] = {"open": {}, "waiting": {}, "max_open": {}, "next": []}
        for slots, kind in ((self._activity_slots, "activity"), (self._timer_slots, "timer"),
                            (self._child_slots, "child_workflow")):
            out["open"][slots.kind] = slots.open + (
                1 if kind == "timer" and self._continuation is not None else 0)
            out["waiting"][slots.kind] = len(slots.waiting or ())
            out["max_open"][slots.kind] = (self.max_open_timers if kind == "timer"
                                           else slots.cap)
            for i, item in enumerate(slots.waiting or ()):
                if i == listed:
                    break
                if isinstance(item, TimerTask):
                    out["next"].append([kind, item.timer_id, item.timer_id])
                elif isinstance(item, ChildTask):
                    out["next"].append([kind, item.task_id, item.workflow_cls.type_name()])
                else:
                    out["next"].append([kind, item.task_id, item.activity.name])
        return out

    # child workflows ----------------------------------------------------------------------------
    def child_class(self, workflow_id: str) -> type | None:
        """The workflow class this run started (or will start) as child `workflow_id`."""
        task = self._children.get(workflow_id)
        return task.workflow_cls if task is not None else None

    def submit_child(self, workflow_cls: type, args: tuple, kwargs: dict,
                     options: dict) -> Future:
        if self._discarded:
            raise GreenletExit
        check_child_options(options)
        future = Future("", self, True)
        future._cancel = self._cancel_hook
        task = ChildTask("", workflow_cls, args, kwargs, future, options)
        task.task_id = future.task_id = self._next_id(f"workflow-{workflow_cls.type_name()}")
        self._tasks[task.task_id] = task
        deps: list[Future] = []
        _find_futures(args, deps)
        _find_futures(kwargs, deps)
        if deps and not all(f.done for f in deps):
            task.deps = deps
            self._waiting_deps.append(task)
            return future
        return self._start_task(task, deps)

    def _schedule_child(self, task: ChildTask) -> None:
        """A new attempt: decided now if a child slot is free, else when one is."""
        task.attempt += 1
        base_id = task.options.get("workflow_id") or f"{self.workflow_id}--{task.task_id}"
        task.workflow_id = fit_id(base_id, "" if task.attempt == 1 else f"--{task.attempt}")
        if self._take_slot(self._child_slots, task):
            self._send_child(task)

    def _send_child(self, task: ChildTask) -> None:
        """Decide a StartChildWorkflowExecution for the current attempt (it holds a slot)."""
        cls = task.workflow_cls
        opts = task.options
        workflow_id = task.workflow_id
        attrs: dict[str, Any] = {
            "workflowType": {"name": cls.type_name(), "version": cls.version},
            "workflowId": workflow_id,
            "input": task.input_text,
            "taskList": {"name": opts.get("task_list") or cls.task_list},
            "executionStartToCloseTimeout": str(int(opts.get("execution_timeout")
                                                    or cls.execution_timeout)),
            "taskStartToCloseTimeout": str(int(cls.decision_task_timeout)),
            "childPolicy": opts.get("child_policy") or cls.child_policy,
            "control": (_dependencies_control(task, task.task_id) if task.input_deps
                        else task.task_id),
        }
        tags = opts.get("tags") or list(getattr(cls, "tags", ()) or ())
        if tags:
            attrs["tagList"] = list(tags)[:5]
        if opts.get("priority") is not None:
            attrs["taskPriority"] = str(opts["priority"])
        self._children[workflow_id] = task
        self._pending.append(Command(("child", workflow_id), {
            "decisionType": "StartChildWorkflowExecution",
            "startChildWorkflowExecutionDecisionAttributes": attrs,
        }, task, task.attempt))

    def _cancel_child(self, task: ChildTask) -> bool:
        if task.future.done or task.cancel_requested:
            return False
        task.cancel_requested = True
        if task.deps is not None:
            self._waiting_deps.remove(task)
            task.future._set_exception(TaskCancelled(task.task_id))
            return True
        if self._unhold(task):  # waiting for a slot or a back-off: never started
            task.future._set_exception(TaskCancelled(task.task_id))
            return True
        for i, cmd in enumerate(self._pending):
            if cmd.key == ("child", task.workflow_id):
                del self._pending[i]
                self._child_slots.open -= 1
                task.future._set_exception(TaskCancelled(task.task_id))
                return True
        attrs = {"workflowId": task.workflow_id}
        if task.run_id:
            attrs["runId"] = task.run_id
        self._pending.append(Command(("cancel-external", task.workflow_id), {
            "decisionType": "RequestCancelExternalWorkflowExecution",
            "requestCancelExternalWorkflowExecutionDecisionAttributes": attrs,
        }, task))
        return True

    # compensations (replayflow/saga.py) ---------------------------------------------------------
    def task_started(self, task_id: str) -> bool:
        """Whether task `task_id` (an activity or a child) ever started: then it may have done
        something to undo, even if it failed or was cancelled afterwards."""
        task = self._tasks.get(task_id)
        return isinstance(task, _SubmittedTask) and task.started

    def submitted_call(self, task_id: str) -> tuple[tuple, dict]:
        """The arguments task `task_id` was scheduled with, futures replaced by their values."""
        task = self._tasks[task_id]
        return tuple(task.args), dict(task.kwargs)

    def submit_named(self, fn: Activity | type, args: tuple, kwargs: dict,
                     task_id: str) -> Future:
        """Submit an activity or a child workflow class under a task id the caller chose (a
        saga's compensation is `compensate-<forward task id>`), with its declared attributes."""
        if self._discarded:
            raise GreenletExit
        if task_id in self._tasks:
            raise ValueError(f"task id {task_id!r} is already used in this run")
        task: ActivityTask | ChildTask
        if isinstance(fn, Activity):
            future = Future(task_id, self, fn.raises_on_failure)
            task = ActivityTask(task_id, fn, args, kwargs, future, fn.priority)
        else:
            future = Future(task_id, self, True)
            task = ChildTask(task_id, fn, args, kwargs, future, {})
        future._cancel = self._cancel_hook
        self._tasks[task_id] = task
        deps: list[Future] = []
        _find_futures(args, deps)
        _find_futures(kwargs, deps)
        if deps and not all(f.done for f in deps):
            task.deps = deps
            self._waiting_deps.append(task)
            return future
        return self._start_task(task, deps)

    def send_signal(self, name: str, input: Any, workflow_id: str | None,
                    run_id: str | None) -> Future:
        if self._discarded:
            raise GreenletExit
        check_name("signal name", name, identifier=False)
        if workflow_id is not None:
            check_name("workflow id", workflow_id)
        if run_id is not None:
            check_name("run id", run_id, identifier=False, max_length=MAX_RUN_ID_LENGTH)
        control = self._next_id("signal-out")
        future = Future(control, self)
        attrs: dict[str, Any] = {
            "workflowId": workflow_id or self.workflow_id,
            "signalName": name,
            "control": control,
        }
        if workflow_id is None and self.run_id:
            attrs["runId"] = self.run_id
        elif run_id:
            attrs["runId"] = run_id
        if input is not None:
            attrs["input"] = encoding.dumps(input)
        self._outgoing_signals[control] = future
        self._pending.append(Command(("signal-out", control), {
            "decisionType": "SignalExternalWorkflowExecution",
            "signalExternalWorkflowExecutionDecisionAttributes": attrs,
        }))
        return future

    def continue_as_new(self, args: tuple, kwargs: dict) -> None:
        raise _CloseRun(self.continue_as_new_decision(args, kwargs))

    def continue_as_new_decision(self, args: tuple, kwargs: dict) -> dict:
        """The ContinueAsNewWorkflowExecution decision for this input, with this run's start
        settings."""
        cls = self.workflow_cls
        start = self.start_attributes
        attrs: dict[str, Any] = {
            "input": encoding.encode_call(args, kwargs),
            "executionStartToCloseTimeout": start.get("executionStartToCloseTimeout")
            or str(cls.execution_timeout),
            "taskList": start.get("taskList") or {"name": cls.task_list},
            "taskStartToCloseTimeout": start.get("taskStartToCloseTimeout")
            or str(cls.decision_task_timeout),
            "childPolicy": start.get("childPolicy") or cls.child_policy,
            "workflowTypeVersion": cls.version,
        }
        if start.get("tagList"):
            attrs["tagList"] = start["tagList"]
        return {"decisionType": "ContinueAsNewWorkflowExecution",
                "continueAsNewWorkflowExecutionDecisionAttributes": attrs}

    # markers and signals ----------------------------------------------------------------------
    def record_marker(self, name: str, details: Any = None) -> None:
        check_name("marker name", name, identifier=False)
        attrs: dict[str, Any] = {"markerName": name}
        if details is not None:
            attrs["details"] = encoding.dumps(details)
        seq = self._next_id(f"marker-{name}")
        # Listed from now on, as its details read back from JSON (what a replay would see); its
        # MarkerRecorded event only adds the event id.
        marker = Marker(name, encoding.loads(attrs.get("details")))
        self.markers.append(marker)
        self._pending.append(Command(("marker", seq), {
            "decisionType": "RecordMarker", "recordMarkerDecisionAttributes": attrs,
        }, marker))

    def wait_signal(self, name: str, match: dict | None = None) -> Future:
        future = Future(self._next_id(f"signal-{name}"), self)
        for i, (sig_name, sig_input, _event_id) in enumerate(self._signals):
            if sig_name == name and _matches(sig_input, match):
                del self._signals[i]
                future._set_result(sig_input)
                return future
        self._signal_waits.append((name, match, future))
        return future

    def random(self) -> _random.Random:
        if self._random is None:
            self._random = _random.Random(self.run_id or self.workflow_id or "replayflow")
        return self._random

    def uuid4(self) -> _uuid.UUID:
        return _uuid.UUID(int=self.random().getrandbits(128), version=4)

    def fail(self, reason: str, details: Any = None) -> None:
        attrs: dict[str, Any] = {"reason": encoding.truncate_reason(reason)}
        if details is not None or len(reason) > encoding.MAX_REASON:
            attrs["details"] = encoding.dumps(
                details if len(reason) <= encoding.MAX_REASON else
                {"reason": reason, "details": details})
        raise _CloseRun({"decisionType": "FailWorkflowExecution",
                         "failWorkflowExecutionDecisionAttributes": attrs})

    # ------------------------------------------------------------------ event handlers
    def _on_workflow_started(self, event: dict, attrs: dict) -> None:
        self.start_attributes = attrs
        self._stamp = event["eventTimestamp"]
        self.input_text = self.decode(attrs.get("input"))
        self.args, self.kwargs = encoding.decode_call(self.input_text)
        if self.kwargs:  # replayflow's own options ride in the input; run() never sees them
            for key in [k for k in self.kwargs if k.startswith(RUN_OPTION_PREFIX)]:
                self.run_options[key] = self.kwargs.pop(key)
            if REPAIR_KEY in self.run_options:
                self._reuse = ReuseTable.from_option(self.run_options[REPAIR_KEY])
        self.workflow = self.workflow_cls()
        self.workflow._bind(self)

    def _on_decision_started(self, event: dict, attrs: dict) -> None:
        if self._awaiting:
            self._check_all_confirmed(event)
        self.last_started_event_id = event["eventId"]
        self._stamp = event["eventTimestamp"]
        self._advance()
        if len(self._pending) > 1 or self._batch_cut is not None:
            self._plan_batch(event["eventId"])

    def _on_decision_completed(self, event: dict, attrs: dict) -> None:
        pending = self._pending
        if self._batch_cut is None:  # _mark_sent's common case, inlined
            self._pending = []
            awaiting = self._awaiting
            for cmd in pending:
                awaiting[cmd.key] = cmd
        else:
            self._mark_sent()

    def _on_activity_scheduled(self, event: dict, attrs: dict) -> None:
        key = ("activity", attrs["activityId"])
        cmd = self._awaiting.pop(key, None) or self._confirm(key, event)
        task: ActivityTask = cmd.task
        name = attrs["activityType"]["name"]
        if name != task.activity.name:
            raise NonDeterministicWorkflow(
                f"task {task.task_id}: the history scheduled activity {name!r} (event "
                f"{event['eventId']}) where the current code schedules {task.activity.name!r}"
            )
        recorded = attrs.get("input")
        if recorded != task.input_text and not _same_jumbo(recorded, task.input_text):
            raise NonDeterministicWorkflow(
                f"task {task.task_id}: the history scheduled it with input {_short(recorded)} "
                f"(event {event['eventId']}), the current code with {_short(task.input_text)}"
            )
        self._by_scheduled_event[event["eventId"]] = (task, cmd.attempt)
        if task.future.state not in _DONE:
            task.future.state = _futures.SCHEDULED

    def _on_schedule_activity_failed(self, event: dict, attrs: dict) -> None:
        """SWF never opened it. A limit or a rate: sent again after a back-off (not an attempt);
        anything else is a failure for on_task_failure."""
        cmd = self._confirm_failed("activity", attrs.get("activityId"), event)
        task: ActivityTask = cmd.task
        self._activity_slots.open -= 1
        task.open_activity_id = None
        if task.future.done or cmd.attempt != task.attempt:
            return
        if task.cancel_requested:
            task.future._set_exception(TaskCancelled(task.task_id))
            return
        cause = attrs.get("cause", "unknown cause")
        if cause in RETRYABLE_SCHEDULE_CAUSES:
            self._refuse(task)
            return
        failure = TaskFailed(
            task.task_id,
            f"SWF refused to schedule activity {task.activity.name} "
            f"version {task.activity.version}: {cause}",
            {"cause": cause},
            error_type="ScheduleActivityTaskFailed", message=cause,
        )
        task.last_failure = failure
        self._to_judge.append((task, failure))

    def _refuse(self, item: Any) -> None:
        """Refused for a limit or a rate: a back-off timer is decided at the next decision point."""
        item.held = HELD_FOR_BACKOFF
        self._refused.append(item)
        self._held_work = True

    def _attempt_of(self, attrs: dict) -> tuple[ActivityTask, int] | None:
        return self._by_scheduled_event.get(attrs["scheduledEventId"])

    def _on_activity_started(self, event: dict, attrs: dict) -> None:
        found = self._by_scheduled_event.get(attrs["scheduledEventId"])
        if found:
            found[0].started = True
            if found[0].attempt == found[1] and found[0].future.state not in _DONE:
                found[0].future.state = _futures.RUNNING

    def _on_activity_completed(self, event: dict, attrs: dict) -> None:
        found = self._by_scheduled_event.get(attrs["scheduledEventId"])
        if found is None:
            return
        self._activity_slots.open -= 1
        task = found[0]
        task.open_activity_id = None
        future = task.future
        if future.state in _DONE:
            return
        value = encoding.loads(self.decode(attrs.get("result")))
        load = task.activity.load_result
        future._set_result(value if load is None else load(value))

    def _on_activity_failed(self, event: dict, attrs: dict) -> None:
        found = self._attempt_of(attrs)
        if found is None:
            return
        self._activity_slots.open -= 1
        task, attempt = found
        task.open_activity_id = None
        reason = attrs.get("reason") or "unknown reason"
        details = self._details(attrs.get("details"))
        error_type = message = tb = None
        if isinstance(details, dict):
            error_type = details.get("type")
            message = details.get("message")
            tb = details.get("traceback")
            reason = details.get("reason") or reason
        failure = TaskFailed(task.task_id, reason, details, error_type=error_type,
                             message=message, traceback=tb)
        self._attempt_failed(task, attempt, failure)

    def _on_activity_timed_out(self, event: dict, attrs: dict) -> None:
        found = self._attempt_of(attrs)
        if found is None:
            return
        self._activity_slots.open -= 1
        task, attempt = found
        task.open_activity_id = None
        timeout_type = attrs.get("timeoutType", "UNKNOWN")
        failure = TaskTimedOut(task.task_id, f"timed out ({timeout_type})",
                               {"timeoutType": timeout_type,
                                "details": self.decode(attrs.get("details"))},
                               error_type="TimeoutError", message=timeout_type)
        self._attempt_failed(task, attempt, failure)

    def _attempt_failed(self, task: ActivityTask, attempt: int, failure: TaskFailed) -> None:
        if task.future.done or attempt != task.attempt:
            return
        task.last_failure = failure
        if task.cancel_requested:
            task.future._set_exception(failure)
        elif attempt <= task.activity.retry:
            self._retry_due.append(task)  # scheduled at the next decision point
        else:
            self._to_judge.append((task, failure))

    def _on_activity_cancel_requested(self, event: dict, attrs: dict) -> None:
        self._confirm(("cancel-activity", attrs["activityId"]), event)

    def _on_request_cancel_activity_failed(self, event: dict, attrs: dict) -> None:
        self._confirm_failed("cancel-activity", attrs.get("activityId"), event)

    def _on_activity_canceled(self, event: dict, attrs: dict) -> None:
        found = self._attempt_of(attrs)
        if found is None:
            return
        self._activity_slots.open -= 1
        task, _attempt = found
        task.open_activity_id = None
        if not task.future.done:
            task.future._set_exception(TaskCancelled(task.task_id,
                                                     self._details(attrs.get("details"))))

    def _details(self, field: str | None) -> Any:
        """A details field as run() sees it: a jumbo field fetched, JSON read when it is JSON."""
        raw = self.decode(field)
        try:
            return encoding.loads(raw)
        except ValueError:
            return raw

    def _on_timer_started(self, event: dict, attrs: dict) -> None:
        timer_id = attrs["timerId"]
        self._confirm(("timer", timer_id), event)
        timer = self._timers.get(timer_id)
        if timer is not None:
            timer.started = True
            if not timer.future.done:
                timer.future.state = _futures.RUNNING

    def _on_start_timer_failed(self, event: dict, attrs: dict) -> None:
        """A limit or a rate: started again after a back-off. Anything else fails the timer's
        future (so run() never takes a timer SWF refused for one that fired)."""
        timer_id = self._confirm_failed("timer", attrs.get("timerId"), event).key[1]
        timer = self._timers.get(timer_id)
        if timer is None:
            if timer_id == self._continuation:  # its StartTimerFailed brings a decision task
                self._continuation = None
            return
        self._timer_closed(timer)
        if timer.future.done:
            return
        cause = attrs.get("cause", "unknown cause")
        if cause in RETRYABLE_SCHEDULE_CAUSES:
            self._refuse(timer)
            return
        timer.future._set_exception(TaskFailed(
            timer_id, f"SWF refused to start timer {timer_id}: {cause}", {"cause": cause},
            error_type="StartTimerFailed", message=cause))

    def _on_timer_fired(self, event: dict, attrs: dict) -> None:
        timer = self._timers.get(attrs["timerId"])
        if timer is None:
            if attrs["timerId"] == self._continuation:
                self._continuation = None
            return
        self._timer_closed(timer)
        if not timer.future.done:
            timer.future._set_result(None)

    def _on_timer_canceled(self, event: dict, attrs: dict) -> None:
        timer_id = attrs["timerId"]
        self._confirm(("cancel-timer", timer_id), event)
        timer = self._timers.get(timer_id)
        if timer is not None:
            self._timer_closed(timer)
            if not timer.future.done:
                timer.future._set_exception(TaskCancelled(timer_id))

    def _on_cancel_timer_failed(self, event: dict, attrs: dict) -> None:
        # Typically the timer fired first: TimerFired already resolved the future.
        self._confirm_failed("cancel-timer", attrs.get("timerId"), event)

    def _awaited_marker(self, name: str | None) -> tuple | None:
        """The key of the oldest marker sent and not yet confirmed named `name` (any if None)."""
        for key, cmd in self._awaiting.items():
            if key[0] == "marker" and (name is None or cmd.task.name == name):
                return key
        return None

    def _on_marker_recorded(self, event: dict, attrs: dict) -> None:
        name = attrs["markerName"]
        key = self._awaited_marker(name)
        if key is None:
            raise NonDeterministicWorkflow(
                f"event {event['eventId']} records marker {name!r}, which the current workflow "
                "code did not record at that point")
        self._awaiting.pop(key).task.event_id = event["eventId"]

    def _on_record_marker_failed(self, event: dict, attrs: dict) -> None:
        key = self._awaited_marker(attrs.get("markerName"))
        if key is not None:
            marker = self._awaiting.pop(key).task
            self.markers = [m for m in self.markers if m is not marker]  # SWF did not record it

    def _on_signaled(self, event: dict, attrs: dict) -> None:
        name = attrs["signalName"]
        raw = self.decode(attrs.get("input"))
        try:
            value = encoding.loads(raw)
        except ValueError:
            value = raw
        for i, (wait_name, match, future) in enumerate(self._signal_waits):
            if wait_name == name and _matches(value, match):
                del self._signal_waits[i]
                future._set_result(value)
                return
        self._signals.append((name, value, event["eventId"]))

    def _on_child_initiated(self, event: dict, attrs: dict) -> None:
        cmd = self._confirm(("child", attrs["workflowId"]), event)
        task: ChildTask = cmd.task
        name = attrs["workflowType"]["name"]
        if name != task.workflow_cls.type_name():
            raise NonDeterministicWorkflow(
                f"task {task.task_id}: the history started child workflow {name!r} (event "
                f"{event['eventId']}) where the current code starts "
                f"{task.workflow_cls.type_name()!r}")
        recorded = attrs.get("input")
        if recorded != task.input_text and not _same_jumbo(recorded, task.input_text):
            raise NonDeterministicWorkflow(
                f"task {task.task_id}: the history started it with input {_short(recorded)} "
                f"(event {event['eventId']}), the current code with {_short(task.input_text)}")
        task.initiated = True
        self._children_by_initiated[event["eventId"]] = task
        if not task.future.done:
            task.future.state = _futures.SCHEDULED

    def _on_child_start_failed(self, event: dict, attrs: dict) -> None:
        # Recorded either instead of, or after, the Initiated event.
        workflow_id = attrs.get("workflowId")
        if workflow_id is None:  # not from SWF, but never a KeyError on every decision
            workflow_id = next((key[1] for key in self._awaiting if key[0] == "child"), "")
        cmd = self._awaiting.pop(("child", workflow_id), None)
        task = cmd.task if cmd is not None else self._children.get(workflow_id)
        if task is None:
            raise NonDeterministicWorkflow(
                f"event {event['eventId']} is for child workflow {workflow_id!r}, which "
                "the current workflow code never started")
        if cmd is not None or task.initiated:
            self._child_slots.open -= 1  # it held a slot, and no close event will come for it
            task.initiated = False
        if task.future.done or workflow_id != task.workflow_id:
            return
        if task.cancel_requested:
            task.future._set_exception(TaskCancelled(task.task_id))
            return
        cause = attrs.get("cause", "unknown cause")
        if cause in RETRYABLE_SCHEDULE_CAUSES:
            self._refuse(task)  # the same workflow id again: it never started
            return
        failure = TaskFailed(task.task_id, f"SWF refused to start child workflow "
                             f"{workflow_id}: {cause}", {"cause": cause},
                             error_type="StartChildWorkflowExecutionFailed", message=cause)
        task.last_failure = failure
        self._to_judge.append((task, failure))

    def _child_of(self, attrs: dict) -> ChildTask | None:
        task = self._children_by_initiated.get(attrs.get("initiatedEventId", -1))
        if task is None:
            execution = attrs.get("workflowExecution") or {}
            task = self._children.get(execution.get("workflowId", ""))
        return task

    def _on_child_started(self, event: dict, attrs: dict) -> None:
        task = self._child_of(attrs)
        if task is not None:
            task.started = True
            task.run_id = (attrs.get("workflowExecution") or {}).get("runId")
            if not task.future.done:
                task.future.state = _futures.RUNNING

    def _child_closed(self, attrs: dict) -> ChildTask | None:
        """The child a close event is for; its slot is free from now on."""
        task = self._child_of(attrs)
        if task is not None:
            self._child_slots.open -= 1
            task.initiated = False
        return task

    def _on_child_completed(self, event: dict, attrs: dict) -> None:
        task = self._child_closed(attrs)
        if task is not None and not task.future.done:
            task.future._set_result(encoding.loads(self.decode(attrs.get("result"))))

    def _on_child_failed(self, event: dict, attrs: dict) -> None:
        task = self._child_closed(attrs)
        if task is None or task.future.done:
            return
        event_type = event["eventType"]
        details = self._details(attrs.get("details"))
        if event_type == "ChildWorkflowExecutionCanceled":
            task.future._set_exception(TaskCancelled(task.task_id, details))
            return
        if event_type == "ChildWorkflowExecutionTimedOut":
            failure: TaskFailed = TaskTimedOut(
                task.task_id, f"child workflow timed out ({attrs.get('timeoutType')})",
                None, error_type="TimeoutError")
        elif event_type == "ChildWorkflowExecutionTerminated":
            failure = TaskFailed(task.task_id, "child workflow was terminated", None,
                                 error_type="Terminated")
        else:
            reason = attrs.get("reason") or "unknown reason"
            if isinstance(details, dict) and details.get("reason"):
                reason = details["reason"]
            failure = TaskFailed(task.task_id, reason, details,
                                 error_type=details.get("type") if isinstance(details, dict)
                                 else None,
                                 message=details.get("message") if isinstance(details, dict)
                                 else None,
                                 traceback=details.get("traceback") if isinstance(details, dict)
                                 else None)
        task.last_failure = failure
        if task.cancel_requested:
            task.future._set_exception(failure)
        else:
            self._to_judge.append((task, failure))

    def _on_cancel_external_initiated(self, event: dict, attrs: dict) -> None:
        self._confirm(("cancel-external", attrs["workflowId"]), event)

    def _on_cancel_external_failed(self, event: dict, attrs: dict) -> None:
        workflow_id = attrs.get("workflowId")
        if workflow_id is None:
            workflow_id = next((key[1] for key in self._awaiting if key[0] == "cancel-external"),
                               "")
        self._awaiting.pop(("cancel-external", workflow_id), None)

    def _on_signal_out_initiated(self, event: dict, attrs: dict) -> None:
        control = attrs.get("control", "")
        self._confirm(("signal-out", control), event)
        future = self._outgoing_signals.get(control)
        if future is not None:
            self._outgoing_by_initiated[event["eventId"]] = future
            future.state = _futures.SCHEDULED

    def _on_signal_out_done(self, event: dict, attrs: dict) -> None:
        future = self._outgoing_by_initiated.get(attrs.get("initiatedEventId", -1))
        if future is None and attrs.get("control"):
            self._awaiting.pop(("signal-out", attrs["control"]), None)
            future = self._outgoing_signals.get(attrs["control"])
        if future is None or future.done:
            return
        if event["eventType"] == "ExternalWorkflowExecutionSignaled":
            future._set_result(True)
        else:
            future._set_exception(TaskFailed(
                future.task_id, f"signal not delivered: {attrs.get('cause', 'unknown cause')}",
                {"cause": attrs.get("cause")}))

    def _on_cancel_requested(self, event: dict, attrs: dict) -> None:
        if not self.cancel_requested:
            self.cancel_requested = True
            self._throw = WorkflowCancelled(
                f"cancellation was requested (event {event['eventId']})")

    def _on_close_failed(self, event: dict, attrs: dict) -> None:
        """SWF refused our close decision (usually new events arrived): send it again."""
        decision_type = event["eventType"][: -len("Failed")]
        cmd = self._awaiting.pop(("close", decision_type), None)
        if cmd is None:
            return
        if cmd.task is _PROPOSED:  # run() takes it from here (see propose_close)
            self._close_pending = False
            self._refusal = attrs.get("cause") or "UNKNOWN"
        else:
            self._pending.append(cmd)

    def _on_closed(self, event: dict, attrs: dict) -> None:
        closes = [key for key in self._awaiting if key[0] == "close"]
        if not closes and "decisionTaskCompletedEventId" in attrs:
            # A decided close (complete, fail, cancel, continue-as-new) the code did not make.
            raise NonDeterministicWorkflow(
                f"event {event['eventId']} ({event['eventType']}) closes the execution by a "
                "decision the current workflow code did not make at that point; was the workflow "
                "changed while this execution was running?")
        for key in closes:  # SWF may record another close than the one decided (payload limits)
            del self._awaiting[key]
        self.closed = True
        self.close_status = event["eventType"]


def _copy_outcome(source: Future, target: Future) -> None:
    if source._exception is not None:
        target._set_exception(source._exception)
    else:
        target._set_result(source._result)


def _matches(value: Any, match: dict | None) -> bool:
    if not match:
        return True
    if not isinstance(value, dict):
        return False
    return all(k in value and value[k] == v for k, v in match.items())


def _same_jumbo(recorded: str | None, ours: str | None) -> bool:
    """A jumbo reference stands for our input if it records the same size."""
    if not recorded or not ours or not recorded.startswith(JUMBO_PREFIX):
        return False
    try:
        return int(recorded.rsplit(" ", 1)[1]) == len(ours.encode())
    except (IndexError, ValueError):
        return False


def _short(text: str | None, limit: int = 80) -> str:
    if text is None:
        return "none"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


_DISPATCH: dict[str, Callable[[ExecutionState, dict, dict], None]] = {
    "WorkflowExecutionStarted": ExecutionState._on_workflow_started,
    "DecisionTaskStarted": ExecutionState._on_decision_started,
    "DecisionTaskCompleted": ExecutionState._on_decision_completed,
    "ActivityTaskScheduled": ExecutionState._on_activity_scheduled,
    "ScheduleActivityTaskFailed": ExecutionState._on_schedule_activity_failed,
    "ActivityTaskStarted": ExecutionState._on_activity_started,
    "ActivityTaskCompleted": ExecutionState._on_activity_completed,
    "ActivityTaskFailed": ExecutionState._on_activity_failed,
    "ActivityTaskTimedOut": ExecutionState._on_activity_timed_out,
    "ActivityTaskCancelRequested": ExecutionState._on_activity_cancel_requested,
    "RequestCancelActivityTaskFailed": ExecutionState._on_request_cancel_activity_failed,
    "ActivityTaskCanceled": ExecutionState._on_activity_canceled,
    "TimerStarted": ExecutionState._on_timer_started,
    "StartTimerFailed": ExecutionState._on_start_timer_failed,
    "TimerFired": ExecutionState._on_timer_fired,
    "TimerCanceled": ExecutionState._on_timer_canceled,
    "TimerCancelled": ExecutionState._on_timer_canceled,  # moto's spelling
    "CancelTimerFailed": ExecutionState._on_cancel_timer_failed,
    "MarkerRecorded": ExecutionState._on_marker_recorded,
    "RecordMarkerFailed": ExecutionState._on_record_marker_failed,
    "WorkflowExecutionSignaled": ExecutionState._on_signaled,
    "WorkflowExecutionCancelRequested": ExecutionState._on_cancel_requested,
    "StartChildWorkflowExecutionInitiated": ExecutionState._on_child_initiated,
    "StartChildWorkflowExecutionFailed": ExecutionState._on_child_start_failed,
    "ChildWorkflowExecutionStarted": ExecutionState._on_child_started,
    "ChildWorkflowExecutionCompleted": ExecutionState._on_child_completed,
    "ChildWorkflowExecutionFailed": ExecutionState._on_child_failed,
    "ChildWorkflowExecutionTimedOut": ExecutionState._on_child_failed,
    "ChildWorkflowExecutionCanceled": ExecutionState._on_child_failed,
    "ChildWorkflowExecutionTerminated": ExecutionState._on_child_failed,
    "RequestCancelExternalWorkflowExecutionInitiated":
        ExecutionState._on_cancel_external_initiated,
    "RequestCancelExternalWorkflowExecutionFailed": ExecutionState._on_cancel_external_failed,
    "SignalExternalWorkflowExecutionInitiated": ExecutionState._on_signal_out_initiated,
    "ExternalWorkflowExecutionSignaled": ExecutionState._on_signal_out_done,
    "SignalExternalWorkflowExecutionFailed": ExecutionState._on_signal_out_done,
    "CompleteWorkflowExecutionFailed": ExecutionState._on_close_failed,
    "FailWorkflowExecutionFailed": ExecutionState._on_close_failed,
    "CancelWorkflowExecutionFailed": ExecutionState._on_close_failed,
    "ContinueAsNewWorkflowExecutionFailed": ExecutionState._on_close_failed,
    "WorkflowExecutionCompleted": ExecutionState._on_closed,
    "WorkflowExecutionFailed": ExecutionState._on_closed,
    "WorkflowExecutionCanceled": ExecutionState._on_closed,
    "WorkflowExecutionContinuedAsNew": ExecutionState._on_closed,
    "WorkflowExecutionTerminated": ExecutionState._on_closed,
    "WorkflowExecutionTimedOut": ExecutionState._on_closed,
}

# eventType -> (handler, attributes key): one dict lookup per event, no string building.
_ROUTES = {event_type: (handler, _attr_key(event_type)) for event_type, handler in
           _DISPATCH.items()}
_NO_ATTRIBUTES: dict = {}

#: The attribute members the handlers read, for the event types that make up most of any
#: history. The decider's history parser builds only these (see `attributes_read`): at 5,000
#: steps that is 20,000 fewer dicts and strings per full replay. Checked against what the
#: handlers actually read by tests/unit/engine/test_attributes_read.py.
_READS_ONLY: dict[str, tuple[str, ...]] = {
    "DecisionTaskStarted": (),
    "DecisionTaskCompleted": ("startedEventId",),
    "ActivityTaskScheduled": ("activityId", "activityType", "input"),
    "ActivityTaskStarted": ("scheduledEventId",),
    "ActivityTaskCompleted": ("scheduledEventId", "result"),
}


def attributes_read() -> dict[str, tuple[str, ...] | None]:
    """What the engine reads of each event's attributes, by attributes key.

    A key maps to the members read, or to None when they all may be; an event type that is
    absent here (DecisionTaskScheduled, for one) has attributes the engine never reads.
    """
    return {key: _READS_ONLY.get(event_type) for event_type, (_, key) in _ROUTES.items()}
