"""The decider without a server: affinity parameters (Stubber), the cache, and its fallbacks.

Decision tasks are cut from real histories recorded by the LocalRunner: the task for the k-th
DecisionTaskStarted carries the events up to it (full history, as moto sends it) or only those
from the previous DecisionTaskStarted on (as SWF sends them on a sticky poll).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from support.workflows import ChainWorkflow, FanOutWorkflow, inc

from replayflow.backends.swf import SwfBackend
from replayflow.decider import Decider, sticky_task_list
from replayflow.errors import ReplayflowError
from replayflow.local import LocalRunner

TASK_LIST = "deciders"
WORKFLOWS = {ChainWorkflow.type_name(): ChainWorkflow, FanOutWorkflow.type_name(): FanOutWorkflow}


def record(cls: type, *args: Any) -> list[dict]:
    result = LocalRunner(max_workers=4).run(cls, list(args))
    assert result.ok, result.reason
    return result.execution.events


def tasks_of(events: list[dict], *, partial: bool = False, run_id: str = "run-1",
             type_name: str | None = None) -> list[dict]:
    """One decision task per DecisionTaskStarted in `events`."""
    name = type_name or events[0]["workflowExecutionStartedEventAttributes"]["workflowType"][
        "name"]
    tasks, previous = [], 0
    for i, event in enumerate(events):
        if event["eventType"] != "DecisionTaskStarted":
            continue
        upto = events[: i + 1]
        if partial and previous:
            upto = [e for e in upto if e["eventId"] >= previous]
        tasks.append({
            "taskToken": f"token-{event['eventId']}",
            "startedEventId": event["eventId"],
            "previousStartedEventId": previous,
            "workflowExecution": {"workflowId": f"wf-{run_id}", "runId": run_id},
            "workflowType": {"name": name, "version": "1"},
            "events": upto,
        })
        previous = event["eventId"]
    return tasks


class FakeBackend:
    """SwfBackend's decider-facing surface, recording what was called, in order."""

    def __init__(self, history: list[dict] | None = None) -> None:
        self.history = history or []
        self.calls: list[tuple[str, Any]] = []
        self.respond_error: Exception | None = None
        self.polls: list[dict | None] = []

    def check_domain(self) -> dict:
        return {}

    def register_workflow_type(self, name: str, version: str, *args: Any, **kw: Any) -> bool:
        self.calls.append(("register_workflow_type", name))
        return True

    def register_activity_type(self, name: str, version: str, task_list: str, **kw: Any) -> bool:
        self.calls.append(("register_activity_type", name))
        return True

    def get_workflow_execution_history(self, workflow_id: str, run_id: str, *,
                                       for_engine: bool = False) -> list[dict]:
        self.calls.append(("get_workflow_execution_history", run_id))
        return list(self.history)

    def poll_for_decision_task(self, task_list: str, identity: str | None = None, *,
                               start_at_previous_started_event: bool = False,
                               for_engine: bool = False) -> dict | None:
        self.calls.append(("poll", task_list))
        return self.polls.pop(0) if self.polls else None

    def respond_decision_task_completed(self, token: str, decisions: list, **kw: Any) -> None:
        self.calls.append(("respond", (token, decisions, kw)))
        if self.respond_error is not None:
            error, self.respond_error = self.respond_error, None
            raise error

    def responses(self) -> list[tuple[str, list, dict]]:
        return [args for name, args in self.calls if name == "respond"]


def no_cache_decisions(tasks: list[dict], history: list[dict]) -> list[list[dict]]:
    decider = Decider(FakeBackend(history), WORKFLOWS, TASK_LIST, cache_size=0)
    return [decider.handle_task(task) for task in tasks]


@pytest.fixture(scope="module")
def chain3() -> list[dict]:
    return record(ChainWorkflow, 3)


# --- the cache ------------------------------------------------------------------------------


def test_cache_hit_feeds_only_the_new_events(chain3):
    tasks = tasks_of(chain3)
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST)
    got = [decider.handle_task(task) for task in tasks]
    assert got == no_cache_decisions(tasks, chain3)
    assert (decider.stats.misses, decider.stats.hits) == (1, len(tasks) - 1)
    assert decider.stats.events_fed == tasks[-1]["startedEventId"]  # each event once
    assert got[-1][0]["decisionType"] == "CompleteWorkflowExecution"


def test_sticky_partial_histories_are_enough_on_a_hit(chain3):
    tasks = tasks_of(chain3, partial=True)
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.handle_task(tasks_of(chain3)[0])  # the first task always has the whole history
    got = [decider.handle_task(task) for task in tasks[1:]]
    assert got == no_cache_decisions(tasks_of(chain3), chain3)[1:]
    assert decider.stats.hits == len(tasks) - 1
    assert ("get_workflow_execution_history", "run-1") not in backend.calls


