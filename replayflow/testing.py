"""Test helpers for workflow authors: prove that new code still replays recorded histories.

Deploying a change to a workflow that has executions in flight is safe only if the new code makes
the same decisions at the same points. Record histories (`replayflow workflow.start --local ...
--history-file h.json`, or `replayflow workflow.history` on SWF), keep them with your tests, and:

    from replayflow.testing import replay

    def test_order_workflow_still_replays():
        replay("tests/histories/order.json", OrderWorkflow)

`replay` raises `replayflow.errors.NonDeterministicWorkflow`, naming the task and the difference,
when the history could not have been made by the current code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .engine.replay import ExecutionState, Marker
from .errors import (
    EventNotApplied,
    InvalidHistory,
    NonDeterministicWorkflow,
    ReplayflowError,
)
from .history import HistoryFile, check_events, load_history_file
from .loader import require_workflow_class

__all__ = ["ReplayResult", "replay"]


@dataclass
class ReplayResult:
    """What the replay found: how the history ends, and what the code would decide now."""

    decisions: list[dict]
    """The decisions the current code makes at the history's open decision task (if it ends on
    a DecisionTaskStarted that was never completed); empty otherwise."""
    closed: bool
    close_status: str | None
    markers: list[Marker] = field(default_factory=list)
    events: int = 0


def replay(
    history: str | Path | HistoryFile | list[dict],
    workflow_cls: type,
    *,
    workflow_id: str | None = None,
    run_id: str | None = None,
    decode: Callable[[str | None], str | None] | None = None,
) -> ReplayResult:
    """Feed a recorded history to a fresh engine for `workflow_cls`; raise on any mismatch.

    `history` is a history file path, a loaded HistoryFile, or a list of boto3-shaped events.
    The execution's ids (which seed `self.random()` and name child workflows) come from the file;
    pass them when giving bare events. `decode` reads jumbo fields (`replayflow.jumbo.decode_field`
    when the history references S3).

    A history that is not shaped as SWF sends one raises InvalidHistory naming the event; a
    `workflow_cls` that is not a Workflow class raises WorkflowNotFound.
    """
    require_workflow_class(workflow_cls, "replay()")
    if isinstance(history, str | Path):
        history = load_history_file(history)
    if isinstance(history, HistoryFile):
        execution = history.workflow_execution or {}
        events = history.events
        workflow_id = workflow_id or execution.get("workflowId")
        run_id = run_id or execution.get("runId")
    else:
        events = list(history)
        try:
            check_events(events)
        except ValueError as exc:
            raise InvalidHistory(f"malformed history: {exc}") from None
    state = ExecutionState(workflow_cls, workflow_id=workflow_id or "", run_id=run_id or "",
                           decode=decode)
    try:
        for event in events:
            _feed(state, event)
        _check_last_batch(state, events)
        open_task = bool(events) and events[-1]["eventType"] == "DecisionTaskStarted"
        decisions = state.decisions() if open_task and not state.closed else []
        return ReplayResult(decisions, state.closed, state.close_status, list(state.markers),
                            len(events))
    finally:
        state.discard()


def _feed(state: ExecutionState, event: dict) -> None:
    """Feed one event; an event the engine cannot read is InvalidHistory, naming it.

    Errors in the workflow's own code never get here (they fail the run inside the engine), so
    what does is the history's: a missing attribute, a field of the wrong type, an input that
    is not JSON.
    """
    try:
        state.feed(event)
    except NonDeterministicWorkflow:
        raise
    except (LookupError, TypeError, ValueError, AttributeError, OverflowError,
            ReplayflowError) as exc:
        # The engine names what it was reading (EventNotApplied): keep that, say why.
        where = exc.what if isinstance(exc, EventNotApplied) else "cannot apply it"
        cause = exc.cause if isinstance(exc, EventNotApplied) else exc
        why = (f"missing {cause}" if isinstance(cause, KeyError)
               else f"{type(cause).__name__}: {cause}")
        raise InvalidHistory(f"history event {event.get('eventId')} ({event.get('eventType')}) "
                             f"cannot be replayed: {where}: {why}") from exc


def _check_last_batch(state: ExecutionState, events: list[dict]) -> None:
    """Every decision of the last completed decision task must have its event in the history.

    (The engine checks a batch at the next DecisionTaskStarted; a history that ends after the
    batch has no next one, so the check is made here.)
    """
    awaiting = state._awaiting
    if not awaiting:
        return
    cmd = next(iter(awaiting.values()))
    last = events[-1]["eventId"] if events else 0
    raise NonDeterministicWorkflow(
        f"the current workflow code decided {cmd.decision['decisionType']} for {cmd.key[0]} "
        f"{cmd.key[1]!r} in its last decision task, but the history (up to event {last}) has "
        "no such decision; was the workflow changed after this history was recorded?")
