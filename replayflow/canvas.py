"""Groups and chains: describe a shape of tasks, submit it once, get one future of its results.

Canvas is ordinary workflow code on top of `Workflow.submit`: a running group or chain is a small
state machine that the engine steps at each decision point (`ExecutionState.add_driver`), so it
never blocks `run()` and replays exactly like the tasks it submits.

    flow = canvas.Chain(
        canvas.ActivityTask(download, url),
        canvas.Group(*[canvas.ActivityTask(resize, size) for size in SIZES], max_parallel=2),
        canvas.FuncGroup(publish_each, channels),
    )
    results = self.submit(flow).result   # [download's result, [resized...], [published...]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import GroupFailed, TaskCancelled
from .futures import CANCELLED, RUNNING, Future

if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["ActivityTask", "WorkflowTask", "Group", "Chain", "FuncGroup"]


class _Task:
    """Something a group or chain can run: it starts itself and returns a future."""

    def _start(self, workflow: Workflow, extra: tuple) -> Future:  # pragma: no cover - abstract
        raise NotImplementedError

    def _replayflow_submit(self, workflow: Workflow) -> Future:
        """What `Workflow.submit(canvas_object)` calls."""
        return self._start(workflow, ())


class ActivityTask(_Task):
    """An activity call: `fn(*args, **kwargs)`; kwargs may carry submit options (`__priority`)."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"ActivityTask({getattr(self.fn, '__name__', self.fn)!r}, ...)"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return workflow.submit(self.fn, *self.args, *extra, **self.kwargs)


class WorkflowTask(ActivityTask):
    """A child workflow: `cls(*args, **kwargs)`; kwargs may carry `__workflow_id` and friends."""

    def __init__(self, cls: type, *args: Any, **kwargs: Any) -> None:
        from .workflow import Workflow

        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            raise TypeError(f"WorkflowTask needs a Workflow subclass, not {cls!r}")
        super().__init__(cls, *args, **kwargs)


def _check_members(kind: str, tasks: tuple) -> tuple:
    for task in tasks:
        if not isinstance(task, _Task):
            raise TypeError(f"{kind} members are ActivityTask, WorkflowTask, Group, Chain or "
                            f"FuncGroup objects, not {task!r}")
    return tasks


class Group(_Task):
    """Run tasks in parallel, at most `max_parallel` at once; the result is their results in order.

    Every member runs even if one fails; the group then fails with `errors.GroupFailed` (a
    TaskFailed), which carries every member's failure in member order: "k of n tasks failed:
    ...". A member whose activity has raises_on_failure=False contributes None instead.
    """

    def __init__(self, *tasks: _Task, max_parallel: int | None = None) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1 (or None for no limit)")
        self.tasks = _check_members("Group", tasks)
        self.max_parallel = max_parallel

    def __repr__(self) -> str:
        return f"Group({len(self.tasks)} tasks, max_parallel={self.max_parallel})"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return _GroupRun(self, workflow, extra).start()


class Chain(_Task):
    """Run tasks one after the other; the result is the list of their results.

    With `send_result`, each task after the first gets the previous result as an extra last
    positional argument. With `break_on_failure` (the default) the first failed task stops the
    chain: a failure that raises (or a cancellation) fails the chain's future with it; a quiet
    failure (an activity with raises_on_failure=False) ends the chain successfully, with the
    results so far and None for the failed task (`[None]` if the first one failed). Without
    `break_on_failure`, a failed task contributes None and the chain goes on.
    """

    def __init__(self, *tasks: _Task, send_result: bool = False,
                 break_on_failure: bool = True) -> None:
        self.tasks = _check_members("Chain", tasks)
        self.send_result = send_result
        self.break_on_failure = break_on_failure

    def __repr__(self) -> str:
        return f"Chain({len(self.tasks)} tasks, send_result={self.send_result})"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return _ChainRun(self, workflow, extra).start()


