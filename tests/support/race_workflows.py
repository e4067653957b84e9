"""Workflows for the race fixtures (tests/histories/race_*.json, tests/unit/engine/test_races.py).

Each one stands where SWF can record an event in the middle of a decision task: a timer that
fires while its CancelTimer is in flight, an activity that ends while its cancel request is in
flight, a signal between DecisionTaskStarted and DecisionTaskCompleted, a decision task that
times out. Their type names are their import paths (no `name`), so anything that replays the
fixtures finds them with `load_workflow`. The futures they wait on are kept on `self`, so a test
can look at what `run()` saw.
"""

from __future__ import annotations

from typing import Any

from replayflow import Workflow, activity, futures
from replayflow.errors import TaskCancelled

TASK_LIST = "race-activities"


@activity.with_attributes(task_list=TASK_LIST, version="1")
def race_step(x: int) -> int:
    return x + 1


class CancelTimerRaceWorkflow(Workflow):
    """Starts a deadline timer, cancels it once the first step is done, then runs a second step.

    In race_timer_fires_during_cancel.json the timer fires while the decision that cancels it
    is in flight (TimerFired, then CancelTimerFailed).
    """

    version = "1"
    task_list = "race-decisions"

    def run(self) -> dict[str, Any]:
        self.deadline = self.start_timer("deadline", 60)
        value = self.submit(race_step, 1).result
        self.cancel_result = self.cancel_timer("deadline")
        after = self.submit(race_step, value).result
        return {"cancelled": self.cancel_result, "timer": self.deadline.state, "after": after}


class CancelActivityRaceWorkflow(Workflow):
    """Gives a step 30 seconds, then asks for it to be cancelled and reports how it ended."""

    version = "1"
    task_list = "race-decisions"

    def run(self) -> dict[str, Any]:
        self.work = work = self.submit(race_step, 1)
        deadline = self.start_timer("deadline", 30)
        futures.wait_any(work, deadline)
        self.requested = work.cancel()
        futures.wait(work)
        outcome: dict[str, Any] = {"requested": self.requested, "state": work.state}
        try:
            outcome["result"] = work.result
        except TaskCancelled as exc:
            outcome["raised"] = type(exc).__name__
        return outcome


class SignalRaceWorkflow(Workflow):
    """Waits for a signal `go` (or its first step), runs a step with the signal's `n`, then
    takes the next `go` signal: each signal must be seen exactly once."""

    version = "1"
    task_list = "race-decisions"

    def run(self) -> dict[str, Any]:
        self.go = go = self.wait_signal("go")
        first = self.submit(race_step, 1)
        futures.wait_any(go, first)
        second = self.submit(race_step, go.result["n"])
        results = [first.result, second.result]
        self.later = later = self.wait_signal("go")
        return {"first_signal": go.result, "second_signal": later.result, "results": results}


class TwoStepsWorkflow(Workflow):
    """Two steps in parallel, then their sum: the decisions a timed-out task must repeat."""

    version = "1"
    task_list = "race-decisions"

    def run(self, x: int) -> int:
        steps = self.map(race_step, [x, x + 1])
        return sum(step.result for step in steps)
