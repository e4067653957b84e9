"""SWF's in-flight races, replayed from hand-written histories (tests/histories/race_*.json).

SWF keeps recording events while a decision task is open: a timer fires, an activity completes,
a signal arrives, or the task itself times out, and the decisions of that task then meet a world
that has moved on. Each test feeds one race fixture to `ExecutionState` decision task by decision
task, cut just after each DecisionTaskStarted as a decider sees it, and asserts the exact
decisions and what `run()` saw. test_cache_equivalence.py replays the same files in full and
cached at every decision point; the last test here drives them through the Decider, with its
cache (sticky histories, in the engine's view) and without.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from support.histories import engine_view, load_events
from support.race_workflows import (
    CancelActivityRaceWorkflow,
    CancelTimerRaceWorkflow,
    SignalRaceWorkflow,
    TwoStepsWorkflow,
)

from replayflow import futures
from replayflow.decider import Decider
from replayflow.engine.replay import ExecutionState
from replayflow.errors import TaskCancelled
from replayflow.loader import load_workflow

RACES = {
    "race_timer_fires_during_cancel": CancelTimerRaceWorkflow,
    "race_activity_completes_during_cancel": CancelActivityRaceWorkflow,
    "race_activity_cancelled": CancelActivityRaceWorkflow,
    "race_signal_during_decision": SignalRaceWorkflow,
    "race_decision_task_timed_out": TwoStepsWorkflow,
}

STEP_ID = "activity-support.race_workflows.race_step-{n}"


class Replay:
    """One cached execution state, fed a fixture up to a DecisionTaskStarted at a time."""

    def __init__(self, name: str, decode: Any = None, events: list[dict] | None = None) -> None:
        self.events = load_events(name) if events is None else events
        self.state = ExecutionState(RACES[name], workflow_id=f"wf-{name}", run_id=f"run-{name}",
                                    decode=decode)
        self.fed = 0

    def upto(self, event_id: int) -> list[dict]:
        """The decisions for the decision task started by event `event_id`."""
        new = [e for e in self.events if self.fed < e["eventId"] <= event_id]
        assert new[-1]["eventType"] == "DecisionTaskStarted"
        self.fed = event_id
        return self.state.handle(new)

    def rest(self) -> list[dict]:
        return self.state.handle([e for e in self.events if e["eventId"] > self.fed])

    @property
    def workflow(self) -> Any:
        return self.state.workflow


@pytest.fixture
def replay():
    made: list[Replay] = []

    def make(name: str, **kwargs: Any) -> Replay:
        made.append(Replay(name, **kwargs))
        return made[-1]

    yield make
    for r in made:
        r.state.discard()


def schedule(n: int, arg: int) -> dict:
    return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": {
        "activityId": f"{STEP_ID.format(n=n)}#1",
        "activityType": {"name": "support.race_workflows.race_step", "version": "1"},
        "taskList": {"name": "race-activities"},
        "input": f'{{"args":[{arg}],"kwargs":{{}}}}',
        "scheduleToCloseTimeout": "NONE", "scheduleToStartTimeout": "NONE",
        "startToCloseTimeout": "3600", "heartbeatTimeout": "60"}}


def start_timer(timer_id: str, seconds: int) -> dict:
    return {"decisionType": "StartTimer", "startTimerDecisionAttributes": {
        "timerId": timer_id, "startToFireTimeout": str(seconds)}}


def complete(result: object) -> dict:
    return {"decisionType": "CompleteWorkflowExecution",
            "completeWorkflowExecutionDecisionAttributes": {
                "result": json.dumps(result, separators=(",", ":"), sort_keys=True)}}


CANCEL_STEP_1 = {"decisionType": "RequestCancelActivityTask",
                 "requestCancelActivityTaskDecisionAttributes": {
                     "activityId": f"{STEP_ID.format(n=1)}#1"}}


def test_the_race_fixtures_name_classes_the_equivalence_test_can_load():
    """test_cache_equivalence finds a fixture's class through load_workflow(type name)."""
    for name, cls in RACES.items():
        started = load_events(name)[0]["workflowExecutionStartedEventAttributes"]
        assert load_workflow(started["workflowType"]["name"]) is cls


# --- 1. a timer fires while the decision that cancels it is in flight -------------------------

