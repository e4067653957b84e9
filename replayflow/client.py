"""Starting workflows on SWF and waiting for them: what `workflow.start` and `standalone` share.

Registration happens here, up front and idempotently: the workflow type and every activity its
module declares, so neither the first start nor the first decision pays a round trip for a type
SWF has never seen. Waiting is cheap: a small DescribeWorkflowExecution call with backoff, then
one history read (newest event first) for the close event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import encoding, jumbo
from .activity import Activity
from .errors import (
    ConfigurationError,
    EndpointUnreachable,
    ReplayflowError,
    ServiceUnavailable,
    UserError,
    WaitAbandoned,
    WaitTimedOut,
)
from .history import CLOSE_STATUS
from .progress import Summary

log = logging.getLogger(__name__)

MAX_WORKFLOW_ID = 256
#: Wait backoff: first check soon (short workflows end fast), then settle at one call a second.
#: Growing 6 % a call, the close is seen at most ~6 % of the elapsed time late (3 % on average).
WAIT_FIRST_DELAY = 0.02
WAIT_MAX_DELAY = 1.0
WAIT_FACTOR = 1.06
#: The longest wait between two calls once a run has taken a minute.
WAIT_LONG_RUN_DELAY = 5.0
#: How long a wait keeps trying through an outage (SWF unreachable, or answering 5xx) before it
#: gives up; REPLAYFLOW_WAIT_OUTAGE (seconds) overrides it. Within it, tries back off from 1 s
#: to 15 s apart.
WAIT_OUTAGE = 300.0
WAIT_OUTAGE_ENV = "REPLAYFLOW_WAIT_OUTAGE"
OUTAGE_FIRST_DELAY = 1.0
OUTAGE_MAX_DELAY = 15.0
#: What an outage looks like from here: worth waiting out, unlike a missing run or bad input.
TRANSIENT_ERRORS = (EndpointUnreachable, ServiceUnavailable)



@dataclass
class WorkflowOutcome:
    """How a run ended: its status, result (COMPLETED) or reason/details (anything else)."""

    workflow_id: str
    run_id: str
    status: str
    result: Any = None
    reason: str | None = None
    details: Any = None

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED"


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def module_activities(workflow_cls: type) -> list[Activity]:
    """Every Activity defined at the top level of the workflow's module (what it can schedule)."""
    module = sys.modules.get(workflow_cls.__module__)
    if module is None:
        return []
    seen: dict[tuple[str, str], Activity] = {}
    for value in list(vars(module).values()):
        if isinstance(value, Activity):
            seen.setdefault((value.name, value.version), value)
    return list(seen.values())


def register_workflow(backend: Any, workflow_cls: type) -> None:
    """Register the workflow type and its module's activity types (once per process)."""
    backend.register_workflow_type(
        workflow_cls.type_name(),
        workflow_cls.version,
        workflow_cls.task_list,
        execution_timeout=workflow_cls.execution_timeout,
        decision_task_timeout=workflow_cls.decision_task_timeout,
        child_policy=workflow_cls.child_policy,
    )
    for act in module_activities(workflow_cls):
        backend.register_activity_type(act.name, act.version, act.task_list)


def register_workflows(backend: Any, workflow_classes: Iterable[type]) -> None:
    """`register_workflow` for each class."""
    for cls in workflow_classes:
        register_workflow(backend, cls)


# --------------------------------------------------------------------------------------------
# starting
# --------------------------------------------------------------------------------------------


def resolve_domain(domain: str | None) -> str:
    """--domain, else SWF_DOMAIN, else a one-line error saying how to give one."""
    domain = domain or os.environ.get("SWF_DOMAIN", "").strip() or None
    if not domain:
        raise UserError("No SWF domain given: pass --domain D or set SWF_DOMAIN")
    return domain


