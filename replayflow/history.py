"""SWF event histories as data: the boto3 shape in memory, SWF's wire JSON on disk.

In memory, an event is exactly the dict boto3 returns (`eventTimestamp` is an aware datetime).
The one exception is the decider's path: events that only feed the engine keep SWF's epoch
seconds, because the engine reads one timestamp per decision (see `stamps_to_datetimes`).
On disk (`--history-file`, `tests/histories/*.json`) it is the JSON SWF itself sends, where
timestamps are epoch seconds. A history file is an object:

    {"workflowExecution": {"workflowId": ..., "runId": ...},
     "workflowType": {"name": ..., "version": ...},
     "domain": ..., "events": [...]}

Only `events` is required, so a saved `GetWorkflowExecutionHistory` response is a valid file too.
"""

from __future__ import annotations

import contextlib
import gc
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import UserError

#: Execution status by the event type that closes an execution.
CLOSE_STATUS = {
    "WorkflowExecutionCompleted": "COMPLETED",
    "WorkflowExecutionFailed": "FAILED",
    "WorkflowExecutionCanceled": "CANCELED",
    "WorkflowExecutionTerminated": "TERMINATED",
    "WorkflowExecutionTimedOut": "TIMED_OUT",
    "WorkflowExecutionContinuedAsNew": "CONTINUED_AS_NEW",
}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large history.

    Tens of thousands of fresh dicts would otherwise trigger repeated full collections that scan
    every one of them again (it doubles the cost of parsing a 6 MB history). Nothing is leaked:
    collection resumes when the block ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def attributes(event: dict) -> dict:
    """The `<eventType>EventAttributes` dict of an event (empty if absent)."""
    event_type = event["eventType"]
    return event.get(event_type[0].lower() + event_type[1:] + "EventAttributes") or {}


def attributes_key(event_type: str) -> str:
    return event_type[0].lower() + event_type[1:] + "EventAttributes"


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    raise ValueError(f"not a timestamp: {value!r}")


def stamps_to_datetimes(events: Iterable[dict]) -> None:
    """Turn the events' epoch-second timestamps into aware datetimes (boto3's shape), in place.

    The events of one SWF transaction share their timestamp, so one datetime is built per
    transaction and shared. Timestamps that are already datetimes are left alone.
    """
    from_timestamp = datetime.fromtimestamp
    last_stamp: Any = None
    last_value: Any = None
    for event in events:
        stamp = event.get("eventTimestamp")
        if stamp == last_stamp and stamp is not None:
            event["eventTimestamp"] = last_value
        elif isinstance(stamp, int | float):
            last_stamp = stamp
            last_value = event["eventTimestamp"] = from_timestamp(stamp, UTC)


def events_from_wire(events: Iterable[dict]) -> list[dict]:
    """Wire JSON events -> boto3-shaped events (timestamps become datetimes)."""
    out = []
    for event in events:
        event = dict(event)
        event["eventTimestamp"] = _to_datetime(event["eventTimestamp"])
        out.append(event)
    return out


def events_to_wire(events: Iterable[dict]) -> list[dict]:
    """boto3-shaped events -> wire JSON events (timestamps become epoch seconds)."""
    out = []
    for event in events:
        event = dict(event)
        stamp = event["eventTimestamp"]
        if isinstance(stamp, datetime):
            event["eventTimestamp"] = stamp.timestamp()
        out.append(event)
    return out


class HistoryFile:
    """A history read from disk: the execution's identity and its events (boto3 shape)."""

    def __init__(self, events: list[dict], workflow_execution: dict | None = None,
                 workflow_type: dict | None = None, domain: str | None = None,
                 previous_runs: list[HistoryFile] | None = None) -> None:
        self.events = events
        self.workflow_execution = workflow_execution or {}
        self.workflow_type = workflow_type or {}
        self.domain = domain
        #: The runs this one continued from (continue-as-new), oldest first: a local run's file
        #: keeps its whole chain, while every reader looks at the last run.
        self.previous_runs: list[HistoryFile] = previous_runs or []

    def to_json(self) -> dict:
        data: dict[str, Any] = {}
        if self.domain:
            data["domain"] = self.domain
        if self.workflow_execution:
            data["workflowExecution"] = self.workflow_execution
        if self.workflow_type:
            data["workflowType"] = self.workflow_type
        data["events"] = events_to_wire(self.events)
        if self.previous_runs:
            data["previousRuns"] = [run.to_json() for run in self.previous_runs]
        return data


def load_history_file(path: str | Path) -> HistoryFile:
    """Read a history file, with one clear error line if it is missing or not a history."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"history file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read history file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"history file {path} is not valid JSON ({exc.msg}, line {exc.lineno})") \
            from None
    if isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise UserError(f"history file {path} has no \"events\" list; is it a replayflow history?")
    try:
        events = events_from_wire(data["events"])
        for event in events:
            event["eventType"], event["eventId"]  # noqa: B018 - shape check
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"history file {path} holds a malformed event ({exc})") from None
    previous = []
    for run in data.get("previousRuns") or []:
        if isinstance(run, dict) and isinstance(run.get("events"), list):
            try:
                previous.append(HistoryFile(events_from_wire(run["events"]),
                                            run.get("workflowExecution"),
                                            run.get("workflowType"), run.get("domain")))
            except (KeyError, TypeError, ValueError) as exc:
                raise UserError(f"history file {path} holds a malformed earlier run ({exc})") \
                    from None
    return HistoryFile(events, data.get("workflowExecution"), data.get("workflowType"),
                       data.get("domain"), previous)


def write_history_file(path: str | Path, history: HistoryFile) -> None:
    Path(path).write_text(json.dumps(history.to_json(), indent=1, sort_keys=True) + "\n")
