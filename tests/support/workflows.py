"""Workflows (and their activities) for the SWF end-to-end tests and bench/e2e.py.

Activities that must be counted across processes (retries, a decider killed mid-run) keep their
tally in files under a directory the test passes in, never in memory.
"""

from __future__ import annotations

import os
import time

from replayflow import Workflow, activity
from replayflow.errors import TaskFailed

TASK_LIST = "e2e-activities"


@activity.with_attributes(task_list=TASK_LIST, version="1")
def inc(x: int) -> int:
    return x + 1


@activity.with_attributes(task_list=TASK_LIST, version="1")
def square(x: int) -> int:
    return x * x


@activity.with_attributes(task_list=TASK_LIST, version="1")
def explode(message: str) -> None:
    raise ValueError(message)


def _next_attempt(directory: str) -> int:
    """Claim the next attempt number with O_EXCL files: safe across processes."""
    n = 1
    while True:
        try:
            os.close(os.open(os.path.join(directory, f"attempt-{n}"),
                             os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return n
        except FileExistsError:
            n += 1


@activity.with_attributes(task_list=TASK_LIST, version="1", retry=2)
def fails_twice(directory: str) -> str:
    n = _next_attempt(directory)
    if n < 3:
        raise RuntimeError(f"attempt {n} fails, as planned")
    return f"succeeded on attempt {n}"


@activity.with_attributes(task_list=TASK_LIST, version="1")
def log_step(path: str, i: int, pause: float) -> int:
    with open(path, "a") as out:
        out.write(f"{i}\n")
    time.sleep(pause)
    return i


class ChainWorkflow(Workflow):
    """n activities, each fed the previous one's future."""

    name = "e2e-chain"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 5

    def run(self, n: int) -> int:
        x = 0
        for _ in range(n):
            x = self.submit(inc, x)
        return x.result if n else 0


class FanOutWorkflow(Workflow):
    """n activities at once, then their sum."""

    name = "e2e-fanout"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 5

    def run(self, n: int) -> int:
        return sum(f.result for f in self.map(square, range(n)))


class HandledFailureWorkflow(Workflow):
    name = "e2e-handled-failure"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 5

    def run(self) -> str:
        try:
            _ = self.submit(explode, "handled boom").result
        except TaskFailed as exc:
            return f"handled: {exc.reason}"
        return "not reached"


class UnhandledFailureWorkflow(Workflow):
    name = "e2e-unhandled-failure"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 5

    def run(self) -> None:
        _ = self.submit(explode, "unhandled boom").result


class RetryWorkflow(Workflow):
    name = "e2e-retry"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 5

    def run(self, directory: str) -> str:
        return self.submit(fails_twice, directory).result


class StepsWorkflow(Workflow):
    """n steps one after the other, each appending its number to a file."""

    name = "e2e-steps"
    version = "1"
    task_list = "e2e-decisions"
    decision_task_timeout = 3

    def run(self, path: str, n: int, pause: float) -> list[int]:
        return [self.submit(log_step, path, i, pause).result for i in range(n)]
