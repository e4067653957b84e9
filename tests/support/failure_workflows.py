"""Workflows whose mistakes must fail the run cleanly, the same way locally and on SWF.

Used by the engine unit tests (through the memory backend) and by the moto tests (through
`replayflow standalone`), so both sides run the very same code.
"""

from __future__ import annotations

from replayflow import Workflow, activity, futures

TASK_LIST = "failure-activities"


@activity.with_attributes(task_list=TASK_LIST, version="1")
def explode(label: str) -> None:
    raise ValueError(f"{label} exploded")


@activity.with_attributes(task_list=TASK_LIST, version="1")
def echo(value):
    return value


class SwallowedFailureWorkflow(Workflow):
    """Submits a failing task, waits for it, and never looks at how it ended."""

    name = "failures-swallowed"
    task_list = "failure-deciders"

    def run(self, label="swallowed"):
        futures.wait(self.submit(explode, label), self.submit(echo, 1))
        return "returned"


class EmptyTimerIdWorkflow(Workflow):
    """`start_timer("")`: SWF (and botocore) refuse an empty timer id."""

    name = "failures-empty-timer-id"
    task_list = "failure-deciders"

    def run(self):
        self.start_timer("", 1)
        return "returned"


class EmptyMarkerNameWorkflow(Workflow):
    name = "failures-empty-marker-name"
    task_list = "failure-deciders"

    def run(self):
        self.record_marker("")
        return "returned"


class SignalWaitWorkflow(Workflow):
    """Waits for one signal and returns its input."""

    name = "failures-signal-wait"
    task_list = "failure-deciders"

    def run(self):
        return self.wait_signal("go").result


class CancelFiredTimerWorkflow(Workflow):
    """Cancels a one-second deadline when signalled: if the timer fired while that decision was
    in flight, SWF answers the CancelTimer with CancelTimerFailed (moto: without a timerId)."""

    name = "failures-cancel-fired-timer"
    task_list = "failure-deciders"

    def run(self):
        deadline = self.start_timer("deadline", 1)
        self.wait_signal("go").result  # noqa: B018
        cancelled = self.cancel_timer("deadline")
        self.sleep(0)  # one more decision task, which carries the CancelTimerFailed
        return {"cancelled": cancelled, "deadline": deadline.state}
