"""SwfBackend against a real moto_server process: registration, round trip, listing, errors."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from support.moto_server import free_port
from support.swf_runs import wait_for

from replayflow.backends import aws, swf
from replayflow.backends.swf import SwfBackend
from replayflow.errors import (
    ConfigurationError,
    ConnectionFailed,
    CredentialsMissing,
    ExecutionNotFound,
    UnknownDomain,
)

pytestmark = pytest.mark.integration

@pytest.fixture
def backend(aws_env: dict[str, str], swf_domain: str) -> SwfBackend:
    return SwfBackend(swf_domain)


def count_requests(backend: SwfBackend) -> list[str]:
    """Record the name of every request the backend's client sends from now on."""
    sent: list[str] = []

    def on_send(request: Any, **_: Any) -> None:
        sent.append(request.headers.get("X-Amz-Target", b"").decode().rpartition(".")[2])

    backend.client.meta.events.register("before-send.swf", on_send)
    return sent


def register_types(backend: SwfBackend) -> None:
    backend.register_workflow_type("Flow", "1", "deciders", execution_timeout=3600)
    backend.register_activity_type("double", "1", "workers")


def schedule(activity_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "decisionType": "ScheduleActivityTask",
        "scheduleActivityTaskDecisionAttributes": {
            "activityType": {"name": "double", "version": "1"},
            "activityId": activity_id,
            "input": json.dumps(payload),
        },
    }


# -- configuration ------------------------------------------------------------------------------


def test_endpoint_comes_from_the_environment(backend, moto_server):
    assert backend.endpoint_url == moto_server.endpoint_url
    assert backend.check_domain()["domainInfo"]["name"] == backend.domain


