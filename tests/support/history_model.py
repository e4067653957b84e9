"""Check wire-shaped SWF histories against botocore's SWF service model.

A fixture that SWF could never send tests nothing, so every file in tests/histories/ goes through
`validate_history`: each event against the model's `HistoryEvent` shape (member names, required
members, types, enum values, string lengths), then the history as a whole (event ids in order,
timestamps never going back, every `...EventId` pointing at an earlier event of the right type).

One deliberate exception: moto records a cancelled timer as `TimerCancelled` (SWF:
`TimerCanceled`), with a `timerCancelledEventAttributes` member. Histories saved from moto are
real inputs for replayflow, so that spelling is accepted and its attributes are checked against
`TimerCanceledEventAttributes`.
"""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path
from typing import Any

import botocore.session
from botocore.model import Shape, StructureShape

#: moto's event types that SWF spells differently -> the SWF event type whose shape they take.
MOTO_EVENT_TYPES = {"TimerCancelled": "TimerCanceled"}

#: For `<attribute>` of an event of a family, the event type(s) the id must point at.
_REFERENCES: dict[tuple[str, str], frozenset[str]] = {}


def _refs(prefixes: tuple[str, ...], attribute: str, *targets: str) -> None:
    for prefix in prefixes:
        _REFERENCES[(prefix, attribute)] = frozenset(targets)


_refs(("ActivityTask",), "scheduledEventId", "ActivityTaskScheduled")
_refs(("ActivityTask",), "startedEventId", "ActivityTaskStarted")
_refs(("ActivityTask",), "latestCancelRequestedEventId", "ActivityTaskCancelRequested")
_refs(("DecisionTask",), "scheduledEventId", "DecisionTaskScheduled")
_refs(("DecisionTask",), "startedEventId", "DecisionTaskStarted")
_refs(("Timer",), "startedEventId", "TimerStarted")
_refs(("ChildWorkflowExecution", "StartChildWorkflowExecution"), "initiatedEventId",
      "StartChildWorkflowExecutionInitiated")
_refs(("ChildWorkflowExecution",), "startedEventId", "ChildWorkflowExecutionStarted")
_refs(("ExternalWorkflowExecutionSignaled", "SignalExternalWorkflowExecution"), "initiatedEventId",
      "SignalExternalWorkflowExecutionInitiated")
_refs(("ExternalWorkflowExecutionCancelRequested", "RequestCancelExternalWorkflowExecution"),
      "initiatedEventId", "RequestCancelExternalWorkflowExecutionInitiated")
_refs(("LambdaFunction",), "scheduledEventId", "LambdaFunctionScheduled")
_refs(("LambdaFunction",), "startedEventId", "LambdaFunctionStarted")

#: Ids that point into another execution's history, never this one's.
_FOREIGN_REFERENCES = frozenset({"externalInitiatedEventId", "parentInitiatedEventId"})


class HistoryModelError(AssertionError):
    """A history does not match the SWF model; the message lists every problem found."""


@functools.lru_cache(maxsize=1)
def swf_model() -> Any:
    return botocore.session.get_session().get_service_model("swf")