def test_miss_on_a_partial_history_fetches_the_whole_history(chain3):
    tasks = tasks_of(chain3, partial=True)
    # The server's history already has events after this task's DecisionTaskStarted.
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    got = decider.handle_task(tasks[2])
    assert got == no_cache_decisions(tasks_of(chain3), chain3)[2]
    assert ("get_workflow_execution_history", "run-1") in backend.calls
    assert decider.stats.full_fetches == 1


def test_stale_cache_is_replayed_not_used(chain3):
    """Another decider answered task 3: our cached state stops at task 2 and must not be used."""
    tasks = tasks_of(chain3)
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST)
    decider.handle_task(tasks[0])
    decider.handle_task(tasks[1])
    got = decider.handle_task(tasks[3])
    assert got == no_cache_decisions(tasks, chain3)[3]
    assert (decider.stats.misses, decider.stats.hits) == (2, 1)


def test_a_timed_out_decision_is_never_trusted(chain3):
    tasks = tasks_of(chain3)
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST)
    decider.handle_task(tasks[0])
    forged = dict(tasks[1])
    timed_out = {"eventId": 4, "eventType": "DecisionTaskTimedOut",
                 "eventTimestamp": chain3[3]["eventTimestamp"],
                 "decisionTaskTimedOutEventAttributes": {
                     "timeoutType": "START_TO_CLOSE", "scheduledEventId": 2, "startedEventId": 3}}
    forged["events"] = chain3[:3] + [timed_out]
    forged["startedEventId"] = 4
    assert decider._continuation(decider.cache["run-1"], forged, forged["events"]) is None


def test_eviction_discards_the_least_recently_used_state(chain3):
    one = tasks_of(chain3, run_id="run-1")
    two = tasks_of(chain3, run_id="run-2")
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST, cache_size=1)
    decider.handle_task(one[0])
    first_state = decider.cache["run-1"]
    decider.handle_task(two[0])
    assert list(decider.cache) == ["run-2"]
    assert decider.stats.evictions == 1
    assert first_state._discarded
    assert decider.handle_task(one[1]) == no_cache_decisions(one, chain3)[1]
    assert decider.stats.misses == 3


