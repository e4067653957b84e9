"""Running one activity task: the code path the SWF worker and `--local` share.

- `run_activity` calls the function (inside its middlewares) and turns whatever happens into an
  `Outcome`; it never raises.
- `report_outcome` sends that outcome to the service (SWF, or the in-process one), fitting each
  field to SWF's limits: a jumbo field when a bucket is configured, else a clear failure or a
  shortened traceback.
- `task_context` builds the ActivityContext fields of a polled task.

The SWF worker runs `run_activity` in a supervised child process and reports from the parent;
local mode runs both on its threads. Only the transport differs, so an activity succeeds, fails,
heartbeats and serialises its result the same way wherever it runs.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from . import encoding, jumbo
from .activity import Activity, ActivityContext, reset_context, set_context
from .errors import ReplayflowError
from .naming import split_activity_id

if TYPE_CHECKING:
    from .middleware import ActivityMiddleware

log = logging.getLogger(__name__)


class Outcome(NamedTuple):
    """How one attempt of an activity ended, in SWF's terms (fields are JSON text)."""

    kind: str  # "completed" or "failed"
    result: str | None = None
    reason: str | None = None
    details: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "completed"


def failure(reason: str, error_type: str) -> Outcome:
    """A failed Outcome for something that happened around the activity (a crash, a kill)."""
    details = {"type": error_type, "message": reason, "reason": reason}
    return Outcome("failed", None, encoding.truncate_reason(reason), encoding.dumps(details))


def _identity(text: str | None) -> str | None:
    return text


def run_activity(
    activity: Activity,
    input_text: str | None,
    ctx: ActivityContext,
    decode: Callable[[str | None], str | None] = _identity,
    middlewares: Sequence[ActivityMiddleware] = (),
) -> Outcome:
    """Call an activity with its recorded input; never raises (except KeyboardInterrupt).

    The reason fits SWF's 256 characters; the details keep the full text and the traceback.
    """
    token = set_context(ctx)
    try:
        try:
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
            reason, details = encoding.describe_exception(exc, _format_traceback())
            _notify(middlewares, "on_failure", ctx, exc)
            return Outcome("failed", None, reason, _dumps_details(details))
        try:
            result = encoding.dumps(value)
        except encoding.NotSerializable as exc:
            full = f"the result of {ctx.task_id or activity.name} is not JSON-serialisable: {exc}"
            _notify(middlewares, "on_failure", ctx, exc)
            return Outcome("failed", None, encoding.truncate_reason(full),
                           encoding.dumps({"type": "TypeError", "message": full, "reason": full}))
        if middlewares:
            _notify(middlewares, "after", ctx, value)
        return Outcome("completed", result)
    finally:
        reset_context(token)


def _format_traceback() -> str:
    try:
        return traceback.format_exc()
    except Exception:  # noqa: BLE001 - an exception whose __str__ raises breaks format_exc
        return "(the traceback could not be formatted)"


def _dumps_details(details: dict[str, Any]) -> str:
    try:
        return encoding.dumps(details)
    except encoding.NotSerializable:  # a message that is not text: keep what is
        return encoding.dumps({k: str(v) for k, v in details.items()})


def _notify(middlewares: Sequence[ActivityMiddleware], hook: str, *args: object) -> None:
    for middleware in middlewares:
        try:
            getattr(middleware, hook)(*args)
        except Exception:  # noqa: BLE001 - a broken middleware must not change the outcome
            log.exception("middleware %s.%s raised", type(middleware).__name__, hook)


def task_context(task: Mapping[str, Any], task_list: str | None) -> tuple[Any, ...]:
    """The ActivityContext fields of a polled activity task, in the order its constructor takes
    them (workflow_id, run_id, activity_id, task_id, attempt, task_token, task_list)."""
    activity_id = task["activityId"]
    execution = task["workflowExecution"]
    task_id, attempt = split_activity_id(activity_id)
    return (execution["workflowId"], execution["runId"], activity_id, task_id, attempt,
            task["taskToken"], task_list)


def report_outcome(backend: Any, task: Mapping[str, Any], outcome: Outcome,
                   cancelled: bool = False) -> str:
    """Report an outcome; returns what was reported ("completed", "failed", "canceled") or
    "unreported" when the service refused it (typically: the task had already timed out).

    A cancel request that the activity honoured (it ended without a result) is reported as
    canceled; one it ignored and finished anyway is reported completed, as Flow and Temporal do.
    """
    token = task["taskToken"]
    activity_id = task.get("activityId")
    kind = outcome.kind
    try:
        if cancelled and kind != "completed":
            details = fit_details(outcome.details)
            backend.respond_activity_task_canceled(token, details)
            kind = "canceled"
        elif kind == "completed":
            result = outcome.result
            if result is not None and len(result) > encoding.MAX_RESULT:
                try:
                    result = jumbo.encode_field("result", result, encoding.MAX_RESULT)
                except ReplayflowError as exc:
                    return report_outcome(backend, task, failure(
                        f"the result of {activity_id} cannot be sent: {exc}",
                        type(exc).__name__))
            backend.respond_activity_task_completed(token, result)
        else:
            backend.respond_activity_task_failed(token, outcome.reason,
                                                 fit_details(outcome.details))
    except ReplayflowError as exc:
        log.warning("activity %s: could not report %s: %s", activity_id, kind,
                    str(exc).splitlines()[0])
        return "unreported"
    if kind != "completed":  # a success is the common case: the LogDuration middleware logs it
        log.info("activity %s %s: %s", activity_id, kind, outcome.reason or "")
    return kind


def fit_details(text: str | None, limit: int = encoding.MAX_DETAILS) -> str | None:
    """Details over the limit go to S3; without a bucket, the traceback and message are cut
    (their ends say the most) until the JSON fits."""
    if text is None or len(text) <= limit:
        return text
    try:
        return jumbo.encode_field("details", text, limit)
    except ReplayflowError as exc:
        log.warning("failure details shortened to fit %d characters: %s", limit, exc)
    return encoding.shrink_details(text, limit)


__all__ = ["Outcome", "failure", "fit_details", "report_outcome", "run_activity", "task_context"]
