"""Activities: plain functions that a workflow schedules and a worker runs.

`@activity.with_attributes(...)` records how SWF should schedule the function (task list, version,
timeouts, retries). A plain undecorated function can be submitted too, with the defaults. An
activity's SWF type name is `module.qualname`, which is also how a worker finds the code again.
Inside a running activity, `activity.context()` tells it which workflow and attempt it serves.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ActivityNotFound

DEFAULT_TASK_LIST = "default"
DEFAULT_VERSION = "1"


def _timeout(value: float | int | None) -> str:
    """SWF timeouts are strings of whole seconds, or NONE. A fraction is rounded up: a limit
    shorter than asked for would fail work that keeps within it."""
    if value is None:
        return "NONE"
    return str(max(0, math.ceil(value)))


def _check_timeouts(**timeouts: float | int | None) -> None:
    for option, value in timeouts.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"{option} must be a number of seconds above 0, or None for no "
                             f"limit; got {value!r}")


@dataclass(eq=False)
class Activity:
    """A function plus the attributes SWF needs to schedule it."""

    func: Callable[..., Any]
    name: str
    version: str = DEFAULT_VERSION
    task_list: str = DEFAULT_TASK_LIST
    retry: int = 0
    start_to_close_timeout: float | None = 3600
    schedule_to_start_timeout: float | None = None
    schedule_to_close_timeout: float | None = None
    heartbeat_timeout: float | None = None
    raises_on_failure: bool = True
    idempotent: bool = False
    priority: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        functools.update_wrapper(self, self.func)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Activity {self.name} v{self.version} on {self.task_list!r}>"

    @functools.cached_property
    def id_prefix(self) -> str:
        """Task ids of this activity are `<id_prefix>-<n>`."""
        return f"activity-{self.name}"

    @functools.cached_property
    def decision_base(self) -> dict[str, Any]:
        """The ScheduleActivityTask attributes every call shares (never mutated: copy it)."""
        return {
            "activityType": {"name": self.name, "version": self.version},
            "taskList": {"name": self.task_list},
            **self.timeouts,
        }

    @functools.cached_property
    def timeouts(self) -> dict[str, str]:
        """The four SWF timeouts, as ScheduleActivityTask decision attributes."""
        return {
            "scheduleToCloseTimeout": _timeout(self.schedule_to_close_timeout),
            "scheduleToStartTimeout": _timeout(self.schedule_to_start_timeout),
            "startToCloseTimeout": _timeout(self.start_to_close_timeout),
            "heartbeatTimeout": _timeout(self.heartbeat_timeout),
        }


def function_name(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def with_attributes(
    name: str | None = None,
    *,
    task_list: str = DEFAULT_TASK_LIST,
    version: str = DEFAULT_VERSION,
    retry: int = 0,
    start_to_close_timeout: float | None = 3600,
    schedule_to_start_timeout: float | None = None,
    schedule_to_close_timeout: float | None = None,
    heartbeat_timeout: float | None = None,
    raises_on_failure: bool = True,
    idempotent: bool = False,
    priority: int | None = None,
) -> Callable[[Callable[..., Any]], Activity]:
    """Declare a function as an activity.

    `retry=N` retries a failed or timed-out attempt up to N more times. `idempotent=True` derives
    the task id from the input, so an identical call in one workflow runs once.
    `raises_on_failure=False` makes a failed future's `.result` return None (`.exception` keeps
    the failure). Timeouts are in seconds; None means no limit.
    """
    if callable(name):  # used bare: @activity.with_attributes
        return with_attributes()(name)  # type: ignore[return-value]
    if retry < 0:
        raise ValueError("retry must be >= 0")
    _check_timeouts(start_to_close_timeout=start_to_close_timeout,
                    schedule_to_start_timeout=schedule_to_start_timeout,
                    schedule_to_close_timeout=schedule_to_close_timeout,
                    heartbeat_timeout=heartbeat_timeout)

    def decorate(func: Callable[..., Any]) -> Activity:
        if isinstance(func, Activity):
            func = func.func
        return Activity(
            func=func,
            name=name or function_name(func),
            version=str(version),
            task_list=task_list,
            retry=retry,
            start_to_close_timeout=start_to_close_timeout,
            schedule_to_start_timeout=schedule_to_start_timeout,
            schedule_to_close_timeout=schedule_to_close_timeout,
            heartbeat_timeout=heartbeat_timeout,
            raises_on_failure=raises_on_failure,
            idempotent=idempotent,
            priority=priority,
        )

    return decorate


_plain_cache: dict[Callable[..., Any], Activity] = {}


def as_activity(obj: Any) -> Activity:
    """The Activity for a decorated or plain function (plain ones get the defaults)."""
    if isinstance(obj, Activity):
        return obj
    if not callable(obj):
        raise TypeError(f"cannot submit {obj!r}: not a function, activity or workflow class")
    try:
        return _plain_cache[obj]
    except (KeyError, TypeError):
        act = Activity(func=obj, name=function_name(obj))
        try:
            _plain_cache[obj] = act
        except TypeError:
            pass
        return act


_found: dict[str, Activity] = {}


def find_activity(name: str) -> Activity:
    """Resolve an activity type name (`module.qualname`) back to its Activity, by import."""
    found = _found.get(name)
    if found is None:
        found = _found[name] = _import_activity(name)
    return found


def _import_activity(name: str) -> Activity:
    candidates = []
    # Try the longest module prefix first, so `pkg.mod.Class.method` works too.
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        candidates.append((".".join(parts[:i]), parts[i:]))
    last_error: Exception | None = None
    for module_name, attrs in candidates:
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            last_error = exc
            continue
        try:
            for attr in attrs:
                obj = getattr(obj, attr)
        except AttributeError as exc:
            last_error = exc
            continue
        return as_activity(obj)
    raise ActivityNotFound(
        f"activity {name!r} cannot be imported ({last_error}); is its module on the worker's "
        "PYTHONPATH?"
    )


@dataclass
class ActivityContext:
    """What a running activity may know about itself. `heartbeat()` also reports cancellation."""

    workflow_id: str | None = None
    run_id: str | None = None
    activity_id: str | None = None
    task_id: str | None = None
    attempt: int = 1
    task_token: str | None = None
    task_list: str | None = None
    cancel_requested: bool = False
    _heartbeat: Callable[[str | None], bool] | None = None

    def heartbeat(self, details: str | None = None) -> bool:
        """Tell SWF this activity is alive; returns True once cancellation was requested."""
        if self._heartbeat is not None:
            if self._heartbeat(details):
                self.cancel_requested = True
        return self.cancel_requested


_context: contextvars.ContextVar[ActivityContext | None] = contextvars.ContextVar(
    "replayflow_activity_context", default=None
)


def context() -> ActivityContext:
    """The context of the activity running in this thread or process."""
    ctx = _context.get()
    if ctx is None:
        raise RuntimeError("activity.context() is only available inside a running activity")
    return ctx


def set_context(ctx: ActivityContext | None) -> contextvars.Token:
    return _context.set(ctx)


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)
