"""SWF naming rules, written once: attribute keys, activity ids and attempts, reserved prefixes.

Two copies of a rule drift (the local/SWF differences users hit came from copies), so every
module that builds or reads one of these names imports it from here.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

#: The longest id or name SWF accepts (workflowId, activityId, timerId, markerName, ...).
MAX_ID_LENGTH = 256
#: A jumbo-field reference starts with this (see jumbo.py); JSON never does.
JUMBO_PREFIX = "replayflow+s3://"
#: The engine's zero-second timer that carries a decision batch over 100 decisions onward.
CONTINUE_TIMER_PREFIX = "replayflow-continue-"
#: The engine's timer that waits before sending again a decision SWF refused for a limit or a rate.
BACKOFF_TIMER_PREFIX = "replayflow-backoff-"
#: The most a jumbo-field reference can take in a JSON request: the scheme, a bucket name (63), a
#: key (1,024 bytes of UTF-8, each written as at most 3 JSON characters), the size, the quotes.
MAX_REFERENCE_JSON = 3_300
#: A saga's compensation task is `compensate-<id of the task it undoes>`; an undo step added
#: with `saga.add` is `compensate-step-<its type name>-<n>` (task ids never start with `step-`).
COMPENSATION_PREFIX = "compensate-"
_COMPENSATION_STEP_PREFIX = COMPENSATION_PREFIX + "step-"
#: What `compensated_task` answers for an undo step added with `saga.add`.
COMPENSATION_STEP = "saga.add"
#: The workflow id of the coordinator of latch or semaphore `name` is this prefix + name (SWF
#: forbids ':' in workflow ids, so not "replayflow-sync:<name>"); see sync.py.
SYNC_COORDINATOR_PREFIX = "replayflow-sync."
#: The launchers that start coordinators (sync.py) have ids that start with this.
SYNC_LAUNCHER_PREFIX = "replayflow-sync-start."


@lru_cache(maxsize=256)
def attributes_key(event_type: str) -> str:
    """`ActivityTaskCompleted` -> `activityTaskCompletedEventAttributes`."""
    return event_type[0].lower() + event_type[1:] + "EventAttributes"


@lru_cache(maxsize=64)
def decision_attributes_key(decision_type: str) -> str:
    """`ScheduleActivityTask` -> `scheduleActivityTaskDecisionAttributes`."""
    return decision_type[0].lower() + decision_type[1:] + "DecisionAttributes"


def fit_id(base: str, suffix: str = "") -> str:
    """`base + suffix`, or, over SWF's 256 characters, its start, a digest of the whole (so it
    stays unique) and the suffix (an attempt number, at most 13 characters, stays readable)."""
    full = base + suffix
    if len(full) <= MAX_ID_LENGTH:
        return full
    digest = hashlib.sha1(full.encode()).hexdigest()[:12]
    return f"{full[:230]}~{digest}{suffix}"


def activity_id(task_id: str, attempt: int) -> str:
    """`<task_id>#<attempt>`: one activity id per attempt (SWF, and moto, refuse to reuse one).

    An id over SWF's 256 characters keeps its start and a digest of the whole, so it stays unique.
    """
    return fit_id(task_id, f"#{attempt}")


def compensation_id(task_id: str) -> str:
    """The task id of the compensation that undoes task `task_id`."""
    return COMPENSATION_PREFIX + task_id


def compensation_step_prefix(name: str) -> str:
    """The task id prefix (before `-<n>`) of `saga.add` undo steps of type `name`."""
    return _COMPENSATION_STEP_PREFIX + name


def compensated_task(task_id: str | None) -> str | None:
    """The id of the task that compensation task `task_id` undoes, `saga.add` for an undo step,
    or None when `task_id` is not a compensation."""
    if not task_id or not task_id.startswith(COMPENSATION_PREFIX):
        return None
    if task_id.startswith(_COMPENSATION_STEP_PREFIX):
        return COMPENSATION_STEP
    return task_id[len(COMPENSATION_PREFIX):]


def split_activity_id(activity_id: str) -> tuple[str, int]:
    """`<task_id>#<attempt>` -> (task_id, attempt); an id without a numeric suffix is attempt 1."""
    task_id, sep, attempt = activity_id.rpartition("#")
    if sep and attempt.isdigit():
        return task_id, int(attempt)
    return activity_id, 1


__all__ = [
    "BACKOFF_TIMER_PREFIX",
    "COMPENSATION_PREFIX",
    "COMPENSATION_STEP",
    "CONTINUE_TIMER_PREFIX",
    "JUMBO_PREFIX",
    "MAX_ID_LENGTH",
    "MAX_REFERENCE_JSON",
    "SYNC_COORDINATOR_PREFIX",
    "SYNC_LAUNCHER_PREFIX",
    "activity_id",
    "attributes_key",
    "compensated_task",
    "compensation_id",
    "compensation_step_prefix",
    "decision_attributes_key",
    "fit_id",
    "split_activity_id",
]