def attributes_key(event_type: str) -> str:
    return event_type[0].lower() + event_type[1:] + "EventAttributes"


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_value(shape: Shape, value: Any, where: str, errors: list[str]) -> None:
    kind = shape.type_name
    if value is None:
        errors.append(f"{where}: null is not a valid {shape.name} ({kind})")
    elif kind == "structure":
        _check_structure(shape, value, where, errors)
    elif kind == "list":
        if not isinstance(value, list):
            errors.append(f"{where}: expected a list ({shape.name}), got {_describe(value)}")
            return
        _check_length(shape, len(value), "items", where, errors)
        for i, item in enumerate(value):
            _check_value(shape.member, item, f"{where}[{i}]", errors)
    elif kind == "string":
        if not isinstance(value, str):
            errors.append(f"{where}: expected a string ({shape.name}), got {_describe(value)}")
            return
        if shape.enum and value not in shape.enum:
            close = difflib.get_close_matches(value, shape.enum, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(f"{where}: {value!r} is not a valid {shape.name}{hint}")
        _check_length(shape, len(value), "characters", where, errors)
    elif kind in ("long", "integer"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{where}: expected an integer ({shape.name}), got {_describe(value)}")
            return
        _check_length(shape, value, "", where, errors)
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: expected epoch seconds (a number), got {_describe(value)}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: expected true or false, got {_describe(value)}")
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: expected a number, got {_describe(value)}")
    elif kind == "map":
        if not isinstance(value, dict):
            errors.append(f"{where}: expected an object ({shape.name}), got {_describe(value)}")
            return
        for key, item in value.items():
            _check_value(shape.key, key, f"{where} key {key!r}", errors)
            _check_value(shape.value, item, f"{where}.{key}", errors)
    else:  # pragma: no cover - SWF has no blobs
        errors.append(f"{where}: cannot check shape type {kind}")


def _check_length(shape: Shape, size: int, unit: str, where: str, errors: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    what = f"{size} {unit}".strip()
    if low is not None and size < low:
        errors.append(f"{where}: {what} is under the minimum of {low} ({shape.name})")
    if high is not None and size > high:
        errors.append(f"{where}: {what} is over the maximum of {high} ({shape.name})")


def _check_structure(shape: StructureShape, value: Any, where: str, errors: list[str],
                     skip: frozenset[str] = frozenset()) -> None:
    if not isinstance(value, dict):
        errors.append(f"{where}: expected an object ({shape.name}), got {_describe(value)}")
        return
    members = shape.members
    for name, item in value.items():
        if name in skip:
            continue
        if name not in members:
            close = difflib.get_close_matches(name, list(members), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            errors.append(f"{where}: unknown member {name!r} of {shape.name}{hint}")
            continue
        _check_value(members[name], item, f"{where}.{name}", errors)
    for name in shape.required_members:
        if name not in value:
            errors.append(f"{where}: missing required member {name!r} of {shape.name}")


def validate_event(event: Any, where: str = "event") -> list[str]:
    """Problems with one wire-shaped event (empty when it is one SWF could send)."""
    errors: list[str] = []
    if not isinstance(event, dict):
        return [f"{where}: an event must be an object, got {_describe(event)}"]
    model = swf_model()
    history_event = model.shape_for("HistoryEvent")
    event_type = event.get("eventType")
    if isinstance(event_type, str) and "eventId" in event:
        where = f"{where} (eventId {event.get('eventId')}, {event_type})"
    skip: frozenset[str] = frozenset()
    swf_type = MOTO_EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if swf_type is not None:
        # Check the moto spelling as if it were SWF's, then its attributes by hand.
        moto_key = attributes_key(event_type)
        skip = frozenset({"eventType", moto_key})
        if moto_key in event:
            shape = model.shape_for(swf_type + "EventAttributes")
            _check_value(shape, event[moto_key], f"{where}.{moto_key}", errors)
    _check_structure(history_event, event, where, errors, skip)
    if isinstance(event_type, str):
        expected = attributes_key(event_type)
        present = [k for k in event if k.endswith("EventAttributes")]
        for key in present:
            if key != expected:
                errors.append(f"{where}: {key!r} does not belong to a {event_type} event "
                              f"(expected {expected!r})")
        if expected not in event and swf_type is None:
            errors.append(f"{where}: missing {expected!r}")
    return errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _family_targets(event_type: str, attribute: str) -> frozenset[str] | None:
    for (prefix, name), targets in _REFERENCES.items():
        if name == attribute and event_type.startswith(prefix):
            return targets
    if attribute == "decisionTaskCompletedEventId":
        return frozenset({"DecisionTaskCompleted"})
    return None


def validate_history(data: Any, name: str = "history") -> list[str]:
    """Problems with a whole history file's content; see the module docstring for the rules."""
    if isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        return [f"{name}: expected an object with an \"events\" list"]
    errors: list[str] = []
    for key in ("workflowExecution", "workflowType"):
        if key in data:
            shape = swf_model().shape_for("WorkflowExecution" if key == "workflowExecution"
                                          else "WorkflowType")
            _check_value(shape, data[key], f"{name}: {key}", errors)
    events = data["events"]
    if not events:
        errors.append(f"{name}: \"events\" is empty")
    types_by_id: dict[int, str] = {}
    previous_id = previous_stamp = None
    for index, event in enumerate(events):
        where = f"{name}: events[{index}]"
        errors.extend(validate_event(event, where))
        # Sequence checks need a sound id, type and stamp; other faults are reported above and
        # must not cascade into a false report on every later event.
        if not isinstance(event, dict):
            continue
        event_id, event_type = event.get("eventId"), event.get("eventType")
        stamp = event.get("eventTimestamp")
        if not (_is_int(event_id) and isinstance(event_type, str) and _is_number(stamp)):
            continue
        where = f"{where} (eventId {event_id}, {event_type})"
        if previous_id is not None and event_id != previous_id + 1:
            errors.append(f"{where}: eventId should be {previous_id + 1} (ids go up by one)")
        if previous_stamp is not None and stamp < previous_stamp:
            errors.append(f"{where}: eventTimestamp {stamp} is earlier than the previous "
                          f"event's {previous_stamp}")
        previous_id, previous_stamp = event_id, stamp
        attrs = event.get(attributes_key(event_type))
        for attribute, value in (attrs.items() if isinstance(attrs, dict) else ()):
            if not attribute.endswith("EventId") or attribute in _FOREIGN_REFERENCES:
                continue
            if not _is_int(value):
                continue  # already reported as a type error
            if attribute == "startedEventId" and value == 0:
                continue  # SWF's "never started" (a schedule-to-start timeout, say)
            if value not in types_by_id:
                errors.append(f"{where}: {attribute}={value} is not an earlier event")
                continue
            targets = _family_targets(MOTO_EVENT_TYPES.get(event_type, event_type), attribute)
            if targets and types_by_id[value] not in targets:
                errors.append(f"{where}: {attribute}={value} is a {types_by_id[value]}, "
                              f"expected {' or '.join(sorted(targets))}")
        types_by_id[event_id] = event_type
    return errors


def validate_history_file(path: str | Path) -> list[str]:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return [f"{path.name}: not readable as JSON ({exc})"]
    return validate_history(data, path.name)


def assert_valid_history(data: Any, name: str = "history") -> None:
    """Raise HistoryModelError listing every problem, for use in tests."""
    errors = validate_history(data, name)
    if errors:
        raise HistoryModelError("\n".join(errors))
