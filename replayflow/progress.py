"""How far a run has got, in a few numbers, for whoever waits on it.

The decider counts a run's tasks as it feeds the engine (`RunProgress.feed`, the same events, so
nothing is read twice) and sends the summary with every answer as the decision's
`executionContext`. SWF returns the latest one from DescribeWorkflowExecution
(`latestExecutionContext`), the call `--wait` already makes, so showing progress costs no
history read; a local run's in-process SWF keeps it the same way.

The summary is compact JSON: {"v": 1, "waiting": n, "running": n, "retrying": n, "done": n,
"failed": n, "last": "<the last thing that happened>"}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .naming import attributes_key

_quote = json.encoder.encode_basestring_ascii  # json.dumps of one string, without the set-up
VERSION = 1
#: The longest "last event" text kept in a summary.
MAX_LAST = 160

_OPEN_STATES = ("waiting", "running", "retrying")


@dataclass(frozen=True)
class Summary:
    """A run's task counts (each task counted once, by the state of its latest attempt)."""

    waiting: int = 0
    running: int = 0
    retrying: int = 0
    done: int = 0
    failed: int = 0
    last: str = ""

    @property
    def total(self) -> int:
        return self.waiting + self.running + self.retrying + self.done + self.failed

    def counts(self) -> tuple[int, int, int, int, int]:
        return (self.waiting, self.running, self.retrying, self.done, self.failed)

    def to_json(self) -> str:
        return (f'{{"v":{VERSION},"waiting":{self.waiting},"running":{self.running},'
                f'"retrying":{self.retrying},"done":{self.done},"failed":{self.failed},'
                f'"last":{_quote(self.last)}}}')

    @classmethod
    def from_json(cls, text: str | None) -> Summary | None:
        """The summary in an executionContext, or None (absent, or written by something else)."""
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        try:
            return cls(*(int(data.get(k, 0)) for k in ("waiting", "running", "retrying",
                                                        "done", "failed")),
                       last=str(data.get("last", ""))[:MAX_LAST])
        except (TypeError, ValueError):
            return None


#: The decider sends a fresh summary at most this often per run (it counts every task of the
#: run, so not on every decision of a long chain); a waiting `--wait` polls about as often.
MIN_INTERVAL = 0.25

_INTERESTING = frozenset({
    "ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
    "ActivityTaskCanceled", "ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed",
    "ChildWorkflowExecutionTimedOut", "ChildWorkflowExecutionCanceled",
    "ChildWorkflowExecutionTerminated", "WorkflowExecutionSignaled", "TimerFired",
    "MarkerRecorded", "ActivityTaskScheduled", "StartChildWorkflowExecutionInitiated"})


def summarize(tasks: Any, events: list[dict[str, Any]], previous_last: str = "") -> Summary:
    """Count a run's tasks (an engine state's task objects: activities and children; timers
    are not tasks here) by the state of their future, and name the last thing that happened
    among `events` (else keep `previous_last`).

    A task not yet scheduled (waiting for its inputs or a free slot) counts as waiting; an
    open task on its second attempt or later counts as retrying.
    """
    waiting = running = retrying = done = failed = 0
    for task in tasks:
        future = getattr(task, "future", None)
        attempt = getattr(task, "attempt", None)
        if future is None or attempt is None:  # a timer
            continue
        state = future.state
        if state == "FINISHED":
            done += 1
        elif state in ("FAILED", "CANCELLED"):
            failed += 1
        elif attempt > 1:
            retrying += 1
        elif state == "RUNNING":
            running += 1
        else:
            waiting += 1
    return Summary(waiting, running, retrying, done, failed, _last(events) or previous_last)


def _last(events: list[dict[str, Any]]) -> str:
    for event in reversed(events):
        event_type = event["eventType"]
        if event_type not in _INTERESTING:
            continue
        attrs = event.get(attributes_key(event_type)) or {}
        what = (attrs.get("activityId") or attrs.get("workflowId") or attrs.get("signalName")
                or attrs.get("timerId") or attrs.get("markerName")
                or (attrs.get("workflowExecution") or {}).get("workflowId") or "")
        reason = attrs.get("reason") or attrs.get("timeoutType") or ""
        text = f"{_PHRASES[event_type]} {what}".strip()
        return (f"{text}: {reason}" if reason else text)[:MAX_LAST]
    return ""


_PHRASES = {
    "ActivityTaskCompleted": "completed", "ActivityTaskFailed": "failed",
    "ActivityTaskTimedOut": "timed out", "ActivityTaskCanceled": "cancelled",
    "ActivityTaskScheduled": "scheduled", "StartChildWorkflowExecutionInitiated":
    "started child", "ChildWorkflowExecutionCompleted": "child completed",
    "ChildWorkflowExecutionFailed": "child failed", "ChildWorkflowExecutionTimedOut":
    "child timed out", "ChildWorkflowExecutionCanceled": "child cancelled",
    "ChildWorkflowExecutionTerminated": "child terminated", "WorkflowExecutionSignaled":
    "signal", "TimerFired": "timer fired", "MarkerRecorded": "marker",
}

__all__ = ["MAX_LAST", "MIN_INTERVAL", "Summary", "summarize"]