def test_service_specific_endpoint_wins_over_the_generic_one(aws_env, swf_domain, moto_server,
                                                               monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SWF", moto_server.endpoint_url)

    assert SwfBackend(swf_domain).check_domain()["domainInfo"]["status"] == "REGISTERED"


def test_missing_region_is_a_configuration_error(aws_env, monkeypatch, tmp_path):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    with pytest.raises(ConfigurationError, match="AWS_DEFAULT_REGION"):
        SwfBackend("any")


def test_polls_wait_longer_than_a_long_poll_and_calls_do_not(aws_env, monkeypatch):
    monkeypatch.setenv(aws.RETRIES_ENV, "7")
    backend = SwfBackend("any")
    polls, calls = backend.poll_client.meta.config, backend.client.meta.config

    assert polls.read_timeout > 60
    assert calls.read_timeout <= 5 and calls.connect_timeout <= 5
    for config in (polls, calls):
        assert config.retries["total_max_attempts"] == 7
        assert config.retries["mode"] in ("standard", "adaptive")


# -- registration -------------------------------------------------------------------------------


def test_register_domain_is_idempotent(aws_env):
    backend = SwfBackend(f"idempotent-{uuid.uuid4().hex[:8]}")

    first = backend.register_domain(retention_days=2)
    second = backend.register_domain(retention_days=2)

    assert (first, second) == (True, False)
    assert backend.check_domain()["configuration"]["workflowExecutionRetentionPeriodInDays"] == "2"


def test_type_registration_is_idempotent_and_cached(backend, monkeypatch):
    sent = count_requests(backend)

    assert backend.register_workflow_type("Flow", "1", "deciders", execution_timeout=60) is True
    assert backend.register_activity_type("act", "1", "workers", heartbeat_timeout=30) is True
    assert backend.register_workflow_type("Flow", "1", "deciders", execution_timeout=60) is False
    assert backend.register_activity_type("act", "1", "workers", heartbeat_timeout=30) is False
    assert sent == ["RegisterWorkflowType", "RegisterActivityType"]  # the cache answered

    # A new process (empty cache) meets TypeAlreadyExistsFault: still fine.
    monkeypatch.setattr(swf, "_registered", set())
    assert backend.register_workflow_type("Flow", "1", "deciders", execution_timeout=60) is False
    assert backend.register_activity_type("act", "1", "workers", heartbeat_timeout=30) is False

    types = backend.client.list_activity_types(domain=backend.domain,
                                               registrationStatus="REGISTERED")["typeInfos"]
    assert [t["activityType"] for t in types] == [{"name": "act", "version": "1"}]


# -- a full round trip --------------------------------------------------------------------------


def test_start_poll_respond_round_trip(backend):
    register_types(backend)
    run_id = backend.start_workflow_execution(
        "order-1", "Flow", "1", input=json.dumps({"args": [21], "kwargs": {}}), tags=["shop"]
    )

    task = wait_for(lambda: backend.poll_for_decision_task("deciders", "decider-1"))
    assert task["workflowExecution"] == {"workflowId": "order-1", "runId": run_id}
    started = task["events"][0]
    assert started["eventType"] == "WorkflowExecutionStarted"
    assert started["eventTimestamp"].tzinfo is not None  # boto3's shape: aware datetimes
    assert json.loads(started["workflowExecutionStartedEventAttributes"]["input"])["args"] == [21]

    # The affinity parameters are accepted (moto ignores them, as it reports nothing back).
    backend.respond_decision_task_completed(
        task["taskToken"],
        [schedule("double-0#1", {"args": [21], "kwargs": {}})],
        execution_context="ctx-1",
        task_list="deciders-sticky",
        schedule_to_start_timeout=30,
    )

    activity = wait_for(lambda: backend.poll_for_activity_task("workers", "worker-1"))
    assert activity["activityId"] == "double-0#1"
    assert backend.record_activity_task_heartbeat(activity["taskToken"], "halfway") is False
    value = json.loads(activity["input"])["args"][0] * 2
    backend.respond_activity_task_completed(activity["taskToken"], json.dumps(value))

    task = wait_for(lambda: backend.poll_for_decision_task("deciders", "decider-1",
                                                           for_engine=True))
    # The decider's view: SWF's epoch seconds, left for the engine to convert the one it reads,
    # and only the attributes the engine reads.
    assert all(type(e["eventTimestamp"]) is float for e in task["events"])
    scheduled = [e for e in task["events"] if e["eventType"] == "ActivityTaskScheduled"][0]
    assert set(scheduled["activityTaskScheduledEventAttributes"]) == {
        "activityId", "activityType", "input"}
    assert all(set(e) == {"eventId", "eventType", "eventTimestamp"} for e in task["events"]
               if e["eventType"] in ("DecisionTaskScheduled", "DecisionTaskStarted"))
    completed = [e for e in task["events"] if e["eventType"] == "ActivityTaskCompleted"]
    assert json.loads(completed[0]["activityTaskCompletedEventAttributes"]["result"]) == 42
    backend.respond_decision_task_completed(
        task["taskToken"],
        [
            {
                "decisionType": "CompleteWorkflowExecution",
                "completeWorkflowExecutionDecisionAttributes": {"result": "42"},
            }
        ],
    )

    info = backend.describe_workflow_execution("order-1")["executionInfo"]
    assert (info["executionStatus"], info["closeStatus"]) == ("CLOSED", "COMPLETED")
    history = backend.get_workflow_execution_history("order-1", run_id)
    assert [e["eventId"] for e in history] == list(range(1, len(history) + 1))
    assert all(isinstance(e["eventTimestamp"], dt.datetime) for e in history)
    raw = backend.get_workflow_execution_history("order-1", run_id, for_engine=True)
    assert [e["eventTimestamp"] for e in raw] == pytest.approx(
        [e["eventTimestamp"].timestamp() for e in history], abs=1e-5)
    assert history[-1]["eventType"] == "WorkflowExecutionCompleted"
    assert history[-1]["workflowExecutionCompletedEventAttributes"]["result"] == "42"


def test_empty_poll_is_none(backend):
    assert backend.poll_for_decision_task("nobody-here", "decider-1") is None
    assert backend.poll_for_activity_task("nobody-here", "worker-1") is None


def test_failed_activity_reason_is_cut_to_the_swf_limit(backend):
    register_types(backend)
    backend.start_workflow_execution("fails-1", "Flow", "1")
    task = wait_for(lambda: backend.poll_for_decision_task("deciders"))
    backend.respond_decision_task_completed(task["taskToken"], [schedule("a#1", {})])
    activity = wait_for(lambda: backend.poll_for_activity_task("workers"))

    details = json.dumps({"type": "ValueError", "message": "no", "reason": "no", "traceback": ""})
    backend.respond_activity_task_failed(activity["taskToken"], "x" * 1000, details)

    failed = [e for e in backend.get_workflow_execution_history("fails-1")
              if e["eventType"] == "ActivityTaskFailed"][0]["activityTaskFailedEventAttributes"]
    assert len(failed["reason"]) == 256
    assert failed["reason"].startswith("x" * 255)
    assert json.loads(failed["details"])["type"] == "ValueError"


# -- finding and listing executions -------------------------------------------------------------


def test_find_latest_run_finds_the_newest_closed_run(backend):
    register_types(backend)
    first = backend.start_workflow_execution("nightly", "Flow", "1")
    backend.terminate("nightly", first, reason="first run done")
    second = backend.start_workflow_execution("nightly", "Flow", "1")
    backend.terminate("nightly", reason="second run done")

    latest = backend.find_latest_run("nightly")

    assert latest["execution"]["runId"] == second
    assert latest["executionStatus"] == "CLOSED"
    assert latest["closeStatus"] == "TERMINATED"
    assert backend.describe_workflow_execution("nightly")["executionInfo"]["execution"][
        "runId"] == second


def test_list_executions_applies_filters_client_side(backend):
    register_types(backend)
    backend.register_workflow_type("Other", "1", "deciders", execution_timeout=3600)
    backend.start_workflow_execution("a", "Flow", "1", tags=["red"])
    backend.start_workflow_execution("b", "Other", "1", tags=["blue"])
    backend.start_workflow_execution("c", "Flow", "1", tags=["blue"])
    backend.terminate("c")

    def ids(**filters: Any) -> list[str]:
        return sorted(i["execution"]["workflowId"] for i in backend.list_executions(**filters))

    assert ids(status="open") == ["a", "b"]
    assert ids(status="closed") == ["c"]
    assert ids(status="all") == ["a", "b", "c"]
    assert ids(status="all", type_name="Flow") == ["a", "c"]
    assert ids(status="all", tag="blue") == ["b", "c"]
    assert ids(status="all", type_name="Flow", tag="blue") == ["c"]
    assert ids(status="all", workflow_id="b") == ["b"]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert ids(status="all", since=future) == []
    newest_first = [i["execution"]["workflowId"] for i in backend.list_executions("all")]
    assert newest_first == ["c", "b", "a"]


def test_signal_reaches_the_history(backend):
    register_types(backend)
    backend.start_workflow_execution("waits", "Flow", "1")

    backend.signal("waits", "go", input=json.dumps({"args": [1], "kwargs": {}}))

    signalled = [e for e in backend.get_workflow_execution_history("waits")
                 if e["eventType"] == "WorkflowExecutionSignaled"]
    assert signalled[0]["workflowExecutionSignaledEventAttributes"]["signalName"] == "go"


# -- one-line errors ----------------------------------------------------------------------------


def assert_one_line(exc: BaseException) -> None:
    assert "\n" not in str(exc)
    assert "Traceback" not in str(exc)


def test_unreachable_endpoint_names_the_url_and_the_env_vars(aws_env, monkeypatch):
    closed = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    monkeypatch.setenv(aws.RETRIES_ENV, "1")

    with pytest.raises(ConnectionFailed) as caught:
        SwfBackend("any").check_domain()

    assert closed in str(caught.value)
    assert "AWS_ENDPOINT_URL" in str(caught.value)
    assert_one_line(caught.value)


def test_missing_credentials(aws_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(CredentialsMissing, match="AWS_ACCESS_KEY_ID") as caught:
        SwfBackend("any").check_domain()
    assert_one_line(caught.value)


def test_unknown_domain_suggests_registering_it(aws_env):
    backend = SwfBackend("no-such-domain")

    for call in (backend.check_domain,
                 lambda: backend.poll_for_decision_task("deciders"),
                 lambda: backend.start_workflow_execution("w", "Flow", "1")):
        with pytest.raises(UnknownDomain, match="replayflow domain.register no-such-domain") as c:
            call()
        assert_one_line(c.value)


def test_unknown_execution(backend):
    with pytest.raises(ExecutionNotFound, match="'ghost'") as caught:
        backend.find_latest_run("ghost")
    assert_one_line(caught.value)
    with pytest.raises(ExecutionNotFound, match="'ghost'"):
        backend.describe_workflow_execution("ghost", "not-a-run")
    with pytest.raises(ExecutionNotFound, match="'ghost'"):
        backend.get_workflow_execution_history("ghost", "not-a-run")
    with pytest.raises(ExecutionNotFound):
        backend.terminate("ghost")
