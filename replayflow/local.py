"""Run workflows in this process (`--local`): the real decider and worker code, no AWS.

`LocalRunner` drives, without poll threads, the very parts an SWF deployment runs:
- `MemorySwf` (backends/memory.py), SWF in this process, with SWF's events, timeouts and limits;
- the real `Decider`, with its cache (decider affinity is an SWF routing concern: off here);
- the worker's activity code (`execution.run_activity` and `report_outcome`: the same
  allowlist, input decoding, middlewares, heartbeats, field fitting and failure reports), on a
  pool of threads.

So a run that passes locally goes through every rule an SWF run goes through.

Speed. Handing a call to a thread and back costs about 40 µs here, more than a trivial
activity. So an activity type seen to finish in under a millisecond runs on the loop thread
itself, but only when it is the one task ready to start (a batch of ready tasks always goes to
the pool, so independent branches keep running at the same time). If such a call turns out slow,
a watchdog hands the loop to a fresh thread after `INLINE_LIMIT` seconds: timers, timeouts and
other tasks carry on, and the slow call finishes as a pool task would (the new loop thread
rebuilds the decider's cached states by replay, because a suspended `run()` belongs to the
thread that started it).
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import encoding, jumbo  # imported with this module: their import is not part of a run
from .activity import ActivityContext, ActivityRegistry
from .backends.memory import MemorySwf, Run
from .client import WorkflowOutcome, outcome_from_event, start_execution
from .decider import Decider
from .errors import StuckWorkflow
from .execution import Outcome, report_outcome, run_activity
from .history import HistoryFile
from .middleware import ActivityMiddleware
from .naming import split_activity_id
from .progress import Summary
from .registration import register_workflow
from .simulate import Simulation

log = logging.getLogger(__name__)

DEFAULT_MAX_WORKERS = 32
#: An activity type seen to finish faster than this may run on the loop thread (see above);
#: a moving average over its inline calls that passes it sends the type back to the pool.
DEFAULT_INLINE_THRESHOLD = 0.001
#: An inline call running longer than this hands the loop to a fresh thread.
INLINE_LIMIT = 0.05
_WATCH_INTERVAL = 0.01
_LOCAL_CACHE_SIZE = 100_000  # every live run of a local process stays cached

_perf_counter = time.perf_counter


@dataclass
class LocalResult:
    """How a local run ended, following continue-as-new to the last run."""

    run: Run
    status: str
    result: Any = None
    reason: str | None = None
    details: Any = None
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"

    @property
    def execution(self) -> Run:
        """The last run (kept for callers of the earlier API)."""
        return self.run

    @property
    def workflow_id(self) -> str:
        return self.run.workflow_id

    def history(self) -> HistoryFile:
        """The last run's history; the runs it continued from ride along (`previous_runs`)."""
        return history_of(self.runs)


def history_of(runs: Sequence[Run]) -> HistoryFile:
    """A history file for a chain of runs (continue-as-new): the last one, the others attached."""
    history = runs[-1].history()
    history.previous_runs = [run.history() for run in runs[:-1]]
    return history


