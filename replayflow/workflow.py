"""The Workflow base class: what a workflow author writes `run()` against.

Everything here is replay-safe: each call either reads facts the engine rebuilt from the history,
or records a decision. Use `self.now()`, `self.random()` and `self.uuid4()` instead of the
wall clock and the `random`/`uuid` modules, so every replay sees the same values.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from .activity import Activity, as_activity
from .futures import Future
from .validation import MAX_OPEN, check_open_limit

if TYPE_CHECKING:
    import random

    from .engine.replay import ExecutionState, Marker
    from .saga import Saga
    from .sync import Latch, Semaphore

# `self.submit(f, __priority=3)` inside a class body arrives as `_ClassName__priority`.
_OPTION = re.compile(r"^(?:_[A-Za-z0-9]\w*?)?__(priority|workflow_id|task_list|tags|"
                     r"execution_timeout|child_policy|compensate)$")


def _split_options(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not kwargs:
        return kwargs, {}
    options = {}
    plain = {}
    for key, value in kwargs.items():
        m = _OPTION.match(key) if "__" in key else None
        if m:
            options[m.group(1)] = value
        else:
            plain[key] = value
    return plain, options


class Workflow:
    """Subclass it and write `run()`. Class attributes set how SWF runs the workflow.

    - `name`: the SWF workflow type name (default `module.ClassName`);
    - `version`: the SWF workflow type version;
    - `task_list`: the decision task list (deciders poll it);
    - `execution_timeout`: seconds the whole execution may take (default one day);
    - `decision_task_timeout`: seconds a decider has to answer one decision task;
    - `child_policy`: what happens to children when this execution closes;
    - `tags`: up to five SWF tags;
    - `max_open_activities`, `max_open_timers`, `max_open_children`: how many of each may be open
      at once (SWF refuses more than 1,000; lower them, never raise them). What is submitted past
      a cap waits, in submission order, and is scheduled as slots free up.
    """

    name: ClassVar[str | None] = None
    version: ClassVar[str] = "1"
    task_list: ClassVar[str] = "default"
    execution_timeout: ClassVar[int] = 24 * 3600
    decision_task_timeout: ClassVar[int] = 300
    child_policy: ClassVar[str] = "TERMINATE"
    tags: ClassVar[tuple[str, ...]] = ()
    max_open_activities: ClassVar[int] = MAX_OPEN
    max_open_timers: ClassVar[int] = MAX_OPEN
    max_open_children: ClassVar[int] = MAX_OPEN

    _execution: ExecutionState
    #: The innermost open `with self.saga()` scope (see replayflow/saga.py), if any.
    _saga_scope: Saga | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A cap above SWF's limit (or not a number) is refused where the class is written."""
        super().__init_subclass__(**kwargs)
        for attribute in ("max_open_activities", "max_open_timers", "max_open_children"):
            check_open_limit(f"{cls.__qualname__}.{attribute}", getattr(cls, attribute))

    def run(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.run() is not written")

    @classmethod
    def type_name(cls) -> str:
        return cls.name or f"{cls.__module__}.{cls.__qualname__}"

    def _bind(self, execution: ExecutionState) -> None:
        self._execution = execution

    @property
    def workflow_id(self) -> str:
        """This execution's workflow id (the same on every replay)."""
        return self._execution.workflow_id

    @property
    def run_id(self) -> str:
        """This run's id: a continue-as-new starts a new run under the same workflow id."""
        return self._execution.run_id

    # -------------------------------------------------------------------- tasks
    def submit(self, fn: Any, *args: Any, **kwargs: Any) -> Future:
        """Schedule an activity (or a child workflow class) and return its future.

        Futures anywhere in the arguments are data dependencies: the task is scheduled once
        they are all resolved, with their values in their place. `__priority=N` sets the SWF
        task priority of this one call, `__priority=None` sends none (even if the activity
        declares one); without `__priority`, the activity's declared priority applies.
        `__compensate=undo`, inside a `with self.saga():` block, registers what undoes this task
        if an error leaves the block (see `saga`).
        """
        scope = self._saga_scope
        if not kwargs and type(fn) is Activity and scope is None:  # the common case, first
            return self._execution.submit_activity(fn, args, kwargs)
        kwargs, options = _split_options(kwargs)
        undo = options.pop("compensate", None)
        if scope is not None:
            return scope._submit(self._submit, fn, args, kwargs, options, undo)
        if undo is not None:
            raise TypeError("__compensate= registers an undo in a saga: submit the task inside "
                            "a `with self.saga():` block")
        return self._submit(fn, args, kwargs, options)

    def _in_saga_scope(self, step: Callable[[], bool]) -> Callable[[], bool]:
        """`step`, a driver the engine calls at decision points (a group, a chain, a step),
        made to submit in the saga block that is current now, as run() would have."""
        scope = self._saga_scope
        if scope is None:
            return step

        def in_scope() -> bool:
            outer, self._saga_scope = self._saga_scope, scope
            try:
                return step()
            finally:
                self._saga_scope = outer

        return in_scope

    def _submit(self, fn: Any, args: tuple, kwargs: dict, options: dict[str, Any]) -> Future:
        if type(fn) is Activity:
            return self._submit_activity(fn, args, kwargs, options)
        if isinstance(fn, type) and issubclass(fn, Workflow):
            return self._execution.submit_child(fn, args, kwargs, options)
        submit_to = getattr(fn, "_replayflow_submit", None)
        if submit_to is not None:  # canvas objects know how to submit themselves
            if getattr(fn, "_replayflow_takes_input", False):  # a Dag: its roots' input
                if options:
                    raise TypeError(f"submit({type(fn).__name__}(...)) takes its roots' input, "
                                    "not submit options: give those to each canvas.Node")
                return submit_to(self, *args, **kwargs)
            if args or kwargs or options:
                raise TypeError(
                    f"submit({type(fn).__name__}(...)) takes no other arguments: a canvas "
                    "object already holds its tasks' arguments"
                )
            return submit_to(self)
        return self._submit_activity(as_activity(fn), args, kwargs, options)

    def _submit_activity(self, fn: Activity, args: tuple, kwargs: dict,
                         options: dict[str, Any]) -> Future:
        if "priority" in options:  # given, even as None (no priority): it wins
            return self._execution.submit_activity(fn, args, kwargs, options["priority"])
        return self._execution.submit_activity(fn, args, kwargs)  # the declared priority

    def map(self, fn: Callable[..., Any], iterable: Iterable[Any], **kwargs: Any) -> list[Future]:
        """Submit `fn(item)` for each item; returns the futures in order."""
        return [self.submit(fn, item, **kwargs) for item in iterable]

    def starmap(self, fn: Callable[..., Any], iterable: Iterable[Iterable[Any]],
                **kwargs: Any) -> list[Future]:
        """Submit `fn(*item)` for each item; returns the futures in order."""
        return [self.submit(fn, *item, **kwargs) for item in iterable]

    def step(self, name: str, fn: Any, *args: Any, force: bool = False,
             **kwargs: Any) -> Future:
        """Run `fn(*args, **kwargs)` unless an earlier run of this workflow id already did
        step `name`; returns a future of its result (the recorded one when skipped).

        Done steps are remembered in S3 (the jumbo bucket, under `steps/`) or, without one, in
        a local directory; a marker records whether each step ran or was skipped, and why.
        `force=True` (or `workflow.start --force-steps NAME,...`) runs it again.
        """
        from .steps import run_step

        return run_step(self, name, fn, args, kwargs, force)

    def saga(self, *, parallel: bool = False, continue_on_error: bool = True) -> Saga:
        """A compensation scope, for a `with` block: if an error leaves the block, what the
        block did is undone, then the error goes on.

        In the block, `self.submit(fn, ..., __compensate=undo)` registers `undo` (an activity
        or a Workflow class) for that task, and `saga.add(undo, *args)` an undo step of its own.
        On an error, the block's unfinished tasks are cancelled and awaited; then every task
        that finished, or started and then failed, is undone with `undo(*its args, result=...,
        failure=..., task_id=...)`, in reverse order of registration, one at a time. With
        `parallel=True`, an undo waits only for the undos of the tasks scheduled after its task
        finished (those that took its future, or could have used its result). A failed undo is
        recorded and the others run; the error is then `errors.CompensationFailed`. With
        `continue_on_error=False`, the first failed undo stops the compensation.
        """
        from .saga import Saga

        return Saga(self, parallel=parallel, continue_on_error=continue_on_error)

    def fail(self, reason: str, details: Any = None) -> None:
        """End the workflow now as FAILED with this reason (never returns)."""
        self._execution.fail(reason, details)

    # -------------------------------------------------------------------- time and randomness
    def now(self) -> datetime:
        """The time of the current decision, the same on every replay."""
        now = self._execution.now
        assert now is not None
        return now

    def random(self) -> random.Random:
        """A random generator seeded by the run id: the same sequence on every replay."""
        return self._execution.random()

    def uuid4(self) -> uuid.UUID:
        """A UUID that is the same on every replay."""
        return self._execution.uuid4()

    # -------------------------------------------------------------------- timers
    def start_timer(self, timer_id: str, seconds: float) -> Future:
        """Start a durable timer; its future resolves (to None) when it fires.

        SWF counts whole seconds: a fraction rounds up (0.3 waits 1 s), 0 fires at once.
        """
        return self._execution.start_timer(timer_id, seconds)

    def cancel_timer(self, timer_id: str) -> bool:
        """Cancel a timer that has not fired; False if there is nothing to cancel."""
        return self._execution.cancel_timer(timer_id)

    def sleep(self, seconds: float) -> None:
        """Block `run()` durably for `seconds` (a StartTimer decision, not time.sleep); a
        fraction rounds up to the next whole second, as SWF counts them."""
        timer_id = self._execution._next_id("sleep")
        self._execution.start_timer(timer_id, seconds, "sleep").result  # noqa: B018

    # -------------------------------------------------------------------- signals and markers
    def wait_signal(self, name: str, match: dict | None = None) -> Future:
        """A future of the next signal `name` whose input contains `match` (if given).

        Signals that arrived before the wait are kept and delivered, oldest first.
        """
        return self._execution.wait_signal(name, match)

    def signal(self, name: str, input: Any = None, *, workflow_id: str | None = None,
               run_id: str | None = None) -> Future:
        """Send a signal to another execution (or, with no workflow_id, to this one)."""
        return self._execution.send_signal(name, input, workflow_id, run_id)

    def record_marker(self, name: str, details: Any = None) -> None:
        """Record a marker in the history (visible to operators and to `list_markers`)."""
        self._execution.record_marker(name, details)

    def list_markers(self) -> list[Marker]:
        """The markers recorded so far in this run, oldest first, including those recorded
        earlier in this same decision (whose MarkerRecorded event is still to come)."""
        return list(self._execution.markers)

    # -------------------------------------------------------------------- across workflows
    def latch(self, name: str) -> Latch:
        """The latch `name`, shared by every workflow that names it: `acquire()` and
        `release()` count up and down (never below zero), `countdown()` resolves at zero. Each
        returns a future at once (see replayflow/sync.py)."""
        from .sync import Latch

        return Latch(self, name)

    def semaphore(self, name: str, permits: int = 1, lease: float = 3600) -> Semaphore:
        """`with self.semaphore(name, permits=N, lease=S) as permit:` blocks until one of the N
        permits of `name` is granted (first come, first served); leaving the block gives it back,
        and a holder that never does loses it after `lease` seconds."""
        from .sync import Semaphore

        return Semaphore(self, name, permits, lease)

    def wait(self, *fs: Future | Iterable[Future]) -> list[Future]:
        """`futures.wait` as a method: suspend until every future is done (failures are not
        raised here; read `.result` for that)."""
        from .futures import wait

        return wait(*fs)

    # -------------------------------------------------------------------- lifecycle
    def continue_as_new(self, *args: Any, **kwargs: Any) -> None:
        """End this run and start a fresh one of the same workflow with this input."""
        self._execution.continue_as_new(args, kwargs)

    def history_length(self) -> int:
        """How many events this run's history holds, as of the current decision (the same on
        every replay). SWF ends a run at 25,000: a long loop calls `continue_as_new` well
        before, and 10,000 is where replayflow starts warning."""
        return self._execution.last_started_event_id

    def on_task_failure(self, failure: Any) -> Any:
        """Called when a task fails after its retries; return a policy (see replayflow.policy)."""
        return None
