"""`standalone --repair RUN_ID`: run a failed workflow again without redoing its finished work.

A run that failed at its tenth activity should not pay for the nine before it once the cause is
fixed. A repair starts a new run of the same workflow id with the old run's input, plus a reuse
table read from the old history: task id -> (activity name, digest of the encoded input, result
as recorded). When the new run submits a task with the same id, activity and input, the engine
resolves its future from the table and records a `replayflow.repaired` marker instead of
scheduling it, so the repaired history has no ActivityTaskScheduled for it.

The table travels in the new run's input under a reserved keyword (REPAIR_KEY): the start event
is immutable, so every replay sees the same table and makes the same decisions. Inputs are kept
as SHA-256 digests and results as the history recorded them (a jumbo reference stays a
reference, read through the pinned jumbo reader when used), so the table stays small; an input
over SWF's limit becomes a jumbo field like any other. Only activities are reused: a child
workflow runs again (its own activities are its own history's).

The old history is untrusted: it is read as data, nothing it names is imported, and the
workflow class is the one the operator gave, whose type name must be the old run's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import encoding
from .engine.reuse import MARKER, REPAIR_KEY, ReuseTable, input_digest

if TYPE_CHECKING:
    from .client import WorkflowOutcome
    from .operator import RunHistory

log = logging.getLogger(__name__)

#: How a run must have ended to be repaired (a completed run has nothing to repair; a run that
#: continued as new is repaired through the last run of its chain).
REPAIRABLE = ("FAILED", "TERMINATED", "TIMED_OUT", "CANCELED")

Decode = Callable[[str | None], str | None]


# ---------------------------------------------------------------------------- reading the old run

@dataclass
class RepairPlan:
    """What a repaired run is started with, and what it will reuse."""

    workflow_id: str
    old_run_id: str
    args: list
    kwargs: dict
    #: Task ids whose results are reused if the new run submits them alike, in history order.
    reusable: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def reusable_tasks(events: Sequence[Mapping[str, Any]], decode: Decode,
                   carried: Mapping[str, Any] | None = None) -> dict[str, list]:
    """task id -> [activity name, input digest, result] for each activity the run completed.

    `carried` is the table the run itself was started with (a repair of a repair): the entries
    it reused (its markers say which) are reusable again. An input that cannot be read (a jumbo
    object gone) makes its task run again, with a warning.
    """
    from .history import attributes
    from .inspection import split_activity_id

    scheduled: dict[int, tuple[str, str, str | None]] = {}
    table: dict[str, list] = {}
    reused_before: list[str] = []
    for event in events:
        event_type = event["eventType"]
        if event_type == "ActivityTaskScheduled":
            attrs = attributes(event)
            task_id, _attempt = split_activity_id(attrs.get("activityId", ""))
            name = (attrs.get("activityType") or {}).get("name", "")
            scheduled[event["eventId"]] = (task_id, name, attrs.get("input"))
        elif event_type == "ActivityTaskCompleted":
            attrs = attributes(event)
            found = scheduled.get(attrs.get("scheduledEventId", -1))
            if found is None:
                continue
            task_id, name, recorded_input = found
            try:
                input_text = decode(recorded_input)
            except Exception as exc:  # noqa: BLE001 - JumboFieldError and the like: run it again
                log.warning("task %s will run again: its recorded input cannot be read (%s)",
                            task_id, exc)
                continue
            table[task_id] = [name, input_digest(input_text or ""), attrs.get("result")]
        elif event_type == "MarkerRecorded":
            attrs = attributes(event)
            if attrs.get("markerName") != MARKER:
                continue
            details = encoding.loads(attrs.get("details")) if attrs.get("details") else None
            if isinstance(details, dict) and isinstance(details.get("task_id"), str):
                reused_before.append(details["task_id"])
    if carried:
        old = ReuseTable.from_option(carried).tasks
        for task_id in reused_before:
            if task_id in old and task_id not in table:
                table[task_id] = list(old[task_id])
    return table


def plan_repair(history: RunHistory, workflow_cls: type,
                decode: Decode | None = None) -> RepairPlan:
    """The new run of `history`'s workflow: same workflow id, input and tags, plus the table.

    Refuses (UserError) a run that is open or ended otherwise than in REPAIRABLE, and a run of
    another workflow type than `workflow_cls`'s.
    """
    from .errors import UserError
    from .history import CLOSE_STATUS
    from .operator import make_decoder

    decode = decode or make_decoder(strict=True)
    workflow_id = history.workflow_execution.get("workflowId") or ""
    run_id = history.workflow_execution.get("runId") or ""
    status = CLOSE_STATUS.get(history.events[-1]["eventType"]) if history.events else None
    if status is None:
        raise UserError(f"workflow {workflow_id!r} run {run_id} is still open: terminate it "
                        "first (replayflow workflow.terminate), then repair it")
    if status not in REPAIRABLE:
        hint = ("nothing to repair" if status == "COMPLETED" else
                "repair the last run of its chain (replayflow workflow.info shows it)")
        raise UserError(f"workflow {workflow_id!r} run {run_id} ended {status}: {hint}")
    started = history.started_attributes
    type_name = (started.get("workflowType") or {}).get("name")
    if type_name != workflow_cls.type_name():
        raise UserError(f"run {run_id} is a run of workflow type {type_name!r}, not of "
                        f"{workflow_cls.type_name()!r}: give the class that ran it")
    args, kwargs = encoding.decode_call(decode(started.get("input")))
    carried = kwargs.pop(REPAIR_KEY, None)
    tasks = reusable_tasks(history.events, decode, carried)
    kwargs[REPAIR_KEY] = {"from_run": run_id, "tasks": tasks}
    tags = list(started.get("tagList") or history.tags or [])
    return RepairPlan(workflow_id, run_id, args, kwargs, list(tasks), tags)


def find_run(backend: Any, run_id: str, workflow_cls: type,
             workflow_id: str | None = None) -> RunHistory:
    """The history of run `run_id`: of `workflow_id` when given, else found among the closed
    runs of `workflow_cls`'s type (SWF cannot look a run up by its id alone)."""
    from .errors import ExecutionNotFound
    from .operator import fetch_history

    if not workflow_id:
        for info in backend.list_executions("closed", type_name=workflow_cls.type_name()):
            if info["execution"]["runId"] == run_id:
                workflow_id = info["execution"]["workflowId"]
                break
        else:
            raise ExecutionNotFound(
                f"no closed run {run_id} of workflow type {workflow_cls.type_name()!r} in domain "
                f"{backend.domain!r}: check the run id, or give --workflow-id")
    return fetch_history(backend, workflow_id, run_id)


