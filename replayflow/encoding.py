"""How Python values travel through SWF's string fields.

Every input, result, details and control field is JSON. A task's or workflow's input is always
stored as `{"args": [...], "kwargs": {...}}`, so any reader (decider, worker, operator commands)
can rebuild the call without knowing how the user typed it. `parse_input_convention` turns what a
user typed on the command line into that shape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from .errors import InvalidInput, InvalidJson

# SWF's per-field limits, in characters.
MAX_INPUT = 32_768
MAX_RESULT = 32_768
MAX_DETAILS = 32_768
MAX_CONTROL = 32_768
MAX_REASON = 256
MAX_HEARTBEAT_DETAILS = 2_048

MAX_NESTING = 128
"""The deepest JSON replayflow reads or writes, counting the `{"args": [...]}` wrapper.

Python's json module recurses once per level and gives up near 1,000 levels with a RecursionError,
and so does every recursive walk of the value afterwards (formatting, copying, resolving futures).
A fixed limit well below that makes deep input a clean error wherever it arrives, the same on
every machine and at any stack depth. 128 is serde_json's default; real data rarely passes 20.
"""


class NotSerializable(TypeError):
    """A value cannot be written as JSON."""


# --- nesting depth, from the text ---------------------------------------------------------------

# Every byte but brackets and quotes, for bytes.translate: what is left of a JSON text is its
# bracket skeleton, plus the quotes around strings (whose brackets do not count).
_NOT_SKELETON = bytes(byte for byte in range(256) if byte not in b'[]{}"')


def nesting_exceeds(text: str, limit: int = MAX_NESTING) -> bool:
    """True if the JSON `text` nests arrays and objects more than `limit` levels deep.

    Free for short texts (a text nested N deep has at least 2N characters) and for texts with
    few brackets; otherwise C-speed passes only (about 1 ms for a 1 MB text, against 40 ms to
    parse it): escaped backslashes and quotes are dropped, then everything but brackets and
    quotes, then what lies between quotes; the skeleton left is peeled one level per pass, at
    most `limit` passes. Malformed text may answer False: the parser then reports it.
    """
    if len(text) < 2 * (limit + 1) or text.count("[") + text.count("{") <= limit:
        return False
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:  # escapes: a quote or backslash they make literal must not count
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = data.translate(None, _NOT_SKELETON).replace(b'""', b"")  # most strings go here
    if b'"' in skeleton:  # quotes still alternate open/close: drop what lies between them
        skeleton = b"".join(skeleton.split(b'"')[::2])
    for _ in range(limit):
        peeled = skeleton.replace(b"[]", b"").replace(b"{}", b"")
        if not peeled or len(peeled) == len(skeleton):
            return False
        skeleton = peeled
    return True


def _too_deep(limit: int = MAX_NESTING) -> str:
    return f"it nests arrays and objects more than {limit} levels deep"


def _non_finite_path(value: Any) -> str | None:
    """Where the first NaN or Infinity sits in `value`, as `[0]["key"]` (None if nowhere).

    Only called once encoding has failed, so its cost never touches a successful encode.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path
        if depth > MAX_NESTING:
            continue
        if isinstance(item, dict):
            stack.extend((v, f"{path}[{json.dumps(str(k))}]", depth + 1)
                         for k, v in reversed(item.items()))
        elif isinstance(item, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in reversed(list(enumerate(item))))
    return None


def _not_serializable(exc: BaseException, value: Any) -> NotSerializable:
    """The one-line reason a value could not be written, for the person who produced it."""
    if isinstance(exc, RecursionError):
        return NotSerializable(f"{_too_deep()}, or contains itself")
    if isinstance(exc, ValueError) and "Out of range float" in str(exc):
        where = _non_finite_path(value)
        what = "it is NaN or Infinity" if where == "" else (
            f"it holds NaN or Infinity at {where}" if where else "it holds NaN or Infinity")
        return NotSerializable(f"{what}, which JSON cannot represent; use null, a string or a "
                               "finite number")
    return NotSerializable(str(exc))


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

    # markers=None: no shared circular-reference table. One shared across calls (and threads)
    # keeps the ids of an encode that failed half-way, and later reports an unrelated value that
    # reuses such an id as circular; a real cycle ends in RecursionError instead.
    # sort_keys=True, skipkeys=False, allow_nan=False: NaN and Infinity are not JSON, and a
    # reader in another language would choke on them.
    make = c_make_encoder(None, fail, json.encoder.encode_basestring_ascii, None, ":", ",", True,
                          False, False)
    encode_string = json.encoder.encode_basestring_ascii

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return encode_string(value)
        return "".join(make(value, 0))

    return encode, make  # make: for callers that know the value is a list or a dict


_encode, _chunks = _make_encoder()
_join = "".join


def _refuse_constant(name: str) -> Any:
    raise InvalidJson(f"{name} is not JSON (JSON has no NaN or Infinity; use null or a string)")


_decoder = json.JSONDecoder(parse_constant=_refuse_constant)
_scan = _decoder.scan_once


def dumps(value: Any) -> str:
    """Compact, key-sorted, strict JSON, so the same value always encodes to the same string.

    NotSerializable, saying why, for NaN, Infinity, nesting over MAX_NESTING, circular
    references and values JSON has no form for.
    """
    try:
        text = _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_serializable(exc, value) from None
    if nesting_exceeds(text):
        raise NotSerializable(_too_deep())
    return text


def loads(text: str | None) -> Any:
    """Read strict JSON: InvalidJson (a ValueError) for NaN, Infinity or nesting too deep."""
    if text is None or text == "":
        return None
    if nesting_exceeds(text):
        raise InvalidJson(f"JSON text refused: {_too_deep()}")
    try:
        try:  # the scanner alone: our own fields never carry surrounding whitespace
            value, end = _scan(text, 0)
            if end == len(text):
                return value
        except StopIteration:
            pass
        return _decoder.decode(text)  # anything unusual: json's full handling and messages
    except RecursionError:  # malformed bracketing that nesting_exceeds left to the parser
        raise InvalidJson(f"JSON text refused: {_too_deep()}") from None


def encode_call(args: tuple | list, kwargs: dict) -> str:
    """`{"args":[...],"kwargs":{...}}`, built without sorting the outer keys again."""
    try:
        text = (f'{{"args":{_join(_chunks(list(args), 0))},'
                f'"kwargs":{_join(_chunks(kwargs, 0)) if kwargs else "{}"}}}')
    except (TypeError, ValueError, RecursionError) as exc:
        raise _not_serializable(exc, {"args": list(args), "kwargs": kwargs}) from None
    if nesting_exceeds(text):
        raise NotSerializable(_too_deep())
    return text


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


def parse_json(text: str, source: str = "--input") -> Any:
    """Parse JSON a person gave us (`source` names where), with a one-line InvalidInput.

    Surrounding whitespace is fine; NaN, Infinity and nesting over MAX_NESTING are refused, as
    everywhere in replayflow.
    """
    try:
        return loads(text) if text.strip() else _decoder.decode(text)  # "" is not JSON here
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{source} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except InvalidJson as exc:
        raise InvalidInput(f"{source} is not valid JSON: {_reason_of(exc)}") from None


def _reason_of(exc: InvalidJson) -> str:
    text = str(exc)
    return text.removeprefix("JSON text refused: ")


def parse_input_convention(text: str, source: str = "--input") -> tuple[list, dict]:
    """Parse user-typed JSON into (args, kwargs), with a one-line error on malformed JSON."""
    return split_input_convention(parse_json(text, source))


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
