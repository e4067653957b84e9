"""Activity middlewares: the seam for cross-cutting concerns (metrics, logging context, ...).

A middleware's hooks run in the activity's own process, around the call, so what they observe is
exactly what the activity did. The worker loop never grows a branch per concern.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from .activity import ActivityContext

log = logging.getLogger(__name__)


class ActivityMiddleware:
    """Base class with no-op hooks; override the ones you need.

    `before` may raise to fail the activity without running it; errors raised by `after` and
    `on_failure` are logged and otherwise ignored (the activity's outcome stands).
    """

    def before(self, ctx: ActivityContext) -> None:
        """Called just before the activity function."""

    def after(self, ctx: ActivityContext, result: Any) -> None:
        """Called with the activity's return value when it returned."""

    def on_failure(self, ctx: ActivityContext, exc: BaseException) -> None:
        """Called with the exception when the activity (or a `before` hook) raised."""


class LogDuration(ActivityMiddleware):
    """Logs each activity's outcome and wall time at INFO (LOG_LEVEL=INFO to see them)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or log
        self._started: dict[str | None, float] = {}

    def before(self, ctx: ActivityContext) -> None:
        self._started[ctx.activity_id] = time.monotonic()

    def _elapsed(self, ctx: ActivityContext) -> float:
        started = self._started.pop(ctx.activity_id, None)
        return 0.0 if started is None else time.monotonic() - started

    def after(self, ctx: ActivityContext, result: Any) -> None:
        self.log.info("activity %s completed in %.3f s", ctx.activity_id, self._elapsed(ctx))

    def on_failure(self, ctx: ActivityContext, exc: BaseException) -> None:
        self.log.info("activity %s failed in %.3f s: %s: %.300s", ctx.activity_id,
                      self._elapsed(ctx), type(exc).__name__, exc)


def load_middleware(path: str) -> ActivityMiddleware:
    """An instance of the middleware class at `module.Class` (built with no arguments).

    What `--middleware` takes on `worker.start`, `standalone` and `workflow.start --local`; any
    mistake is one UserError line.
    """
    import importlib

    from .errors import UserError
    from .loader import ensure_cwd_on_path

    ensure_cwd_on_path()
    module_name, _, class_name = path.rpartition(".")
    if not module_name:
        raise UserError(f"--middleware {path!r}: write it as MODULE.CLASS")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UserError(f"--middleware {path}: no module named {exc.name!r}") from None
    except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
        raise UserError(f"--middleware {path}: importing {module_name} failed: "
                        f"{type(exc).__name__}: {exc}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, ActivityMiddleware)):
        raise UserError(f"--middleware {path}: not an ActivityMiddleware subclass "
                        "(replayflow.middleware.ActivityMiddleware)")
    try:
        return cls()
    except Exception as exc:  # noqa: BLE001 - its constructor is user code
        raise UserError(f"--middleware {path}: {class_name}() failed: "
                        f"{type(exc).__name__}: {exc}") from None


__all__ = ["ActivityMiddleware", "LogDuration", "load_middleware"]
