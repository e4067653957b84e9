"""Every exception a replayflow user can catch, in one place.

Messages are written for the person at the terminal: what happened, and what to do about it.
`UserError` and its subclasses are shown by the CLI as one `Error: ...` line (exit 2), never as a
traceback.
"""

from __future__ import annotations

from typing import Any


class ReplayflowError(Exception):
    """Base class of every replayflow exception."""


class UserError(ReplayflowError):
    """Bad input or configuration: the CLI prints the message on one line and exits with 2."""

    exit_code = 2


class ConfigurationError(UserError):
    """A setting (env var, option) is missing or invalid."""


class WorkflowNotFound(UserError):
    """An import path does not name a Workflow class, or an execution does not exist."""


class ActivityNotFound(UserError):
    """An activity type name does not resolve to an importable function."""


class InvalidInput(UserError):
    """Input JSON is malformed or does not fit the function's signature."""


class InvalidJson(InvalidInput, ValueError):
    """JSON that Python's json module reads but replayflow refuses: NaN, Infinity, or nesting
    over `encoding.MAX_NESTING`. A ValueError too, like json's own decoding errors."""


class InvalidHistory(InvalidInput):
    """A history (a file, or events handed to `testing.replay`) is not shaped as SWF sends one."""


class ConnectionFailed(UserError):
    """An AWS endpoint cannot be reached, or rejects our credentials."""


class EndpointUnreachable(ConnectionFailed):
    """The endpoint refused the connection, or did not answer in time (retries included)."""


class ServiceUnavailable(ReplayflowError):
    """AWS answered with a server error (5xx) or kept throttling through every retry.

    Transient by nature: whoever can wait (`wait_for_close`) tries again later.
    """


class CredentialsMissing(ConnectionFailed):
    """No AWS credentials could be found."""


class UnknownDomain(UserError):
    """The SWF domain is not registered."""


class ExecutionNotFound(UserError):
    """No workflow execution matches the given workflow id (and run id)."""


class PayloadTooLarge(UserError):
    """A field is over its SWF size limit and no jumbo-field bucket is configured."""

    def __init__(self, field: str, size: int, limit: int, hint: str = "") -> None:
        self.field = field
        self.size = size
        self.limit = limit
        message = f"{field} is {size} characters, over the SWF limit of {limit}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class JumboFieldError(UserError):
    """A jumbo-field reference cannot be read back (missing bucket or object)."""


