"""Workflows past SWF's hard limits (open items, the 1 MB response), for the limit tests run
locally and on moto, and how to read from a history what was open at once.
"""

from __future__ import annotations

from replayflow import Workflow, activity, canvas, futures
from replayflow.history import attributes

TASK_LIST = "limits"


@activity.with_attributes(task_list=TASK_LIST, version="1")
def echo(x: int) -> int:
    return x


@activity.with_attributes(task_list=TASK_LIST, version="1")
def length(text: str) -> int:
    return len(text)


class ManyActivities(Workflow):
    """`self.map` over n items, all submitted at one decision."""

    def run(self, n: int) -> int:
        fs = self.map(echo, range(n))
        return sum(f.result for f in futures.wait(fs))


class ManyTimers(Workflow):
    """n timers started at one decision; counts those that fired."""

    def run(self, n: int, seconds: int = 1) -> int:
        fs = [self.start_timer(f"timer-{i}", seconds) for i in range(n)]
        futures.wait(fs)
        return sum(1 for f in fs if f.finished)


class SleepyChild(Workflow):
    """Stays open about a second, so that its parent's children overlap."""

    def run(self, i: int) -> int:
        self.sleep(1)
        return i


class ManyChildren(Workflow):
    def run(self, n: int) -> int:
        fs = [self.submit(SleepyChild, i) for i in range(n)]
        return sum(f.result for f in futures.wait(fs))


class BigInputs(Workflow):
    """n activities whose inputs are `size` characters each (under the 32 KB field limit, so
    no jumbo field: together they are over SWF's 1 MB response)."""

    def run(self, n: int, size: int) -> list[int]:
        fs = [self.submit(length, str(i % 10) * size) for i in range(n)]
        return [f.result for f in futures.wait(fs)]


class TwoAtATime(Workflow):
    """At most two activities open: the rest wait their turn."""

    max_open_activities = 2

    def run(self, n: int) -> list[int]:
        return [f.result for f in futures.wait(self.map(echo, range(n)))]


class QuickChild(Workflow):
    def run(self, i: int) -> int:
        return i * 10


class Capped(Workflow):
    """Every kind of task past small caps: activities from map, a canvas group, dependent submits
    and a DAG, timers, children; what is over each cap waits its turn."""

    max_open_activities = 3
    max_open_timers = 3
    max_open_children = 2

    def run(self, n: int) -> dict:
        mapped = self.map(echo, range(n))
        group = self.submit(canvas.Group(*[canvas.ActivityTask(echo, 100 + i)
                                           for i in range(n)]))
        dependent = [self.submit(echo, f) for f in mapped[:2]]
        timers = [self.start_timer(f"timer-{i}", 0) for i in range(n)]
        children = [self.submit(QuickChild, i) for i in range(n)]
        dag = self.submit(canvas.Dag({canvas.Node(echo, name="root"): [
            canvas.Node(echo, name=f"leaf{i}") for i in range(n)]}), 7)
        futures.wait(*mapped, group, *dependent, *timers, *children, dag)
        return {"mapped": [f.result for f in mapped], "group": group.result,
                "dependent": [f.result for f in dependent],
                "timers": sum(1 for f in timers if f.finished),
                "children": [f.result for f in children], "dag": sorted(dag.result.values())}


# -- reading a history --------------------------------------------------------------------------

OPENS = {
    "activity": ({"ActivityTaskScheduled"},
                 {"ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                  "ActivityTaskCanceled"}),
    "timer": ({"TimerStarted"}, {"TimerFired", "TimerCanceled", "TimerCancelled"}),
    "child": ({"StartChildWorkflowExecutionInitiated"},
              {"ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed",
               "ChildWorkflowExecutionTimedOut", "ChildWorkflowExecutionCanceled",
               "ChildWorkflowExecutionTerminated", "StartChildWorkflowExecutionFailed"}),
}
REFUSALS = {"ScheduleActivityTaskFailed", "StartTimerFailed", "StartChildWorkflowExecutionFailed"}


def most_open(events: list[dict], kind: str) -> int:
    """The most `kind` items ("activity", "timer", "child") open at once, counted from events."""
    opens, closes = OPENS[kind]
    now = most = 0
    for event in events:
        if event["eventType"] in opens:
            now += 1
            most = max(most, now)
        elif event["eventType"] in closes:
            now -= 1
    return most


def refusals(events: list[dict]) -> list[tuple[str, str]]:
    """(event type, cause) of every decision SWF refused."""
    return [(e["eventType"], attributes(e).get("cause")) for e in events
            if e["eventType"] in REFUSALS]


def response_sizes(events: list[dict]) -> list[int]:
    """Per DecisionTaskCompleted that scheduled activities: how many it scheduled."""
    counts: dict[int, int] = {}
    for event in events:
        if event["eventType"] == "ActivityTaskScheduled":
            completed = attributes(event)["decisionTaskCompletedEventId"]
            counts[completed] = counts.get(completed, 0) + 1
    return [counts[k] for k in sorted(counts)]
