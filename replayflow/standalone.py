"""`standalone`: one run on SWF with a private decider and worker(s) as child processes.

The children are supervised here: each in its own process group (a worker's activity processes
go with it), dying with this process even if it is SIGKILLed, and always stopped when the run
ends or is interrupted. An interrupted run still open is terminated: no decider would serve it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from . import jumbo
from .client import (
    WorkflowOutcome,
    default_workflow_id,
    resolve_domain,
    start_execution,
    wait_for_close,
)
from .errors import ReplayflowError, RunInterrupted
from .lifetime import die_with_parent
from .progress import Summary

log = logging.getLogger(__name__)

#: How long children get to exit after SIGTERM before their process groups are killed.
CHILD_GRACE = 3.0
#: `standalone`'s decider pollers and worker processes (activities at once). A workflow's parallel
#: activities run in parallel, and on a server without a long poll (moto: an empty poll sleeps
#: 1 s) four spaced pollers a side cut the wait for each task to about an eighth of that sleep.
STANDALONE_POLLERS = 4
STANDALONE_PROCESSES = 4


class ChildProcesses:
    """The decider and worker processes of one `standalone` run, always cleaned up.

    Each child gets its own process group (so a worker's activity processes go with it) and,
    on Linux, dies with its parent even if the parent is SIGKILLed (PR_SET_PDEATHSIG).
    """

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []
        #: Children whose exit with code 0 is expected (the decider once the run closed):
        #: tolerated by `check` once, so the next DescribeWorkflowExecution can see the close.
        self.may_finish: set[str] = set()
        self._finished: set[str] = set()

    def spawn(self, label: str, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(),
            start_new_session=True, preexec_fn=_die_with_sigterm,
        )
        self.procs.append((label, proc))
        log.info("started %s (pid %d): %s", label, proc.pid, " ".join(argv[3:]))
        return proc

    def check(self) -> None:
        """Raise if a child exited before the run ended (it would never end otherwise)."""
        for label, proc in self.procs:
            code = proc.poll()
            if code == 0 and label in self.may_finish and label not in self._finished:
                self._finished.add(label)
                continue
            if code is not None:
                raise ReplayflowError(
                    f"the {label} exited early with code {code} (its error is above on stderr)")

    def stop(self, grace: float = CHILD_GRACE) -> None:
        """SIGTERM every child's group, wait up to `grace` seconds, SIGKILL what is left.

        With no grace at all the groups are SIGKILLed at once: a child given a SIGTERM it has
        no time to act on would only log that it is shutting down.
        """
        if grace > 0:
            for _label, proc in self.procs:
                if proc.poll() is None:
                    _signal_group(proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for _label, proc in self.procs:
                try:
                    proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for _label, proc in self.procs:
            _signal_group(proc.pid, signal.SIGKILL)  # also reaps stray grandchildren
            if proc.poll() is None:
                proc.wait()
        self.procs.clear()


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _die_with_sigterm() -> None:
    """In the child, before exec: SIGTERM when the standalone process dies, so the child's own
    grace period applies."""
    die_with_parent(signal.SIGTERM)


def run_standalone(
    workflow_cls: type,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    domain: str | None,
    workflow_id: str | None = None,
    execution_timeout: int | None = None,
    tags: Sequence[str] | None = None,
    workers: int = 1,
    processes: int | None = None,
    task_list: str | None = None,
    modules: Sequence[str] = (),
    middlewares: Sequence[str] = (),
    cache_size: int | None = None,
    on_start: Callable[[str, str], None] | None = None,
    on_progress: Callable[[Summary], None] | None = None,
) -> WorkflowOutcome:
    """Run one workflow with a private decider and worker(s) as child processes; clean up.

    Decisions and activities all go to one task list unique to this run (the decider routes
    every activity there), so nothing else can steal or serve its tasks, and a single worker
    serves every activity, whatever task list it declares. `on_start(workflow_id, run_id)` is
    called once the run is started; `on_progress` gets its progress summaries while it runs.
    `cache_size` is the decider's (`decider.start --cache-size`; None: its default).

    The decider exits as soon as it has closed the run, which ends our wait at once (no polling
    lag). Whatever ends the wait, the children are then killed without a grace period: once the
    run is closed nothing is left for them to do (their polls in flight would otherwise hold
    them up to a poll's length), and a run left open is terminated right after, so nothing they
    finished could still be reported. Killing them first keeps them from logging that they are
    shutting down or that the terminated run is gone. Ctrl-C (KeyboardInterrupt) once the run
    started raises RunInterrupted, saying whether the run was terminated.
    """
    jumbo.check_config()  # before the children start, so a bad setting is reported once
    domain = resolve_domain(domain)
    from .backends.swf import SwfBackend

    # The first AWS call, before the children start too: an unknown domain, missing credentials
    # or an unreachable endpoint is then reported once, by us, not once by every process.
    backend: Any = SwfBackend(domain)
    backend.check_domain()
    task_list = task_list or f"standalone-{uuid.uuid4().hex[:16]}"
    workflow_id = workflow_id or default_workflow_id(workflow_cls)
    path = f"{workflow_cls.__module__}.{workflow_cls.__qualname__}"
    python = [sys.executable, "-m", "replayflow"]
    children = ChildProcesses()
    started: tuple[str, str] | None = None
    closed = False
    try:
        # Children now: their start-up (imports) overlaps our registration and start.
        decider = children.spawn("decider", python + [
            "decider.start", "--domain", domain, "--task-list", task_list,
            "--activity-task-list", task_list, "--exit-on-close", workflow_id,
            "--pollers", str(STANDALONE_POLLERS),
            *(["--cache-size", str(cache_size)] if cache_size is not None else []), path])
        children.may_finish.add("decider")
        for i in range(max(1, workers)):
            # The worker's own grace period (shorter than CHILD_GRACE) serves when it is told
            # to stop from outside, e.g. by PR_SET_PDEATHSIG if this process is SIGKILLed.
            argv = python + ["worker.start", "--domain", domain, "--task-list", task_list,
                             "--grace-period", "2",
                             "--processes", str(processes or STANDALONE_PROCESSES)]
            for module in _worker_modules(workflow_cls, modules):
                argv += ["--module", module]
            for middleware in middlewares:
                argv += ["--middleware", middleware]
            children.spawn(f"worker {i + 1}" if workers > 1 else "worker", argv)
        started = start_execution(
            backend, workflow_cls, args, kwargs, workflow_id=workflow_id, task_list=task_list,
            execution_timeout=execution_timeout, tags=tags)
        if on_start is not None:
            on_start(*started)
        outcome = wait_for_close(backend, *started, check=children.check,
                                 pause=lambda seconds: _wait_exit(decider, seconds),
                                 on_progress=on_progress)
        closed = True
        return outcome
    except KeyboardInterrupt:
        if started is None:
            raise
        children.stop(grace=0.0)
        (workflow_id, run_id), started = started, None  # cleaned up here, not again below
        if _terminate(backend, workflow_id, run_id):
            message = f"interrupted: run {workflow_id} {run_id} terminated"
        else:
            message = (f"interrupted: run {workflow_id} {run_id} may still be open; terminate "
                       f"it with `replayflow workflow.terminate --domain {domain} "
                       f"{workflow_id} {run_id}`")
        raise RunInterrupted(message, workflow_id, run_id) from None
    finally:
        children.stop(grace=0.0)
        if started is not None and not closed:
            _terminate(backend, *started)


def _terminate(backend: Any, workflow_id: str, run_id: str) -> bool:
    """Terminate a run we started and leave open; False (with a warning) if that failed."""
    try:
        backend.terminate(workflow_id, run_id, reason="standalone run interrupted")
    except Exception as exc:  # noqa: BLE001 - cleanup must go on
        log.warning("could not terminate %s: %s", workflow_id, exc)
        return False
    return True


def _worker_modules(workflow_cls: type, modules: Sequence[str]) -> list[str]:
    """What `standalone`'s worker loads: the workflow's module, the modules of the children
    it declares there, and any `--module`."""
    from .workflow import Workflow

    found = [workflow_cls.__module__]
    module = sys.modules.get(workflow_cls.__module__)
    for value in list(vars(module).values()) if module is not None else []:
        if isinstance(value, type) and issubclass(value, Workflow) and value is not Workflow:
            found.append(value.__module__)
    found.extend(modules)
    return list(dict.fromkeys(found))


def _wait_exit(proc: subprocess.Popen, seconds: float) -> None:
    """Sleep up to `seconds`, less if `proc` exits meanwhile."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


__all__ = ["CHILD_GRACE", "ChildProcesses", "run_standalone"]
