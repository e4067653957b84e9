"""What `Workflow.on_task_failure` may answer when a task has failed after its retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import check_seconds


@dataclass(frozen=True)
class TaskFailure:
    """What the hook is told: which task failed, how, and on which attempt."""

    task_id: str
    name: str
    attempt: int
    error: Exception


@dataclass(frozen=True)
class RetryNow:
    """Schedule another attempt at once."""


@dataclass(frozen=True)
class RetryAfter:
    """Schedule another attempt after a durable timer of `seconds` (a fraction rounds up to the
    next whole second, as every SWF timer does)."""

    seconds: float

    def __post_init__(self) -> None:
        check_seconds("RetryAfter seconds", self.seconds, zero_ok=True)


@dataclass(frozen=True)
class Ignore:
    """Treat the task as finished with `result` (None by default)."""

    result: Any = None


@dataclass(frozen=True)
class FailWorkflow:
    """Fail the whole workflow now, with this reason (or the task's own)."""

    reason: str | None = None


Policy = RetryNow | RetryAfter | Ignore | FailWorkflow | None

__all__ = ["TaskFailure", "RetryNow", "RetryAfter", "Ignore", "FailWorkflow", "Policy"]