def test_a_timer_that_fires_while_its_cancel_is_in_flight_stays_cancelled(replay):
    """TimerFired (11) is recorded after the DecisionTaskStarted (10) whose CancelTimer then
    fails with TIMER_ID_UNKNOWN (13). run() saw the timer cancelled at 10, and it stays so: the
    late fire changes nothing, the failed cancel is no mismatch, the second step goes on."""
    r = replay("race_timer_fires_during_cancel")
    assert r.upto(3) == [start_timer("deadline", 60), schedule(1, 1)]
    assert r.upto(10) == [
        {"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {"timerId": "deadline"}},
        schedule(2, 2),
    ]
    assert r.workflow.cancel_result is True
    assert r.workflow.deadline.state == futures.CANCELLED

    assert r.upto(16) == []  # TimerFired, CancelTimerFailed: nothing to decide, nothing raised
    deadline = r.workflow.deadline
    assert deadline.state == futures.CANCELLED
    with pytest.raises(TaskCancelled) as raised:
        _ = deadline.result
    assert raised.value.task_id == "deadline"

    assert r.upto(21) == [complete({"after": 3, "cancelled": True, "timer": "CANCELLED"})]
    assert r.rest() == []
    assert r.state.close_status == "WorkflowExecutionCompleted"


# --- 2. an activity completes while its cancel request is in flight ----------------------------

def test_an_activity_that_completes_while_its_cancel_is_in_flight_finishes(replay):
    """ActivityTaskCompleted (11) lands between the DecisionTaskStarted (10) that requested the
    cancel and its DecisionTaskCompleted (12); SWF then records RequestCancelActivityTaskFailed
    (13, ACTIVITY_ID_UNKNOWN). The future ends FINISHED with the result."""
    r = replay("race_activity_completes_during_cancel")
    assert r.upto(3) == [schedule(1, 1), start_timer("deadline", 30)]
    assert r.upto(10) == [CANCEL_STEP_1]
    work = r.workflow.work
    assert r.workflow.requested is True
    assert work.state == futures.RUNNING  # a cancel request is not a cancellation

    assert r.upto(15) == [complete({"requested": True, "result": 2, "state": "FINISHED"})]
    assert work.state == futures.FINISHED
    assert work.result == 2 and work.exception is None
    assert r.rest() == []
    assert r.state.close_status == "WorkflowExecutionCompleted"


# --- 3. an activity is cancelled cleanly ---------------------------------------------------------

def test_a_cancelled_activity_is_cancelled_once_swf_records_it_so(replay):
    """ActivityTaskCancelRequested (12) only asks: at the decision a stray signal brings (15)
    the future is still RUNNING and run() still waits. ActivityTaskCanceled (17) cancels it."""
    r = replay("race_activity_cancelled")
    assert r.upto(3) == [schedule(1, 1), start_timer("deadline", 30)]
    assert r.upto(10) == [CANCEL_STEP_1]
    work = r.workflow.work

    assert r.upto(15) == []
    assert work.state == futures.RUNNING

    assert r.upto(19) == [complete({"raised": "TaskCancelled", "requested": True,
                                    "state": "CANCELLED"})]
    assert work.state == futures.CANCELLED
    with pytest.raises(TaskCancelled) as raised:
        _ = work.result
    assert raised.value.task_id == STEP_ID.format(n=1)
    assert isinstance(work.exception, TaskCancelled)
    assert r.rest() == []
    assert r.state.close_status == "WorkflowExecutionCompleted"


def test_the_details_of_a_cancelled_activity_go_through_decode(replay):
    text = '{"message":"stopped at 40%"}'
    reference = f"replayflow+s3://race-bucket/details-1 {len(text)}"
    events = copy.deepcopy(load_events("race_activity_cancelled"))
    canceled = next(e for e in events if e["eventType"] == "ActivityTaskCanceled")
    canceled["activityTaskCanceledEventAttributes"]["details"] = reference

    def decode(field: str | None) -> str | None:
        return text if field == reference else field

    r = replay("race_activity_cancelled", decode=decode, events=events)
    r.upto(19)
    details = r.workflow.work.exception.details
    assert details == json.loads(text)  # fetched, then read as JSON like a child's details


# --- 4. a signal arrives between DecisionTaskStarted and DecisionTaskCompleted -----------------

def test_a_signal_recorded_during_a_decision_task_is_delivered_once_at_the_next(replay):
    """Signal n=7 (4) arrives while run() waits on it, during the task started at 3; signal n=9
    (9) arrives while run() waits on a step, during the task started at 8. Each reaches run() at
    the next decision, and once: the second wait gets n=9, not n=7 again."""
    r = replay("race_signal_during_decision")
    assert r.upto(3) == [schedule(1, 1)]
    go = r.workflow.go
    assert not go.done

    assert r.upto(8) == [schedule(2, 7)]  # n=7 became the second step's input
    assert go.state == futures.FINISHED and go.result == {"n": 7}

    assert r.upto(13) == []  # n=9 is kept: run() is not waiting for a signal yet
    assert r.upto(20) == [complete({"first_signal": {"n": 7}, "results": [2, 8],
                                    "second_signal": {"n": 9}})]
    assert r.workflow.later.result == {"n": 9}
    assert r.rest() == []
    assert r.state.close_status == "WorkflowExecutionCompleted"


# --- 5. a decision task times out ----------------------------------------------------------------

def test_a_timed_out_decision_task_is_decided_again_with_the_same_ids(replay):
    """The task started at 3 times out (4): its decisions were never applied, so the task
    started at 6 sends them again, identical. A sticky task that is never started (13, timed out
    SCHEDULE_TO_START at 14) changes nothing; a timed-out close (20, 21) is sent again (23)."""
    r = replay("race_decision_task_timed_out")
    first = r.upto(3)
    assert first == [schedule(1, 1), schedule(2, 2)]
    assert r.upto(6) == first

    assert r.upto(16) == []  # one step done, the other still running
    assert r.upto(20) == [complete(5)]
    assert r.upto(23) == [complete(5)]
    assert r.rest() == []
    assert r.state.close_status == "WorkflowExecutionCompleted"


def test_a_fresh_state_decides_a_timed_out_task_again_like_a_cached_one():
    events = load_events("race_decision_task_timed_out")
    decided = [ExecutionState(TwoStepsWorkflow).handle(events[:upto]) for upto in (3, 6)]
    assert decided[0] == decided[1] == [schedule(1, 1), schedule(2, 2)]


# --- every race, through the Decider ---------------------------------------------------------

@pytest.mark.parametrize("name", sorted(RACES))
def test_the_decider_with_and_without_its_cache_agree_on_every_race(name):
    """The warm decider gets sticky tasks (only the events since its last task) in the engine's
    view; the cold one gets whole histories. A DecisionTaskTimedOut sends the warm one back to
    a full replay (Decider._continuation); either way the decisions are the same."""
    events = load_events(name)
    cls = RACES[name]

    class History:
        def get_workflow_execution_history(self, workflow_id: str, run_id: str, *,
                                           for_engine: bool = False) -> list[dict]:
            return engine_view(events) if for_engine else list(events)

    warm = Decider(History(), {cls.type_name(): cls}, "race-decisions")
    cold = Decider(History(), {cls.type_name(): cls}, "race-decisions", cache_size=0)
    previous = 0
    decided = []
    for point, event in enumerate(events):
        if event["eventType"] != "DecisionTaskStarted":
            continue
        upto = events[: point + 1]
        task = {"taskToken": "t", "startedEventId": event["eventId"],
                "previousStartedEventId": previous,
                "workflowExecution": {"workflowId": f"wf-{name}", "runId": f"run-{name}"},
                "workflowType": {"name": cls.type_name(), "version": cls.version}}
        sticky = [e for e in upto if e["eventId"] >= previous] if previous else upto
        decisions = warm.handle_task(dict(task, events=engine_view(sticky)))
        assert decisions == cold.handle_task(dict(task, events=upto)), event["eventId"]
        decided.append(decisions)
        previous = event["eventId"]
    assert decided[-1][-1]["decisionType"] == "CompleteWorkflowExecution"


# --- a *Failed event without its id (moto) ----------------------------------------------------

#: The id member of each *Failed event the engine confirms a decision by.
FAILED_EVENT_IDS = {"CancelTimerFailed": "timerId", "StartTimerFailed": "timerId",
                    "RequestCancelActivityTaskFailed": "activityId",
                    "ScheduleActivityTaskFailed": "activityId"}


@pytest.mark.parametrize("name", ["race_timer_fires_during_cancel",
                                  "race_activity_completes_during_cancel"])
def test_a_failed_event_without_its_id_is_handled_like_one_with_it(name):
    """moto 5 records CancelTimerFailed with no timerId (SWF always sends one): the engine used
    to raise KeyError at that event on every decision task, a livelock. Without the id, the
    event is for the oldest unconfirmed decision of its kind, and every decision is the same."""
    events = load_events(name)
    stripped = copy.deepcopy(events)
    removed = 0
    for event in stripped:
        member = FAILED_EVENT_IDS.get(event["eventType"])
        if member is not None:
            key = event["eventType"][0].lower() + event["eventType"][1:] + "EventAttributes"
            del event[key][member]
            removed += 1
    assert removed == 1
    points = [i + 1 for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted"]
    for upto in points:
        with_id = ExecutionState(RACES[name]).handle(events[:upto])
        without = ExecutionState(RACES[name]).handle(stripped[:upto])
        assert without == with_id, upto
    assert with_id[-1]["decisionType"] == "CompleteWorkflowExecution"
