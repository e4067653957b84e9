"""What an operator does to runs: find them, read their history, and act on them.

The CLI's operator commands are thin wrappers over these functions. A history comes either from
SWF (domain + workflow id, newest run when no run id is given, closed runs included) or from a file
written by `workflow.start --local --history-file`, so SWF runs and local runs are inspected the
same way. Jumbo fields are resolved through `replayflow.jumbo.decode_field`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import encoding
from .errors import ExecutionNotFound, JumboFieldError, UserError
from .history import attributes, load_history_file
from .inspection import (
    CLOSE_STATUS,
    execution_info,
    split_activity_id,
    task_detail,
    task_rows,
)

if TYPE_CHECKING:  # boto3 is slow to import; history files need none of it
    from .backends.swf import SwfBackend

log = logging.getLogger(__name__)

Decode = Callable[[str | None], str | None]

#: Attributes that may hold a jumbo-field reference (reason never does: it is split instead).
JUMBO_ATTRIBUTES = ("input", "result", "details", "control")


# --------------------------------------------------------------------------------------------
# histories
# --------------------------------------------------------------------------------------------


@dataclass
class RunHistory:
    """One run's events (boto3 shape) and who it is; `source` is "swf" or the file's path."""

    events: list[dict]
    workflow_execution: dict[str, Any] = field(default_factory=dict)
    workflow_type: dict[str, Any] = field(default_factory=dict)
    domain: str | None = None
    source: str = "swf"
    #: The run's tags when its start event lacks them (moto never records tagList there).
    tags: list[str] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return not self.events or self.events[-1]["eventType"] not in CLOSE_STATUS

    @property
    def started_attributes(self) -> dict[str, Any]:
        """The WorkflowExecutionStarted attributes: the run's type, input, task list, tags."""
        for event in self.events:
            if event["eventType"] == "WorkflowExecutionStarted":
                return attributes(event)
        return {}

    def now(self) -> dt.datetime | None:
        """The end of an open run's window: now for a live SWF run; a file is a snapshot."""
        if self.source == "swf" and self.is_open:
            return dt.datetime.now(dt.UTC)
        return None


def make_decoder(raw: bool = False, strict: bool = False) -> Decode:
    """The decode callable for inspection: jumbo references resolved unless `raw`.

    Not `strict`: an unreadable reference is shown as is, with a warning on stderr, so one lost
    S3 object does not hide the rest of a run from the operator.
    """
    if raw:
        return lambda text: text
    from .jumbo import decode_field

    if strict:
        return decode_field

    def tolerant(text: str | None) -> str | None:
        try:
            return decode_field(text)
        except JumboFieldError as exc:
            log.warning("%s; showing the reference instead", exc)
            return text

    return tolerant


def backend_for(domain: str | None) -> SwfBackend:
    """An SwfBackend on `domain`, or a one-line error saying how to give one."""
    if not domain:
        raise UserError("no SWF domain given: pass --domain D or set SWF_DOMAIN")
    from .backends.swf import SwfBackend

    return SwfBackend(domain)


def fetch_history(backend: SwfBackend, workflow_id: str, run_id: str | None = None) -> RunHistory:
    """Every event of a run on SWF; without `run_id`, of the newest run, closed ones included."""
    listed: Mapping[str, Any] | None = None
    if not run_id:
        listed = backend.find_latest_run(workflow_id)
        run_id = listed["execution"]["runId"]
    events = backend.get_workflow_execution_history(workflow_id, run_id)
    if not events:
        raise ExecutionNotFound(
            f"No history for workflow id {workflow_id!r} run {run_id} in domain "
            f"{backend.domain!r}"
        )
    started = next((attributes(e) for e in events
                    if e["eventType"] == "WorkflowExecutionStarted"), {})
    tags = list(started.get("tagList") or [])
    if not tags:
        if listed is None:
            listed = backend.describe_workflow_execution(workflow_id, run_id).get(
                "executionInfo", {})
        tags = list(listed.get("tagList") or [])
    return RunHistory(events, {"workflowId": workflow_id, "runId": run_id},
                      dict(started.get("workflowType") or {}), backend.domain, "swf", tags)


