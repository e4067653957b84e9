"""Workflows that use latches and semaphores (tests/unit/test_sync.py, tests/unit/engine/
test_sync_histories.py, and the sync_*.json history fixtures).

Their type names are their import paths (no `name`), so anything that replays the fixtures finds
them with `load_workflow`. The scenarios that need an exact order of requests are run by one
parent: it holds a permit while it starts the workflows that must queue behind it, and it sends
raw requests (a "ghost" requester that does not exist, a malformed one) as any signaller could.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from replayflow import Workflow, activity, policy
from replayflow.sync import REQUEST_SIGNAL, coordinator_id

TASK_LIST = "sync-activities"

#: How many `guarded` calls run at once, and the most there ever were (reset by the tests).
GAUGE = {"now": 0, "max": 0}
_GAUGE_LOCK = threading.Lock()


@activity.with_attributes(task_list=TASK_LIST, version="1")
def guarded(part: int) -> int:
    with _GAUGE_LOCK:
        GAUGE["now"] += 1
        GAUGE["max"] = max(GAUGE["max"], GAUGE["now"])
    time.sleep(0.1)
    with _GAUGE_LOCK:
        GAUGE["now"] -= 1
    return part


class LatchOps(Workflow):
    """Makes the latch operations `ops` in one decision; waits for them unless `wait` is false
    (an operation that waits for no answer still reaches the coordinator: see hold_open)."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str, ops: list[str], wait: bool = True) -> str:
        latch = self.latch(name)
        made = [getattr(latch, op)() for op in ops]
        if wait:
            for future in made:
                future.result  # noqa: B018
        return "done"


class CountdownWaiter(Workflow):
    """Waits for latch `name` to be at zero."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str) -> str:
        self.wait(self.latch(name).countdown())
        return "zero"


class CountedBatch(Workflow):
    """Counts `parts` up, starts a CountdownWaiter, then releases them one decision at a time."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str, parts: int) -> str:
        latch = self.latch(name)
        self.wait([latch.acquire() for _ in range(parts)])
        waiter = self.submit(CountdownWaiter, name)
        for _ in range(parts):
            latch.release().result  # noqa: B018
        return waiter.result


class LatchUser(Workflow):
    """Acquires latch `name` (reading the future), then releases it; sync_requester_launch.json.

    Its failure hook fails the run loudly: the sync machinery's own children must never reach it.
    """

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str) -> str:
        latch = self.latch(name)
        latch.acquire().result  # noqa: B018
        latch.release()
        return "done"

    def on_task_failure(self, failure: Any) -> Any:
        return policy.FailWorkflow(f"on_task_failure was called for {failure.task_id}")


class GuardedPart(Workflow):
    """Runs `guarded(part)` under one of `permits` permits of semaphore `name`."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str, part: int, permits: int = 2, lease: int = 600) -> int:
        with self.semaphore(name, permits=permits, lease=lease):
            return self.submit(guarded, part).result


class GuardedBatch(Workflow):
    """`parts` GuardedPart children sharing the semaphore `name`."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str, parts: int, permits: int = 2) -> list[int]:
        children = [self.submit(GuardedPart, name, part, permits) for part in range(parts)]
        return [child.result for child in children]


class Queued(Workflow):
    """Enters semaphore `name` (one permit), reports the permit and leaves."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str) -> dict:
        with self.semaphore(name, permits=1, lease=600) as permit:
            return {"request": permit.request, "lease": permit.lease,
                    "expires": permit.expires_at is not None}


class HolderScenario(Workflow):
    """Holds the one permit of `name` while others queue behind it, in a chosen order.

    - "lease": holds with a 1 s lease and never leaves in time: the queued child gets the permit
      when the lease ends, and this run's late release is ignored;
    - "ghost": queues a requester that does not exist, then a real child: the grant to the ghost
      finds nobody and moves on; a malformed request is ignored on the way;
    - "cancel": queues a child, then cancels it: the child gives its place back;
    - "continue": makes latch operations on the same name until the coordinator has continued
      as new with this holder and the queued child in its state.
    """

    version = "1"
    task_list = "sync-decisions"

    def run(self, name: str, scenario: str, latch_ops: int = 0) -> Any:
        lease = 1 if scenario == "lease" else 600
        with self.semaphore(name, permits=1, lease=lease) as permit:
            if scenario == "ghost":
                self.signal(REQUEST_SIGNAL, {"op": "explode"}, workflow_id=coordinator_id(name))
                self.signal(REQUEST_SIGNAL, [{
                    "op": "sem-acquire", "name": name, "workflow_id": "ghost", "run_id": "gone",
                    "request": "sync-1", "permits": 1, "lease": 600}],
                    workflow_id=coordinator_id(name))
            child = self.submit(Queued, name)
            if scenario == "lease":
                outcome = child.result  # granted once our lease has ended
            elif scenario == "cancel":
                self.sleep(1)  # the child is in the queue by then
                child.cancel()
                self.wait(child)
                outcome = "cancelled" if child.cancelled else child.state
            else:
                latch = self.latch(name)
                for _ in range(latch_ops):
                    latch.acquire().result  # noqa: B018
                    latch.release().result  # noqa: B018
                self.sleep(1)  # the child is in the queue by then
                outcome = None
        if outcome is None:
            outcome = child.result
        return {"outcome": outcome, "request": permit.request}


class BadNames(Workflow):
    """Asks for what SWF could never name; `which` picks the mistake."""

    version = "1"
    task_list = "sync-decisions"

    def run(self, which: str) -> Any:
        if which == "colon":
            return self.latch("batch:7")
        if which == "long":
            return self.latch("x" * 250)
        if which == "permits":
            return self.semaphore("gpu", permits=0)
        return self.semaphore("gpu", lease=float("inf"))
