"""Calling one activity: the code path shared by `--local` and the SWF worker's child process.

Both backends call `run_activity`, so an activity fails, succeeds and serialises its result the
same way wherever it runs; only the transport of the outcome differs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from . import encoding
from .activity import ActivityContext, find_activity, reset_context, set_context

if TYPE_CHECKING:
    from .middleware import ActivityMiddleware

log = logging.getLogger(__name__)

#: ("completed", result_json) or ("failed", reason, details_json)
Outcome = tuple


def _identity(text: str | None) -> str | None:
    return text


def run_activity(
    type_name: str,
    input_text: str | None,
    ctx: ActivityContext,
    decode: Callable[[str | None], str | None] = _identity,
    middlewares: Sequence[ActivityMiddleware] = (),
) -> Outcome:
    """Import and call an activity by type name; never raises (except KeyboardInterrupt).

    Returns ("completed", result_json) or ("failed", reason, details_json): reason fits SWF's
    256 characters, details keep the full text and the traceback.
    """
    token = set_context(ctx)
    try:
        try:
            activity = find_activity(type_name)
            value = encoding.loads(decode(input_text))
            if not (type(value) is dict and len(value) == 2  # the convention every backend writes
                    and type(args := value.get("args")) is list
                    and type(kwargs := value.get("kwargs")) is dict):
                args, kwargs = encoding.split_input_convention(value)
            for middleware in middlewares:
                middleware.before(ctx)
            value = activity.func(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is lost
            if isinstance(exc, KeyboardInterrupt):
                raise
            reason, details = encoding.describe_exception(exc, traceback.format_exc())
            _notify(middlewares, "on_failure", ctx, exc)
            return ("failed", reason, encoding.dumps(details))
        try:
            result = encoding.dumps(value)
        except encoding.NotSerializable as exc:
            full = f"the result of {ctx.task_id or type_name} is not JSON-serialisable: {exc}"
            _notify(middlewares, "on_failure", ctx, exc)
            return ("failed", encoding.truncate_reason(full),
                    encoding.dumps({"type": "TypeError", "message": full, "reason": full}))
        if middlewares:
            _notify(middlewares, "after", ctx, value)
        return ("completed", result)
    finally:
        reset_context(token)


def _notify(middlewares: Sequence[ActivityMiddleware], hook: str, *args: object) -> None:
    for middleware in middlewares:
        try:
            getattr(middleware, hook)(*args)
        except Exception:  # noqa: BLE001 - a broken middleware must not change the outcome
            log.exception("middleware %s.%s raised", type(middleware).__name__, hook)


__all__ = ["Outcome", "run_activity"]