def run_info(history: RunHistory, decode: Decode | None = None) -> dict[str, Any]:
    """`inspection.execution_info` of the run, with its tags even where moto left them out."""
    info = execution_info(history.events, decode or make_decoder(),
                          workflow_execution=history.workflow_execution, now=history.now())
    if not info["tags"] and history.tags:
        info["tags"] = list(history.tags)
    return info


def read_history_file(path: str) -> RunHistory:
    """A history file (from `workflow.start --local --history-file`, or a saved SWF history)."""
    loaded = load_history_file(path)
    if not loaded.events:
        raise UserError(f"history file {path} holds no events")
    return RunHistory(loaded.events, dict(loaded.workflow_execution),
                      dict(loaded.workflow_type), loaded.domain, str(path))


def load_history(*, domain: str | None = None, workflow_id: str | None = None,
                 run_id: str | None = None, history_file: str | None = None) -> RunHistory:
    """A run's history from `history_file`, or from SWF (`domain` + `workflow_id` [+ `run_id`])."""
    if history_file:
        if workflow_id or run_id:
            raise UserError("give either --history-file or WORKFLOW_ID [RUN_ID], not both")
        return read_history_file(history_file)
    if not workflow_id:
        raise UserError("give WORKFLOW_ID [RUN_ID] (with --domain or SWF_DOMAIN), "
                        "or --history-file FILE")
    return fetch_history(backend_for(domain), workflow_id, run_id)


def decoded_events(events: Sequence[Mapping[str, Any]], decode: Decode) -> list[dict]:
    """Copies of the events with their jumbo-capable attributes resolved through `decode`."""
    out = []
    for event in events:
        event = dict(event)
        key = event["eventType"][0].lower() + event["eventType"][1:] + "EventAttributes"
        attrs = event.get(key)
        if isinstance(attrs, dict):
            attrs = dict(attrs)
            for name in JUMBO_ATTRIBUTES:
                if isinstance(attrs.get(name), str):
                    attrs[name] = decode(attrs[name])
            event[key] = attrs
        out.append(event)
    return out


# --------------------------------------------------------------------------------------------
# listing
# --------------------------------------------------------------------------------------------

