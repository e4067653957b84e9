"""The SWF service surface that the decider, the worker and the operator commands talk to.

Two implementations satisfy it: `swf.SwfBackend` (Amazon SWF through boto3) and
`memory.MemorySwf` (SWF in this process, for `--local` and tests). The decider and the worker
never know which one they have, so a local run goes through the very code an SWF run does.
A test checks that both implement every method with a compatible signature.

Shapes are boto3's: tasks and events are the dicts boto3 returns, fields are SWF's strings.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import ReplayflowError

Duration = int | str | None


def default_identity() -> str:
    """host:pid, the poller identity SWF records in the history (max 256 chars)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:256]


class ServiceError(ReplayflowError):
    """The service refused a request; `code` is SWF's fault name (e.g. ValidationException)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def error_code(exc: BaseException) -> str | None:
    """SWF's fault name behind an error from either service (None for other errors)."""
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    response = getattr(exc.__cause__, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


@runtime_checkable
class SwfService(Protocol):
    """What replayflow needs of SWF; every call raises a ReplayflowError on failure."""

    domain: str

    # -- domain and types
    def check_domain(self) -> dict[str, Any]: ...

    def register_workflow_type(
        self, name: str, version: str, task_list: str, execution_timeout: Duration,
        decision_task_timeout: Duration = 300, child_policy: str = "TERMINATE",
        description: str | None = None,
    ) -> bool: ...

    def register_activity_type(
        self, name: str, version: str, task_list: str, *,
        schedule_to_start_timeout: Duration = "NONE", start_to_close_timeout: Duration = "NONE",
        schedule_to_close_timeout: Duration = "NONE", heartbeat_timeout: Duration = "NONE",
        description: str | None = None,
    ) -> bool: ...

    # -- executions
    def start_workflow_execution(
        self, workflow_id: str, name: str, version: str, *, input: str | None = None,
        task_list: str | None = None, execution_timeout: Duration = None,
        decision_task_timeout: Duration = None, child_policy: str | None = None,
        tags: Sequence[str] | None = None, priority: int | None = None,
    ) -> str: ...

    def describe_workflow_execution(self, workflow_id: str,
                                    run_id: str | None = None) -> dict[str, Any]: ...

    def close_event(self, workflow_id: str, run_id: str) -> dict[str, Any] | None: ...

    def get_workflow_execution_history(
        self, workflow_id: str, run_id: str | None = None, *, reverse: bool = False,
        for_engine: bool = False,
    ) -> list[dict[str, Any]]: ...

    def list_executions(
        self, status: str = "open", since: dt.datetime | None = None,
        type_name: str | None = None, tag: str | None = None, *,
        workflow_id: str | None = None, type_version: str | None = None,
    ) -> list[dict[str, Any]]: ...

    def find_latest_run(self, workflow_id: str) -> dict[str, Any]: ...

    def terminate(self, workflow_id: str, run_id: str | None = None, *,
                  reason: str | None = None, details: str | None = None,
                  child_policy: str | None = None) -> None: ...

    def signal(self, workflow_id: str, signal_name: str, input: str | None = None,
               run_id: str | None = None) -> None: ...

    def request_cancel(self, workflow_id: str, run_id: str | None = None) -> None: ...

    # -- decision tasks
    def poll_for_decision_task(
        self, task_list: str, identity: str | None = None, *,
        start_at_previous_started_event: bool = False, for_engine: bool = False,
    ) -> dict[str, Any] | None: ...

    def respond_decision_task_completed(
        self, token: str, decisions: Sequence[Mapping[str, Any]], *,
        execution_context: str | None = None, task_list: str | None = None,
        schedule_to_start_timeout: Duration = None,
    ) -> None: ...

    # -- activity tasks
    def poll_for_activity_task(self, task_list: str,
                               identity: str | None = None) -> dict[str, Any] | None: ...

    def respond_activity_task_completed(self, token: str, result: str | None = None) -> None: ...

    def respond_activity_task_failed(self, token: str, reason: str | None = None,
                                     details: str | None = None) -> None: ...

    def respond_activity_task_canceled(self, token: str, details: str | None = None) -> None: ...

    def record_activity_task_heartbeat(self, token: str, details: str | None = None) -> bool: ...


__all__ = ["Duration", "ServiceError", "SwfService", "default_identity", "error_code"]
