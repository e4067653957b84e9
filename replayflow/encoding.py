"""How Python values travel through SWF's string fields.

Every input, result, details and control field is JSON. A task's or workflow's input is always
stored as `{"args": [...], "kwargs": {...}}`, so any reader (decider, worker, operator commands)
can rebuild the call without knowing how the user typed it. `parse_input_convention` turns what a
user typed on the command line into that shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .errors import InvalidInput

# SWF's per-field limits, in characters.
MAX_INPUT = 32_768
MAX_RESULT = 32_768
MAX_DETAILS = 32_768
MAX_CONTROL = 32_768
MAX_REASON = 256
MAX_HEARTBEAT_DETAILS = 2_048


class NotSerializable(TypeError):
    """A value cannot be written as JSON."""


def _make_encoder() -> tuple[Callable[[Any], str], Callable[[Any, int], Any]]:
    """json's C encoder, built once: `json.dumps` rebuilds it on every call, which costs more
    than encoding a small input. Same output as json.dumps(separators=(",", ":"),
    sort_keys=True)."""
    encoder = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return encoder.encode, lambda value, _level: [encoder.encode(value)]

    def fail(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    make = c_make_encoder({}, fail, json.encoder.encode_basestring_ascii, None, ":", ",", True,
                          False, True)
    encode_string = json.encoder.encode_basestring_ascii

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return encode_string(value)
        return "".join(make(value, 0))

    return encode, make  # make: for callers that know the value is a list or a dict


_encode, _chunks = _make_encoder()
_join = "".join
_decoder = json.JSONDecoder()
_scan = _decoder.scan_once


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON, so the same value always encodes to the same string."""
    try:
        return _encode(value)
    except (TypeError, ValueError) as exc:
        raise NotSerializable(f"value is not JSON-serialisable: {exc}") from None


def loads(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:  # the scanner alone: our own fields never carry surrounding whitespace
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except StopIteration:
        pass
    return json.loads(text)  # anything unusual gets json's full handling and error messages


def encode_call(args: tuple | list, kwargs: dict) -> str:
    """`{"args":[...],"kwargs":{...}}`, built without sorting the outer keys again."""
    try:
        return (f'{{"args":{_join(_chunks(list(args), 0))},'
                f'"kwargs":{_join(_chunks(kwargs, 0)) if kwargs else "{}"}}}')
    except (TypeError, ValueError) as exc:
        raise NotSerializable(f"value is not JSON-serialisable: {exc}") from None


def decode_call(text: str | None) -> tuple[list, dict]:
    """Read an input field back into (args, kwargs). Tolerates the plain user conventions too."""
    value = loads(text)
    return split_input_convention(value)


def split_input_convention(value: Any) -> tuple[list, dict]:
    """Apply the input convention to an already-parsed JSON value.

    - a list is positional arguments;
    - `{"args": [...], "kwargs": {...}}` (either key optional, nothing else) is both;
    - any other object is keyword arguments;
    - null is no arguments; any other scalar is one positional argument.
    """
    if value is None:
        return [], {}
    if isinstance(value, list):
        return list(value), {}
    if isinstance(value, dict):
        keys = set(value)
        if keys and keys <= {"args", "kwargs"}:
            args = value.get("args", [])
            kwargs = value.get("kwargs", {})
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise InvalidInput('"args" must be a JSON list and "kwargs" a JSON object')
            return list(args), dict(kwargs)
        return [], dict(value)
    return [value], {}


def parse_input_convention(text: str, source: str = "--input") -> tuple[list, dict]:
    """Parse user-typed JSON into (args, kwargs), with a one-line error on malformed JSON."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    return split_input_convention(value)


def truncate_reason(reason: str, limit: int = MAX_REASON) -> str:
    """Cut a reason to SWF's limit with an ellipsis; callers keep the full text in details."""
    if len(reason) <= limit:
        return reason
    return reason[: limit - 1] + "…"


def safe_str(exc: BaseException) -> str:
    """str(exc), even for an exception whose __str__ raises or returns something else: a
    failure must always be reportable."""
    try:
        text = str(exc)
    except Exception as inner:  # noqa: BLE001 - user code in __str__
        return f"<str() of this exception failed: {type(inner).__name__}>"
    return text if isinstance(text, str) else repr(text)


def describe_exception(exc: BaseException, tb: str | None = None) -> tuple[str, dict]:
    """Turn an exception into SWF's (reason, details) pair; nothing of the message is lost."""
    error_type = type(exc).__name__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        qualified = f"{module}.{type(exc).__qualname__}"
    else:
        qualified = error_type
    message = safe_str(exc)
    full_reason = f"{error_type}: {message}" if message else error_type
    details = {"type": qualified, "message": message, "reason": full_reason}
    if tb:
        details["traceback"] = tb
    return truncate_reason(full_reason), details


def shrink_details(text: str, limit: int) -> str:
    """Cut a details JSON object's long strings so that it fits `limit` and stays valid JSON.

    The message keeps its start and the traceback its end: that is where each says the most.
    """
    try:
        details = loads(text)
    except ValueError:
        details = None
    if not isinstance(details, dict):
        details = {"message": text}
    budget = limit // 2
    while budget > 16:
        for key, keep_end in (("traceback", True), ("message", False), ("reason", False)):
            value = details.get(key)
            if isinstance(value, str) and len(value) > budget:
                details[key] = "…" + value[-budget:] if keep_end else value[:budget] + "…"
        shrunk = dumps(details)
        if len(shrunk) <= limit:
            return shrunk
        budget //= 2
    return dumps({"type": details.get("type"), "message": "details too large"})