class LocalRunner:
    """Runs workflows in this process against an in-process SWF (see the module docstring)."""

    def __init__(
        self,
        max_workers: int = DEFAULT_MAX_WORKERS,
        *,
        middlewares: Sequence[ActivityMiddleware] = (),
        modules: Iterable[str] = (),
        inline_threshold: float = DEFAULT_INLINE_THRESHOLD,
        cache_size: int = _LOCAL_CACHE_SIZE,
        simulation: Simulation | None = None,
    ) -> None:
        """`simulation` replaces every activity with the simulator (simulate.py): nothing of
        the activities runs, whatever their type."""
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if jumbo.BUCKET_ENV in __import__("os").environ:
            jumbo.check_config()
        self.max_workers = max_workers
        self.middlewares = list(middlewares)
        self.registry = ActivityRegistry(modules)
        self.inline_threshold = inline_threshold
        self.cache_size = cache_size
        self.simulation = simulation
        self.service = MemorySwf("local")
        self.workflows: dict[str, type] = {}
        self._task_list = "default"
        self._fast: dict[str, bool] = {}  # activity type -> may run inline
        self._inline_cost: dict[str, float] = {}  # activity type -> moving average (s)
        self._running = 0  # activities running on pool threads (or handed off by a watchdog)
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = 0
        self._lock = threading.Lock()
        self._loop_gen = 0  # bumped when a watchdog hands the loop to a new thread
        self._inline: tuple[int, float, str] | None = None  # (loop gen, start, type) of a call
        self._watchdog: threading.Thread | None = None
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._target: Run | None = None  # the run (followed through continue-as-new) awaited
        self._closed = False

    # ------------------------------------------------------------------ the public API
    def start(self, workflow_cls: type, args: Sequence[Any] = (),
              kwargs: dict[str, Any] | None = None, *, workflow_id: str | None = None,
              tags: Sequence[str] | None = None, task_list: str | None = None,
              execution_timeout: int | None = None) -> Run:
        """Start a run (it makes progress in `run_until_closed`) and return it."""
        _check_workflow_class(workflow_cls)
        self._know(workflow_cls)
        workflow_id, run_id = start_execution(
            self.service, workflow_cls, args, kwargs, workflow_id=workflow_id,
            task_list=task_list, execution_timeout=execution_timeout, tags=tags)
        return self.service._run(workflow_id, run_id)

    def run(self, workflow_cls: type, args: Sequence[Any] = (),
            kwargs: dict[str, Any] | None = None, **options: Any) -> LocalResult:
        """Start a workflow and drive it to its end; returns how it ended."""
        return self.run_until_closed(self.start(workflow_cls, args, kwargs, **options))

    def run_until_closed(self, run: Run,
                         on_progress: Callable[[Summary], None] | None = None) -> LocalResult:
        """Drive every run until `run` (followed through continue-as-new) is closed.

        Raises StuckWorkflow when nothing can ever happen again (waiting for a signal nobody
        sends); the histories so far stay readable in `self.service`. `on_progress` gets the
        run's progress summary whenever it changes, read (as `--wait` reads it on SWF) from the
        execution context the decider sends with each answer.
        """
        self._target = run
        self._done.clear()
        self._error = None
        self._spawn_loop()
        last_context = None
        try:
            # Waking every 0.2 s keeps Ctrl-C responsive and paces the progress reports.
            while not self._done.wait(0.2 if on_progress is not None else 0.5):
                if on_progress is None:
                    continue
                last_context = _report(run, last_context, on_progress)
            if on_progress is not None:
                _report(run, last_context, on_progress)  # how it ended
        finally:
            self.shutdown()
        if self._error is not None:
            raise self._error
        return self.result_of(run)

    def result_of(self, run: Run) -> LocalResult:
        runs = [run]
        while runs[-1].continued_as is not None:
            runs.append(runs[-1].continued_as)
        last = runs[-1]
        if last.close_event is None:
            return LocalResult(last, last.status, runs=runs)
        outcome: WorkflowOutcome = outcome_from_event(last.workflow_id, last.run_id,
                                                      last.close_event)
        return LocalResult(last, outcome.status, outcome.result, outcome.reason,
                           outcome.details, runs)

    def signal(self, workflow_id: str, name: str, input: Any = None,
               run_id: str | None = None) -> None:
        """Send a signal from outside, as `workflow.signal` does (thread-safe)."""
        text = jumbo.encode_field(f"input of signal {name}", encoding.dumps(input),
                                  encoding.MAX_INPUT)
        self.service.signal(workflow_id, name, text, run_id)

    def request_cancel(self, workflow_id: str, run_id: str | None = None) -> None:
        self.service.request_cancel(workflow_id, run_id)

    def terminate(self, workflow_id: str, reason: str = "terminated",
                  run_id: str | None = None) -> None:
        self.service.terminate(workflow_id, run_id, reason=reason)

    @property
    def executions(self) -> dict[str, Run]:
        """Workflow id -> its latest run."""
        return self.service.executions

    @property
    def all_runs(self) -> list[Run]:
        return self.service.runs

    def shutdown(self) -> None:
        """Let idle pool threads exit; a thread still inside an activity is a daemon."""
        self._closed = True
        for _ in range(self._threads):
            self._work.put(None)
        self._threads = 0

    # ------------------------------------------------------------------ setting up
    def _know(self, workflow_cls: type) -> None:
        """Decide this class, and allow the plain functions of its module, as `standalone`
        lets its worker load the workflow's module."""
        if workflow_cls.type_name() not in self.workflows:
            self.workflows[workflow_cls.type_name()] = workflow_cls
            self._task_list = workflow_cls.task_list
            self.registry.add_loaded(workflow_cls.__module__)
            register_workflow(self.service, workflow_cls)

    def _new_decider(self) -> Decider:
        decider = Decider(self.service, self.workflows, self._task_list,
                          cache_size=self.cache_size, identity="local", sticky=False)
        decider.on_child_type = self._know  # a child's class comes from its parent's code
        return decider

    def _spawn_loop(self) -> None:
        gen = self._loop_gen
        thread = threading.Thread(target=self._loop_main, args=(gen,),
                                  name=f"replayflow-local-loop-{gen}", daemon=True)
        thread.start()

    def _loop_main(self, gen: int) -> None:
        # A run allocates many small, long-lived dicts (its history); the default collector
        # thresholds would rescan them over and over. Collect less often while we run.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], 50_000), max(thresholds[1], 50),
                         max(thresholds[2], 100))
        try:
            self.service.bind_loop()
            if self._loop(self._new_decider(), gen):
                self._done.set()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._error = exc
            self._done.set()
        finally:
            gc.set_threshold(*thresholds)

    # ------------------------------------------------------------------ the loop
    def _loop(self, decider: Decider, gen: int) -> bool:
        """Decide and run until the run closes (True) or the loop moves to a new thread."""
        svc = self.service
        decision_queue, activity_queue = svc.decision_queue, svc.activity_queue
        timers, inbox = svc.timers, svc.inbox
        fast = self._fast
        simulation = self.simulation
        max_workers = self.max_workers
        monotonic = time.monotonic
        while True:
            if not inbox.empty():
                svc.drain()
            if timers and timers[0][0] <= monotonic():
                svc.fire_due_timers()
            while decision_queue:
                task = svc.next_decision_task()
                if task is not None:
                    self._decide(decider, task)
            target = self._target
            if target.closed:
                target = self._target = target.last()  # followed through continue-as-new
                if target.closed:
                    return True
            if activity_queue and self._running < max_workers:
                task = svc.next_activity_task()
                if task is not None:
                    type_name = task["activityType"]["name"]
                    if not activity_queue and fast.get(type_name) and simulation is None:
                        if not self._run_inline(task, type_name, gen):
                            return False  # a watchdog gave the loop to another thread
                        continue  # decide on its outcome first
                    self._to_pool(task)
                    while activity_queue and self._running < max_workers:
                        task = svc.next_activity_task()
                        if task is not None:
                            self._to_pool(task)
                continue
            if decision_queue or not inbox.empty():
                continue
            timeout = None if not timers else max(0.0, timers[0][0] - monotonic())
            if not self._running and not activity_queue and svc.only_execution_timers():
                self._report_stuck(decider)
            svc.drain(timeout)

    def _decide(self, decider: Decider, task: dict[str, Any]) -> None:
        token = task["taskToken"]
        try:
            decider.process(task)
        except Exception as exc:  # noqa: BLE001 - an unexpected decider error ends the run
            log.exception("deciding %s failed", task["workflowExecution"]["workflowId"])
            self._close_unanswered(token, f"decider error: {type(exc).__name__}: {exc}")
            return
        if token in self.service._decision_tokens:
            # The decider leaves a task it cannot answer to time out, for a fixed deploy to
            # pick up on SWF. Nothing else will ever answer it here: end the run, saying why.
            self._close_unanswered(token, decider.unanswered_reason or (
                "the decider left a decision task unanswered (its error is logged above)"))

    def _close_unanswered(self, token: str, reason: str) -> None:
        run = self.service._decision_tokens.get(token)
        if run is not None and not run.closed:
            self.service.terminate(run.workflow_id, run.run_id,
                                   reason=f"local run stopped: {reason}")

    def _report_stuck(self, decider: Decider) -> None:
        waiting = []
        for run in self.service.runs:
            state = decider.cache.get(run.run_id)
            if run.closed or state is None:
                continue
            for name, match, _future in state._signal_waits:
                waiting.append(f"signal {name!r}" + (f" matching {match}" if match else ""))
        what = ", ".join(waiting) if waiting else "a future that can never resolve"
        raise StuckWorkflow(
            f"the workflow is waiting for {what}, and nothing else can happen in a local run "
            "(no activity, timer or decision is pending)")

    # ------------------------------------------------------------------ running activities
    def _execute(self, task: dict[str, Any]) -> tuple[Outcome, bool]:
        """Run one activity task as the SWF worker's child does (allowlist first)."""
        svc = self.service
        token = task["taskToken"]
        activity_id = task["activityId"]
        task_id, attempt = split_activity_id(activity_id)
        execution = task["workflowExecution"]
        ctx = ActivityContext(execution["workflowId"], execution["runId"], activity_id, task_id,
                              attempt, token, None, svc.record_activity_task_heartbeat,
                              svc.open_activity(token))
        try:
            activity = self.registry.find(task["activityType"]["name"])
        except Exception as exc:  # noqa: BLE001 - ActivityNotFound: nothing is run
            from .execution import failure

            return failure(str(exc), type(exc).__name__), False
        outcome = run_activity(activity, task.get("input"), ctx, jumbo.decode_field,
                               self.middlewares)
        return outcome, ctx.cancel_requested

    def _run_inline(self, task: dict[str, Any], type_name: str, gen: int) -> bool:
        """Run a known-fast activity on the loop thread; False if the loop moved meanwhile."""
        self._inline = (gen, _perf_counter(), type_name)
        if self._watchdog is None:
            self._start_watchdog()
        begin = _perf_counter()
        outcome, cancelled = self._execute(task)
        elapsed = _perf_counter() - begin
        with self._lock:
            self._inline = None
            moved = self._loop_gen != gen
        report_outcome(self.service, task, outcome, cancelled)  # posted if the loop moved
        if moved:
            self.service.post(self._activity_finished, type_name, elapsed)
            return False
        # A moving average, so that one garbage-collector pause does not demote a trivial
        # type while one genuinely slow call does.
        average = self._inline_cost.get(type_name, 0.0) * 0.9 + elapsed * 0.1
        self._inline_cost[type_name] = average
        if average >= self.inline_threshold:
            self._fast[type_name] = False
        return True

    def _to_pool(self, task: dict[str, Any]) -> None:
        self._running += 1
        if self._threads < self._running:
            self._threads += 1
            threading.Thread(target=self._work_loop, name=f"replayflow-activity-{self._threads}",
                             daemon=True).start()
        self._work.put(task)

    def _work_loop(self) -> None:
        """A pool thread: a plain loop over a queue, cheaper than an executor's futures."""
        work = self._work
        svc = self.service
        while True:
            task = work.get()
            if task is None:
                return
            begin = _perf_counter()
            if self.simulation is not None:
                self._simulate(task)
            else:
                outcome, cancelled = self._execute(task)
                report_outcome(svc, task, outcome, cancelled)
            svc.post(self._activity_finished, task["activityType"]["name"],
                     _perf_counter() - begin)

    def _simulate(self, task: dict[str, Any]) -> None:
        """Answer as the simulator plans: after its delay; a "timeout" is never answered, and
        no longer heartbeated for, so it times out as it would on SWF."""
        assert self.simulation is not None
        kind, seconds = self.simulation.plan(task["activityType"]["name"])
        time.sleep(seconds)
        outcome = self.simulation.outcome(task, kind)
        if outcome is None:
            activity = self.service.open_activity(task["taskToken"])
            if activity is not None:
                activity.supervised = False
            return
        report_outcome(self.service, task, outcome)

    def _activity_finished(self, type_name: str, elapsed: float) -> None:
        """On the loop thread, after a pool (or handed-off) activity reported its outcome."""
        self._running -= 1
        # A pool timing includes waits for the GIL, so it may only promote a type; slow
        # inline calls (honest timings) demote it for good.
        if elapsed < self.inline_threshold and type_name not in self._fast:
            self._fast[type_name] = True

    # ------------------------------------------------------------------ the watchdog
    def _start_watchdog(self) -> None:
        self._watchdog = threading.Thread(target=self._watch, name="replayflow-local-watchdog",
                                          daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        """Hand the loop to a new thread when an inline call runs past INLINE_LIMIT."""
        while not self._closed:
            time.sleep(_WATCH_INTERVAL)
            inline = self._inline
            if inline is None or _perf_counter() - inline[1] < INLINE_LIMIT:
                continue
            with self._lock:
                if self._inline is not inline or self._closed:
                    continue
                gen, _start, type_name = inline
                self._fast[type_name] = False
                self._loop_gen = gen + 1
                self._running += 1  # the slow call now counts as a pool task
                self.service.bind_loop(-1)  # no owner until the new loop thread binds itself
            log.debug("activity type %s ran past %.0f ms on the loop thread: the loop moves "
                      "to a new thread", type_name, INLINE_LIMIT * 1000)
            self._spawn_loop()


def _report(run: Run, last_context: str | None,
            on_progress: Callable[[Summary], None]) -> str | None:
    """Call `on_progress` if the run's latest execution context changed; returns it."""
    context = run.last().execution_context
    if context != last_context:
        summary = Summary.from_json(context)
        if summary is not None:
            on_progress(summary)
    return context


def _check_workflow_class(workflow_cls: Any) -> None:
    from .loader import require_workflow_class  # one rule, shared with testing.replay()

    require_workflow_class(workflow_cls, "run_local()")


def run_local(
    workflow_cls: type,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    workflow_id: str | None = None,
    tags: Sequence[str] | None = None,
    task_list: str | None = None,
    execution_timeout: int | None = None,
    middlewares: Sequence[ActivityMiddleware] = (),
    modules: Iterable[str] = (),
    simulation: Simulation | None = None,
) -> LocalResult:
    """Run `workflow_cls(*args, **kwargs)` to its end in this process; returns a LocalResult.

    The workflow's input is `args` (a list) and `kwargs` (a dict), never this function's own
    keywords. `result.status` is COMPLETED, FAILED, CANCELED, TERMINATED or TIMED_OUT;
    `result.result` holds the value, `result.reason`/`result.details` the failure, and
    `result.history()` the SWF-shaped history. `modules` are loaded as `worker.start --module`
    loads them (plain functions of other modules may then run as activities). `simulation`
    answers every activity with the simulator instead of running it (see simulate.py).
    """
    _check_workflow_class(workflow_cls)
    if isinstance(args, str | bytes) or not isinstance(args, list | tuple):
        raise TypeError(f"run_local(cls, args, kwargs): args must be a list or tuple, "
                        f"not {type(args).__name__}")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"run_local(cls, args, kwargs): kwargs must be a dict, "
                        f"not {type(kwargs).__name__}")
    runner = LocalRunner(max_workers, middlewares=middlewares, modules=modules,
                         simulation=simulation)
    return runner.run(workflow_cls, list(args), dict(kwargs or {}), workflow_id=workflow_id,
                      tags=tags, task_list=task_list, execution_timeout=execution_timeout)


__all__ = ["DEFAULT_MAX_WORKERS", "LocalResult", "LocalRunner", "history_of", "run_local"]
