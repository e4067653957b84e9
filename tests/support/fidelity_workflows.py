"""Workflows that once behaved differently with `--local` and on SWF (issue 11), run both ways.

`tests/integration/test_fidelity.py` runs each through `workflow.start --local` and through
`standalone` on moto and compares results, failure reasons and task states; the local-only
checks are in `tests/unit/test_local_runner.py`.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from replayflow import Workflow, activity, futures
from replayflow.middleware import ActivityMiddleware
from support.plain_activities import shout

TASK_LIST = "fidelity"


@activity.with_attributes(task_list=TASK_LIST, version="test")
def progress(steps):
    """Heartbeats with dict details (which SWF only takes as text)."""
    ctx = activity.context()
    for i in range(steps):
        ctx.heartbeat({"i": i, "of": steps})
    return steps


@activity.with_attributes(task_list=TASK_LIST, version="test", heartbeat_timeout=1)
def silent(seconds):
    """Never heartbeats, runs past its heartbeat timeout: the worker heartbeats for it."""
    time.sleep(seconds)
    return "done quietly"


class BrokenStr(Exception):
    def __str__(self):
        raise RuntimeError("__str__ is broken too")


@activity.with_attributes(task_list=TASK_LIST, version="test")
def raises_unprintable():
    raise BrokenStr()


@activity.with_attributes(task_list=TASK_LIST, version="test")
def record(tag):
    return tag


class Recorder(ActivityMiddleware):
    """Appends each hook call to the file named by $FIDELITY_MIDDLEWARE_LOG (any process)."""

    def _write(self, line: str) -> None:
        path = os.environ.get("FIDELITY_MIDDLEWARE_LOG")
        if path:
            with open(path, "a") as out:
                out.write(line + "\n")

    def before(self, ctx):
        self._write(f"before {ctx.task_id}")

    def after(self, ctx, result):
        self._write(f"after {ctx.task_id} {result}")

    def on_failure(self, ctx, exc):
        self._write(f"on_failure {ctx.task_id} {type(exc).__name__}")


class HeartbeatDetails(Workflow):
    name = "fidelity-heartbeat-details"
    task_list = TASK_LIST

    def run(self, steps=3):
        return self.submit(progress, steps).result


class NeverHeartbeats(Workflow):
    name = "fidelity-never-heartbeats"
    task_list = TASK_LIST

    def run(self, seconds=2.5):
        return self.submit(silent, seconds).result


class UnprintableFailure(Workflow):
    name = "fidelity-unprintable-failure"
    task_list = TASK_LIST

    def run(self):
        return self.submit(raises_unprintable).result


class Recorded(Workflow):
    name = "fidelity-recorded"
    task_list = TASK_LIST

    def run(self, tags=("a", "b")):
        return [f.result for f in self.map(record, tags)]


# -- local-only shapes --------------------------------------------------------------------------

_barriers: dict[str, threading.Barrier] = {}
_lock = threading.Lock()


@activity.with_attributes(task_list=TASK_LIST, version="test")
def meet(key, parties):
    """Waits until `parties` calls with the same key run at once (10 s at most): only true
    concurrency gets them all through."""
    if parties <= 1:
        return "alone"
    with _lock:
        barrier = _barriers.setdefault(key, threading.Barrier(parties, timeout=10))
    barrier.wait()
    return "met"


class InstantThenTogether(Workflow):
    """One instant call makes the type known-fast; then `parties` calls must run together."""

    name = "fidelity-instant-then-together"
    task_list = TASK_LIST

    def run(self, key, parties=20):
        self.submit(meet, key, 1).result  # noqa: B018
        results = [f.result for f in self.map(meet, [key] * parties, parties=parties)]
        return results.count("met")


_release = threading.Event()


@activity.with_attributes(task_list=TASK_LIST, version="test", start_to_close_timeout=1)
def maybe_hang(hang):
    """Instant, unless `hang`: then it blocks until the test releases it (far past its
    start-to-close timeout)."""
    if hang:
        _release.wait(30)
    return "quick"


def release_hung() -> None:
    _release.set()


class FastThenHung(Workflow):
    """The type is seen fast, then one call hangs on the loop thread: its timeout must fire,
    and a timer running meanwhile must fire too."""

    name = "fidelity-fast-then-hung"
    task_list = TASK_LIST

    def run(self):
        for _ in range(3):
            self.submit(maybe_hang, False).result  # noqa: B018
        hung = self.submit(maybe_hang, True)
        timer = self.start_timer("meanwhile", 1)
        futures.wait(hung, timer)
        return {"hung": type(hung.exception).__name__ if hung.exception else hung.result,
                "timer": "fired" if timer.finished else timer.state}


class EchoInput(Workflow):
    """Returns its own input, to show that no keyword is taken by run_local itself."""

    name = "fidelity-echo-input"
    task_list = TASK_LIST

    def run(self, *args, **kwargs):
        return {"args": list(args), "kwargs": kwargs}


class WaitsForever(Workflow):
    name = "fidelity-waits-forever"
    task_list = TASK_LIST

    def run(self):
        self.submit(record, "before").result  # noqa: B018
        return self.wait_signal("never-sent").result


class Loops(Workflow):
    """Continues as new until `n` reaches 0."""

    name = "fidelity-loops"
    task_list = TASK_LIST

    def run(self, n=2):
        value = self.submit(record, n).result
        if n > 0:
            self.continue_as_new(n - 1)
        return value


class UsesPlainFunction(Workflow):
    """Submits a plain function of another module: a worker runs it only if told to load
    that module (--module), locally as on SWF."""

    name = "fidelity-uses-plain-function"
    task_list = TASK_LIST

    def run(self, text="hi"):
        return self.submit(shout, text).result


def write_marker(path: str) -> None:
    Path(path).write_text("written")


class LongChain(Workflow):
    """A chain that never continues as new: 6 events a step."""

    name = "fidelity-long-chain"
    task_list = TASK_LIST

    def run(self, n):
        value = 0
        for _ in range(n):
            value = self.submit(record, value).result
        return value
