"""Run a workflow in this process (`--local`): the engine against the in-memory SWF backend."""

from __future__ import annotations

import os
from typing import Any

from . import jumbo  # imported with this module: its import is not part of a run's time
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
    """Oversized fields go to S3 exactly as on SWF (or fail the same way without a bucket)."""
    if os.environ.get(jumbo.BUCKET_ENV):
        jumbo.check_config()

    def encode_field(name: str, text: str | None, limit: int) -> str | None:
        return text if text is None else jumbo.encode_field(name, text, limit)

    return {"encode_field": encode_field, "decode_field": jumbo.decode_field}