class TaskFailed(ReplayflowError):
    """A task (activity or child workflow) failed after its last attempt.

    Reading `future.result` raises it. It carries the task id, the remote exception's type and
    message, and the remote traceback, so the failure can be understood without the worker's logs.
    """

    def __init__(
        self,
        task_id: str,
        reason: str,
        details: Any = None,
        *,
        error_type: str | None = None,
        message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.task_id = task_id
        self.reason = reason
        self.details = details
        self.error_type = error_type
        self.message = message
        self.traceback = traceback
        super().__init__(f"{task_id} failed: {reason}")

    def __reduce__(self):  # keep pickling (process pools) lossless
        return (
            _rebuild_task_failed,
            (self.__class__, self.task_id, self.reason, self.details, self.error_type,
             self.message, self.traceback),
        )


def _rebuild_task_failed(cls, task_id, reason, details, error_type, message, traceback):
    return cls(task_id, reason, details, error_type=error_type, message=message,
               traceback=traceback)


class TaskTimedOut(TaskFailed):
    """A task failed because it passed one of its timeouts."""


class DependencyFailed(TaskFailed):
    """A task was never scheduled because a future it took as input failed."""


class GroupFailed(TaskFailed):
    """A canvas Group failed: every member ran, and `failures` holds each member's failure (or
    cancellation), in member order. Catching TaskFailed catches it too."""

    def __init__(self, task_id: str, failures: list[BaseException], total: int) -> None:
        self.failures = list(failures)
        self.total = total
        summary = "; ".join(str(failure) for failure in self.failures)
        reason = f"{len(self.failures)} of {total} tasks failed: {summary}"
        super().__init__(
            task_id, reason,
            {"failures": [_failure_summary(failure) for failure in self.failures]},
            error_type="GroupFailed", message=reason)

    def __reduce__(self):
        return (GroupFailed, (self.task_id, self.failures, self.total))


def _failure_summary(failure: BaseException) -> dict[str, Any]:
    return {"task_id": getattr(failure, "task_id", None), "reason": str(failure),
            "type": getattr(failure, "error_type", None) or type(failure).__name__}


class SyncFailed(TaskFailed):
    """A latch or semaphore operation (`Workflow.latch`, `Workflow.semaphore`) could not reach
    its coordinator workflow: it could not be signalled, nor started (see replayflow/sync.py).
    `task_id` is the operation's id (`sync-<n>`)."""


class TaskCancelled(ReplayflowError):
    """Reading the result of a cancelled future."""

    def __init__(self, task_id: str, details: Any = None) -> None:
        self.task_id = task_id
        self.details = details
        super().__init__(f"{task_id} was cancelled")


class InvalidDag(ReplayflowError, ValueError):
    """A `canvas.Dag` that cannot run: a cycle, an unknown node, an ambiguous or missing provider,
    a slot that is not a parameter, several unlabelled parents. Raised when the DAG is built (and,
    for its roots' input, when it is submitted), before anything is scheduled."""


class CommandFailed(ReplayflowError):
    """A shell command (`replayflow.shell`) exited non-zero, died of a signal, or was stopped.

    `returncode` is the exit code, or -N for death by signal N; `stderr_tail` holds the last
    lines of its stderr; `result` is the whole ShellResult when the command ran to its end. The
    message says all of it, so the task's failure reason reads on its own.
    """

    def __init__(self, command: str, returncode: int | None, how: str,
                 stderr_tail: str = "", result: Any = None) -> None:
        self.command = command
        self.returncode = returncode
        self.how = how
        self.stderr_tail = stderr_tail
        self.result = result
        message = f"{command} {how}"
        if stderr_tail:
            message += f"; the end of its stderr:\n{stderr_tail}"
        super().__init__(message)

    def __reduce__(self):  # keep pickling lossless (the message is built, not stored)
        return (type(self), (self.command, self.returncode, self.how, self.stderr_tail,
                             self.result))


class CompensationFailed(ReplayflowError):
    """A saga scope (`Workflow.saga()`) was left by an error, and undoing what it did failed too
    (TaskFlow's REVERT_FAILURE). `original` is the error that started the compensation;
    `failures` holds the failure of each compensation that failed after its own retries, in the
    order they ran; `total` is how many compensations ran (failed or not).
    """

    def __init__(self, original: BaseException, failures: list[BaseException],
                 total: int) -> None:
        self.original = original
        self.failures = list(failures)
        self.total = total
        summary = "; ".join(str(failure) for failure in self.failures)
        super().__init__(f"{len(self.failures)} of {total} compensations failed after "
                         f"{_describe(original)}: {summary}")

    def __reduce__(self):
        return (CompensationFailed, (self.original, self.failures, self.total))


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TaskFailed | TaskCancelled) else \
        f"{type(exc).__name__}: {exc}"


class WorkflowFailed(ReplayflowError):
    """A workflow execution closed without a result (failed, timed out, terminated, cancelled)."""

    def __init__(self, reason: str, details: Any = None, status: str = "FAILED") -> None:
        self.reason = reason
        self.details = details
        self.status = status
        super().__init__(reason)


class WorkflowCancelled(ReplayflowError):
    """Raised inside `run()` when a cancel was requested on the workflow execution."""


class StuckWorkflow(ReplayflowError):
    """A local run can never finish: nothing is running and nothing can happen, yet it is open
    (typically it waits for a signal that nobody sends)."""


class WaitTimedOut(ReplayflowError):
    """Waiting for an execution to close gave up before it closed."""


class EventNotApplied(ReplayflowError):
    """The engine could not apply an event of a history: read a signal's input or a task's
    result (a bad jumbo reference, JSON nested too deep), or decide at a DecisionTaskStarted.

    The message names the event (which signal, which task) and the error, which is also the
    exception's `__cause__`. The decider fails the run with it, unless the cause is transient.
    """

    def __init__(self, what: str, cause: BaseException) -> None:
        self.what = what
        self.cause = cause
        super().__init__(f"{what}: {type(cause).__name__}: {cause}")


class WaitAbandoned(ReplayflowError):
    """`--wait` lost contact with SWF for too long; the run itself goes on.

    The CLI exits with its own code (3), so a script can tell "we stopped watching" from "the
    workflow failed" (1) and "bad input" (2).
    """

    exit_code = 3


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) stopped a command that was waiting on a run; says what became of it.

    A KeyboardInterrupt still, so Python code that stops on Ctrl-C keeps stopping; the message
    is the one line the CLI prints before it exits 130.
    """

    def __init__(self, message: str, workflow_id: str, run_id: str) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.run_id = run_id


class NonDeterministicWorkflow(ReplayflowError):
    """The history was not produced by the current workflow code.

    The decider leaves the decision task to time out instead of answering, so the execution is never
    corrupted or failed for it: deploy a fix (or the old code) and the task is retried.
    """
