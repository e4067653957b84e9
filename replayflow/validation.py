"""What SWF would refuse in a decision, checked where the workflow code asks for it.

SWF (or botocore, before sending) rejects a whole decision task response for one empty timer id
or one timeout it cannot read, and a decider that learns it only then has lost the place where the
mistake was made. So `start_timer`, `record_marker`, `submit`, `signal` and
`@activity.with_attributes` check their arguments here: the error is raised inside `run()` (or at
declaration), where its traceback points at the call, and it fails a run the same way with
`--local` and on SWF. The rules are botocore's SWF model (lengths) and the SWF API reference
(characters): ids and names are 1 to 256 characters; an id, a type name or version and a task list
must not contain ':', '/', '|' or a control character, nor be the string "arn"; a duration is a
string of at most 8 digits; a priority is a Java int.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .naming import MAX_ID_LENGTH as MAX_NAME_LENGTH

MAX_VERSION_LENGTH = 64
MAX_RUN_ID_LENGTH = 64
#: SWF durations are strings of at most 8 digits.
MAX_SECONDS = 99_999_999
MIN_PRIORITY = -(2**31)
MAX_PRIORITY = 2**31 - 1
MAX_TAGS = 5
CHILD_POLICIES = ("TERMINATE", "REQUEST_CANCEL", "ABANDON")

# SWF's hard limits, which no support request raises. The engine keeps under them and MemorySwf
# enforces them, both from these numbers.
#: Open activities, open timers and open child executions, each, per execution.
MAX_OPEN = 1_000
#: SWF terminates an execution whose history reaches this many events (EVENT_LIMIT_EXCEEDED).
MAX_EVENTS = 25_000
#: Past this many events a history is worth shortening: AWS advises staying under it, and every
#: full replay reads the whole history.
HISTORY_WARNING_EVENTS = 10_000
#: The largest request SWF takes, a RespondDecisionTaskCompleted included.
MAX_REQUEST_BYTES = 1_000_000
#: Why SWF refused a ScheduleActivityTask, StartTimer or StartChildWorkflowExecution decision
#: when the same decision can succeed later: an open-item limit, or a creation rate.
RETRYABLE_SCHEDULE_CAUSES = frozenset({
    "OPEN_ACTIVITIES_LIMIT_EXCEEDED", "ACTIVITY_CREATION_RATE_EXCEEDED",
    "OPEN_TIMERS_LIMIT_EXCEEDED", "TIMER_CREATION_RATE_EXCEEDED",
    "OPEN_CHILDREN_LIMIT_EXCEEDED", "OPEN_WORKFLOWS_LIMIT_EXCEEDED",
    "CHILD_CREATION_RATE_EXCEEDED",
})

_FORBIDDEN = re.compile(r"[:/|\x00-\x1f\x7f-\x9f]")


def check_name(what: str, value: Any, *, identifier: bool = True,
               max_length: int = MAX_NAME_LENGTH) -> str:
    """`value` if SWF accepts it as `what` (a timer id, a marker name...); else ValueError.

    `identifier=False` checks only the length (SWF sets no character rule for marker and signal
    names).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__} ({value!r})")
    if not value:
        raise ValueError(f"{what} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{what} is {len(value)} characters, over SWF's limit of {max_length}: "
                         f"{value[:40]!r}…")
    if identifier:
        bad = _FORBIDDEN.search(value)
        if bad is not None:
            raise ValueError(f"{what} {value!r} contains {bad.group()!r}: SWF forbids ':', '/', "
                             "'|' and control characters in ids and names")
        if value == "arn":
            raise ValueError(f"{what} must not be the string 'arn' (SWF forbids it)")
    return value


def whole_seconds(value: float) -> int:
    """SWF counts time in whole seconds; a fraction rounds up, so a wait or a limit is never
    shorter than asked for (0.3 s waits 1 s; 0 stays 0). The one rounding rule of replayflow."""
    return math.ceil(value)


def check_seconds(what: str, value: Any, *, zero_ok: bool) -> int:
    """`value` as the whole seconds SWF will be sent (see whole_seconds), or ValueError.

    A duration must be a finite number, above 0 (or at least 0 with `zero_ok`), and fit SWF's
    8 digits.
    """
    low = "0 or more" if zero_ok else "above 0"
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not (value >= 0 if zero_ok else value > 0)):
        raise ValueError(f"{what} must be a number of seconds {low}; got {value!r}")
    if not math.isfinite(value) or whole_seconds(value) > MAX_SECONDS:
        raise ValueError(f"{what} must be at most {MAX_SECONDS:,} seconds (SWF's 8 digits); "
                         f"got {value!r}")
    return whole_seconds(value)


def check_retry(value: Any) -> int:
    """A retry count: a whole number >= 0 (`retry="3"` is refused, not compared as a string)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"retry must be >= 0 (a whole number of extra attempts); got {value!r}")
    return value


def check_priority(value: Any) -> int | None:
    """A task priority: None (no priority) or an int in SWF's range (a Java int)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"priority must be a whole number or None; got {value!r}")
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValueError(f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}; "
                         f"got {value}")
    return value


def check_open_limit(what: str, value: Any) -> int:
    """A workflow's own cap on open items (`max_open_activities`...): 1 to SWF's 1,000."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OPEN:
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_OPEN:,} (SWF's limit per "
                         f"execution, which cannot be raised); got {value!r}")
    return value


def check_child_options(options: dict[str, Any]) -> None:
    """The `__workflow_id`, `__task_list`, `__tags`, `__execution_timeout`, `__child_policy` and
    `__priority` of a child workflow submit."""
    if options.get("workflow_id") is not None:
        check_name("child workflow id (__workflow_id)", options["workflow_id"])
    if options.get("task_list") is not None:
        check_name("task list (__task_list)", options["task_list"])
    tags = options.get("tags")
    if tags is not None:
        if isinstance(tags, str) or not isinstance(tags, list | tuple):
            raise ValueError(f"__tags must be a list of strings; got {tags!r}")
        if len(tags) > MAX_TAGS:
            raise ValueError(f"__tags has {len(tags)} tags; SWF keeps at most {MAX_TAGS}")
        for tag in tags:
            check_name("a tag (__tags)", tag, identifier=False)
    if options.get("execution_timeout") is not None:
        check_seconds("__execution_timeout", options["execution_timeout"], zero_ok=False)
    policy = options.get("child_policy")
    if policy is not None and policy not in CHILD_POLICIES:
        raise ValueError(f"__child_policy must be one of {', '.join(CHILD_POLICIES)}; "
                         f"got {policy!r}")
    check_priority(options.get("priority"))


__all__ = [
    "HISTORY_WARNING_EVENTS",
    "MAX_EVENTS",
    "MAX_NAME_LENGTH",
    "MAX_OPEN",
    "MAX_REQUEST_BYTES",
    "MAX_SECONDS",
    "RETRYABLE_SCHEDULE_CAUSES",
    "check_child_options",
    "check_name",
    "check_open_limit",
    "check_priority",
    "check_retry",
    "check_seconds",
    "whole_seconds",
]