class FuncGroup(_Task):
    """A task built when it starts: `fn(*args)` returns a canvas task or a list of them (a Group).

    In a chain with send_result, `fn` receives the previous result as its last argument, which is
    how a chain fans out over a list it computed. `fn` runs inside the workflow, so it must be
    deterministic (no I/O, no clock).
    """

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"FuncGroup({getattr(self.fn, '__name__', self.fn)!r}, ...)"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        built = self.fn(*self.args, *extra, **self.kwargs)
        if isinstance(built, list | tuple):
            built = Group(*built)
        if not isinstance(built, _Task):
            raise TypeError(f"FuncGroup function {getattr(self.fn, '__name__', self.fn)!r} "
                            f"returned {built!r}; it must return a canvas task or a list of them")
        return built._start(workflow, ())


def _outcome(future: Future) -> tuple[BaseException | None, Any]:
    """(exception to propagate or None, value to collect) of a finished member."""
    exc = future._exception
    if exc is None:
        return None, future._result
    future._carried()  # the composite now answers for this failure
    if future.state == CANCELLED or future._raises:
        return exc, None
    return None, None  # raises_on_failure=False: the failure reads as None


class _CompositeRun:
    """The running state of one submitted group or chain."""

    kind = "composite"

    def __init__(self, workflow: Workflow, extra: tuple) -> None:
        self.workflow = workflow
        self.execution = workflow._execution
        self.extra = extra
        self.started: list[Future] = []
        self.future = Future(self.execution._next_id(self.kind), self.execution)
        self.future._cancel = self._cancel

    def start(self) -> Future:
        self.future.state = RUNNING
        self.step()
        if not self.future.done:
            self.execution.add_driver(self.future, self.step)
        return self.future

    def step(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cancel(self, _future: Future) -> bool:
        if self.future.done:
            return False
        for member in self.started:
            if not member.done:
                member.cancel()
        self.future._set_exception(TaskCancelled(self.future.task_id))
        return True


class _GroupRun(_CompositeRun):
    kind = "group"

    def __init__(self, group: Group, workflow: Workflow, extra: tuple) -> None:
        super().__init__(workflow, extra)
        self.tasks = group.tasks
        self.limit = group.max_parallel

    def step(self) -> bool:
        progressed = False
        started = self.started
        running = sum(1 for f in started if not f.done)
        while len(started) < len(self.tasks) and (self.limit is None or running < self.limit):
            member = self.tasks[len(started)]._start(self.workflow, self.extra)
            started.append(member)
            progressed = True
            if not member.done:
                running += 1
        if len(started) == len(self.tasks) and running == 0:
            results = []
            failures = []
            for member in started:
                exc, value = _outcome(member)
                if exc is not None:
                    failures.append(exc)
                results.append(value)
            if failures:
                self.future._set_exception(
                    GroupFailed(self.future.task_id, failures, len(self.tasks)))
            else:
                self.future._set_result(results)
            progressed = True
        return progressed


class _ChainRun(_CompositeRun):
    kind = "chain"

    def __init__(self, chain: Chain, workflow: Workflow, extra: tuple) -> None:
        super().__init__(workflow, extra)
        self.chain = chain
        self.results: list[Any] = []

    def step(self) -> bool:
        progressed = False
        chain = self.chain
        while True:
            if self.started:
                current = self.started[-1]
                if len(self.results) < len(self.started):
                    if not current.done:
                        return progressed
                    exc, value = _outcome(current)
                    if exc is not None and chain.break_on_failure:
                        self.future._set_exception(exc)
                        return True
                    self.results.append(value)
                    progressed = True
                    if chain.break_on_failure and current._exception is not None:
                        # A quiet failure stops the chain too, which ends with the results so far.
                        self.future._set_result(self.results)
                        return True
            index = len(self.started)
            if index == len(chain.tasks):
                self.future._set_result(self.results)
                return True
            if index == 0:
                extra = self.extra
            else:
                extra = (self.results[-1],) if chain.send_result else ()
            self.started.append(chain.tasks[index]._start(self.workflow, extra))
            progressed = True
