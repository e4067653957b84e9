"""Workflows and activities for the saga tests (tests/unit/test_saga.py).

`work(name, *inputs)` fails when its name starts with "fail"; `undo(name, ...)` fails when the
name contains "bad-undo". The events below let a test hold an activity at a known point (local
runs execute activities on threads of the test process), so no test depends on timing.
"""

from __future__ import annotations

import threading
import time

from replayflow import Workflow, activity, canvas, futures
from replayflow.errors import TaskCancelled, TaskFailed

SLOW_STARTED = threading.Event()  # slow_until_cancelled is running
UNDO_STARTED = threading.Event()  # slow_undo is running
CANCEL_SENT = threading.Event()  # the test asked for the cancellation slow_undo waits for
HOLD = 30  # seconds an activity waits for the test at most


def reset_events() -> None:
    for event in (SLOW_STARTED, UNDO_STARTED, CANCEL_SENT):
        event.clear()


@activity.with_attributes(task_list="saga", version="test")
def work(name, *inputs):
    if name.startswith("fail"):
        raise ValueError(f"{name} failed")
    return f"{name}-done"


@activity.with_attributes(task_list="saga", version="test")
def fail_once_slow_runs(name):
    """Fails, but only once slow_until_cancelled is running: that one then has started."""
    SLOW_STARTED.wait(HOLD)
    raise ValueError(f"{name} failed")


@activity.with_attributes(task_list="saga", version="test", heartbeat_timeout=30)
def slow_until_cancelled(name):
    ctx = activity.context()
    SLOW_STARTED.set()
    deadline = time.monotonic() + HOLD
    while time.monotonic() < deadline:
        if ctx.heartbeat("waiting"):
            raise TaskCancelled(ctx.task_id, "stopped")  # acknowledges the cancellation
        time.sleep(0.01)
    return f"{name}-done"


@activity.with_attributes(task_list="saga", version="test")
def undo(name, *inputs, result=None, failure=None, task_id=None):
    if "bad-undo" in name:
        raise RuntimeError(f"cannot undo {name}")
    return f"undid {name}"


@activity.with_attributes(task_list="saga", version="test")
def undo_step(note):
    return f"step {note}"


@activity.with_attributes(task_list="saga", version="test", raises_on_failure=False)
def quiet_undo(name, *inputs, result=None, failure=None, task_id=None):
    raise RuntimeError(f"cannot undo {name}, and that is fine")


@activity.with_attributes(task_list="saga", version="test", idempotent=True)
def idempotent_work(name):
    return f"{name}-done"


@activity.with_attributes(task_list="saga", version="test")
def combine(name, left=None, right=None):
    return f"{name}({left}, {right})"


@activity.with_attributes(task_list="saga", version="test")
def undo_any(*args, **kwargs):
    return f"undid {args[0]}"


@activity.with_attributes(task_list="saga", version="test", retry=1)
def flaky_undo(name, *inputs, result=None, failure=None, task_id=None):
    if activity.context().attempt == 1:
        raise RuntimeError("the first attempt fails")
    return f"undid {name} on attempt 2"


@activity.with_attributes(task_list="saga", version="test")
def slow_undo(name, *inputs, result=None, failure=None, task_id=None):
    UNDO_STARTED.set()
    CANCEL_SENT.wait(HOLD)
    return f"undid {name}"


class ChainSaga(Workflow):
    """a -> b -> fail-c, each taking the previous one's future."""

    def run(self, parallel=False):
        with self.saga(parallel=parallel):
            a = self.submit(work, "a", __compensate=undo)
            b = self.submit(work, "b", a, __compensate=undo)
            return self.submit(work, "fail-c", b, __compensate=undo).result


class DiamondSaga(Workflow):
    """a -> (b, c) -> d -> fail-e: b and c take a's future, d takes both."""

    def run(self, parallel=False):
        with self.saga(parallel=parallel):
            a = self.submit(work, "a", __compensate=undo)
            b = self.submit(work, "b", a, __compensate=undo)
            c = self.submit(work, "c", a, __compensate=undo)
            d = self.submit(work, "d", b, c, __compensate=undo)
            return self.submit(work, "fail-e", d, __compensate=undo).result


