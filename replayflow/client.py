"""Starting workflows on SWF and waiting for them: the API `workflow.start` and `standalone` share.

Starting registers first (registration.py), idempotently, so neither the first start nor the
first decision pays a round trip for a type SWF has never seen. Waiting is cheap: a small
DescribeWorkflowExecution call with backoff, then one history read (newest event first) for the
close event. Printing is the CLI's (cli/workflow.py); child processes are standalone.py's.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import encoding, jumbo
from .errors import (
    ConfigurationError,
    EndpointUnreachable,
    ReplayflowError,
    ServiceUnavailable,
    UserError,
    WaitAbandoned,
    WaitTimedOut,
)
from .history import CLOSE_STATUS
from .progress import Summary
from .registration import register_workflow

log = logging.getLogger(__name__)

MAX_WORKFLOW_ID = 256
#: Wait backoff: first check soon (short workflows end fast), then settle at one call a second.
#: Growing 6 % a call, the close is seen at most ~6 % of the elapsed time late (3 % on average).
WAIT_FIRST_DELAY = 0.02
WAIT_MAX_DELAY = 1.0
WAIT_FACTOR = 1.06
#: The longest wait between two calls once a run has taken a minute.
WAIT_LONG_RUN_DELAY = 5.0
#: How long a wait keeps trying through an outage (SWF unreachable, or answering 5xx) before it
#: gives up; REPLAYFLOW_WAIT_OUTAGE (seconds) overrides it. Within it, tries back off from 1 s
#: to 15 s apart.
WAIT_OUTAGE = 300.0
WAIT_OUTAGE_ENV = "REPLAYFLOW_WAIT_OUTAGE"
OUTAGE_FIRST_DELAY = 1.0
OUTAGE_MAX_DELAY = 15.0
#: What an outage looks like from here: worth waiting out, unlike a missing run or bad input.
TRANSIENT_ERRORS = (EndpointUnreachable, ServiceUnavailable)


@dataclass
class WorkflowOutcome:
    """How a run ended: its status, result (COMPLETED) or reason/details (anything else)."""

    workflow_id: str
    run_id: str
    status: str
    result: Any = None
    reason: str | None = None
    details: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"


# --------------------------------------------------------------------------------------------
# starting
# --------------------------------------------------------------------------------------------


def resolve_domain(domain: str | None) -> str:
    """--domain, else SWF_DOMAIN, else a one-line error saying how to give one."""
    domain = domain or os.environ.get("SWF_DOMAIN", "").strip() or None
    if not domain:
        raise UserError("No SWF domain given: pass --domain D or set SWF_DOMAIN")
    return domain


def default_workflow_id(workflow_cls: type) -> str:
    """`<type name>-<UTC timestamp>-<random>`: readable, sortable, unique within one second."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = uuid.uuid4().hex[:10]
    tail = f"-{stamp}-{suffix}"
    return workflow_cls.type_name()[: MAX_WORKFLOW_ID - len(tail)] + tail


def start_execution(
    backend: Any,
    workflow_cls: type,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    workflow_id: str | None = None,
    task_list: str | None = None,
    execution_timeout: int | None = None,
    tags: Sequence[str] | None = None,
    register: bool = True,
) -> tuple[str, str]:
    """Register (idempotent), then StartWorkflowExecution; returns (workflow_id, run_id).

    The input is jumbo-encoded (too large without a bucket: PayloadTooLarge). The execution
    timeout is the option or the class's own, sent explicitly, never capped.
    """
    jumbo.check_config()  # a bad bucket/prefix is refused even when this input is small
    input_text = jumbo.encode_field(
        "input", encoding.encode_call(list(args), dict(kwargs or {})), encoding.MAX_INPUT
    )
    if register:
        backend.check_domain()
        register_workflow(backend, workflow_cls)
    workflow_id = workflow_id or default_workflow_id(workflow_cls)
    tag_list = list(tags) if tags else list(getattr(workflow_cls, "tags", ()) or ())
    run_id = backend.start_workflow_execution(
        workflow_id,
        workflow_cls.type_name(),
        workflow_cls.version,
        input=input_text,
        task_list=task_list or workflow_cls.task_list,
        execution_timeout=int(execution_timeout or workflow_cls.execution_timeout),
        decision_task_timeout=int(workflow_cls.decision_task_timeout),
        child_policy=workflow_cls.child_policy,
        tags=tag_list[:5] or None,
    )
    log.info("started %s run %s", workflow_id, run_id)
    return workflow_id, run_id


# --------------------------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------------------------


def _decode_json(text: str | None) -> Any:
    raw = jumbo.decode_field(text)
    try:
        return encoding.loads(raw)
    except ValueError:
        return raw


