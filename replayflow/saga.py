"""Compensation on failure: undo what a block of `run()` did when an error leaves it.

TaskFlow reverts a failed flow's tasks in reverse order; Temporal's saga pattern runs the
compensations registered along the way. Here a scope is a `with` block:

    with self.saga() as saga:
        car = self.submit(reserve_car, name, __compensate=cancel_car)
        hotel = self.submit(book_hotel, name, car, __compensate=cancel_hotel)
        saga.add(notify_undo, name)
        return self.submit(charge, name, hotel, __compensate=refund).result

A scope is workflow code and nothing else: it hears of each submission from `Workflow.submit`
(a canvas group submits its members under the scope it was submitted in), and it compensates in
`__exit__`, in run()'s greenlet, waiting on futures as any run() code does. So a cached state and
a full replay compensate at the same points with the same facts, by construction; the engine
only tells it whether a task ever started, and schedules a compensation under the task id
`compensate-<forward task id>` (naming.compensation_id), which operators see in workflow.tasks.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from . import futures
from .activity import Activity, as_activity
from .encoding import truncate_reason
from .engine.replay import _find_futures
from .errors import CompensationFailed, TaskCancelled, TaskFailed, WorkflowCancelled
from .futures import FINISHED, Future
from .naming import compensation_id, compensation_step_prefix

if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["ENDED_MARKER", "STARTED_MARKER", "Saga"]

#: Markers a scope records when an error starts its compensation, and when that is over.
STARTED_MARKER = "replayflow-compensation-started"
ENDED_MARKER = "replayflow-compensation-ended"
#: What a compensation tied to a task receives on top of that task's own arguments.
UNDO_KEYWORDS = ("result", "failure", "task_id")
_MAX_LISTED = 20  # task ids listed in a marker; the counts say the rest (a marker is 32 KB)

_NEW, _OPEN, _CLOSED = "new", "open", "closed"
_PLAIN = frozenset({int, float, str, bool, type(None)})  # arguments that hold no future


class _Clock:
    """One per run, shared by its scopes: a counter that ticks at every registration and at
    every completion a scope watches, so "B was scheduled after A finished" is `A.done <
    B.fixed`. Ticks happen in event handlers and in run(): the same order on every replay."""

    __slots__ = ("now", "compensated")

    def __init__(self) -> None:
        self.now = 0
        self.compensated: set[str] = set()  # forward task ids whose compensation ran or runs

    def tick(self) -> int:
        self.now += 1
        return self.now


class _Entry:
    """One registered compensation: `undo` for the task behind `future`, or (no future) an
    undo step added with `saga.add(undo, *args, **kwargs)`.

    `seq` orders registrations; `fixed` is when the forward task's input was fixed (its
    registration, or the completion of the last future it took); `done` is when the forward
    task finished. A step happens when its own input is fixed. Since fixed <= finished for
    every entry, "waits for" (see `_Compensation.in_parallel`) has no cycle."""

    __slots__ = ("undo", "args", "kwargs", "future", "seq", "fixed", "done")

    def __init__(self, undo: Activity | type, args: tuple, kwargs: dict,
                 future: Future | None, clock: _Clock) -> None:
        self.undo = undo
        self.args = args
        self.kwargs = kwargs
        self.future = future
        self.seq = self.fixed = clock.tick()
        self.done: int | None = None
        deps: list[Future] = []
        for arg in args:
            if type(arg) not in _PLAIN:
                _find_futures(arg, deps)
        if kwargs:
            _find_futures(kwargs, deps)
        for dep in deps:
            if not dep.done:
                dep._add_done_callback(lambda _f, clock=clock: self._input_fixed(clock.tick()))
        if future is not None:
            future._add_done_callback(lambda _f, clock=clock: self._finished(clock.tick()))

    def _input_fixed(self, tick: int) -> None:
        self.fixed = max(self.fixed, tick)

    def _finished(self, tick: int) -> None:
        if self.done is None:
            self.done = tick

    def finished_at(self) -> int | None:
        """When the task finished; a step happens when its input is fixed."""
        return self.fixed if self.future is None else self.done


class Saga:
    """A compensation scope; see `Workflow.saga`. Use it as a context manager, once."""

    def __init__(self, workflow: Workflow, *, parallel: bool = False,
                 continue_on_error: bool = True) -> None:
        self.workflow = workflow
        self.parallel = bool(parallel)
        self.continue_on_error = bool(continue_on_error)
        self.scope_id = workflow._execution._next_id("saga")
        clock = workflow.__dict__.get("_saga_clock")
        if clock is None:
            clock = workflow.__dict__["_saga_clock"] = _Clock()
        self._clock: _Clock = clock
        self._entries: list[_Entry] = []
        self._tasks: list[Future] = []  # every future submitted in the scope
        self._parent: Saga | None = None
        self._state = _NEW
        self._cancel_request: WorkflowCancelled | None = None

    def __repr__(self) -> str:
        return (f"<Saga {self.scope_id} {self._state}, {len(self._entries)} compensations, "
                f"parallel={self.parallel}>")

    # ------------------------------------------------------------------ what authors call
    def add(self, undo: Any, *args: Any, **kwargs: Any) -> None:
        """Register an undo step not tied to one task: `undo(*args, **kwargs)` runs, as an
        activity (or a child workflow), where it falls in the order of registration."""
        scope = self._live()
        if scope is None:
            raise RuntimeError(f"saga.add() on {self.scope_id}, which has ended: add undo steps "
                               "inside its `with` block")
        from .workflow import _split_options

        kwargs, options = _split_options(kwargs)
        if options:
            raise TypeError(f"saga.add() takes the undo's own arguments, not submit options "
                            f"({', '.join('__' + o for o in options)}): declare them on the "
                            "activity")
        runnable = _runnable(undo)
        _check_call(runnable, args, kwargs, "saga.add")
        scope._entries.append(_Entry(runnable, args, kwargs, None, scope._clock))

    def __enter__(self) -> Saga:
        if self._state != _NEW:
            raise RuntimeError(f"{self.scope_id} was already used: call self.saga() for each "
                               "`with` block")
        workflow = self.workflow
        self._parent = workflow._saga_scope
        workflow._saga_scope = self
        self._state = _OPEN
        return self

    def __exit__(self, exc_type: Any, error: BaseException | None, tb: Any) -> bool:
        self.workflow._saga_scope = self._parent
        self._state = _CLOSED
        if not isinstance(error, Exception):  # done, or run() unwound (GreenletExit, a close)
            self._hand_over(self._entries)
            return False
        failures, total = self._compensate(error)
        if failures:
            earlier: list[BaseException] = []
            if isinstance(error, CompensationFailed):  # an inner scope's: one report for both
                error, earlier, total = error.original, error.failures, error.total + total
            raise CompensationFailed(error, earlier + failures, total)
        if self._cancel_request is not None and not isinstance(error, WorkflowCancelled):
            raise self._cancel_request  # a cancel that came while compensating: now cancel
        return False

    # ------------------------------------------------------------------ registration
    def _live(self) -> Saga | None:
        """This scope while open; once closed, the open scope that took over its tasks."""
        scope: Saga | None = self
        while scope is not None and scope._state != _OPEN:
            scope = scope._parent if scope._state == _CLOSED else None
        return scope

    def _submit(self, submit: Any, fn: Any, args: tuple, kwargs: dict, options: dict,
                undo: Any) -> Future:
        """What `Workflow.submit` does in a scope: submit, then track the task and its undo."""
        scope = self._live()
        runnable = None
        if undo is not None:
            if scope is None:
                raise RuntimeError(
                    f"a task with __compensate was submitted after its saga {self.scope_id} "
                    "ended (a group or chain still running when the `with` block ended): wait "
                    "for it inside the block")
            runnable = _check_undo(fn, args, kwargs, undo)
        future = submit(fn, args, kwargs, options)
        if scope is not None:
            scope._tasks.append(future)
            if runnable is not None:
                scope._entries.append(_Entry(runnable, args, kwargs, future, scope._clock))
        return future

    def _hand_over(self, entries: list[_Entry]) -> None:
        """The enclosing scope owns what this one did not undo, and its unfinished tasks."""
        parent = self._parent._live() if self._parent is not None else None
        self._entries = []
        tasks, self._tasks = self._tasks, []
        if parent is None:
            return
        if entries:
            parent._entries = sorted(parent._entries + entries, key=lambda e: e.seq)
        parent._tasks.extend(f for f in tasks if not f.done)

    # ------------------------------------------------------------------ compensation
    def _compensate(self, error: Exception) -> tuple[list[BaseException], int]:
        """Cancel and await the scope's unfinished tasks, then run the compensations of those
        that did something; returns (failures, how many ran)."""
        workflow = self.workflow
        execution = workflow._execution
        unfinished = [f for f in self._tasks if not f.done]
        workflow.record_marker(STARTED_MARKER, {
            "scope": self.scope_id, "error": truncate_reason(_describe(error)),
            "cancelling": len(unfinished), "parallel": self.parallel})
        for future in unfinished:
            future.cancel()
        self._wait(unfinished)
        todo = []
        for entry in self._entries:
            forward = entry.future
            if forward is not None:
                task_id = forward.task_id
                if task_id in self._clock.compensated or not (
                        forward.state == FINISHED or execution.task_started(task_id)):
                    continue  # never started, failed on its input, cancelled before it ran
                self._clock.compensated.add(task_id)
            todo.append(entry)
        self._entries = []
        run = _Compensation(self, todo)
        if self.parallel:
            run.in_parallel()
        else:
            run.in_reverse_order()
        for entry in run.not_run:
            if entry.future is not None:
                self._clock.compensated.discard(entry.future.task_id)
        workflow.record_marker(ENDED_MARKER, {
            "scope": self.scope_id, "compensated": len(run.compensated),
            "failed": [task_id for task_id, _ in run.failures][:_MAX_LISTED],
            "not_run": len(run.not_run)})
        self._hand_over(run.not_run)
        return [failure for _, failure in run.failures], len(todo) - len(run.not_run)

    def _wait(self, fs: list[Future], *, first: bool = False) -> None:
        """Wait as run() does; a cancel request meanwhile is kept for after the compensation
        (compensate first, then cancel)."""
        while fs:
            try:
                if first:
                    futures.wait_any(fs)
                else:
                    futures.wait(fs)
                return
            except WorkflowCancelled as request:
                self._cancel_request = request


class _Compensation:
    """Running one scope's compensations, one at a time or in TaskFlow's parallel order."""

    def __init__(self, scope: Saga, todo: list[_Entry]) -> None:
        self.scope = scope
        self.execution = scope.workflow._execution
        self.todo = todo
        self.compensated: list[str] = []
        self.failures: list[tuple[str, BaseException]] = []
        self.not_run: list[_Entry] = []
        self.stopped = False

    def in_reverse_order(self) -> None:
        for index, entry in enumerate(reversed(self.todo)):
            if self.stopped:
                self.not_run = list(self.todo[: len(self.todo) - index])
                return
            started = self._start(entry)
            if started is not None:
                self.scope._wait([started])
                self._finished(started)

    def in_parallel(self) -> None:
        """TaskFlow's rule: an undo waits for the undos of the tasks scheduled after its task
        had finished (they took its future, or could have used its result), that is, for
        every unfinished entry whose `fixed` is later than its own `finished_at()`. So an entry
        is free once no unfinished entry was fixed after it finished: one maximum per round."""
        pending = list(self.todo)
        running: dict[Future, _Entry] = {}
        while pending or running:
            if not self.stopped:
                latest = max(e.fixed for e in (*pending, *running.values()))
                free = [e for e in pending if (e.finished_at() or latest) >= latest]
                if not free and not running:
                    free = [pending[-1]]  # cannot happen (fixed <= finished): never hang
                for entry in reversed(free):  # the latest first, as in the sequential order
                    pending.remove(entry)
                    started = self._start(entry)
                    if started is not None:
                        running[started] = entry
            if not running:
                if pending and not self.stopped:
                    continue
                break
            self.scope._wait(list(running), first=True)
            for future in [f for f in running if f.done]:
                del running[future]
                self._finished(future)
        self.not_run = pending

    def _start(self, entry: _Entry) -> Future | None:
        """Submit one compensation; a submission that fails at once is a failure."""
        execution = self.execution
        forward = entry.future
        if forward is None:
            task_id = execution._next_id(compensation_step_prefix(_type_name(entry.undo)))
            args, kwargs = entry.args, entry.kwargs
        else:
            task_id = compensation_id(forward.task_id)
            args, kwargs = execution.submitted_call(forward.task_id)
            exc = forward.exception  # taken note of: the compensation answers for it
            kwargs = {**kwargs, "result": forward.result if exc is None else None,
                      "failure": None if exc is None else _failure_of(exc),
                      "task_id": forward.task_id}
        try:
            return execution.submit_named(entry.undo, args, kwargs, task_id)
        except Exception as exc:  # noqa: BLE001 - recorded as this compensation's failure
            self._failed(task_id, exc)
            return None

    def _finished(self, future: Future) -> None:
        try:
            future.result  # noqa: B018 - raises its failure; a quiet failure reads as None
        except (TaskFailed, TaskCancelled) as exc:
            self._failed(future.task_id, exc)
            return
        self.compensated.append(future.task_id)

    def _failed(self, task_id: str, exc: BaseException) -> None:
        self.failures.append((task_id, exc))
        if not self.scope.continue_on_error:
            self.stopped = True


def _runnable(undo: Any) -> Activity | type:
    if isinstance(undo, Activity):
        return undo
    from .workflow import Workflow

    if isinstance(undo, type) and issubclass(undo, Workflow):
        return undo
    if callable(undo) and not isinstance(undo, type) and not hasattr(undo, "_replayflow_submit"):
        return as_activity(undo)
    raise TypeError(f"a compensation is an activity, a function or a Workflow subclass, not "
                    f"{undo!r}")


def _check_undo(fn: Any, args: tuple, kwargs: dict, undo: Any) -> Activity | type:
    """The undo of `fn(*args, **kwargs)`, checked now: it will be called with the task's
    arguments and result=, failure=, task_id=."""
    if hasattr(fn, "_replayflow_submit"):
        raise TypeError(f"__compensate applies to one activity or child workflow, not to "
                        f"{type(fn).__name__}: give it to the members "
                        "(canvas.ActivityTask(fn, ..., __compensate=undo))")
    if kwargs and not kwargs.keys().isdisjoint(UNDO_KEYWORDS):
        taken = ", ".join(k for k in UNDO_KEYWORDS if k in kwargs)
        raise TypeError(f"a task with __compensate cannot take {taken} as keyword "
                        f"arguments: its compensation receives its own {taken}=")
    runnable = _runnable(undo)
    _check_call(runnable, args, kwargs, "__compensate")
    return runnable


#: Call shapes (undo, positional count, keywords) already checked: a fan-out of N calls with
#: the same shape is checked once (a check costs about 20 us, a look-up well under 1).
_checked: dict[tuple, None] = {}


def _check_call(runnable: Activity | type, args: tuple, kwargs: dict, where: str) -> None:
    """Refuse now, where the author wrote it, an undo that could not take its arguments."""
    shape = (runnable, len(args), tuple(kwargs), where)
    if shape in _checked:
        return
    if where == "__compensate":  # it also receives how its task ended
        kwargs = {**kwargs, **dict.fromkeys(UNDO_KEYWORDS)}
    _check_signature(runnable, args, kwargs, where)
    if len(_checked) > 4096:
        _checked.clear()
    _checked[shape] = None


def _check_signature(runnable: Activity | type, args: tuple, kwargs: dict, where: str) -> None:
    fn: Any = runnable.func if isinstance(runnable, Activity) else runnable.run
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin: nothing to check
    bound_args = args if isinstance(runnable, Activity) else (None, *args)
    try:
        signature.bind(*bound_args, **kwargs)
    except TypeError as exc:
        extra = (" (a compensation receives the task's arguments and result=, failure=, "
                 "task_id=)") if where == "__compensate" else ""
        raise TypeError(f"{where}: {_type_name(runnable)} cannot be called with "
                        f"{len(args)} positional argument(s) and "
                        f"{', '.join(kwargs) or 'no keywords'}{extra}: {exc}") from None


def _type_name(runnable: Activity | type) -> str:
    return runnable.name if isinstance(runnable, Activity) else runnable.type_name()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TaskFailed | TaskCancelled):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _failure_of(exc: BaseException) -> dict[str, Any]:
    """How a forward task failed, as its compensation receives it (JSON, no traceback)."""
    if isinstance(exc, TaskFailed):
        return {"type": exc.error_type or type(exc).__name__,
                "message": exc.message if exc.message is not None else exc.reason,
                "reason": str(exc)}
    return {"type": type(exc).__name__, "message": str(exc), "reason": str(exc)}