class IndependentSaga(Workflow):
    """Three independent tasks, then run() itself raises."""

    def run(self, parallel=True):
        with self.saga(parallel=parallel):
            futures.wait(self.map(work, ["x", "y", "z"], __compensate=undo))
            raise RuntimeError("run() changed its mind")


class ResultValueSaga(Workflow):
    """b gets a's *value* (read with .result), not its future: still undone before a."""

    def run(self):
        with self.saga(parallel=True):
            a = self.submit(work, "a", __compensate=undo)
            value = a.result
            b = self.submit(work, "b", value, __compensate=undo)
            return self.submit(work, "fail-c", __compensate=undo).result + b.result


class StepSaga(Workflow):
    """saga.add steps between tasks, one of them taking a task's future."""

    def run(self):
        with self.saga() as saga:
            a = self.submit(work, "a", __compensate=undo)
            saga.add(undo_step, "after a")
            saga.add(undo_step, a)
            b = self.submit(work, "b", __compensate=undo)
            b.result  # noqa: B018
            raise RuntimeError("stop")


class WhoIsCompensated(Workflow):
    """A task that failed after it started, one that failed on its input, a running one that the
    scope cancels, and one still waiting for its input when the error comes."""

    def run(self):
        with self.saga():
            failed = self.submit(fail_once_slow_runs, "failed", __compensate=undo)
            self.submit(work, "never-runs", failed, __compensate=undo)
            slow = self.submit(slow_until_cancelled, "slow", __compensate=undo)
            self.submit(work, "waits-for-slow", slow, __compensate=undo)
            return failed.result


class FailingUndoSaga(Workflow):
    """Three tasks; b's undo fails. With continue_on_error=False, a's undo never runs."""

    def run(self, continue_on_error=True, parallel=False):
        with self.saga(continue_on_error=continue_on_error, parallel=parallel):
            a = self.submit(work, "a", __compensate=undo)
            b = self.submit(work, "b-bad-undo", a, __compensate=undo)
            return self.submit(work, "fail-c", b, __compensate=undo).result


class FlakyUndoSaga(Workflow):
    def run(self):
        with self.saga():
            self.submit(work, "a", __compensate=flaky_undo).result  # noqa: B018
            raise RuntimeError("stop")


class NestedSaga(Workflow):
    """An inner scope that fails (and compensates its own), one that succeeds (the outer scope
    then owns its tasks), then the outer one fails."""

    def run(self):
        with self.saga():
            self.submit(work, "o1", __compensate=undo).result  # noqa: B018
            try:
                with self.saga():
                    i1 = self.submit(work, "i1", __compensate=undo)
                    self.submit(work, "fail-i2", i1, __compensate=undo).result  # noqa: B018
            except TaskFailed:
                self.record_marker("inner failed")
            with self.saga():
                self.submit(work, "i3", __compensate=undo).result  # noqa: B018
            raise RuntimeError("the outer block fails")


class NestedStopSaga(Workflow):
    """The inner scope stops at its failed undo; the outer one undoes what it left."""

    def run(self):
        with self.saga():
            self.submit(work, "o1", __compensate=undo).result  # noqa: B018
            with self.saga(continue_on_error=False):
                i1 = self.submit(work, "i1", __compensate=undo)
                i2 = self.submit(work, "i2-bad-undo", i1, __compensate=undo)
                return self.submit(work, "fail-i3", i2, __compensate=undo).result


class BothFailSaga(Workflow):
    """The inner scope's undo fails, and the outer scope's too: one report of both."""

    def run(self):
        with self.saga():
            self.submit(work, "o1-bad-undo", __compensate=undo).result  # noqa: B018
            with self.saga():
                i1 = self.submit(work, "i1-bad-undo", __compensate=undo)
                return self.submit(work, "fail-i2", i1).result


class QuietUndoSaga(Workflow):
    def run(self):
        with self.saga():
            self.submit(work, "a", __compensate=quiet_undo).result  # noqa: B018
            raise RuntimeError("stop")


class IdempotentSaga(Workflow):
    """The same idempotent call twice: one task, two futures, one undo."""

    def run(self):
        with self.saga():
            first = self.submit(idempotent_work, "a", __compensate=undo)
            second = self.submit(idempotent_work, "a", __compensate=undo)
            futures.wait(first, second)
            raise RuntimeError("stop")


