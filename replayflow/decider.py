"""The decider: poll decision tasks, drive each execution's engine state, answer with decisions.

A decision must not cost a replay of the whole history, so live executions stay in an LRU cache
keyed by run id, and SWF is asked to bring each execution's next decision task back here
("decider affinity"): every answer names this process's own sticky task list, which it polls with
startAtPreviousStartedEvent so SWF sends only the new events. A cached state is trusted only when
the task continues exactly where it stopped (same previous started event, no gap, no timed-out
decision in between); anything else is a miss, answered by a full fetch and a fresh replay
through the same code path. A server that ignores sticky lists (moto) is noticed after a few
tasks, and the sticky poller stops. Engine states (greenlets) are only ever touched by the
thread that calls `run()`; the poller threads (their polls spaced: see polling.py) just hand
tasks over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import encoding, jumbo
from .backends.base import default_identity, error_code
from .engine.decisions import fail_workflow
from .engine.replay import ExecutionState
from .errors import (
    EventNotApplied,
    NonDeterministicWorkflow,
    PayloadTooLarge,
    ReplayflowError,
)
from .naming import decision_attributes_key
from .polling import PollSpacer
from .progress import MIN_INTERVAL, summarize
from .registration import register_workflows
from .sync import MACHINERY_WORKFLOWS
from .validation import HISTORY_WARNING_EVENTS, MAX_EVENTS

log = logging.getLogger(__name__)

DEFAULT_CACHE_SIZE = 1000
DEFAULT_POLLERS = 3
#: How long the next decision task may wait on our sticky list before SWF gives it to anyone.
STICKY_SCHEDULE_TO_START = 5
#: Continuations of our own answers seen on the shared list, with none ever on the sticky list,
#: before we conclude the server ignores sticky task lists (moto does) and stop polling ours.
STICKY_GIVE_UP = 3
MAX_TASK_LIST = 256
POLL_ERROR_FIRST_DELAY = 1.0
POLL_ERROR_MAX_DELAY = 30.0
#: Seconds between two INFO lines on what the cache did (an operator's view of affinity).
STATS_LOG_INTERVAL = 60.0
TRANSIENT_RETRIES = 4
TRANSIENT_FIRST_DELAY = 0.5
TRANSIENT_MAX_DELAY = 4.0
#: AWS error codes that mean "not now": throttling (as in backends/aws.py) and the service's
#: own failures.
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException",
    "InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException", "SlowDown",
})

#: Decision attribute fields that may carry a jumbo payload, by decision type.
_JUMBO_FIELDS: dict[str, tuple[str, ...]] = {
    "ScheduleActivityTask": ("input", "control"),
    "CompleteWorkflowExecution": ("result",),
    "FailWorkflowExecution": ("details",),
    "CancelWorkflowExecution": ("details",),
    "RecordMarker": ("details",),
    "ContinueAsNewWorkflowExecution": ("input",),
    "StartChildWorkflowExecution": ("input", "control"),
    "SignalExternalWorkflowExecution": ("input", "control"),
    "RequestCancelExternalWorkflowExecution": ("control",),
}
_FIELD_LIMITS = {
    "input": encoding.MAX_INPUT,
    "result": encoding.MAX_RESULT,
    "details": encoding.MAX_DETAILS,
    "control": encoding.MAX_CONTROL,
}
_REGISTERS = frozenset({"ScheduleActivityTask", "StartChildWorkflowExecution"})
#: The execution context we send is kept short: it shares the 1 MB request with the decisions.
MAX_CONTEXT = 8_000
_CLOSE_DECISIONS = frozenset({
    "CompleteWorkflowExecution",
    "FailWorkflowExecution",
    "CancelWorkflowExecution",
    "ContinueAsNewWorkflowExecution",
})


def sticky_task_list(task_list: str, identity: str | None = None) -> str:
    """`<task_list>-sticky-<unique>`, cut to SWF's 256 characters on the task-list side."""
    unique = identity or uuid.uuid4().hex
    tail = f"-sticky-{unique}"[: MAX_TASK_LIST // 2]
    return task_list[: MAX_TASK_LIST - len(tail)] + tail


def fail_decision(reason: str, details: Any = None) -> dict[str, Any]:
    """A FailWorkflowExecution decision sent as is (the engine builds its own the same way)."""
    return fail_workflow(reason, details, fit=True)


@dataclass
class DeciderStats:
    """What the cache did; tests and logs read it."""

    tasks: int = 0
    hits: int = 0
    misses: int = 0
    full_fetches: int = 0
    evictions: int = 0
    events_fed: int = 0
    sticky_tasks: int = 0  # tasks that came on the sticky list
    sticky_strays: int = 0  # continuations of our answers that came on the shared list


class Decider:
    """Poll -> engine -> respond for the given workflow classes on one task list (and for the
    latch and semaphore coordinators and launchers of sync.py, which every decider knows)."""

    def __init__(
        self,
        backend: Any,
        workflows: Mapping[str, type],
        task_list: str,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        identity: str | None = None,
        sticky: bool = True,
        sticky_timeout: int = STICKY_SCHEDULE_TO_START,
        activity_task_list: str | None = None,
        pollers: int = DEFAULT_POLLERS,
        exit_on_close: str | None = None,
    ) -> None:
        jumbo.check_config()  # a bad bucket/prefix fails at start-up, not on the first big field
        self.backend = backend
        self.workflows = dict(workflows)
        self.task_list = task_list
        self.cache_size = max(0, int(cache_size))
        self.identity = identity or default_identity()
        # Affinity only pays when there is a cache to come back to.
        self.sticky_list = (
            sticky_task_list(task_list, uuid.uuid4().hex) if sticky and self.cache_size else None
        )
        self.sticky_timeout = sticky_timeout
        #: Route every scheduled activity (and child workflow) here: `standalone` isolates a run.
        self.activity_task_list = activity_task_list
        #: Concurrent polls on the shared list: more tasks in flight, and (on servers without a
        #: real long poll, like moto) a task waits less for the next poll to come round.
        self.pollers = max(1, int(pollers))
        #: `standalone`: stop as soon as this workflow id is closed (not continued as new), so
        #: the waiting parent learns of the close from our exit instead of polling for it.
        self.exit_on_close = exit_on_close
        self.finished = False
        self.cache: OrderedDict[str, ExecutionState] = OrderedDict()
        self.stats = DeciderStats()
        #: The progress summary (progress.Summary as JSON) sent with the current answer: SWF
        #: keeps it as the run's latestExecutionContext, which `--wait` reads. Once anything in
        #: the run waited for a slot under SWF's open-item limits, it also carries `slots`
        #: (see with_slots), which workflow.tasks and workflow.info read back.
        self.execution_context: str | None = None
        #: Why the last task was left unanswered (None when it was answered).
        self.unanswered_reason: str | None = None
        self._registered: set[tuple[str, str, str, str]] = set()
        #: Called with the class of each child workflow type our workflows start, so that its
        #: executions are decided here too (a child's class comes from its parent's own code).
        self.on_child_type: Callable[[type], None] | None = None
        #: Retries of transient errors while deciding, preparing or answering, with capped
        #: exponential backoff (about 7 s in all by default, well within a decision task).
        self.transient_retries = TRANSIENT_RETRIES
        self.transient_first_delay = TRANSIENT_FIRST_DELAY
        self.transient_max_delay = TRANSIENT_MAX_DELAY
        self._non_determinism_logged: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._long_history_warned: OrderedDict[str, None] = OrderedDict()

    # ------------------------------------------------------------------ start-up
    def register(self) -> None:
        """Check the domain; register our workflow types and their modules' activities."""
        self.backend.check_domain()
        register_workflows(self.backend, self.workflows.values())

    stats_interval = STATS_LOG_INTERVAL

    def log_stats(self) -> None:
        """One INFO line: cache hits, misses (each a full replay), history fetches, evictions."""
        s = self.stats
        log.info("decider cache: %d hits, %d misses (full replays; %d fetched the history), "
                 "%d evictions, %d executions cached", s.hits, s.misses, s.full_fetches,
                 s.evictions, len(self.cache))

    # ------------------------------------------------------------------ the loop
    def run(self, stop_event: threading.Event | None = None) -> None:
        """Decide until `stop_event` is set; the task in hand (and any in flight) is finished."""
        stop = stop_event or threading.Event()
        tasks: queue.Queue[tuple[dict[str, Any], threading.Event, bool]] = queue.Queue()
        spacer = PollSpacer(self.pollers)
        pollers = [
            threading.Thread(target=self._poll_loop,
                             args=(self.task_list, False, tasks, stop, spacer, i),
                             name=f"decider-poll-shared-{i + 1}", daemon=True)
            for i in range(self.pollers)
        ]
        if self.sticky_list:
            pollers.append(threading.Thread(
                target=self._poll_loop,
                args=(self.sticky_list, True, tasks, stop, PollSpacer(1), 0),
                name="decider-poll-sticky", daemon=True))
        for thread in pollers:
            thread.start()
        log.info("decider %s polling %s%s for %s", self.identity, self.task_list,
                 f" and {self.sticky_list}" if self.sticky_list else "",
                 ", ".join(sorted(self.workflows)))
        next_stats = time.monotonic() + self.stats_interval
        try:
            while True:
                if time.monotonic() >= next_stats:
                    self.log_stats()
                    next_stats = time.monotonic() + self.stats_interval
                try:
                    task, done, sticky = tasks.get(timeout=0.1)
                except queue.Empty:
                    if stop.is_set() and not any(t.is_alive() for t in pollers):
                        break
                    continue
                try:
                    self._note_affinity(task, sticky)
                    self.process(task)
                except Exception:  # noqa: BLE001 - one bad task must not stop the decider
                    log.exception("decision task for %s failed",
                                  task.get("workflowExecution", {}).get("workflowId"))
                finally:
                    done.set()
                if self.finished:
                    log.info("workflow %s closed: decider exiting", self.exit_on_close)
                    break  # polls in flight are abandoned: nothing else is coming for us
        finally:
            stop.set()
            for run_id in list(self.cache):
                self._drop(run_id)
        stats = self.stats
        log.info("decider %s stopped: %d tasks, %d cache hits, %d misses (%d full history "
                 "fetches), %d evictions", self.identity, stats.tasks, stats.hits, stats.misses,
                 stats.full_fetches, stats.evictions)

    def poll(self, sticky: bool = False) -> dict[str, Any] | None:
        """One poll of the sticky list (only the new events) or the shared list; None if empty."""
        if sticky and self.sticky_list:
            return self.backend.poll_for_decision_task(
                self.sticky_list, self.identity, start_at_previous_started_event=True,
                for_engine=True)
        return self.backend.poll_for_decision_task(self.task_list, self.identity,
                                                   for_engine=True)

    def _poll_loop(self, task_list: str, sticky: bool,
                   tasks: queue.Queue[tuple[dict[str, Any], threading.Event, bool]],
                   stop: threading.Event, spacer: PollSpacer, index: int) -> None:
        delay = POLL_ERROR_FIRST_DELAY
        task: dict[str, Any] | None = None
        while not stop.is_set():
            if sticky and not self.sticky_list:
                return  # the server ignores sticky lists: nothing will ever come here
            # Spread the polls over the server's empty-poll cycle (no long poll: moto).
            spacer.wait(index, stop, after_task=task is not None)
            if stop.is_set():
                break
            began = time.monotonic()
            try:
                task = self.poll(sticky)
            except Exception as exc:  # noqa: BLE001 - keep polling through outages
                log.warning("polling %s failed: %s; retrying in %.0f s", task_list, exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, POLL_ERROR_MAX_DELAY)
                continue
            delay = POLL_ERROR_FIRST_DELAY
            if task is None:
                spacer.record_empty(time.monotonic() - began)
                log.debug("empty poll on %s", task_list)
                continue
            # Hand over and wait: greenlets live on the engine thread, and holding more than one
            # task per poller would only make tasks wait (their start-to-close timeout runs).
            done = threading.Event()
            tasks.put((task, done, sticky))
            done.wait()

    def _note_affinity(self, task: dict[str, Any], sticky: bool) -> None:
        """Count where our continuations arrive; stop asking for affinity if never honoured."""
        if not self.sticky_list:
            return
        if sticky:
            self.stats.sticky_tasks += 1
            return
        state = self.cache.get(task["workflowExecution"]["runId"])
        if state is None or task.get("previousStartedEventId") != state.last_started_event_id:
            return
        self.stats.sticky_strays += 1
        if self.stats.sticky_tasks == 0 and self.stats.sticky_strays >= STICKY_GIVE_UP:
            log.info("the server ignores sticky task lists (moto does): polling %s only",
                     self.task_list)
            self.sticky_list = None

    # ------------------------------------------------------------------ one task
    def process(self, task: dict[str, Any]) -> None:
        """Handle one polled task and respond to it (or, deliberately, not).

        Every error is sorted into one of three kinds (see `is_transient`): transient ones are
        retried here with capped exponential backoff (and, if they last, the task is left to
        time out and come back); a history the code would not have produced is left to time
        out, logged once per execution, so that a fixed deploy picks it up; anything else fails
        the execution at once, with a reason naming the cause and the traceback in details. A
        deterministic error can never make the decider answer nothing forever.
        """
        execution = task["workflowExecution"]
        self.unanswered_reason = None
        try:
            decisions = self._retrying("decide", execution, lambda: self.handle_task(task))
        except NonDeterministicWorkflow as exc:
            self._drop(execution["runId"])
            self.unanswered_reason = f"the workflow code does not match its history: {exc}"
            self._log_non_determinism(execution, exc)
            return
        except Exception as exc:  # noqa: BLE001 - sorted below: retried, or the run fails
            self._drop(execution["runId"])
            if is_transient(exc):
                self._leave_to_swf("decide for", execution, exc)
                return
            cause = str(exc) if isinstance(exc, EventNotApplied) else (
                f"{type(exc).__name__}: {exc}")
            self._fail_execution(task, f"decider: {cause}", exc)
            return
        self.respond(task, decisions)

    def respond(self, task: dict[str, Any], decisions: list[dict[str, Any]]) -> None:
        """Prepare (jumbo fields, type registration) and send; drop the state on any failure."""
        execution = task["workflowExecution"]
        run_id = execution["runId"]
        try:
            prepared = self._retrying("prepare the decisions of", execution,
                                      lambda: self.prepare(decisions))
        except PayloadTooLarge as exc:
            self._drop(run_id)
            self._fail_execution(task, f"decider: a decision field is too large: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - sorted: transient is left, the rest fails
            self._drop(run_id)
            if is_transient(exc):
                self._leave_to_swf("prepare the decisions of", execution, exc)
                return
            self._fail_execution(
                task, f"decider: cannot prepare the decisions: {type(exc).__name__}: {exc}", exc)
            return
        try:
            self._retrying("answer the decision task of", execution,
                           lambda: self._send(task["taskToken"], prepared))
        except Exception as exc:  # noqa: BLE001 - sorted: transient is left, the rest fails
            self._drop(run_id)
            if is_transient(exc):
                self._leave_to_swf("answer the decision task of", execution, exc)
                return
            self._fail_execution(task, f"decider: SWF rejected the decisions: {exc}", exc)
            return
        if prepared and prepared[-1]["decisionType"] in _CLOSE_DECISIONS:  # a close is last
            self._drop(run_id)  # no more decision tasks are coming for this run
            if execution["workflowId"] == self.exit_on_close:
                self.finished = self._closed(execution["workflowId"], run_id)

    def _retrying(self, what: str, execution: dict[str, Any], call: Callable[[], Any]) -> Any:
        """`call()`, retried with capped exponential backoff while it fails transiently."""
        delay = self.transient_first_delay
        for attempt in range(1, self.transient_retries + 1):
            try:
                return call()
            except Exception as exc:  # noqa: BLE001 - only transient errors are retried
                if not is_transient(exc):
                    raise
                log.warning("could not %s %s (attempt %d): %s; retrying in %.1f s", what,
                            execution["workflowId"], attempt, exc, delay)
                self._drop(execution["runId"])  # a retry starts from a clean state
            time.sleep(delay)
            delay = min(delay * 2, self.transient_max_delay)
        return call()

    def _leave_to_swf(self, what: str, execution: dict[str, Any], exc: Exception) -> None:
        """A transient error outlasted the retries: SWF times the task out and sends it again."""
        self.unanswered_reason = f"could not {what} it: {exc}"
        log.warning("could not %s %s: %s; leaving the decision task to SWF (it times out and "
                    "comes back)", what, execution["workflowId"], exc)

    def _fail_execution(self, task: dict[str, Any], reason: str,
                        exc: BaseException | None = None) -> None:
        """Answer with FailWorkflowExecution: `reason` names the cause, details keep the
        traceback. If even that cannot be sent (the task expired), say so in the log."""
        execution = task["workflowExecution"]
        details = None
        if exc is not None:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            _short, details = encoding.describe_exception(exc, tb)
        log.error("workflow %s (run %s): %s; failing the execution", execution["workflowId"],
                  execution["runId"], reason)
        try:
            self._retrying("fail", execution,
                           lambda: self._send(task["taskToken"], [fail_decision(reason, details)]))
        except Exception as send_exc:  # noqa: BLE001 - nothing more can be done for this task
            self.unanswered_reason = f"{reason}; and it could not be failed: {send_exc}"
            log.error("could not fail workflow %s either: %s", execution["workflowId"], send_exc)

    def _log_non_determinism(self, execution: dict[str, Any], exc: Exception) -> None:
        """Once per execution and message: SWF brings the task back after every timeout."""
        key = (execution["runId"], str(exc))
        if key in self._non_determinism_logged:
            log.debug("workflow %s (run %s) still does not match its history",
                      execution["workflowId"], execution["runId"])
            return
        self._non_determinism_logged[key] = None
        while len(self._non_determinism_logged) > max(self.cache_size, DEFAULT_CACHE_SIZE):
            self._non_determinism_logged.popitem(last=False)
        log.error("workflow %s (run %s) does not match its history: %s; not answering, the "
                  "decision task will time out and be retried once the code is fixed",
                  execution["workflowId"], execution["runId"], exc)

    def _closed(self, workflow_id: str, run_id: str) -> bool:
        """Did the close decision close the run? (SWF refuses one that races new events.)"""
        try:
            info = self.backend.describe_workflow_execution(workflow_id, run_id)
        except ReplayflowError as exc:
            log.warning("could not check that %s closed: %s", workflow_id, exc)
            return False
        return (info.get("executionInfo", {}).get("executionStatus") == "CLOSED"
                and info.get("executionInfo", {}).get("closeStatus") != "CONTINUED_AS_NEW")

    def _send(self, token: str, decisions: list[dict[str, Any]]) -> None:
        self.backend.respond_decision_task_completed(
            token, decisions, execution_context=self.execution_context,
            task_list=self.sticky_list,
            schedule_to_start_timeout=self.sticky_timeout if self.sticky_list else None)

    def _warn_long_history(self, execution: dict[str, Any], events: int) -> None:
        """Once per run: past 10,000 events a history is long (SWF ends it at 25,000)."""
        run_id = execution["runId"]
        if run_id in self._long_history_warned:
            return
        self._long_history_warned[run_id] = None
        while len(self._long_history_warned) > max(self.cache_size, DEFAULT_CACHE_SIZE):
            self._long_history_warned.popitem(last=False)
        log.warning("workflow %s (run %s) has %d events in its history, past %d: SWF terminates "
                    "a run at %d events; have the workflow call continue_as_new (see "
                    "Workflow.history_length)", execution["workflowId"], run_id, events,
                    HISTORY_WARNING_EVENTS, MAX_EVENTS)

    def handle_task(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """The decisions for one decision task (no respond; fetches history only on a miss).

        Also sets `execution_context`: the run's progress summary (and what waits for a slot),
        sent with the answer.
        """
        self.stats.tasks += 1
        self.execution_context = None
        execution = task["workflowExecution"]
        run_id = execution["runId"]
        type_name = task["workflowType"]["name"]
        cls = self.workflows.get(type_name) or MACHINERY_WORKFLOWS.get(type_name)
        if cls is None:
            known = ", ".join(sorted(self.workflows)) or "none"
            reason = (f"decider: unknown workflow type {type_name!r}; this decider knows: "
                      f"{known}")
            log.error("%s (execution %s)", reason, execution["workflowId"])
            return [fail_decision(reason)]
        events = task.get("events") or []
        started_id = task.get("startedEventId") or (events[-1]["eventId"] if events else 0)
        if started_id > HISTORY_WARNING_EVENTS:
            self._warn_long_history(execution, started_id)
        state = self.cache.pop(run_id, None)
        new_events = self._continuation(state, task, events) if state is not None else None
        if state is not None and (new_events is None or state.workflow_cls is not cls):
            log.debug("cache stale for %s: previous started %s, cached %s", run_id,
                      task.get("previousStartedEventId"), state.last_started_event_id)
            state.discard()
            state = None
            new_events = None
        if state is None:
            self.stats.misses += 1
            if not events or events[0]["eventId"] != 1:
                self.stats.full_fetches += 1
                events = self.backend.get_workflow_execution_history(
                    execution["workflowId"], run_id, for_engine=True)
            new_events = [e for e in events if e["eventId"] <= started_id] if (
                events and events[-1]["eventId"] > started_id) else events
            state = ExecutionState(cls, workflow_id=execution["workflowId"], run_id=run_id,
                                   decode=jumbo.decode_field)
        else:
            self.stats.hits += 1
        assert new_events is not None
        self.stats.events_fed += len(new_events)
        try:
            decisions = state.handle(new_events)
        except BaseException:
            state.discard()  # half fed: never cached, and its run() is unwound now
            raise
        self._summarize(state, new_events)
        if state.ever_waited:  # what waits for a slot, beside the latest progress summary
            sent = getattr(state, "progress_sent", None)
            self.execution_context = with_slots(
                self.execution_context or (sent[1].to_json() if sent else None), state)
        if self.on_child_type is not None:
            self._learn_child_types(state, decisions)
        if self.activity_task_list:
            decisions = [self._route(d) for d in decisions]
        if not state.closed and self.cache_size:
            self._put(run_id, state)
        else:
            state.discard()
        return decisions

    def _summarize(self, state: ExecutionState, new_events: list[dict[str, Any]]) -> None:
        """Set the progress summary to send with this answer, at most every MIN_INTERVAL per
        run (it counts the run's tasks), and always when the run closes."""
        now = time.monotonic()
        sent = getattr(state, "progress_sent", None)  # (when, summary) of the last one sent
        if sent is not None and now - sent[0] < MIN_INTERVAL and not state._close_pending:
            return
        summary = summarize(state._tasks.values(), new_events, sent[1].last if sent else "")
        state.progress_sent = (now, summary)  # type: ignore[attr-defined]
        self.execution_context = summary.to_json()

    def _learn_child_types(self, state: ExecutionState, decisions: list[dict[str, Any]]) -> None:
        for decision in decisions:
            if decision["decisionType"] == "StartChildWorkflowExecution":
                attrs = decision["startChildWorkflowExecutionDecisionAttributes"]
                cls = state.child_class(attrs["workflowId"])
                if (cls is not None and cls.type_name() not in self.workflows
                        and cls.type_name() not in MACHINERY_WORKFLOWS):
                    self.workflows[cls.type_name()] = cls
                    assert self.on_child_type is not None
                    self.on_child_type(cls)

    def _continuation(self, state: ExecutionState, task: dict[str, Any],
                      events: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The events after what `state` has seen, or None when the cache cannot be trusted."""
        if task.get("previousStartedEventId") != state.last_started_event_id:
            return None  # another decider answered in between, or we never answered
        if not events:
            return None
        last = state.last_event_id
        first_id = events[0]["eventId"]
        if first_id > last + 1:
            return None  # a gap: events we never saw
        start = last - first_id + 1
        if not (0 <= start <= len(events)) or (start and events[start - 1]["eventId"] != last):
            start = next((i for i, e in enumerate(events) if e["eventId"] > last), len(events))
        new = events[start:]
        for event in new:
            if event["eventType"] == "DecisionTaskTimedOut":
                return None  # our last answer never arrived: never trust what we planned
        return new

    def _route(self, decision: dict[str, Any]) -> dict[str, Any]:
        kind = decision["decisionType"]
        if kind not in ("ScheduleActivityTask", "StartChildWorkflowExecution"):
            return decision
        name = decision_attributes_key(kind)
        attrs = {**decision[name], "taskList": {"name": self.activity_task_list}}
        return {**decision, name: attrs}

    # ------------------------------------------------------------------ the cache
    def _put(self, run_id: str, state: ExecutionState) -> None:
        self.cache[run_id] = state
        self.cache.move_to_end(run_id)
        while len(self.cache) > self.cache_size:
            _old_id, old = self.cache.popitem(last=False)
            self.stats.evictions += 1
            old.discard()

    def _drop(self, run_id: str) -> None:
        state = self.cache.pop(run_id, None)
        if state is not None:
            state.discard()

    # ------------------------------------------------------------------ before sending
    def prepare(self, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fit fields to SWF's limits (jumbo) and register new types before they are used.

        A decision is copied only when a field changes: the common batch goes out as it came.
        """
        out = decisions
        for i, decision in enumerate(decisions):
            kind = decision["decisionType"]
            name = decision_attributes_key(kind)
            attrs = decision.get(name)
            if attrs is None:
                continue
            changed = None
            for field in _JUMBO_FIELDS.get(kind, ()):
                text = attrs.get(field)
                if text is not None and len(text) > _FIELD_LIMITS[field]:
                    if changed is None:
                        changed = dict(attrs)
                    changed[field] = jumbo.encode_field(field, text, _FIELD_LIMITS[field])
            reason = attrs.get("reason")
            if reason is not None and len(reason) > encoding.MAX_REASON:
                if changed is None:
                    changed = dict(attrs)
                short, full = jumbo.split_reason(reason)
                changed["reason"] = short
                if not changed.get("details"):
                    changed["details"] = jumbo.encode_field(
                        "details", encoding.dumps({"reason": full}), encoding.MAX_DETAILS)
            if kind in _REGISTERS:
                self._register_for(kind, attrs)
            if changed is not None:
                if out is decisions:
                    out = list(decisions)
                out[i] = {**decision, name: changed}
        return out

    def _register_for(self, kind: str, attrs: dict[str, Any]) -> None:
        """Register the type a decision uses, once per type and task list in this process."""
        if kind == "ScheduleActivityTask":
            activity_type = attrs["activityType"]
            task_list = (attrs.get("taskList") or {}).get("name") or self.task_list
            key = (kind, activity_type["name"], activity_type["version"], task_list)
            if key in self._registered:
                return
            self.backend.register_activity_type(activity_type["name"], activity_type["version"],
                                                task_list)
        else:
            workflow_type = attrs["workflowType"]
            task_list = (attrs.get("taskList") or {}).get("name") or self.task_list
            key = (kind, workflow_type["name"], workflow_type["version"], task_list)
            if key in self._registered:
                return
            self.backend.register_workflow_type(
                workflow_type["name"], workflow_type["version"], task_list,
                execution_timeout=attrs.get("executionStartToCloseTimeout") or "NONE",
                decision_task_timeout=attrs.get("taskStartToCloseTimeout") or 300,
                child_policy=attrs.get("childPolicy") or "TERMINATE",
            )
        self._registered.add(key)


def with_slots(context: str | None, state: ExecutionState) -> str:
    """`context` (a progress summary, a JSON object) with `slots`: what waits for a free slot in
    `state`'s run (ExecutionState.waiting). SWF records the execution context on
    DecisionTaskCompleted, the only place in a history where a task never scheduled can show;
    workflow.tasks and workflow.info read it back (inspection.parse_slots)."""
    slots = state.waiting()
    text = encoding.dumps(slots)
    while len(text) > MAX_CONTEXT and slots["next"]:
        del slots["next"][len(slots["next"]) // 2:]
        text = encoding.dumps(slots)
    if not context or not context.endswith("}"):
        return f'{{"slots":{text}}}'
    return f'{context[:-1]},"slots":{text}}}' if context != "{}" else f'{{"slots":{text}}}'


def is_transient(exc: BaseException) -> bool:
    """Would the same call succeed later? Throttling, a 5xx, a dropped or refused connection, a
    timeout: anywhere in the exception's chain (our errors keep botocore's as their cause)."""
    import botocore.exceptions as bexc  # only ever needed on an error path (local runs skip it)
    import urllib3.exceptions as urllib3_exceptions

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError | bexc.ConnectionError
                      | bexc.HTTPClientError | urllib3_exceptions.ProtocolError
                      | urllib3_exceptions.TimeoutError):
            return True
        if isinstance(current, bexc.ClientError):
            code = current.response.get("Error", {}).get("Code")
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return code in TRANSIENT_CODES or int(status) >= 500
        if error_code(current) in TRANSIENT_CODES:  # the in-process service's own errors
            return True
        current = current.__cause__ or current.__context__
    return False


__all__ = ["DEFAULT_CACHE_SIZE", "Decider", "DeciderStats", "fail_decision", "is_transient",
           "sticky_task_list", "with_slots"]
