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

from .naming import attributes_key, split_activity_id

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


class RunProgress:
    """Task states counted from a run's events, fed incrementally (a full history on a miss)."""

    __slots__ = ("_task_of", "_states", "_counts", "last")

    def __init__(self) -> None:
        self._task_of: dict[int, tuple[str, int]] = {}  # scheduled/initiated event -> (task, n)
        self._states: dict[str, str] = {}  # task -> its state
        self._counts = dict.fromkeys(("waiting", "running", "retrying", "done", "failed"), 0)
        self.last = ""

    def _set(self, task: str, state: str) -> None:
        old = self._states.get(task)
        if old is not None:
            self._counts[old] -= 1
        self._states[task] = state
        self._counts[state] += 1

    def summary(self) -> Summary:
        c = self._counts
        return Summary(c["waiting"], c["running"], c["retrying"], c["done"], c["failed"],
                       self.last)

    def feed(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            event_type = event["eventType"]
            handler = _HANDLERS.get(event_type)
            if handler is not None:
                handler(self, event, event.get(attributes_key(event_type)) or {})

    # -- handlers -----------------------------------------------------------------------------
    def _scheduled(self, event: dict, attrs: dict) -> None:
        task, attempt = split_activity_id(attrs.get("activityId", "?"))
        self._task_of[event["eventId"]] = (task, attempt)
        self._set(task, "retrying" if attempt > 1 else "waiting")

    def _started(self, event: dict, attrs: dict) -> None:
        found = self._task_of.get(attrs.get("scheduledEventId", -1))
        if found is not None and self._states.get(found[0]) == "waiting":
            self._set(found[0], "running")

    def _child_initiated(self, event: dict, attrs: dict) -> None:
        self._task_of[event["eventId"]] = (attrs.get("workflowId", "?"), 1)
        self._set(attrs.get("workflowId", "?"), "waiting")

    def _child_started(self, event: dict, attrs: dict) -> None:
        found = self._task_of.get(attrs.get("initiatedEventId", -1))
        if found is not None:
            self._set(found[0], "running")



def _closed(state: str, verb: str) -> Any:
    """The handler of an activity's closing event."""
    def handle(self: RunProgress, event: dict, attrs: dict) -> None:
        found = self._task_of.get(attrs.get("scheduledEventId", -1))
        if found is None:
            return
        task, attempt = found
        self._set(task, state)
        reason = attrs.get("reason") or attrs.get("timeoutType") or ""
        label = f"{task}#{attempt}" if attempt > 1 else task
        self.last = f"{label} {verb}{': ' + reason if reason else ''}"[:MAX_LAST]
    return handle


def _child_closed(state: str, verb: str) -> Any:
    """The handler of a child workflow's closing event."""
    def handle(self: RunProgress, event: dict, attrs: dict) -> None:
        found = self._task_of.get(attrs.get("initiatedEventId", -1))
        if found is None:
            return
        self._set(found[0], state)
        self.last = f"child {found[0]} {verb}"[:MAX_LAST]
    return handle


def _note(text: str) -> Any:
    """The handler of an event worth naming as the last thing that happened."""
    def handle(self: RunProgress, event: dict, attrs: dict) -> None:
        name = attrs.get("signalName") or attrs.get("timerId") or attrs.get("markerName") or ""
        self.last = f"{text} {name}".strip()[:MAX_LAST]
    return handle


_HANDLERS = {
    "ActivityTaskScheduled": RunProgress._scheduled,
    "ActivityTaskStarted": RunProgress._started,
    "ActivityTaskCompleted": _closed("done", "completed"),
    "ActivityTaskFailed": _closed("failed", "failed"),
    "ActivityTaskTimedOut": _closed("failed", "timed out"),
    "ActivityTaskCanceled": _closed("failed", "cancelled"),
    "StartChildWorkflowExecutionInitiated": RunProgress._child_initiated,
    "ChildWorkflowExecutionStarted": RunProgress._child_started,
    "ChildWorkflowExecutionCompleted": _child_closed("done", "completed"),
    "ChildWorkflowExecutionFailed": _child_closed("failed", "failed"),
    "ChildWorkflowExecutionTimedOut": _child_closed("failed", "timed out"),
    "ChildWorkflowExecutionCanceled": _child_closed("failed", "cancelled"),
    "ChildWorkflowExecutionTerminated": _child_closed("failed", "terminated"),
    "WorkflowExecutionSignaled": _note("signal"),
    "TimerFired": _note("timer fired:"),
    "MarkerRecorded": _note("marker"),
}

__all__ = ["MAX_LAST", "RunProgress", "Summary"]
