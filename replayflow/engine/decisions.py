"""Decisions that more than one part of replayflow builds, written once.

The engine fails a run when `run()` raises; the decider fails one when it cannot decide it at all.
Both answer with the same FailWorkflowExecution: the reason cut to SWF's 256 characters, and the
whole reason kept in the details, so nothing is lost whoever failed the run.
"""

from __future__ import annotations

from typing import Any

from .. import encoding


def fail_workflow(reason: str, details: Any = None, *, fit: bool = False) -> dict[str, Any]:
    """A FailWorkflowExecution decision.

    `details` (a dict is merged, anything else kept under "details") always carries the full
    reason when there are details or the reason was cut. `fit=True` shrinks the details to
    SWF's 32,768 characters here, for a decision that is sent without going through the
    decider's jumbo-field step.
    """
    attrs: dict[str, Any] = {"reason": encoding.truncate_reason(reason)}
    if details is not None or len(reason) > encoding.MAX_REASON:
        if isinstance(details, dict):
            payload = {**details, "reason": reason}
        elif details is None:
            payload = {"reason": reason}
        else:
            payload = {"details": details, "reason": reason}
        text = encoding.dumps(payload)
        if fit and len(text) > encoding.MAX_DETAILS:
            text = encoding.shrink_details(text, encoding.MAX_DETAILS)
        attrs["details"] = text
    return {"decisionType": "FailWorkflowExecution",
            "failWorkflowExecutionDecisionAttributes": attrs}


__all__ = ["fail_workflow"]
