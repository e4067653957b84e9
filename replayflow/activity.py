"""Activities: plain functions that a workflow schedules and a worker runs.

`@activity.with_attributes(...)` records how SWF should schedule the function (task list, version,
timeouts, retries) and declares it runnable: a worker runs only declared activities and the plain
functions of modules it was told to load (`ActivityRegistry`). An activity's SWF type name is
`module.qualname` unless named. Inside a running activity, `activity.context()` tells it which
workflow and attempt it serves.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .errors import ActivityNotFound
from .validation import (
    MAX_VERSION_LENGTH,
    check_name,
    check_priority,
    check_retry,
    check_seconds,
    whole_seconds,
)

log = logging.getLogger(__name__)

DEFAULT_TASK_LIST = "default"
DEFAULT_VERSION = "1"
#: SWF times out a started activity that has not heartbeated for this long, and a retry (or the
#: workflow's failure policy) takes over: a dead worker costs a minute, not the hour of the
#: start-to-close timeout. The worker heartbeats for every activity it runs at least three
#: times per heartbeat timeout (worker.py), so a live one never times out for want of a beat.
DEFAULT_HEARTBEAT_TIMEOUT = 60


class _NotGiven:
    """The default of `heartbeat_timeout`: DEFAULT_HEARTBEAT_TIMEOUT (None means no limit)."""

    def __repr__(self) -> str:
        return f"<default: {DEFAULT_HEARTBEAT_TIMEOUT} s>"


NOT_GIVEN: Any = _NotGiven()


def _timeout(value: float | int | None) -> str:
    """SWF timeouts are strings of whole seconds, or NONE. A fraction is rounded up: a limit
    shorter than asked for would fail work that keeps within it."""
    if value is None:
        return "NONE"
    return str(whole_seconds(value))


def _check_timeouts(**timeouts: float | int | None) -> None:
    for option, value in timeouts.items():
        if value is not None:
            try:
                check_seconds(option, value, zero_ok=False)
            except ValueError as exc:
                raise ValueError(f"{exc} (or None for no limit)") from None


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
    heartbeat_timeout: float | None = DEFAULT_HEARTBEAT_TIMEOUT
    raises_on_failure: bool = True
    idempotent: bool = False
    priority: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: Turns the JSON-decoded result into what `future.result` gives the workflow (shell
    #: commands: a ShellResult). Chosen by the workflow's code, never by the history.
    load_result: Callable[[Any], Any] | None = None

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
    heartbeat_timeout: float | None = NOT_GIVEN,
    raises_on_failure: bool = True,
    idempotent: bool = False,
    priority: int | None = None,
) -> Callable[[Callable[..., Any]], Activity]:
    """Declare a function as an activity.

    `retry=N` retries a failed or timed-out attempt up to N more times. `idempotent=True` derives
    the task id from the input, so an identical call in one workflow runs once.
    `raises_on_failure=False` makes a failed future's `.result` return None (`.exception` keeps
    the failure). Timeouts are in seconds; None means no limit. `heartbeat_timeout` defaults to
    DEFAULT_HEARTBEAT_TIMEOUT (60 s): the worker heartbeats for the activity, so only a dead
    worker misses it, and its task comes back (to a retry) within a minute.
    """
    if callable(name):  # used bare: @activity.with_attributes
        return with_attributes()(name)  # type: ignore[return-value]
    if heartbeat_timeout is NOT_GIVEN:
        heartbeat_timeout = DEFAULT_HEARTBEAT_TIMEOUT
    check_retry(retry)
    check_priority(priority)
    if name is not None:
        check_name("activity name", name)
    check_name("activity version", str(version), max_length=MAX_VERSION_LENGTH)
    check_name("activity task list", task_list)
    _check_timeouts(start_to_close_timeout=start_to_close_timeout,
                    schedule_to_start_timeout=schedule_to_start_timeout,
                    schedule_to_close_timeout=schedule_to_close_timeout,
                    heartbeat_timeout=heartbeat_timeout)

    def decorate(func: Callable[..., Any]) -> Activity:
        if isinstance(func, Activity):
            func = func.func
        if name is None:
            check_name("activity name", function_name(func))
        return _declare(Activity(
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
        ))

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


#: Every activity declared with `with_attributes` in this process, by SWF type name. What a
#: worker may run is decided from this table and the modules it was told to load, never by
#: importing a name that arrived in a task (see ActivityRegistry).
_declared: dict[str, Activity] = {}


def _declare(act: Activity) -> Activity:
    _declared[act.name] = act
    return act


def declared_activities() -> dict[str, Activity]:
    """A snapshot of the activities declared so far in this process, by type name."""
    return dict(_declared)


class ActivityRegistry:
    """The activity types a worker (or a local run, or `activity.rerun`) agrees to run.

    An activity task names its type, and anyone who can schedule tasks on a list can name any
    type. So a type is run only if it was declared with `@activity.with_attributes` by code this
    process loaded, or is a plain function defined in a module the operator named explicitly
    (`worker.start --module M`, the modules of the workflows given to `standalone`). Nothing is
    ever imported because a task named it: `os.system` is refused, not run.
    """

    def __init__(self, modules: Iterable[str] = ()) -> None:
        self.modules: list[str] = []
        importlib.import_module("replayflow.steps")  # replayflow's own activities (self.step)
        for name in modules:
            self.load(name)

    def load(self, module_name: str) -> ModuleType:
        """Import `module_name` (its declared activities register themselves) and allow its
        plain functions. Import errors propagate: the caller turns them into one line."""
        module = importlib.import_module(module_name)
        if module_name not in self.modules:
            self.modules.append(module_name)
        return module

    def add_loaded(self, module_name: str) -> None:
        """Allow the plain functions of a module that is already imported (a workflow's)."""
        if module_name in sys.modules and module_name not in self.modules:
            self.modules.append(module_name)

    def find(self, type_name: str) -> Activity:
        """The Activity to run for a task of `type_name`, or ActivityNotFound (nothing run)."""
        act = _declared.get(type_name)
        if act is not None:
            return act
        for module_name in sorted(self.modules, key=len, reverse=True):
            if not type_name.startswith(module_name + "."):
                continue
            obj: Any = sys.modules.get(module_name)
            for attr in type_name[len(module_name) + 1:].split("."):
                obj = getattr(obj, attr, None)
            # A function defined in that module (not one it imported from elsewhere).
            if inspect.isfunction(obj) and obj.__module__ == module_name:
                return as_activity(obj)
        loaded = ", ".join(self.modules) or "none"
        raise ActivityNotFound(
            f"activity type {type_name!r} is not registered on this worker; load its module "
            f"with --module (modules loaded: {loaded})")

    def __contains__(self, type_name: str) -> bool:
        try:
            self.find(type_name)
        except ActivityNotFound:
            return False
        return True


class ActivityContext:
    """What a running activity may know about itself. `heartbeat()` also reports cancellation.

    Built by the worker (and by local runs) for every task, so it is a plain slotted class:
    `heartbeat` is the service's RecordActivityTaskHeartbeat (called with this task's token),
    and `cancel_source` any object whose `cancel_requested` turns true when a cancel is
    requested without a heartbeat (the worker's own heartbeats, or a local run's service).
    `process_groups(pgid, adopted)` is how the SWF worker's child tells its supervising parent
    about the process groups the activity started (see `adopt_process_group`); None where
    nobody kills the activity from outside (local runs).
    """

    __slots__ = ("workflow_id", "run_id", "activity_id", "task_id", "attempt", "task_token",
                 "task_list", "_heartbeat", "_cancel_source", "_cancelled", "_process_groups")

    def __init__(self, workflow_id: str | None = None, run_id: str | None = None,
                 activity_id: str | None = None, task_id: str | None = None, attempt: int = 1,
                 task_token: str | None = None, task_list: str | None = None,
                 heartbeat: Callable[[Any, str | None], bool] | None = None,
                 cancel_source: Any = None,
                 process_groups: Callable[[int, bool], None] | None = None) -> None:
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.activity_id = activity_id
        self.task_id = task_id
        self.attempt = attempt
        self.task_token = task_token
        self.task_list = task_list
        self._heartbeat = heartbeat
        self._cancel_source = cancel_source
        self._cancelled = False
        self._process_groups = process_groups

    def __repr__(self) -> str:
        return f"<ActivityContext {self.activity_id} of {self.workflow_id}>"

    @property
    def cancel_requested(self) -> bool:
        """True once a cancel was requested for this task (or its run closed; in a local run,
        also once the task timed out: the activity's work is no longer wanted)."""
        if self._cancelled:
            return True
        source = self._cancel_source
        return source is not None and bool(source.cancel_requested)

    @cancel_requested.setter
    def cancel_requested(self, value: bool) -> None:
        self._cancelled = bool(value)

    def heartbeat(self, details: Any = None) -> bool:
        """Report progress; returns True once cancellation was requested.

        `details` is shown by operators (and kept by SWF in a heartbeat timeout's event): a
        string is sent as is, anything else as JSON; either is cut to SWF's 2,048 characters.
        The worker already heartbeats for every running activity, so call this for progress
        and to learn about cancellation, not to stay alive.
        """
        if self._heartbeat is not None:
            if self._heartbeat(self.task_token, heartbeat_details(details)):
                self._cancelled = True
        return self.cancel_requested

    def adopt_process_group(self, pgid: int) -> None:
        """Declare that process group `pgid` (a command started in its own session) belongs to
        this activity: a worker that kills the activity (start-to-close timeout, end of the
        grace period) kills that group too, which a SIGKILL of the activity's own process would
        not reach. `shell.run` does this for every command it starts."""
        if self._process_groups is not None:
            self._process_groups(pgid, True)

    def release_process_group(self, pgid: int) -> None:
        """The group is gone (or no longer this activity's): the worker forgets it."""
        if self._process_groups is not None:
            self._process_groups(pgid, False)


def heartbeat_details(details: Any) -> str | None:
    """Heartbeat details as SWF takes them: text of at most 2,048 characters (JSON if not str)."""
    from .encoding import MAX_HEARTBEAT_DETAILS, NotSerializable, dumps

    if details is None:
        return None
    if not isinstance(details, str):
        try:
            details = dumps(details)
        except NotSerializable as exc:
            raise TypeError(f"heartbeat details must be text or JSON-serialisable: {exc}") \
                from None
    if len(details) > MAX_HEARTBEAT_DETAILS:
        log.warning("heartbeat details cut to %d characters", MAX_HEARTBEAT_DETAILS)
        details = details[:MAX_HEARTBEAT_DETAILS]
    return details


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