def outcome_from_event(workflow_id: str, run_id: str, event: dict[str, Any]) -> WorkflowOutcome:
    """Read a close event into a WorkflowOutcome (fields jumbo-decoded)."""
    event_type = event["eventType"]
    status = CLOSE_STATUS[event_type]
    attrs = event.get(event_type[0].lower() + event_type[1:] + "EventAttributes") or {}
    outcome = WorkflowOutcome(workflow_id, run_id, status)
    if status == "COMPLETED":
        outcome.result = _decode_json(attrs.get("result"))
        return outcome
    details = _decode_json(attrs.get("details")) if attrs.get("details") else None
    reason = attrs.get("reason") or attrs.get("cause")
    if status == "TIMED_OUT":
        reason = f"execution timed out ({attrs.get('timeoutType', 'START_TO_CLOSE')})"
    if isinstance(details, dict) and details.get("reason"):
        reason = details["reason"]
    outcome.reason = reason or status.lower()
    outcome.details = details
    if status == "CONTINUED_AS_NEW":
        outcome.details = {"newExecutionRunId": attrs.get("newExecutionRunId")}
    return outcome


def wait_outage_limit(environ: Mapping[str, str] | None = None) -> float:
    """Seconds of outage a wait rides out: REPLAYFLOW_WAIT_OUTAGE, else WAIT_OUTAGE."""
    raw = (os.environ if environ is None else environ).get(WAIT_OUTAGE_ENV, "").strip()
    if not raw:
        return WAIT_OUTAGE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigurationError(f"{WAIT_OUTAGE_ENV}={raw!r} is not a number of seconds; e.g. "
                                 "set it to 300")
    return value


def wait_for_close(
    backend: Any,
    workflow_id: str,
    run_id: str,
    timeout: float | None = None,
    *,
    check: Callable[[], None] | None = None,
    pause: Callable[[float], None] = time.sleep,
    on_progress: Callable[[Summary], None] | None = None,
    outage_limit: float | None = None,
) -> WorkflowOutcome:
    """Wait until the run closes (following continue-as-new) and return how it ended.

    DescribeWorkflowExecution, the delay growing 6 % a call (20 ms up to 1 s, up to 5 s once
    the run has taken a minute: SWF refills that call's budget slowly); one history read.
    `check` is called between calls and may raise to stop waiting (e.g. a child process died);
    `pause(seconds)` waits between calls and may return early (e.g. the decider said it closed);
    `on_progress` gets the run's progress summary (the decider's latest executionContext)
    whenever it changes: no extra call is made for it.

    An outage (SWF unreachable, 5xx answers) is ridden out with backoff for `outage_limit`
    seconds (default: `wait_outage_limit()`), with a warning when it starts and when it ends;
    past that, WaitAbandoned, saying how to follow the run, which goes on without us.
    """
    limit = wait_outage_limit() if outage_limit is None else outage_limit
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    delay = WAIT_FIRST_DELAY
    last_context = None
    outage_since: float | None = None
    outage_delay = OUTAGE_FIRST_DELAY
    while True:
        if check is not None:
            check()
        try:
            info = backend.describe_workflow_execution(workflow_id, run_id)
            event = None
            if info.get("executionInfo", {}).get("executionStatus") == "CLOSED":
                event = backend.close_event(workflow_id, run_id)
                if event is None:
                    raise ReplayflowError(
                        f"{workflow_id} ({run_id}) is closed but has no close event")
        except TRANSIENT_ERRORS as exc:
            now = time.monotonic()
            if outage_since is None:
                outage_since = now
                log.warning("lost contact with SWF while waiting for %s (%s); trying again for "
                            "up to %.0f s", workflow_id, exc, limit)
            if now - outage_since >= limit or (deadline is not None and now >= deadline):
                raise WaitAbandoned(
                    f"lost contact with SWF for {now - outage_since:.0f} s while waiting for "
                    f"{workflow_id} (run {run_id}): {exc}. The run goes on without us: follow "
                    f"it with `replayflow workflow.info --domain {backend.domain} {workflow_id} "
                    f"{run_id}`") from exc
            # A plain sleep: `pause` may return at once (a decider that already exited).
            time.sleep(min(outage_delay, max(0.0, outage_since + limit - now)))
            outage_delay = min(outage_delay * 2, OUTAGE_MAX_DELAY)
            continue
        if outage_since is not None:
            log.warning("in contact with SWF again after %.0f s; still waiting for %s",
                        time.monotonic() - outage_since, workflow_id)
            outage_since, outage_delay = None, OUTAGE_FIRST_DELAY
        context = info.get("latestExecutionContext")
        if on_progress is not None and context != last_context:
            last_context = context
            summary = Summary.from_json(context)
            if summary is not None:
                on_progress(summary)
        if event is not None:
            outcome = outcome_from_event(workflow_id, run_id, event)
            new_run = (outcome.details or {}).get("newExecutionRunId") if (
                outcome.status == "CONTINUED_AS_NEW") else None
            if not new_run:
                return outcome
            run_id = new_run
            delay = WAIT_FIRST_DELAY
            continue
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimedOut(f"{workflow_id} ({run_id}) still open after {timeout:g} s")
        pause(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
        longest = WAIT_MAX_DELAY if time.monotonic() - started < 60 else WAIT_LONG_RUN_DELAY
        delay = min(delay * WAIT_FACTOR, longest)


__all__ = [
    "WaitTimedOut",
    "WorkflowOutcome",
    "default_workflow_id",
    "outcome_from_event",
    "resolve_domain",
    "start_execution",
    "wait_for_close",
    "wait_outage_limit",
]
