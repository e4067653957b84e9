"""Every way a decision task can go wrong in the decider, and what each kind of error leads to.

The decider's exception paths are: fetching the history, decoding events (a signal's input, a
task's result), running `run()`, preparing the decisions (jumbo fields, type registration) and
sending them. Each error is one of three kinds:
- transient (throttling, a 5xx, a dropped connection): retried with backoff, then answered; if it
  lasts, the task is left to SWF (it times out and comes back), and the run is never failed;
- non-determinism: never answered, logged once per execution however often the task comes back;
- anything else: the run fails at once, with a reason naming the cause and a traceback.
No deterministic error may leave a task unanswered (a livelock until the execution times out).

Errors are built the way SwfBackend raises them (`translate_error`, botocore's exception as the
cause); the histories are recorded by the memory backend.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

import botocore.exceptions as bexc
import pytest
from support.failure_workflows import SignalWaitWorkflow
from support.workflows import ChainWorkflow

from replayflow.backends.aws import translate_error
from replayflow.decider import Decider, is_transient
from replayflow.errors import ExecutionNotFound, UserError
from replayflow.local import LocalRunner

WORKFLOWS = {ChainWorkflow.type_name(): ChainWorkflow,
             SignalWaitWorkflow.type_name(): SignalWaitWorkflow}


def aws_error(code: str, status: int, operation: str = "RespondDecisionTaskCompleted") -> Exception:
    """The error SwfBackend raises for this AWS answer (botocore's as its __cause__)."""
    client_error = bexc.ClientError(
        {"Error": {"Code": code, "Message": f"{code} (test)"},
         "ResponseMetadata": {"HTTPStatusCode": status}}, operation)
    translated = translate_error(client_error, endpoint="http://swf.test", domain="d")
    translated.__cause__ = client_error
    return translated


def connection_error() -> Exception:
    cause = bexc.EndpointConnectionError(endpoint_url="http://swf.test")
    translated = translate_error(cause, endpoint="http://swf.test")
    translated.__cause__ = cause
    return translated


THROTTLED = aws_error("ThrottlingException", 400)
SERVER_ERROR = aws_error("InternalFailure", 500)
REJECTED = aws_error("ValidationException", 400)
REFUSED_PARAMETER = bexc.ParamValidationError(report="Invalid length for parameter timerId")


class ScriptedBackend:
    """The SWF surface the decider uses; each method raises the errors queued for it, in order."""

    def __init__(self, history: list[dict]) -> None:
        self.history = history
        self.errors: dict[str, list[Exception]] = {}
        self.responses: list[list[dict]] = []

    def fail(self, method: str, *errors: Exception) -> None:
        self.errors.setdefault(method, []).extend(errors)

    def _maybe_raise(self, method: str) -> None:
        queued = self.errors.get(method)
        if queued:
            raise queued.pop(0)

    def register_activity_type(self, *args: Any, **kw: Any) -> bool:
        self._maybe_raise("register_activity_type")
        return True

    def register_workflow_type(self, *args: Any, **kw: Any) -> bool:
        return True

    def get_workflow_execution_history(self, *args: Any, **kw: Any) -> list[dict]:
        self._maybe_raise("get_workflow_execution_history")
        return list(self.history)

    def respond_decision_task_completed(self, token: str, decisions: list, **kw: Any) -> None:
        self._maybe_raise("respond_decision_task_completed")
        self.responses.append(decisions)


def decision_tasks(events: list[dict], *, sticky: bool = False) -> list[dict]:
    """One task per DecisionTaskStarted; `sticky` tasks carry only the events since the last."""
    name = events[0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"]
    tasks, previous = [], 0
    for i, event in enumerate(events):
        if event["eventType"] == "DecisionTaskStarted":
            upto = events[: i + 1]
            tasks.append({
                "taskToken": f"token-{event['eventId']}", "startedEventId": event["eventId"],
                "previousStartedEventId": previous,
                "workflowExecution": {"workflowId": "wf-1", "runId": "run-1"},
                "workflowType": {"name": name, "version": "1"},
                "events": [e for e in upto if e["eventId"] >= previous] if sticky and previous
                else upto})
            previous = event["eventId"]
    return tasks


@pytest.fixture(scope="module")
def chain2() -> list[dict]:
    result = LocalRunner(max_workers=2).run(ChainWorkflow, [2])
    assert result.ok, result.reason
    return result.execution.events


def signalled_with(value: str) -> list[dict]:
    """A SignalWaitWorkflow history whose signal "go" carries `value` as its raw input."""
    backend = LocalRunner(max_workers=2)
    execution = backend.start(SignalWaitWorkflow, workflow_id="sig")
    backend.signal("sig", "go", {"n": 1})
    assert backend.run_until_closed(execution).ok
    events = execution.events
    for event in events:
        if event["eventType"] == "WorkflowExecutionSignaled":
            event["workflowExecutionSignaledEventAttributes"]["input"] = value
    return events


def deep_input(depth: int) -> list[dict]:
    """A ChainWorkflow history whose input is a list nested `depth` deep."""
    result = LocalRunner(max_workers=2).run(ChainWorkflow, [0])
    events = result.execution.events
    nested = "[" * depth + "]" * depth
    events[0]["workflowExecutionStartedEventAttributes"]["input"] = f'{{"args":[{nested}]}}'
    return events


def decider_for(backend: ScriptedBackend) -> Decider:
    decider = Decider(backend, WORKFLOWS, "deciders")
    decider.transient_first_delay = decider.transient_max_delay = 0.001
    return decider


def kind_of(backend: ScriptedBackend) -> str:
    """What the decision task came to: answered, failed (the run), or left unanswered."""
    if not backend.responses:
        return "unanswered"
    last = backend.responses[-1]
    return "failed" if last[-1]["decisionType"] == "FailWorkflowExecution" else "answered"


def fail_attributes(backend: ScriptedBackend) -> dict:
    return backend.responses[-1][-1]["failWorkflowExecutionDecisionAttributes"]


# --- the table: every exception path, each kind of error --------------------------------------

PATHS = {
    # fetching the history (a cache miss on a sticky task)
    "history fetch, throttled once": (
        "chain", "get_workflow_execution_history", [THROTTLED], "sticky", "answered", None),
    "history fetch, unreachable for good": (
        "chain", "get_workflow_execution_history", [connection_error()] * 9, "sticky",
        "unanswered", None),
    "history fetch, execution gone": (
        "chain", "get_workflow_execution_history",
        [ExecutionNotFound("No execution found for workflow id 'wf-1'")], "sticky", "failed",
        "decider: ExecutionNotFound: No execution found"),
    # decoding events
    "signal with a bad jumbo reference": (
        "signal-bad-reference", None, [], "full", "failed",
        r"decider: cannot read signal 'go' \(event \d+\): JumboFieldError: malformed jumbo-field"),
    "input nested deeper than Python recurses": (
        "deep-input", None, [], "full", "failed",
        r"decider: cannot read the workflow's input \(event 1\): InvalidJson: JSON text "
        r"refused: it nests arrays and objects more than 128 levels deep"),
    # preparing the decisions
    "type registration, server error once": (
        "chain", "register_activity_type", [SERVER_ERROR], "full", "answered", None),
    "type registration, refused": (
        "chain", "register_activity_type", [UserError("AWS denied RegisterActivityType")],
        "full", "failed", "decider: cannot prepare the decisions: UserError: AWS denied"),
    # sending them
    "respond, throttled twice": (
        "chain", "respond_decision_task_completed", [THROTTLED, THROTTLED], "full", "answered",
        None),
    "respond, a dropped connection for good": (
        "chain", "respond_decision_task_completed", [connection_error()] * 9, "full",
        "unanswered", None),
    "respond, ValidationException": (
        "chain", "respond_decision_task_completed", [REJECTED], "full", "failed",
        "decider: SWF rejected the decisions: SWF rejected RespondDecisionTaskCompleted"),
    "respond, refused by botocore": (
        "chain", "respond_decision_task_completed", [REFUSED_PARAMETER], "full", "failed",
        "decider: SWF rejected the decisions: Parameter validation failed"),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_each_exception_path_behaves_as_its_kind(path, chain2):
    history, method, errors, delivery, kind, reason = PATHS[path]
    events = {"chain": lambda: chain2,
              "signal-bad-reference": lambda: signalled_with("replayflow+s3://broken"),
              "deep-input": lambda: deep_input(sys.getrecursionlimit() + 100)}[history]()
    backend = ScriptedBackend(events)
    if method:
        backend.fail(method, *errors)
    decider = decider_for(backend)
    tasks = decision_tasks(events, sticky=delivery == "sticky")
    task = tasks[1] if delivery == "sticky" else tasks[-1 if history != "chain" else 0]
    decider.process(task)
    assert kind_of(backend) == kind, backend.responses
    if kind == "failed":
        attrs = fail_attributes(backend)
        assert re.match(reason, attrs["reason"]), attrs["reason"]
        details = json.loads(attrs["details"])
        assert "Traceback (most recent call last)" in details["traceback"]
    assert not decider.cache or kind == "answered"


def test_non_determinism_is_left_unanswered_and_logged_once_per_execution(chain2, caplog):
    """The chain's history replayed by a class that does something else: SWF brings the task
    back after each timeout; the log says it once."""
    backend = ScriptedBackend(chain2)
    decider = decider_for(backend)
    task = dict(decision_tasks(chain2)[1], workflowType={"name": SignalWaitWorkflow.type_name(),
                                                          "version": "1"})
    with caplog.at_level(logging.DEBUG, logger="replayflow.decider"):
        for _ in range(3):
            decider.process(task)
    assert kind_of(backend) == "unanswered"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "does not match its history" in errors[0].getMessage()
    assert not decider.cache


def test_an_error_in_run_fails_the_run_through_the_engine(chain2):
    """run()'s own errors (a point-of-use check included) never reach the decider's triage:
    the engine answers with FailWorkflowExecution itself."""
    from support.failure_workflows import EmptyTimerIdWorkflow

    result = LocalRunner(max_workers=2).run(EmptyTimerIdWorkflow)
    backend = ScriptedBackend(result.execution.events)
    decider = Decider(backend, {EmptyTimerIdWorkflow.type_name(): EmptyTimerIdWorkflow}, "d")
    decider.process(decision_tasks(result.execution.events)[0])
    assert kind_of(backend) == "failed"
    assert fail_attributes(backend)["reason"] == "ValueError: timer id must not be empty"


def test_a_failure_that_cannot_be_sent_is_logged_not_raised(chain2, caplog):
    backend = ScriptedBackend(chain2)
    backend.fail("respond_decision_task_completed", REJECTED,
                 aws_error("UnknownResourceFault", 400))
    with caplog.at_level(logging.ERROR, logger="replayflow.decider"):
        decider_for(backend).process(decision_tasks(chain2)[0])
    assert kind_of(backend) == "unanswered"
    assert any("could not fail workflow wf-1 either" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("error, transient", [
    (THROTTLED, True), (SERVER_ERROR, True), (connection_error(), True),
    (TimeoutError("read timed out"), True), (REJECTED, False), (REFUSED_PARAMETER, False),
    (aws_error("UnrecognizedClientException", 400), False), (RecursionError("deep"), False),
    (ValueError("bad"), False),
])
def test_what_counts_as_transient(error, transient):
    assert is_transient(error) is transient


# --- the same errors in a local run (the real Decider against the in-process service) ----------

def test_locally_a_signal_with_a_bad_reference_fails_the_run_as_on_swf():
    runner = LocalRunner(max_workers=2)
    run = runner.start(SignalWaitWorkflow, workflow_id="bad-signal")
    runner.service.signal("bad-signal", "go", "replayflow+s3://broken", None)
    result = runner.run_until_closed(run)
    assert result.status == "FAILED"
    assert re.match(r"decider: cannot read signal 'go' \(event \d+\): JumboFieldError",
                    result.reason), result.reason
    assert "Traceback" in result.details["traceback"]


def test_locally_an_input_nested_too_deep_fails_the_run_as_on_swf():
    """Any SWF client can start a run with JSON nested deeper than Python reads: the recorded
    input is replaced before the first decision."""
    runner = LocalRunner(max_workers=2)
    run = runner.start(ChainWorkflow, [0], workflow_id="deep")
    depth = sys.getrecursionlimit() + 100
    run.events[0]["workflowExecutionStartedEventAttributes"]["input"] = (
        '{"args":[' + "[" * depth + "]" * depth + "]}")
    result = runner.run_until_closed(run)
    assert result.status == "FAILED"
    assert result.reason.startswith(
        "decider: cannot read the workflow's input (event 1): InvalidJson: JSON text refused: "
        "it nests arrays and objects more than 128 levels deep"), result.reason