# ---------------------------------------------------------------------------- starting it

def repair_standalone(workflow_cls: type, run_id: str, *, domain: str | None,
                      workflow_id: str | None = None, tags: Sequence[str] | None = None,
                      **options: Any) -> WorkflowOutcome:
    """Repair run `run_id` on SWF with `standalone`'s private decider and worker(s); the new
    run has the old one's workflow id, input and tags (unless `tags`). `options` go to
    `run_standalone` (execution_timeout, workers, processes, modules, middlewares)."""
    from .backends.swf import SwfBackend
    from .client import resolve_domain
    from .standalone import run_standalone

    backend = SwfBackend(resolve_domain(domain))
    plan = plan_repair(find_run(backend, run_id, workflow_cls, workflow_id), workflow_cls)
    log.info("repairing %s run %s: %d task(s) reusable", plan.workflow_id, run_id,
             len(plan.reusable))
    return run_standalone(workflow_cls, plan.args, plan.kwargs, domain=domain,
                          workflow_id=plan.workflow_id, tags=list(tags or plan.tags),
                          **options)


def repair_local(runner: Any, history: RunHistory, workflow_cls: type,
                 tags: Sequence[str] | None = None, **options: Any) -> Any:
    """Start the repair of a recorded run (a `--history-file`) on a LocalRunner; returns the
    new Run, to drive with `runner.run_until_closed`."""
    plan = plan_repair(history, workflow_cls)
    return runner.start(workflow_cls, plan.args, plan.kwargs, workflow_id=plan.workflow_id,
                        tags=list(tags or plan.tags), **options)


__all__ = [
    "MARKER",
    "REPAIRABLE",
    "REPAIR_KEY",
    "RepairPlan",
    "ReuseTable",
    "find_run",
    "input_digest",
    "plan_repair",
    "repair_local",
    "repair_standalone",
    "reusable_tasks",
]
