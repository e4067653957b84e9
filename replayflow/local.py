"""Run a workflow in this process (`--local`): the engine against the in-memory SWF backend."""

from __future__ import annotations

from typing import Any

from .backends.memory import DEFAULT_MAX_WORKERS, LocalResult, MemoryBackend


def run_local(workflow_cls: type, *args: Any, max_workers: int = DEFAULT_MAX_WORKERS,
              workflow_id: str | None = None, **kwargs: Any) -> LocalResult:
    """Run `workflow_cls(*args, **kwargs)` to its end, locally; returns a LocalResult.

    `result.status` is COMPLETED, FAILED, CANCELED, TERMINATED or TIMED_OUT; `result.result` holds
    the value, `result.reason`/`result.details` the failure, `result.execution.history()` the
    SWF-shaped history of the run.
    """
    backend = MemoryBackend(max_workers, **_jumbo_hooks())
    return backend.run(workflow_cls, args, kwargs, workflow_id=workflow_id)


def _jumbo_hooks() -> dict[str, Any]:
    """Use S3 for oversized fields when a jumbo bucket is configured, as on SWF."""
    try:
        from . import jumbo
    except ImportError:  # pragma: no cover - jumbo is part of the package
        return {}
    hooks = getattr(jumbo, "backend_hooks", None)
    return hooks() if hooks is not None else {}