_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """`30m`, `1h`, `2d`, `1w` (ago) or an ISO 8601 date/time (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    match = _SINCE.match(text)
    if match:
        return now - dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[
            match.group(2).lower()])
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"--since {text!r} is neither a duration (30m, 1h, 2d, 1w) nor an ISO date "
            "(2024-11-25 or 2024-11-25T10:00:00)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def execution_row(info: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """One ListOpen/ListClosed execution info as a list row (duration in seconds)."""
    started = info.get("startTimestamp")
    closed = info.get("closeTimestamp")
    is_open = info.get("executionStatus") == "OPEN"
    status = "OPEN" if is_open else info.get("closeStatus") or info.get("executionStatus")
    end = (now or dt.datetime.now(dt.UTC)) if is_open else closed
    duration = None
    if isinstance(started, dt.datetime) and isinstance(end, dt.datetime):
        duration = round(max((end - started).total_seconds(), 0.0), 3)
    return {
        "workflow_id": info["execution"]["workflowId"],
        "run_id": info["execution"]["runId"],
        "type": info.get("workflowType", {}).get("name"),
        "version": info.get("workflowType", {}).get("version"),
        "status": status,
        "started": started,
        "closed": closed,
        "duration": duration,
        "tags": list(info.get("tagList") or []),
    }


#: `--status` values: which lists to read, and the close statuses to keep.
LIST_STATUSES = ("open", "closed", "all") + tuple(
    status.lower() for status in CLOSE_STATUS.values())


def list_runs(backend: SwfBackend, status: str = "open", since: dt.datetime | None = None,
              type_name: str | None = None, tag: str | None = None, *,
              workflow_id_prefix: str | None = None,
              limit: int | None = None) -> list[dict[str, Any]]:
    """Executions of the domain as rows, newest first (filters re-applied client-side).

    `status` is open, closed, all, or one close status (completed, failed, canceled,
    terminated, timed_out, continued_as_new). SWF takes only one filter per list call, so the
    close status, the id prefix and `limit` are applied here, after the newest-first sort.
    """
    status = status.lower()
    if status not in LIST_STATUSES:
        raise UserError(f"unknown --status {status!r}: use one of {', '.join(LIST_STATUSES)}")
    close_status = status.upper() if status not in ("open", "closed", "all") else None
    now = dt.datetime.now(dt.UTC)
    infos = backend.list_executions("closed" if close_status else status, since, type_name, tag)
    rows = []
    for info in infos:
        if close_status and info.get("closeStatus") != close_status:
            continue
        if workflow_id_prefix and not info["execution"]["workflowId"].startswith(
                workflow_id_prefix):
            continue
        rows.append(execution_row(info, now))
        if limit is not None and len(rows) >= limit:
            break
    return rows


# --------------------------------------------------------------------------------------------
# one task
# --------------------------------------------------------------------------------------------


def task_info(history: RunHistory, task_id: str, decode: Decode | None = None) -> dict[str, Any]:
    """`inspection.task_detail` of one task of the run, or a one-line error naming known ids."""
    detail = task_detail(history.events, task_id, decode or make_decoder(), now=history.now())
    if detail is not None:
        return detail
    known = [row.task_id for row in task_rows(history.events)]
    hint = f"; its tasks: {', '.join(known[:5])}" if known else "; it has no task"
    if len(known) > 5:
        hint += f" (+{len(known) - 5} more, see workflow.tasks)"
    raise UserError(f"no task {task_id!r} in this run{hint}")


# --------------------------------------------------------------------------------------------
# the workflows a deployment knows
# --------------------------------------------------------------------------------------------


def discover_workflows(modules: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The Workflow classes defined in `modules` (packages: with their submodules).

    Without modules, the Python files and packages of the current directory whose source
    declares a class deriving from a `Workflow` are imported (found by parsing, not importing,
    so an unrelated script is never run). One row per class: its `module.Class` path (what
    workflow.start takes), SWF type, version, decision task list, and the first line of its
    docstring.
    """
    import importlib
    import inspect
    import pkgutil

    from .loader import ensure_cwd_on_path
    from .workflow import Workflow

    ensure_cwd_on_path()
    names = list(modules) or _workflow_modules_here()
    found: dict[str, type[Workflow]] = {}
    for name in names:
        module = _import_module(importlib, name, given=bool(modules))
        if module is None:
            continue
        members = [module]
        if hasattr(module, "__path__"):  # a package: its submodules too
            for sub in pkgutil.walk_packages(module.__path__, module.__name__ + "."):
                submodule = _import_module(importlib, sub.name, given=False)
                if submodule is not None:
                    members.append(submodule)
        for member in members:
            for _, cls in inspect.getmembers(member, inspect.isclass):
                if (issubclass(cls, Workflow) and cls is not Workflow
                        and cls.__module__ == member.__name__):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    rows = []
    for path, cls in sorted(found.items()):
        doc = (cls.__doc__ or "").strip()
        rows.append({
            "workflow": path, "type": cls.type_name(), "version": cls.version,
            "task_list": cls.task_list, "description": doc.splitlines()[0] if doc else "",
        })
    return rows


