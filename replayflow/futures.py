"""Futures: what `Workflow.submit` returns, and how `run()` waits on them.

Reading `.result` of an unresolved future suspends `run()` (see engine/replay.py); the decider
resumes it when the history says the task has ended. `wait` and `as_completed` suspend the same
way. Outside a workflow (no execution attached), blocking on an unresolved future is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .errors import TaskCancelled

if TYPE_CHECKING:
    from .engine.replay import ExecutionState

PENDING = "PENDING"
SCHEDULED = "SCHEDULED"
RUNNING = "RUNNING"
FINISHED = "FINISHED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"

_DONE_STATES = frozenset({FINISHED, FAILED, CANCELLED})

#: Future._seen: how the workflow took note of a failure (see ExecutionState.unobserved_failures).
UNSEEN = 0
CARRIED = 1  # handed on to something that fails in its place (a group, a dependent task)
OBSERVED = 2  # read by workflow code (.result, .exception, .failed, .cancelled), or cancel()ed


class Future:
    """The eventual outcome of a task: an activity, a child workflow, a timer, a signal..."""

    __slots__ = ("task_id", "state", "_result", "_exception", "_execution", "_raises",
                 "_callbacks", "_cancel", "_seen", "__weakref__")

    def __init__(self, task_id: str = "", execution: ExecutionState | None = None,
                 raises_on_failure: bool = True) -> None:
        self.task_id = task_id
        self.state = PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._execution = execution
        self._raises = raises_on_failure
        self._callbacks: list | None = None
        self._cancel = None
        self._seen = UNSEEN

    def __repr__(self) -> str:
        return f"<Future {self.task_id} {self.state}>"

    @property
    def done(self) -> bool:
        return self.state in _DONE_STATES

    @property
    def finished(self) -> bool:
        return self.state == FINISHED

    @property
    def failed(self) -> bool:
        if self.state == FAILED:
            self._seen = OBSERVED
            return True
        return False

    @property
    def cancelled(self) -> bool:
        if self.state == CANCELLED:
            self._seen = OBSERVED
            return True
        return False

    @property
    def result(self) -> Any:
        """The task's value; raises its TaskFailed (unless raises_on_failure=False)."""
        if self.state not in _DONE_STATES:
            self._wait()
        if self._exception is not None:
            self._seen = OBSERVED
            if self.state == CANCELLED or self._raises:
                raise self._exception
            return None
        return self._result

    @property
    def exception(self) -> BaseException | None:
        """The failure (or cancellation) of the task, once done; None if it succeeded."""
        if self.state not in _DONE_STATES:
            self._wait()
        self._seen = OBSERVED
        return self._exception

    def cancel(self) -> bool:
        """Ask for the task to be cancelled. A no-op (returns False) once the future is done."""
        if self.done or self._cancel is None:
            return False
        self._seen = OBSERVED  # the workflow expects this cancellation: not a surprise failure
        return self._cancel(self)

    def _wait(self) -> None:
        if self._execution is None:
            raise RuntimeError(f"{self!r} is not resolved and belongs to no running workflow")
        self._execution.block_until(self._is_done, checked=True)

    def _is_done(self) -> bool:
        return self.state in _DONE_STATES

    # Engine side -------------------------------------------------------------------------
    def _set_result(self, value: Any) -> None:
        self._result = value
        self.state = FINISHED
        self._fire()

    def _set_exception(self, exc: BaseException) -> None:
        self._exception = exc
        self.state = CANCELLED if isinstance(exc, TaskCancelled) else FAILED
        if self._execution is not None:
            self._execution.failed_futures.append(self)  # judged when run() returns
        self._fire()

    def _carried(self) -> None:
        """Its failure is handed on to something that fails in its place (see CARRIED)."""
        if self._seen == UNSEEN:
            self._seen = CARRIED

    def _add_done_callback(self, fn) -> None:
        if self.done:
            fn(self)
        elif self._callbacks is None:
            self._callbacks = [fn]
        else:
            self._callbacks.append(fn)

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, None
        if callbacks:
            for fn in callbacks:
                fn(self)


def resolved(value: Any) -> Future:
    """A future that is already finished with `value`."""
    fut = Future("resolved")
    fut._set_result(value)
    return fut


def _execution_of(fs: Iterable[Future]) -> ExecutionState | None:
    for f in fs:
        if isinstance(f, Future) and f._execution is not None:
            return f._execution
    return None


def wait(*fs: Future | Iterable[Future]) -> list[Future]:
    """Suspend until every future is done; returns them. Failures are not raised here.

    Accepts futures as arguments or one iterable of futures.
    """
    flat = _flatten(fs)
    pending = [f for f in flat if not f.done]
    if pending:
        execution = _execution_of(pending)
        if execution is None:
            raise RuntimeError("futures.wait() on unresolved futures outside a running workflow")
        execution.block_until(_AllDone(pending))
    return flat


class _AllDone:
    """A wait condition that is cheap to re-check: futures only ever move to done, so a cursor
    skips the ones already seen done (a fan-out of N is not O(N) per decision)."""

    __slots__ = ("futures", "cursor")

    def __init__(self, futures: list[Future]) -> None:
        self.futures = futures
        self.cursor = 0

    def __call__(self) -> bool:
        fs = self.futures
        i = self.cursor
        n = len(fs)
        while i < n and fs[i].state in _DONE_STATES:
            i += 1
        self.cursor = i
        return i == n


def wait_any(*fs: Future | Iterable[Future]) -> Future:
    """Suspend until at least one future is done; returns the first done, in argument order."""
    flat = _flatten(fs)
    if not flat:
        raise ValueError("wait_any() needs at least one future")
    if not any(f.done for f in flat):
        execution = _execution_of(flat)
        if execution is None:
            raise RuntimeError("futures.wait_any() outside a running workflow")
        execution.block_until(lambda: any(f.done for f in flat))
    return next(f for f in flat if f.done)


def as_completed(fs: Iterable[Future]) -> Iterator[Future]:
    """Yield futures as they complete; ties come out in submission order (deterministic)."""
    remaining = list(fs)
    while remaining:
        if not any(f.done for f in remaining):
            wait_any(remaining)
        still = []
        for f in remaining:
            if f.done:
                yield f
            else:
                still.append(f)
        remaining = still


def _flatten(fs: tuple) -> list[Future]:
    if len(fs) == 1 and not isinstance(fs[0], Future):
        return list(fs[0])  # type: ignore[arg-type]
    out: list[Future] = []
    for f in fs:
        if isinstance(f, Future):
            out.append(f)
        else:
            out.extend(f)  # type: ignore[arg-type]
    return out


__all__ = [
    "Future", "wait", "wait_any", "as_completed", "resolved",
    "PENDING", "SCHEDULED", "RUNNING", "FINISHED", "FAILED", "CANCELLED",
]
