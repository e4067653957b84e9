"""`self.step(name, fn, ...)`: skip work an earlier run of the same workflow already did.

A restarted pipeline should not redo the loads it finished. A step is remembered as done, with
its result, under the workflow id: in S3 (the jumbo-field bucket and prefix, under `steps/`)
when one is configured, else in a local directory (`REPLAYFLOW_STEPS_DIR`, by default `steps/`
in replayflow's cache directory), which is what a `--local` run uses.

Asking the store is I/O, so it is an activity (`check_step`), and so is remembering
(`mark_step`): the answers are in the history, and a replay never asks again. A marker
(`replayflow.step`) records each step's fate: skipped (and since when), or run. `force=True`, or
`workflow.start --force-steps a,b` (carried in the run's input, so replays see it too), runs a
step again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import activity, encoding
from .futures import FINISHED, Future

if TYPE_CHECKING:
    from .workflow import Workflow

STEPS_DIR_ENV = "REPLAYFLOW_STEPS_DIR"
MARKER = "replayflow.step"
#: The input key that carries `--force-steps` to the run (removed before `run()` sees it).
FORCE_STEPS_KEY = "__replayflow_force_steps__"


# ---------------------------------------------------------------------------- the store

def _key(scope: str, name: str) -> str:
    return f"{urllib.parse.quote(scope, safe='')}/{urllib.parse.quote(name, safe='')}"


def _local_dir() -> Path:
    configured = os.environ.get(STEPS_DIR_ENV, "").strip()
    if configured:
        return Path(configured)
    from .jumbo import JumboConfig

    return JumboConfig.from_env().cache_dir / "steps"


def _s3_location() -> tuple[Any, str, str] | None:
    """(client, bucket, key prefix) when a jumbo bucket is configured."""
    from .jumbo import JumboConfig, default_store

    config = JumboConfig.from_env()
    if not config.bucket:
        return None
    prefix = f"{config.prefix}/steps/" if config.prefix else "steps/"
    return default_store().client, config.bucket, prefix


def read_record(scope: str, name: str) -> dict[str, Any] | None:
    """The stored record of a done step, or None."""
    key = _key(scope, name)
    s3 = _s3_location()
    if s3 is not None:
        client, bucket, prefix = s3
        try:
            body = client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
        except client.exceptions.NoSuchKey:
            return None
        text = body.decode("utf-8")
    else:
        path = _local_dir() / key
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
    record = encoding.loads(text)
    return record if isinstance(record, dict) else None


def write_record(scope: str, name: str, record: dict[str, Any]) -> None:
    key = _key(scope, name)
    text = encoding.dumps(record)
    s3 = _s3_location()
    if s3 is not None:
        client, bucket, prefix = s3
        client.put_object(Bucket=bucket, Key=prefix + key, Body=text.encode("utf-8"))
        return
    path = _local_dir() / key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a record


# ---------------------------------------------------------------------------- the activities

@activity.with_attributes(name="replayflow.steps.check", version="1", start_to_close_timeout=300)
def check_step(scope: str, name: str) -> dict[str, Any]:
    """Is step `name` of workflow `scope` done? {"done": bool, "result": ..., "at": ...}."""
    record = read_record(scope, name)
    if record is None:
        return {"done": False}
    return {"done": True, "result": record.get("result"), "at": record.get("at")}


@activity.with_attributes(name="replayflow.steps.mark", version="1", start_to_close_timeout=300)
def mark_step(scope: str, name: str, result: Any) -> str:
    """Remember step `name` of workflow `scope` as done, with its result."""
    at = datetime.now(UTC).isoformat(timespec="seconds")
    write_record(scope, name, {"result": result, "at": at, "run_id": activity.context().run_id})
    return at


def _on_list(act: activity.Activity, task_list: str) -> activity.Activity:
    """The built-in activity, scheduled on the task list of the step's own work (whose workers
    load replayflow, so they run it)."""
    if act.task_list == task_list:
        return act
    return dataclasses.replace(act, task_list=task_list)


# ---------------------------------------------------------------------------- the workflow side

class _StepRun:
    """One step, stepped at each decision point (it never blocks `run()`)."""

    def __init__(self, workflow: Workflow, name: str, fn: Any, args: tuple, kwargs: dict,
                 force: bool) -> None:
        self.workflow = workflow
        self.name = name
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        execution = workflow._execution
        self.task_list = activity.as_activity(fn).task_list if not isinstance(fn, type) \
            else getattr(fn, "task_list", activity.DEFAULT_TASK_LIST)
        self.future = Future(execution._next_id(f"step-{_digest(name)}"), execution)
        forced = force or name in (execution.run_options.get(FORCE_STEPS_KEY) or ())
        self.check: Future | None = None
        self.work: Future | None = None
        self.mark: Future | None = None
        if forced:
            self._run("forced")
        else:
            self.check = workflow.submit(_on_list(check_step, self.task_list),
                                         workflow.workflow_id, name)

    def _run(self, why: str) -> None:
        self.why = why
        self.work = self.workflow.submit(self.fn, *self.args, **self.kwargs)

    def step(self) -> bool:
        future = self.future
        if future.done:
            return False
        if self.work is None:
            check = self.check
            assert check is not None
            if not check.done:
                return False
            if check.state != FINISHED:
                future._set_exception(check.exception)  # type: ignore[arg-type]
                return True
            answer = check._result or {}
            if answer.get("done"):
                self.workflow.record_marker(MARKER, {
                    "step": self.name, "skipped": True,
                    "reason": f"done by an earlier run at {answer.get('at')}"})
                future._set_result(answer.get("result"))
                return True
            self._run("not done before")
            return True
        if self.mark is None:
            if not self.work.done:
                return False
            if self.work._exception is not None:  # carried on by the step's own future
                future._set_exception(self.work.exception)  # type: ignore[arg-type]
                return True
            self.mark = self.workflow.submit(_on_list(mark_step, self.task_list),
                                             self.workflow.workflow_id, self.name,
                                             self.work._result)
            return True
        if not self.mark.done:
            return False
        if self.mark._exception is not None:
            future._set_exception(self.mark.exception)  # type: ignore[arg-type]
            return True
        self.workflow.record_marker(MARKER, {"step": self.name, "skipped": False,
                                             "reason": self.why})
        future._set_result(self.work._result)
        return True


def _digest(name: str) -> str:
    """Step names are free text; task ids built from them stay short and SWF-safe."""
    return hashlib.sha1(name.encode()).hexdigest()[:12]


def run_step(workflow: Workflow, name: str, fn: Any, args: tuple, kwargs: dict,
             force: bool = False) -> Future:
    if not isinstance(name, str) or not name:
        raise ValueError("a step needs a non-empty name")
    run = _StepRun(workflow, name, fn, args, kwargs, force)
    if not run.future.done:
        run.step()
    if not run.future.done:
        workflow._execution.add_driver(run.future, workflow._in_saga_scope(run.step))
    return run.future


__all__ = ["FORCE_STEPS_KEY", "MARKER", "STEPS_DIR_ENV", "check_step", "mark_step", "run_step"]