def _import_module(importlib: Any, name: str, *, given: bool) -> Any:
    """A module, or (for one found by a scan) None with a warning when it cannot be imported."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
        message = f"importing {name!r} failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, ModuleNotFoundError) and exc.name == name:
            message = f"no module named {name!r}; is it on PYTHONPATH or in the current directory?"
        if given:
            raise UserError(message) from None
        log.warning("%s; skipped", message)
        return None


def _workflow_modules_here() -> list[str]:
    """Top-level modules and packages of the current directory that mention a Workflow base."""
    import ast
    from pathlib import Path

    def declares_workflow(path: Path) -> bool:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            return False
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    text = ast.unparse(base)
                    if text.rsplit(".", 1)[-1].endswith("Workflow"):
                        return True
        return False

    names = []
    for entry in sorted(Path.cwd().iterdir()):
        if entry.name.startswith((".", "_")) or entry.name in ("setup.py", "conftest.py"):
            continue
        if entry.suffix == ".py" and entry.is_file() and declares_workflow(entry):
            names.append(entry.stem)
        elif (entry / "__init__.py").is_file() and any(
                declares_workflow(path) for path in entry.rglob("*.py")):
            names.append(entry.name)
    return names


# --------------------------------------------------------------------------------------------
# acting on runs
# --------------------------------------------------------------------------------------------


def open_run(backend: SwfBackend, workflow_id: str, run_id: str | None = None) -> str:
    """The run id of the open run to act on, or a one-line error (unknown or already closed).

    Checked first because SWF says "unknown execution" for a closed one, and moto answers a bare
    HTTP 500 to a signal for an unknown one.
    """
    if run_id:
        described = backend.describe_workflow_execution(workflow_id, run_id)
        info = described.get("executionInfo", {})
    else:
        info = backend.find_latest_run(workflow_id)
        run_id = info["execution"]["runId"]
    if info.get("executionStatus") != "OPEN":
        raise UserError(
            f"workflow {workflow_id!r} run {run_id} is already closed "
            f"({info.get('closeStatus', 'CLOSED')}); nothing to do"
        )
    return run_id


def terminate(backend: SwfBackend, workflow_id: str, run_id: str | None = None,
              reason: str | None = None) -> str:
    """Terminate the open run (or the given one); returns its run id."""
    run_id = open_run(backend, workflow_id, run_id)
    backend.terminate(workflow_id, run_id, reason=reason)
    return run_id


def request_cancel(backend: SwfBackend, workflow_id: str, run_id: str | None = None) -> str:
    """Ask the open run to cancel itself (its decider decides how); returns its run id."""
    run_id = open_run(backend, workflow_id, run_id)
    backend.request_cancel(workflow_id, run_id)
    return run_id


def _encode(field_name: str, text: str) -> str:
    from .jumbo import encode_field

    return encode_field(field_name, text, encoding.MAX_INPUT)


def signal(backend: SwfBackend, workflow_id: str, name: str, input_json: str | None = None,
           run_id: str | None = None) -> str:
    """Send signal `name` with a JSON input to the open run; returns its run id."""
    # No input is sent as JSON null: the decider reads None either way, and moto 5.2.5 answers
    # HTTP 500 to a SignalWorkflowExecution without an input.
    value = encoding.parse_json(input_json, "--input") if input_json is not None else None
    text = encoding.dumps(value)
    text = _encode("signal input", text)
    run_id = open_run(backend, workflow_id, run_id)
    backend.signal(workflow_id, name, text, run_id)
    return run_id


def restart(backend: SwfBackend, workflow_id: str, run_id: str | None = None,
            call: tuple[list, dict] | None = None) -> tuple[str, str]:
    """Start a new run like an old one: same type, task list, tags and timeouts.

    The input is the old run's, unchanged (a jumbo reference stays valid: payloads are never
    rewritten), unless `call` = (args, kwargs) replaces it. The workflow id is the same, so the
    old run must be closed. Returns (workflow_id, new run id).
    """
    old = fetch_history(backend, workflow_id, run_id)
    if old.is_open:
        raise UserError(
            f"workflow {workflow_id!r} run {old.workflow_execution['runId']} is still open: "
            f"terminate it first (replayflow workflow.terminate --domain {backend.domain} "
            f"{workflow_id})"
        )
    started = old.started_attributes
    workflow_type = started.get("workflowType") or {}
    if not workflow_type.get("name"):
        raise UserError(f"the history of workflow {workflow_id!r} has no start event")
    input_text = started.get("input")
    if call is not None:
        input_text = _encode("input", encoding.encode_call(*call))
    priority = started.get("taskPriority")
    new_run_id = backend.start_workflow_execution(
        workflow_id,
        workflow_type["name"],
        workflow_type["version"],
        input=input_text,
        task_list=(started.get("taskList") or {}).get("name"),
        execution_timeout=started.get("executionStartToCloseTimeout"),
        decision_task_timeout=started.get("taskStartToCloseTimeout"),
        child_policy=started.get("childPolicy"),
        tags=started.get("tagList") or old.tags or None,
        priority=int(priority) if priority not in (None, "") else None,
    )
    return workflow_id, new_run_id


# --------------------------------------------------------------------------------------------
# re-running an activity
# --------------------------------------------------------------------------------------------


@dataclass
class RecordedActivity:
    """The last attempt of one activity task, as the history recorded it."""

    task_id: str
    activity_id: str
    attempt: int
    type_name: str
    version: str | None
    input: str | None
    task_list: str | None


@dataclass
class RerunOutcome:
    """`ok` with the result JSON, or the failure's reason and details (JSON)."""

    activity: RecordedActivity
    ok: bool
    result: str | None = None
    reason: str | None = None
    details: str | None = None