def test_state_is_dropped_when_the_response_fails(chain3):
    import botocore.exceptions as bexc

    tasks = tasks_of(chain3)
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.transient_retries = 0  # a transient error that lasts: the task is left to SWF
    backend.respond_error = ReplayflowError("SWF RespondDecisionTaskCompleted failed: 500")
    backend.respond_error.__cause__ = bexc.ClientError(
        {"Error": {"Code": "InternalFailure"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
        "RespondDecisionTaskCompleted")
    decider.process(tasks[0])
    assert len(backend.responses()) == 1  # the failed attempt; no FailWorkflowExecution
    assert "run-1" not in decider.cache
    decider.process(tasks[1])  # a full replay, which succeeds
    assert "run-1" in decider.cache
    assert decider.stats.misses == 2


def test_rejected_decisions_fail_the_execution_instead_of_looping(chain3):
    import botocore.exceptions as bexc

    tasks = tasks_of(chain3)
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    rejected = ReplayflowError("SWF rejected RespondDecisionTaskCompleted: bad decision")
    rejected.__cause__ = bexc.ClientError(
        {"Error": {"Code": "ValidationException", "Message": "bad decision"}},
        "RespondDecisionTaskCompleted")
    backend.respond_error = rejected
    decider.process(tasks[0])
    (_token, decisions, _kw) = backend.responses()[-1]
    assert decisions[0]["decisionType"] == "FailWorkflowExecution"
    assert "bad decision" in decisions[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert "run-1" not in decider.cache


def test_closed_run_leaves_the_cache(chain3):
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST)
    for task in tasks_of(chain3):
        decider.process(task)
    assert not decider.cache


def test_non_deterministic_history_is_logged_and_not_answered(chain3, caplog):
    """A chain history replayed by the fan-out class: logged once, no response."""
    tasks = tasks_of(chain3, type_name=FanOutWorkflow.type_name())
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    with caplog.at_level(logging.ERROR, logger="replayflow.decider"):
        decider.process(tasks[1])
    assert backend.responses() == []
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "wf-run-1" in errors[0].getMessage()
    assert "does not match its history" in errors[0].getMessage()
    assert not decider.cache


def test_unknown_workflow_type_fails_the_execution_naming_what_is_known(chain3):
    tasks = tasks_of(chain3, type_name="nobody-knows-me")
    decisions = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST).handle_task(tasks[0])
    assert [d["decisionType"] for d in decisions] == ["FailWorkflowExecution"]
    reason = decisions[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert "nobody-knows-me" in reason
    assert "e2e-chain" in reason and "e2e-fanout" in reason


# --- what is sent --------------------------------------------------------------------------


def test_at_most_100_decisions_per_response():
    events = record(FanOutWorkflow, 150)
    tasks = tasks_of(events)
    backend = FakeBackend(events)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.process(tasks[0])
    (_token, decisions, _kw) = backend.responses()[0]
    assert len(decisions) == 100
    assert decisions[-1]["decisionType"] == "StartTimer"
    assert all(len(decisions) <= 100 for _t, decisions, _kw in backend.responses())


def test_activity_types_are_registered_before_the_response(chain3):
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.process(tasks_of(chain3)[0])
    names = [name for name, _args in backend.calls]
    assert ("register_activity_type", inc.name) in backend.calls
    assert names.index("register_activity_type") < names.index("respond")


def test_oversized_result_without_a_bucket_fails_the_run(monkeypatch):
    monkeypatch.delenv("REPLAYFLOW_JUMBO_FIELDS_BUCKET", raising=False)
    events = record(ChainWorkflow, 1)
    tasks = tasks_of(events)
    backend = FakeBackend(events)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.handle_task(tasks[0])
    decisions = decider.handle_task(tasks[1])
    decisions[0]["completeWorkflowExecutionDecisionAttributes"]["result"] = "x" * 40_000
    decider.respond(tasks[1], decisions)
    (_token, sent, _kw) = backend.responses()[-1]
    assert sent[0]["decisionType"] == "FailWorkflowExecution"
    assert "too large" in sent[0]["failWorkflowExecutionDecisionAttributes"]["reason"]


def test_responses_route_the_next_task_to_the_sticky_list(chain3):
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    decider.process(tasks_of(chain3)[0])
    (_token, _decisions, kw) = backend.responses()[0]
    assert kw["task_list"] == decider.sticky_list
    assert kw["schedule_to_start_timeout"] == 5
    assert Decider(backend, WORKFLOWS, TASK_LIST, cache_size=0).sticky_list is None


def test_affinity_is_dropped_when_continuations_never_come_on_the_sticky_list():
    """moto ignores sticky lists: after a few of our own continuations arrive on the shared
    list (none ever on ours), the decider stops asking for affinity and polling its list."""
    history = record(ChainWorkflow, 5)
    backend = FakeBackend(history)
    decider = Decider(backend, WORKFLOWS, TASK_LIST)
    for task in tasks_of(history)[:5]:
        decider._note_affinity(task, sticky=False)
        decider.process(task)
    assert decider.stats.sticky_strays == 3
    assert decider.sticky_list is None
    assert backend.responses()[-1][2]["task_list"] is None


def test_affinity_stays_once_the_sticky_list_delivered():
    history = record(ChainWorkflow, 5)
    decider = Decider(FakeBackend(history), WORKFLOWS, TASK_LIST)
    tasks = tasks_of(history)
    decider._note_affinity(tasks[0], sticky=False)
    decider.process(tasks[0])
    decider._note_affinity(tasks[1], sticky=True)
    decider.process(tasks[1])
    for task in tasks[2:6]:
        decider._note_affinity(task, sticky=False)
        decider.process(task)
    assert decider.stats.sticky_tasks == 1 and decider.stats.sticky_strays >= 3
    assert decider.sticky_list is not None

@pytest.mark.parametrize("status, finished", [("CLOSED", True), ("OPEN", False)])
def test_exit_on_close_only_once_the_run_is_really_closed(chain3, status, finished):
    """standalone's decider stops after closing its run, but only if SWF took the close."""

    class Describing(FakeBackend):
        def describe_workflow_execution(self, workflow_id: str, run_id: str) -> dict:
            self.calls.append(("describe", workflow_id))
            return {"executionInfo": {"executionStatus": status, "closeStatus": "COMPLETED"}}

    backend = Describing(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST, exit_on_close="wf-run-1")
    for task in tasks_of(chain3):
        assert not decider.finished
        decider.process(task)
    assert decider.finished is finished
    assert [c for c in backend.calls if c[0] == "describe"] == [("describe", "wf-run-1")]

def test_sticky_list_name_fits_swf_limit():
    name = sticky_task_list("t" * 300, "u" * 40)
    assert len(name) == 256 and name.endswith("-sticky-" + "u" * 40)
    assert sticky_task_list("deciders", "abc") == "deciders-sticky-abc"


def test_activity_task_list_override_routes_every_activity(chain3):
    decider = Decider(FakeBackend(chain3), WORKFLOWS, TASK_LIST, activity_task_list="private")
    decisions = decider.handle_task(tasks_of(chain3)[0])
    attrs = decisions[0]["scheduleActivityTaskDecisionAttributes"]
    assert attrs["taskList"] == {"name": "private"}


# --- the loop ------------------------------------------------------------------------------


def test_empty_poll_is_quiet_and_the_task_in_hand_is_finished(chain3, caplog):
    backend = FakeBackend(chain3)
    decider = Decider(backend, WORKFLOWS, TASK_LIST, sticky=False)
    stop = threading.Event()
    backend.polls = [None, None, tasks_of(chain3)[0]]
    original = backend.respond_decision_task_completed

    def respond_then_stop(*args: Any, **kw: Any) -> None:
        stop.set()  # SIGTERM arrives while the task is in hand
        original(*args, **kw)

    backend.respond_decision_task_completed = respond_then_stop  # type: ignore[method-assign]
    with caplog.at_level(logging.INFO, logger="replayflow"):
        decider.run(stop)
    assert len(backend.responses()) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    # Its last words are its cache statistics (bench/throughput.py reads them).
    assert caplog.records[-1].getMessage().endswith(
        "stopped: 1 tasks, 0 cache hits, 1 misses (0 full history fetches), 0 evictions")


# --- request parameters, checked against botocore's model ------------------------------------


def test_affinity_request_parameters_and_history_pagination(chain3):
    """A sticky poll asks for new events only; a miss there follows every history page; the
    answer names the sticky list with a short schedule-to-start timeout."""
    client = boto3.client("swf", region_name="us-east-1", aws_access_key_id="t",
                          aws_secret_access_key="t", endpoint_url="http://127.0.0.1:1")
    backend = SwfBackend("stub-affinity", client=client)
    decider = Decider(backend, WORKFLOWS, TASK_LIST, identity="me")
    task = tasks_of(chain3, partial=True)[1]
    wire_events = [{k: v for k, v in e.items()} for e in chain3]
    with Stubber(client) as stubber:
        stubber.add_response(
            "poll_for_decision_task",
            {k: v for k, v in task.items()},
            {"domain": "stub-affinity", "taskList": {"name": decider.sticky_list},
             "identity": "me", "startAtPreviousStartedEvent": True},
        )
        execution = task["workflowExecution"]
        stubber.add_response(
            "get_workflow_execution_history",
            {"events": wire_events[:5], "nextPageToken": "page-2"},
            {"domain": "stub-affinity", "execution": execution},
        )
        stubber.add_response(
            "get_workflow_execution_history",
            {"events": wire_events[5:]},
            {"domain": "stub-affinity", "execution": execution, "nextPageToken": "page-2"},
        )
        stubber.add_response("register_activity_type", {}, ANY_REGISTRATION)
        stubber.add_response(
            "respond_decision_task_completed", {},
            {"taskToken": task["taskToken"], "decisions": ANY, "executionContext": ANY,
             "taskList": {"name": decider.sticky_list}, "taskListScheduleToStartTimeout": "5"},
        )
        polled = decider.poll(sticky=True)
        assert polled is not None
        decider.process(polled)
        stubber.assert_no_pending_responses()
    assert decider.stats.full_fetches == 1
    assert decider.cache["run-1"].last_started_event_id == task["startedEventId"]


ANY_REGISTRATION = {
    "domain": "stub-affinity", "name": inc.name, "version": "1",
    "defaultTaskList": ANY, "defaultTaskScheduleToStartTimeout": ANY,
    "defaultTaskStartToCloseTimeout": ANY, "defaultTaskScheduleToCloseTimeout": ANY,
    "defaultTaskHeartbeatTimeout": ANY,
}


def test_cache_statistics_are_logged_at_info(chain3, caplog):
    """What the cache did, in one INFO line per interval (every minute by default)."""
    tasks = tasks_of(chain3)
    backend = FakeBackend(chain3)
    backend.polls = list(tasks)
    decider = Decider(backend, WORKFLOWS, TASK_LIST, sticky=False, pollers=1)
    decider.stats_interval = 0.1
    final = (f"decider cache: {len(tasks) - 1} hits, 1 misses (full replays; 0 fetched the "
             "history), 0 evictions, 0 executions cached")
    stop = threading.Event()
    thread = threading.Thread(target=decider.run, args=(stop,), daemon=True)
    with caplog.at_level(logging.INFO, logger="replayflow.decider"):
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and final not in caplog.messages:
            time.sleep(0.05)
        stop.set()
        thread.join(10)
    lines = [m for m in caplog.messages if m.startswith("decider cache:")]
    assert final in lines, lines
    assert len(backend.responses()) == len(tasks)
