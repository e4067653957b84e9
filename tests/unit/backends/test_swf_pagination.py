"""SwfBackend follows nextPageToken, sends the affinity parameters, and backs off on throttling.

moto never paginates and ignores the decision task-list override, so this is where those paths
are proved: Stubber checks each request against botocore's SWF model and the expected params.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from replayflow.backends import swf
from replayflow.backends.swf import SwfBackend
from replayflow.errors import ReplayflowError

DOMAIN = "stub-domain"
EXECUTION = {"workflowId": "wf-1", "runId": "run-1"}
WORKFLOW_TYPE = {"name": "W", "version": "1"}


def event(event_id: int, event_type: str = "MarkerRecorded") -> dict:
    """A minimal SWF-shaped history event (timestamps are required by the model)."""
    return {"eventId": event_id, "eventType": event_type, "eventTimestamp": 1700000000 + event_id}


@pytest.fixture
def stubbed():
    client = boto3.client(
        "swf",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        endpoint_url="http://127.0.0.1:1",  # never contacted: the Stubber answers
    )
    with Stubber(client) as stubber:
        yield SwfBackend(DOMAIN, client=client), stubber
        stubber.assert_no_pending_responses()


def test_poll_for_decision_task_merges_every_page(stubbed):
    backend, stubber = stubbed
    first = {"domain": DOMAIN, "taskList": {"name": "deciders"}, "identity": "me"}
    page = {
        "taskToken": "tok",
        "startedEventId": 5,
        "previousStartedEventId": 0,
        "workflowExecution": EXECUTION,
        "workflowType": WORKFLOW_TYPE,
    }
    stubber.add_response(
        "poll_for_decision_task",
        {**page, "events": [event(1), event(2)], "nextPageToken": "p2"},
        first,
    )
    stubber.add_response(
        "poll_for_decision_task",
        {**page, "events": [event(3), event(4)], "nextPageToken": "p3"},
        {**first, "nextPageToken": "p2"},
    )
    stubber.add_response(
        "poll_for_decision_task", {**page, "events": [event(5)]}, {**first, "nextPageToken": "p3"}
    )

    task = backend.poll_for_decision_task("deciders", "me")

    assert task is not None
    assert [e["eventId"] for e in task["events"]] == [1, 2, 3, 4, 5]
    assert task["taskToken"] == "tok"
    assert task["startedEventId"] == 5
    assert "nextPageToken" not in task


def test_poll_sends_start_at_previous_started_event(stubbed):
    # (An empty poll cannot be stubbed: its "" taskToken breaks the model's min length; the
    # integration tests cover it against moto.)
    backend, stubber = stubbed
    stubber.add_response(
        "poll_for_decision_task",
        {
            "taskToken": "tok",
            "startedEventId": 9,
            "previousStartedEventId": 3,
            "workflowExecution": EXECUTION,
            "workflowType": WORKFLOW_TYPE,
            "events": [event(8), event(9, "DecisionTaskStarted")],
        },
        {
            "domain": DOMAIN,
            "taskList": {"name": "sticky-1"},
            "identity": "me",
            "startAtPreviousStartedEvent": True,
        },
    )

    task = backend.poll_for_decision_task("sticky-1", "me", start_at_previous_started_event=True)

    assert task is not None
    assert task["previousStartedEventId"] == 3
    assert [e["eventId"] for e in task["events"]] == [8, 9]


def test_history_follows_every_page(stubbed):
    backend, stubber = stubbed
    expected = {"domain": DOMAIN, "execution": EXECUTION}
    stubber.add_response(
        "get_workflow_execution_history",
        {"events": [event(1), event(2)], "nextPageToken": "n1"},
        expected,
    )
    stubber.add_response(
        "get_workflow_execution_history",
        {"events": [event(3)], "nextPageToken": "n2"},
        {**expected, "nextPageToken": "n1"},
    )
    stubber.add_response(
        "get_workflow_execution_history",
        {"events": [event(4)]},
        {**expected, "nextPageToken": "n2"},
    )

    events = backend.get_workflow_execution_history("wf-1", "run-1")

    assert [e["eventId"] for e in events] == [1, 2, 3, 4]


def test_list_executions_follows_pages(stubbed):
    backend, stubber = stubbed

    def info(workflow_id: str, started: int) -> dict:
        return {
            "execution": {"workflowId": workflow_id, "runId": f"r-{workflow_id}"},
            "workflowType": WORKFLOW_TYPE,
            "startTimestamp": started,
            "executionStatus": "OPEN",
        }

    stubber.add_response(
        "list_open_workflow_executions",
        {"executionInfos": [info("a", 100)], "nextPageToken": "L2"},
    )
    stubber.add_response("list_open_workflow_executions", {"executionInfos": [info("b", 200)]})

    infos = backend.list_executions("open")

    assert [i["execution"]["workflowId"] for i in infos] == ["b", "a"]  # newest first


def test_affinity_parameters_reach_respond_decision_task_completed(stubbed):
    backend, stubber = stubbed
    decisions = [
        {
            "decisionType": "StartTimer",
            "startTimerDecisionAttributes": {"timerId": "t", "startToFireTimeout": "5"},
        }
    ]
    stubber.add_response(
        "respond_decision_task_completed",
        {},
        {
            "taskToken": "tok",
            "decisions": decisions,
            "executionContext": "ctx",
            "taskList": {"name": "sticky-host-1"},
            "taskListScheduleToStartTimeout": "30",
        },
    )

    backend.respond_decision_task_completed(
        "tok",
        decisions,
        execution_context="ctx",
        task_list="sticky-host-1",
        schedule_to_start_timeout=30,
    )


def test_respond_without_affinity_sends_no_task_list(stubbed):
    backend, stubber = stubbed
    stubber.add_response(
        "respond_decision_task_completed", {}, {"taskToken": "tok", "decisions": []}
    )

    backend.respond_decision_task_completed("tok", [])


# -- throttling: our own backoff after botocore's (the Stubber bypasses botocore's retries) -------


def throttled_backend(stubbed, pauses: list[float]) -> tuple[SwfBackend, Stubber]:
    backend, stubber = stubbed
    return SwfBackend(DOMAIN, client=backend.client, sleep=pauses.append), stubber


def test_throttling_is_retried_with_growing_pauses(stubbed):
    pauses: list[float] = []
    backend, stubber = throttled_backend(stubbed, pauses)
    for _ in range(2):
        stubber.add_client_error("describe_domain", "ThrottlingException", "Rate exceeded")
    stubber.add_response(
        "describe_domain",
        {
            "domainInfo": {"name": DOMAIN, "status": "REGISTERED"},
            "configuration": {"workflowExecutionRetentionPeriodInDays": "1"},
        },
        {"name": DOMAIN},
    )

    assert backend.check_domain()["domainInfo"]["name"] == DOMAIN
    assert len(pauses) == 2
    assert pauses[1] > pauses[0] > 0


def test_throttling_gives_up_with_one_line(stubbed):
    pauses: list[float] = []
    backend, stubber = throttled_backend(stubbed, pauses)
    for _ in range(swf.THROTTLE_ROUNDS + 1):
        stubber.add_client_error("describe_domain", "ThrottlingException", "Rate exceeded")

    with pytest.raises(ReplayflowError, match="ThrottlingException: Rate exceeded") as caught:
        backend.check_domain()
    assert "\n" not in str(caught.value)
    assert len(pauses) == swf.THROTTLE_ROUNDS
