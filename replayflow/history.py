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

from .errors import InvalidHistory, UserError

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
        stamp = datetime.fromisoformat(value)
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
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
    """Read a history file, with one clear error line if it is missing or not a history.

    The file is untrusted input (anyone can hand one over), so it must be UTF-8, strict JSON
    within `encoding.MAX_NESTING` levels, and each event must have the shape SWF gives it (see
    `check_events`) before anything reads it.
    """
    from . import encoding

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"history file {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"cannot read history file {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"history file {path} is not UTF-8 text (byte {raw[exc.start]:#04x} at "
                        f"offset {exc.start})") from None
    data = encoding.parse_json(text, f"history file {path}")
    if isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidHistory(
            f"history file {path} has no \"events\" list; is it a replayflow history?")
    try:
        check_events(data["events"])
    except ValueError as exc:
        raise InvalidHistory(f"history file {path} holds a malformed event: {exc}") from None
    previous = []
    for run in data.get("previousRuns") or []:
        if isinstance(run, dict) and isinstance(run.get("events"), list):
            try:
                check_events(run["events"])
            except ValueError as exc:
                raise InvalidHistory(
                    f"history file {path} holds a malformed earlier run: {exc}") from None
            previous.append(_run_from_json(run, path))
    return _run_from_json(data, path, previous)


def _run_from_json(data: dict, path: Path, previous: list[HistoryFile] | None = None
                   ) -> HistoryFile:
    """One run of a history file, its events already checked (`check_events`)."""
    header: dict[str, Any] = {}
    for key in ("workflowExecution", "workflowType"):
        value = data.get(key)
        if value is not None and not (isinstance(value, dict) and all(
                isinstance(item, str) for item in value.values())):
            raise InvalidHistory(f"history file {path}: {key} must be an object of strings")
        header[key] = value
    domain = data.get("domain")
    if domain is not None and not isinstance(domain, str):
        raise InvalidHistory(f"history file {path}: domain must be a string")
    return HistoryFile(events_from_wire(data["events"]), header["workflowExecution"],
                       header["workflowType"], domain, previous)


def check_events(events: list) -> None:
    """Raise ValueError, naming the event, unless every event has SWF's shape.

    What SWF guarantees and every reader relies on: an object with a string `eventType`, an
    integer `eventId` above the previous one, a timestamp in range, and its
    `<type>EventAttributes` (if present) an object. What the attributes hold is checked where
    it is read (`testing.replay` names the event it cannot read).
    """
    previous = 0
    for position, event in enumerate(events):
        where = f"event #{position + 1}"
        if not isinstance(event, dict):
            raise ValueError(f"{where} is not an object")
        event_type = event.get("eventType")
        if not isinstance(event_type, str) or not event_type.isalpha():
            raise ValueError(f"{where}: eventType must be an event type name, not "
                             f"{_shown(event_type)}")
        event_id = event.get("eventId")
        if isinstance(event_id, bool) or not isinstance(event_id, int) or event_id <= previous:
            raise ValueError(f"{where} ({event_type}): eventId must be an integer above "
                             f"{previous} (ids grow from 1), not {_shown(event_id)}")
        previous = event_id
        stamp = event.get("eventTimestamp")
        try:
            if isinstance(stamp, bool):
                raise TypeError
            _to_datetime(stamp)
        except (TypeError, ValueError, OverflowError, OSError):
            raise ValueError(f"event {event_id} ({event_type}): eventTimestamp must be epoch "
                             f"seconds or an ISO 8601 date, not {_shown(stamp)}") from None
        attrs = event.get(attributes_key(event_type))
        if attrs is not None and not isinstance(attrs, dict):
            raise ValueError(f"event {event_id} ({event_type}): {attributes_key(event_type)} "
                             f"must be an object, not {_shown(attrs)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def write_history_file(path: str | Path, history: HistoryFile) -> None:
    Path(path).write_text(json.dumps(history.to_json(), indent=1, sort_keys=True) + "\n")