class GroupSaga(Workflow):
    """Group members carry their undo; the group submits the later ones from its driver."""

    def run(self):
        with self.saga():
            group = canvas.Group(*[canvas.ActivityTask(work, f"m{i}", __compensate=undo)
                                   for i in range(4)], max_parallel=2)
            self.submit(group).result  # noqa: B018
            return self.submit(work, "fail-after").result


class DagSaga(Workflow):
    """A diamond DAG whose nodes carry their undo, then a failure after it."""

    def run(self, parallel=False):
        fetch = canvas.Node(work, "fetch", name="fetch", __compensate=undo_any)
        parse = canvas.Node(work, "parse", name="parse", __compensate=undo_any)
        check = canvas.Node(work, "check", name="check", __compensate=undo_any)
        store = canvas.Node(combine, "store", name="store", __compensate=undo_any)
        dag = canvas.Dag({fetch: [parse, check], parse: {store: "left"}, check: {store: "right"}})
        with self.saga(parallel=parallel):
            self.submit(dag).result  # noqa: B018
            return self.submit(work, "fail-after").result


class StepInSaga(Workflow):
    """self.step's work carries its undo too."""

    def run(self):
        with self.saga():
            self.step("load", work, "load", __compensate=undo).result  # noqa: B018
            return self.submit(work, "fail-after").result


class GroupAcrossScopes(Workflow):
    """A group submitted in the outer block runs on while run() waits in an inner one: the
    members it submits then still belong to the outer block."""

    def run(self):
        with self.saga():
            group = self.submit(canvas.Group(
                *[canvas.ActivityTask(work, f"g{i}", __compensate=undo) for i in range(3)],
                max_parallel=1))
            try:
                with self.saga():
                    self.submit(work, "fail-inner", group, __compensate=undo).result  # noqa: B018
            except TaskFailed:
                pass
            raise RuntimeError("the outer block fails")


class StepAcrossScopes(Workflow):
    def run(self):
        with self.saga():
            loaded = self.step("load", work, "load", __compensate=undo)
            try:
                with self.saga():
                    self.submit(work, "fail-inner", loaded, __compensate=undo).result  # noqa: B018
            except TaskFailed:
                pass
            raise RuntimeError("the outer block fails")


class GroupOutlivesItsSaga(Workflow):
    def run(self):
        with self.saga():
            group = self.submit(canvas.Group(
                *[canvas.ActivityTask(work, f"g{i}", __compensate=undo) for i in range(2)],
                max_parallel=1))
        return group.result


class UndoChild(Workflow):
    name = "saga-undo-child"

    def run(self, name, *inputs, result=None, failure=None, task_id=None):
        return f"child undid {name}"


class ForwardChild(Workflow):
    name = "saga-forward-child"

    def run(self, name):
        return f"child did {name}"


class ChildSaga(Workflow):
    """A child workflow as the task and as the undo."""

    def run(self):
        with self.saga():
            child = self.submit(ForwardChild, "c", __compensate=UndoChild)
            a = self.submit(work, "a", child, __compensate=UndoChild)
            return self.submit(work, "fail-x", a).result


class CancelSaga(Workflow):
    """Cancelled while its second task runs: that task is cancelled, then both are undone."""

    def run(self):
        with self.saga():
            self.submit(work, "a", __compensate=undo).result  # noqa: B018
            return self.submit(slow_until_cancelled, "s", __compensate=undo).result


class CancelBadUndoSaga(Workflow):
    """Cancelled, and an undo fails: the run fails (it cannot be cancelled cleanly)."""

    def run(self):
        with self.saga():
            self.submit(work, "a-bad-undo", __compensate=undo).result  # noqa: B018
            return self.submit(slow_until_cancelled, "s").result


class CancelDuringCompensation(Workflow):
    """A cancel request comes while a compensation runs: it finishes, then the run cancels."""

    def run(self):
        with self.saga():
            a = self.submit(work, "a", __compensate=slow_undo)
            return self.submit(work, "fail-b", a).result


class CompensateOutsideSaga(Workflow):
    def run(self):
        return self.submit(work, "a", __compensate=undo).result


class UndoTooNarrow(Workflow):
    def run(self):
        with self.saga():
            return self.submit(work, "a", __compensate=undo_step).result
