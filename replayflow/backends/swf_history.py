"""SWF's history responses, parsed by us in the view the caller asks for.

botocore's generic parser walks every member of every event against the service model (160 ms
for a 6,000-event history of 1.1 MB, measured with botocore 1.44.8: 45 times our engine view).
A history's only timestamp is `eventTimestamp`, so the SWF backend keeps the raw body of the two
responses that carry events and parses it here, with msgspec (twice as fast as json.loads on a
history), in one of two views:

- `FULL`, for operators: boto3's shape, timestamps as aware datetimes;
- `ENGINE`, for the decider: `eventTimestamp` stays SWF's epoch seconds (the engine converts the
  one it reads), and each event keeps only the attributes the engine reads
  (engine.replay.attributes_read). A full replay is mostly parsing, and most of what it would
  parse is never read.

The view is an argument of the call that fetches the history, never state of the thread.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable
from typing import Any, TypedDict

import msgspec
from botocore.parsers import ResponseParserError

from ..history import gc_paused, stamps_to_datetimes

#: The responses that carry event histories.
HISTORY_OPERATIONS = ("PollForDecisionTask", "GetWorkflowExecutionHistory")
#: The key under which a history response's raw body waits for `parse_response`.
RAW_BODY = "ReplayflowRawBody"

_decode_json = msgspec.json.Decoder().decode
_engine_decoders: dict[str, Callable[[bytes], Any]] = {}


class HistoryView(enum.Enum):
    """Who reads the events: an operator (boto3's shape) or the decider's engine."""

    FULL = "full"
    ENGINE = "engine"


def keep_raw_body(response_dict: dict, customized_response_dict: dict, **_: Any) -> None:
    """botocore `before-parse` hook: keep a history response's body for `parse_response`, and
    hand botocore an empty one (its generic parse of a history is what costs)."""
    if response_dict.get("status_code") != 200:
        return  # an error: botocore parses it into its own exception
    body = response_dict.get("body")
    if not body:
        return
    customized_response_dict[RAW_BODY] = body
    response_dict["body"] = b"{}"


def install(client: Any) -> None:
    """Make `client`'s history responses carry their raw body (see `parse_response`)."""
    service = client.meta.service_model.service_id.hyphenize()
    for operation in HISTORY_OPERATIONS:
        client.meta.events.register(f"before-parse.{service}.{operation}", keep_raw_body)


def keep_raw(body: bytes) -> dict[str, Any]:
    """A direct call's history response: the raw body, for `parse_response`."""
    return {RAW_BODY: body} if body else {}


def parse_history(operation_model: Any, body: bytes, view: HistoryView) -> dict[str, Any]:
    """A history-carrying response body in `view`; ResponseParserError if it is not a JSON
    object."""
    with gc_paused():
        data = None
        if view is HistoryView.ENGINE:
            with contextlib.suppress(msgspec.DecodeError):  # anything odd: the plain parse
                data = _engine_decoder(operation_model)(body)
        if data is None:
            try:
                data = _decode_json(body)
            except msgspec.DecodeError as exc:
                raise ResponseParserError(f"{operation_model.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise ResponseParserError(f"{operation_model.name}: not a JSON object")
    if view is HistoryView.FULL:
        stamps_to_datetimes(data.get("events", ()))
    return data


def parse_response(response: dict[str, Any], operation_model: Any,
                   view: HistoryView) -> dict[str, Any]:
    """A history response, its raw body parsed in `view` and merged in place of RAW_BODY.

    A response without a raw body (a client handed in, a test's Stubber) is already parsed:
    in the full view its timestamps become datetimes, and otherwise it is left as it is.
    """
    body = response.pop(RAW_BODY, None)
    if body is not None:
        response.update(parse_history(operation_model, body, view))
    elif view is HistoryView.FULL:
        stamps_to_datetimes(response.get("events", ()))
    return response


def _engine_decoder(operation_model: Any) -> Callable[[bytes], Any]:
    """A msgspec decoder of this operation's response that builds only what the engine reads."""
    decoder = _engine_decoders.get(operation_model.name)
    if decoder is not None:
        return decoder
    from ..engine.replay import attributes_read

    output = operation_model.output_shape
    event_fields: dict[str, Any] = {name: Any for name in output.members["events"].member.members
                                    if not name.endswith("EventAttributes")}
    for key, members in attributes_read().items():
        if members is None:
            event_fields[key] = dict
        elif members:
            event_fields[key] = TypedDict(  # type: ignore[operator]
                f"Engine_{key}", dict.fromkeys(members, Any), total=False)
    event = TypedDict("EngineEvent", event_fields, total=False)  # type: ignore[operator]
    response_fields: dict[str, Any] = dict.fromkeys(output.members, Any)
    response_fields["events"] = list[event]  # type: ignore[valid-type]
    response = TypedDict("EngineResponse", response_fields, total=False)  # type: ignore[operator]
    decoder = _engine_decoders[operation_model.name] = msgspec.json.Decoder(response).decode
    return decoder


__all__ = [
    "HISTORY_OPERATIONS",
    "RAW_BODY",
    "HistoryView",
    "install",
    "keep_raw",
    "keep_raw_body",
    "parse_history",
    "parse_response",
]