def recorded_activity(history: RunHistory, task_id: str) -> RecordedActivity:
    """The last scheduled attempt of `task_id` (a task id, or one attempt's `<task_id>#<n>`)."""
    wanted, attempt_wanted = split_activity_id(task_id)
    found: RecordedActivity | None = None
    known: list[str] = []
    for event in history.events:
        if event["eventType"] != "ActivityTaskScheduled":
            continue
        attrs = attributes(event)
        activity_id = attrs.get("activityId", "")
        tid, attempt = split_activity_id(activity_id)
        if tid not in known:
            known.append(tid)
        if tid != wanted or (attempt_wanted is not None and attempt != attempt_wanted):
            continue
        activity_type = attrs.get("activityType") or {}
        found = RecordedActivity(
            tid, activity_id, attempt or 1, activity_type.get("name", ""),
            activity_type.get("version"), attrs.get("input"),
            (attrs.get("taskList") or {}).get("name"),
        )
    if found is None:
        hint = f"; its activities: {', '.join(known[:5])}" if known else "; it ran no activity"
        if len(known) > 5:
            hint += f" (+{len(known) - 5} more, see workflow.tasks)"
        raise UserError(f"no activity task {task_id!r} in this run{hint}")
    return found


def rerun_activity(history: RunHistory, task_id: str, decode: Decode | None = None,
                   modules: Sequence[str] = ()) -> RerunOutcome:
    """Run one activity of a past run again, here, with its recorded input (last attempt's).

    It goes through the same `execution.run_activity` the workers use, so it sees the same
    context (workflow id, run id, task id, attempt) and fails the same way. The activity type
    must be declared by one of `modules` (loaded here), as a worker would require: a history
    file names its types, and naming one must never be enough to run it. Nothing is sent to
    SWF, and no worker middleware runs: this is a debugging run, not a task.
    """
    from .activity import ActivityContext, ActivityRegistry
    from .execution import run_activity

    recorded = recorded_activity(history, task_id)
    registry = ActivityRegistry()
    for name in modules:
        try:
            registry.load(name)
        except ModuleNotFoundError as exc:
            raise UserError(f"--module {name}: no module named {exc.name!r}") from None
        except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
            raise UserError(f"--module {name}: importing it failed: "
                            f"{type(exc).__name__}: {exc}") from None
    activity = registry.find(recorded.type_name)  # not declared: a usage error (exit 2)
    ctx = ActivityContext(
        workflow_id=history.workflow_execution.get("workflowId"),
        run_id=history.workflow_execution.get("runId"),
        activity_id=recorded.activity_id,
        task_id=recorded.task_id,
        attempt=recorded.attempt,
        task_list=recorded.task_list,
    )
    outcome = run_activity(activity, recorded.input, ctx, decode or make_decoder(strict=True))
    if outcome.ok:
        return RerunOutcome(recorded, True, result=outcome.result)
    return RerunOutcome(recorded, False, reason=outcome.reason, details=outcome.details)


__all__ = [
    "LIST_STATUSES",
    "RecordedActivity",
    "RerunOutcome",
    "RunHistory",
    "backend_for",
    "decoded_events",
    "discover_workflows",
    "execution_row",
    "fetch_history",
    "list_runs",
    "load_history",
    "make_decoder",
    "open_run",
    "parse_since",
    "read_history_file",
    "recorded_activity",
    "request_cancel",
    "rerun_activity",
    "restart",
    "run_info",
    "signal",
    "task_info",
    "terminate",
]
