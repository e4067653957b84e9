"""Activities for the worker tests: each one misbehaves in exactly one way.

Imported by the worker (in-process or as a subprocess) through the type name
`support.activities.<name>`, so tests/ must be on the worker's PYTHONPATH.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import signal
import time
from pathlib import Path

from replayflow import activity


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def add(a: int, b: int) -> int:
    return a + b


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def whoami() -> dict:
    """Everything the activity context tells the activity about itself."""
    ctx = activity.context()
    return {
        "workflow_id": ctx.workflow_id,
        "run_id": ctx.run_id,
        "activity_id": ctx.activity_id,
        "task_id": ctx.task_id,
        "attempt": ctx.attempt,
        "task_token_set": bool(ctx.task_token),
        "task_list": ctx.task_list,
        "pid": os.getpid(),
    }


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def boom(message: str) -> None:
    raise ValueError(message)


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def segfault() -> None:
    # The crash is the point; the "Fatal Python error" dump that faulthandler (which pytest
    # enables, and the forked child inherits) would print for it is noise in the test output.
    faulthandler.disable()
    ctypes.string_at(0)


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def hard_exit(code: int) -> None:
    os._exit(code)


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def self_kill() -> None:
    """What the OOM killer does to a process."""
    os.kill(os.getpid(), signal.SIGKILL)


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=1)
def overrun(seconds: float) -> str:
    time.sleep(seconds)
    return "finished"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30, heartbeat_timeout=3)
def slow_quiet(seconds: float) -> str:
    """Never heartbeats itself: only the worker's heartbeats keep it alive on SWF."""
    time.sleep(seconds)
    return "done"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=60, heartbeat_timeout=2)
def wait_for_file(path: str, details: str = "") -> str:
    """Heartbeat `details`, then run until `path` exists (a test's way to hold an activity)."""
    if details:
        activity.context().heartbeat(details)
    marker = Path(path)
    marker.with_suffix(".started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 50
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def sleep_then(seconds: float, path: str = "") -> str:
    if path:
        Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return "slept"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def until_cancelled(path: str = "") -> str:
    """Heartbeat until cancellation is requested, then raise (the cancellation path)."""
    if path:
        Path(path).write_text(str(os.getpid()))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if activity.context().heartbeat("still here"):
            raise RuntimeError("cancelled as asked")
        time.sleep(0.05)
    return "never cancelled"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def huge(size: int) -> str:
    return "x" * size


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def not_json() -> object:
    return object()


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def watch_cancel() -> str:
    """Never heartbeats: sees cancellation only through the flag the worker's heartbeats set."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if activity.context().cancel_requested:
            raise RuntimeError("saw the cancel request")
        time.sleep(0.02)
    return "never cancelled"


@activity.with_attributes(task_list="worker-tests", start_to_close_timeout=30)
def long_heartbeat(size: int) -> str:
    activity.context().heartbeat("h" * size)
    return "ok"