def default_workflow_id(workflow_cls: type) -> str:
    """`<type name>-<UTC timestamp>-<random>`: readable, sortable, unique within one second."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = uuid.uuid4().hex[:10]
    tail = f"-{stamp}-{suffix}"
    return workflow_cls.type_name()[: MAX_WORKFLOW_ID - len(tail)] + tail


def start_execution(
    backend: Any,
    workflow_cls: type,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    *,
    workflow_id: str | None = None,
    task_list: str | None = None,
    execution_timeout: int | None = None,
    tags: Sequence[str] | None = None,
    register: bool = True,
) -> tuple[str, str]:
    """Register (idempotent), then StartWorkflowExecution; returns (workflow_id, run_id).

    The input is jumbo-encoded (too large without a bucket: PayloadTooLarge). The execution
    timeout is the option or the class's own, sent explicitly, never capped.
    """
    jumbo.check_config()  # a bad bucket/prefix is refused even when this input is small
    input_text = jumbo.encode_field(
        "input", encoding.encode_call(list(args), dict(kwargs or {})), encoding.MAX_INPUT
    )
    if register:
        backend.check_domain()
        register_workflow(backend, workflow_cls)
    workflow_id = workflow_id or default_workflow_id(workflow_cls)
    tag_list = list(tags) if tags else list(getattr(workflow_cls, "tags", ()) or ())
    run_id = backend.start_workflow_execution(
        workflow_id,
        workflow_cls.type_name(),
        workflow_cls.version,
        input=input_text,
        task_list=task_list or workflow_cls.task_list,
        execution_timeout=int(execution_timeout or workflow_cls.execution_timeout),
        decision_task_timeout=int(workflow_cls.decision_task_timeout),
        child_policy=workflow_cls.child_policy,
        tags=tag_list[:5] or None,
    )
    log.info("started %s run %s", workflow_id, run_id)
    return workflow_id, run_id


# --------------------------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------------------------


def _decode_json(text: str | None) -> Any:
    raw = jumbo.decode_field(text)
    try:
        return encoding.loads(raw)
    except ValueError:
        return raw


def outcome_from_event(workflow_id: str, run_id: str, event: dict[str, Any]) -> WorkflowOutcome:
    """Read a close event into a WorkflowOutcome (fields jumbo-decoded)."""
    event_type = event["eventType"]
    status = CLOSE_STATUS[event_type]
    attrs = event.get(event_type[0].lower() + event_type[1:] + "EventAttributes") or {}
    outcome = WorkflowOutcome(workflow_id, run_id, status)
    if status == "COMPLETED":
        outcome.result = _decode_json(attrs.get("result"))
        return outcome
    details = _decode_json(attrs.get("details")) if attrs.get("details") else None
    reason = attrs.get("reason") or attrs.get("cause")
    if status == "TIMED_OUT":
        reason = f"execution timed out ({attrs.get('timeoutType', 'START_TO_CLOSE')})"
    if isinstance(details, dict) and details.get("reason"):
        reason = details["reason"]
    outcome.reason = reason or status.lower()
    outcome.details = details
    if status == "CONTINUED_AS_NEW":
        outcome.details = {"newExecutionRunId": attrs.get("newExecutionRunId")}
    return outcome


def wait_outage_limit(environ: Mapping[str, str] | None = None) -> float:
    """Seconds of outage a wait rides out: REPLAYFLOW_WAIT_OUTAGE, else WAIT_OUTAGE."""
    raw = (os.environ if environ is None else environ).get(WAIT_OUTAGE_ENV, "").strip()
    if not raw:
        return WAIT_OUTAGE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise ConfigurationError(f"{WAIT_OUTAGE_ENV}={raw!r} is not a number of seconds; e.g. "
                                 "set it to 300")
    return value


def wait_for_close(
    backend: Any,
    workflow_id: str,
    run_id: str,
    timeout: float | None = None,
    *,
    check: Callable[[], None] | None = None,
    pause: Callable[[float], None] = time.sleep,
    on_progress: Callable[[Summary], None] | None = None,
    outage_limit: float | None = None,
) -> WorkflowOutcome:
    """Wait until the run closes (following continue-as-new) and return how it ended.

    DescribeWorkflowExecution, the delay growing 6 % a call (20 ms up to 1 s, up to 5 s once
    the run has taken a minute: SWF refills that call's budget slowly); one history read.
    `check` is called between calls and may raise to stop waiting (e.g. a child process died);
    `pause(seconds)` waits between calls and may return early (e.g. the decider said it closed);
    `on_progress` gets the run's progress summary (the decider's latest executionContext)
    whenever it changes: no extra call is made for it.

    An outage (SWF unreachable, 5xx answers) is ridden out with backoff for `outage_limit`
    seconds (default: `wait_outage_limit()`), with a warning when it starts and when it ends;
    past that, WaitAbandoned, saying how to follow the run, which goes on without us.
    """
    limit = wait_outage_limit() if outage_limit is None else outage_limit
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    delay = WAIT_FIRST_DELAY
    last_context = None
    outage_since: float | None = None
    outage_delay = OUTAGE_FIRST_DELAY
    while True:
        if check is not None:
            check()
        try:
            info = backend.describe_workflow_execution(workflow_id, run_id)
            event = None
            if info.get("executionInfo", {}).get("executionStatus") == "CLOSED":
                event = backend.close_event(workflow_id, run_id)
                if event is None:
                    raise ReplayflowError(
                        f"{workflow_id} ({run_id}) is closed but has no close event")
        except TRANSIENT_ERRORS as exc:
            now = time.monotonic()
            if outage_since is None:
                outage_since = now
                log.warning("lost contact with SWF while waiting for %s (%s); trying again for "
                            "up to %.0f s", workflow_id, exc, limit)
            if now - outage_since >= limit or (deadline is not None and now >= deadline):
                raise WaitAbandoned(
                    f"lost contact with SWF for {now - outage_since:.0f} s while waiting for "
                    f"{workflow_id} (run {run_id}): {exc}. The run goes on without us: follow "
                    f"it with `replayflow workflow.info --domain {backend.domain} {workflow_id} "
                    f"{run_id}`") from exc
            # A plain sleep: `pause` may return at once (a decider that already exited).
            time.sleep(min(outage_delay, max(0.0, outage_since + limit - now)))
            outage_delay = min(outage_delay * 2, OUTAGE_MAX_DELAY)
            continue
        if outage_since is not None:
            log.warning("in contact with SWF again after %.0f s; still waiting for %s",
                        time.monotonic() - outage_since, workflow_id)
            outage_since, outage_delay = None, OUTAGE_FIRST_DELAY
        context = info.get("latestExecutionContext")
        if on_progress is not None and context != last_context:
            last_context = context
            summary = Summary.from_json(context)
            if summary is not None:
                on_progress(summary)
        if event is not None:
            outcome = outcome_from_event(workflow_id, run_id, event)
            new_run = (outcome.details or {}).get("newExecutionRunId") if (
                outcome.status == "CONTINUED_AS_NEW") else None
            if not new_run:
                return outcome
            run_id = new_run
            delay = WAIT_FIRST_DELAY
            continue
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimedOut(f"{workflow_id} ({run_id}) still open after {timeout:g} s")
        pause(delay if deadline is None else min(delay, max(0.0, deadline - time.monotonic())))
        longest = WAIT_MAX_DELAY if time.monotonic() - started < 60 else WAIT_LONG_RUN_DELAY
        delay = min(delay * WAIT_FACTOR, longest)


#: The longest reason printed on a terminal; a longer one (a 50 MB exception message) is cut,
#: its whole text staying in the run's failure details (`workflow.info`).
MAX_REASON_LINE = 2000


def one_line(text: str | None) -> str:
    """A reason fit for one stderr line (cut at MAX_REASON_LINE characters)."""
    if text and len(text) > MAX_REASON_LINE:
        size = len(text)
        text = text[: MAX_REASON_LINE * 2]  # never split a 50 MB string into words
        line = " ".join(text.split())[:MAX_REASON_LINE]
        return f"{line}… ({size} characters; the whole text is in the failure details)"
    return " ".join((text or "").split()) or "no reason given"


# --------------------------------------------------------------------------------------------
# the CLI's entry point
# --------------------------------------------------------------------------------------------


def start_on_swf(
    cls: type,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    domain: str | None,
    workflow_id: str | None = None,
    task_list: str | None = None,
    execution_timeout: int | None = None,
    tags: Sequence[str] | None = None,
    wait: bool = False,
) -> None:
    """`workflow.start` on SWF: print `<workflow_id> <run_id>`, or with `wait` the result JSON.

    With `wait`, a run that does not complete raises a ReplayflowError (CLI: one line, exit 1);
    an outage longer than REPLAYFLOW_WAIT_OUTAGE raises WaitAbandoned (exit 3).
    """
    from .backends.swf import SwfBackend

    outage_limit = wait_outage_limit() if wait else None  # a bad value fails before the start
    backend = SwfBackend(resolve_domain(domain))
    workflow_id, run_id = start_execution(
        backend, cls, args, kwargs, workflow_id=workflow_id, task_list=task_list,
        execution_timeout=execution_timeout, tags=tags,
    )
    if not wait:
        print(f"{workflow_id} {run_id}", flush=True)
        return
    print(f"{workflow_id} {run_id}", file=sys.stderr, flush=True)
    outcome = wait_for_close(backend, workflow_id, run_id, outage_limit=outage_limit)
    if outcome.ok:
        print(json.dumps(outcome.result), flush=True)
        return
    raise ReplayflowError(f"workflow {outcome.status.lower()}: {one_line(outcome.reason)}")


# --------------------------------------------------------------------------------------------
# standalone: decider + worker children, one run, then cleanup
# --------------------------------------------------------------------------------------------

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
        self.procs: list[tuple[str, Any]] = []
        #: Children whose exit with code 0 is expected (the decider once the run closed):
        #: tolerated by `check` once, so the next DescribeWorkflowExecution can see the close.
        self.may_finish: set[str] = set()
        self._finished: set[str] = set()

    def spawn(self, label: str, argv: list[str]) -> Any:
        import subprocess

        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(),
            start_new_session=True, preexec_fn=_die_with_parent,
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
        """SIGTERM every child's group, wait up to `grace` seconds, SIGKILL what is left."""
        import signal

        for _label, proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _label, proc in self.procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:  # noqa: BLE001 - TimeoutExpired: kill below
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


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the standalone process dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort: the parent's own cleanup still runs
        pass


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
) -> WorkflowOutcome:
    """Run one workflow with a private decider and worker(s) as child processes; clean up.

    Decisions and activities all go to one task list unique to this run (the decider routes
    every activity there), so nothing else can steal or serve its tasks, and a single worker
    serves every activity, whatever task list it declares. The children are stopped on any
    exit; an interrupted run still open is terminated (no decider would ever serve it).

    The decider exits as soon as it has closed the run, which ends our wait at once (no polling
    lag); once the run is closed nothing is left for the children to do, so they are killed
    without a grace period (their polls in flight would otherwise hold them up to a poll's length).
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
            "--pollers", str(STANDALONE_POLLERS), path])
        children.may_finish.add("decider")
        for i in range(max(1, workers)):
            # A grace period shorter than our own before SIGKILL (CHILD_GRACE), so activities cut
            # short by Ctrl-C are reported failed instead of left to time out.
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
        print(f"{started[0]} {started[1]}", file=sys.stderr, flush=True)
        outcome = wait_for_close(backend, *started, check=children.check,
                                 pause=lambda seconds: _wait_exit(decider, seconds))
        closed = True
        return outcome
    finally:
        if started is not None and not closed:
            try:
                backend.terminate(started[0], started[1], reason="standalone run interrupted")
            except Exception as exc:  # noqa: BLE001 - cleanup must go on
                log.warning("could not terminate %s: %s", started[0], exc)
        children.stop(grace=0.0 if closed else CHILD_GRACE)


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


def _wait_exit(proc: Any, seconds: float) -> None:
    """Sleep up to `seconds`, less if `proc` exits meanwhile."""
    import subprocess

    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


__all__ = [
    "WaitTimedOut",
    "WorkflowOutcome",
    "default_workflow_id",
    "module_activities",
    "outcome_from_event",
    "register_workflow",
    "register_workflows",
    "resolve_domain",
    "run_standalone",
    "start_execution",
    "start_on_swf",
    "wait_for_close",
    "wait_outage_limit",
]
