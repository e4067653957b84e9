"""The engine keeps under SWF's hard limits: open items, the 1 MB response, refused decisions.

Local runs go through MemorySwf, which enforces SWF's limits with SWF's own failure events: a run
that completes there, with no refusal in its history, is one SWF would have run. What was open at
once is counted from the history.
"""

from __future__ import annotations

import json
import logging

import pytest
from support import limit_workflows as lw

from replayflow import Workflow, activity, futures
from replayflow.decider import Decider, with_slots
from replayflow.engine.replay import (
    MAX_DECISION_BYTES,
    ExecutionState,
    _activity_bytes,
    _decision_bytes,
    backoff_seconds,
)
from replayflow.inspection import execution_info, task_rows
from replayflow.local import run_local
from replayflow.naming import CONTINUE_TIMER_PREFIX


def test_1500_activities_complete_with_never_more_than_1000_open():
    result = run_local(lw.ManyActivities, [1500])
    assert (result.status, result.result) == ("COMPLETED", sum(range(1500)))
    events = result.run.events
    assert lw.most_open(events, "activity") == 1000  # the cap was reached, never passed
    assert lw.refusals(events) == []  # MemorySwf refuses the 1,001st: none reached run()


def test_1500_timers_complete_with_never_more_than_1000_open():
    result = run_local(lw.ManyTimers, [1500])
    assert (result.status, result.result) == ("COMPLETED", 1500)
    events = result.run.events
    # 999 of the workflow's own: one slot stays free for the engine's continuation timer.
    assert lw.most_open(events, "timer") <= 1000
    assert sum(e["eventType"] == "TimerStarted" and not e["timerStartedEventAttributes"][
        "timerId"].startswith(CONTINUE_TIMER_PREFIX) for e in events) == 1500
    assert lw.refusals(events) == []


def test_1200_children_complete_with_never_more_than_1000_open():
    result = run_local(lw.ManyChildren, [1200])
    assert (result.status, result.result) == ("COMPLETED", sum(range(1200)))
    events = result.run.events
    assert lw.most_open(events, "child") == 1000
    assert lw.refusals(events) == []


def test_caps_lowered_per_workflow_hold_for_every_kind_of_task():
    result = run_local(lw.Capped, [6])
    assert result.status == "COMPLETED", result.reason
    assert result.result == {"mapped": list(range(6)), "group": list(range(100, 106)),
                             "dependent": [0, 1], "timers": 6,
                             "children": [i * 10 for i in range(6)], "dag": [7] * 7}
    events = result.run.events
    assert lw.most_open(events, "activity") == 3
    assert lw.most_open(events, "timer") == 2  # 3, less the continuation timer's slot
    assert lw.most_open(events, "child") == 2
    assert lw.refusals(events) == []


def test_waiting_tasks_are_scheduled_in_submission_order():
    result = run_local(lw.Capped, [6])
    ids = [e["activityTaskScheduledEventAttributes"]["activityId"] for e in result.run.events
           if e["eventType"] == "ActivityTaskScheduled"]
    echo_ids = [int(i.split("-")[-1].split("#")[0]) for i in ids]
    # map (1-6), then the group (7-12); the dependents (13, 14) and the DAG's root (15) and
    # leaves (16-21) once their inputs are done.
    assert echo_ids[:12] == list(range(1, 13))
    assert sorted(echo_ids) == list(range(1, 22))


@pytest.mark.parametrize("attribute", ["max_open_activities", "max_open_timers",
                                       "max_open_children"])
@pytest.mark.parametrize("value", [0, 1001, "10", 2.5, True])
def test_a_cap_outside_1_to_1000_is_refused_where_the_class_is_written(attribute, value):
    with pytest.raises(ValueError, match=f"{attribute} must be a whole number from 1 to 1,000"):
        type("TooMany", (Workflow,), {attribute: value})


# -- what operators see ------------------------------------------------------------------------


def _start_events(cls: type, args: list) -> list[dict]:
    return [
        {"eventId": 1, "eventType": "WorkflowExecutionStarted", "eventTimestamp": 0,
         "workflowExecutionStartedEventAttributes": {
             "input": json.dumps({"args": args, "kwargs": {}}),
             "workflowType": {"name": cls.type_name(), "version": "1"},
             "taskList": {"name": "d"}, "childPolicy": "TERMINATE"}},
        {"eventId": 2, "eventType": "DecisionTaskScheduled", "eventTimestamp": 0,
         "decisionTaskScheduledEventAttributes": {"taskList": {"name": "d"}}},
        {"eventId": 3, "eventType": "DecisionTaskStarted", "eventTimestamp": 0,
         "decisionTaskStartedEventAttributes": {"scheduledEventId": 2}},
    ]


def _first_decision(cls: type, args: list) -> tuple[ExecutionState, list[dict]]:
    state = ExecutionState(cls, workflow_id="wf", run_id="run")
    return state, state.handle(_start_events(cls, args))


def test_the_waiting_is_reported_in_the_execution_context():
    state, decisions = _first_decision(lw.Capped, [6])
    scheduled = [d for d in decisions if d["decisionType"] == "ScheduleActivityTask"]
    assert len(scheduled) == 3
    summary = json.loads(with_slots(None, state))["slots"]
    assert summary["waiting"] == {"activities": 10, "timers": 4, "children": 4}
    assert summary["open"] == {"activities": 3, "timers": 2, "children": 2}
    assert summary["max_open"] == {"activities": 3, "timers": 3, "children": 2}
    assert summary["next"][:2] == [
        ["activity", f"activity-{lw.echo.name}-4", lw.echo.name],
        ["activity", f"activity-{lw.echo.name}-5", lw.echo.name]]
    assert ["timer", "timer-2", "timer-2"] in summary["next"]
    assert ["child_workflow", f"workflow-{lw.QuickChild.type_name()}-3",
            lw.QuickChild.type_name()] in summary["next"]


def test_a_run_that_never_waited_sends_no_execution_context():
    state, _ = _first_decision(lw.ManyActivities, [5])
    assert not state.ever_waited


def _with_context(events: list[dict], context: str) -> list[dict]:
    last = events[-1]["eventId"]
    return events + [{"eventId": last + 1, "eventType": "DecisionTaskCompleted",
                      "eventTimestamp": events[-1]["eventTimestamp"],
                      "decisionTaskCompletedEventAttributes": {
                          "scheduledEventId": last - 1, "startedEventId": last,
                          "executionContext": context}}]


def test_workflow_tasks_rows_and_info_show_what_waits():
    state, _ = _first_decision(lw.Capped, [6])
    opened = run_local(lw.Capped, [6]).run.events[:3]  # a real start, then our context
    events = _with_context(opened, with_slots(None, state))
    rows = [(r.task_id, r.kind, r.state) for r in task_rows(events)]
    assert (f"activity-{lw.echo.name}-4", "activity", "WAITING") in rows
    assert ("timer-2", "timer", "WAITING") in rows
    info = execution_info(events)
    assert info["waiting"] == {"activities": 10, "timers": 4, "children": 4}
    assert info["open_tasks"] == {"activities": 3, "timers": 2, "children": 2}


# -- responses under 1 MB ----------------------------------------------------------------------


def test_40_inputs_of_30_kb_go_out_in_two_responses_each_under_1_mb():
    result = run_local(lw.BigInputs, [40, 30_000])  # MemorySwf refuses a response over 1 MB
    assert (result.status, result.result) == ("COMPLETED", [30_000] * 40)
    batches = lw.response_sizes(result.run.events)
    assert len(batches) >= 2 and sum(batches) == 40


def test_the_split_is_counted_in_encoded_bytes_and_the_same_on_replay():
    state, first = _first_decision(lw.BigInputs, [40, 30_000])
    assert first[-1]["decisionType"] == "StartTimer"
    assert first[-1]["startTimerDecisionAttributes"]["timerId"].startswith(CONTINUE_TIMER_PREFIX)
    sent = len(json.dumps(first))  # as botocore writes the request's decisions
    assert sent <= MAX_DECISION_BYTES < 1_000_000
    # One more activity would not have fitted.
    one_more = state._pending[len(first) - 1].decision
    assert one_more["decisionType"] == "ScheduleActivityTask"
    assert sent + len(json.dumps(one_more)) > MAX_DECISION_BYTES
    assert _first_decision(lw.BigInputs, [40, 30_000])[1] == first


@activity.with_attributes(task_list="t", version="1", priority=7)
def ranked(text):
    return text


class Ranked(Workflow):
    def run(self):
        return self.submit(ranked, "é\"\\" * 50).result


def test_an_activitys_counted_size_is_its_encoded_size():
    state, decisions = _first_decision(Ranked, [])
    task = next(iter(state._tasks.values()))
    activity_id = decisions[0]["scheduleActivityTaskDecisionAttributes"]["activityId"]
    assert _activity_bytes(task, activity_id) == _decision_bytes(decisions[0])
    assert _decision_bytes(decisions[0]) == len(json.dumps(decisions[0])) + 2


def test_a_jumbo_input_counts_as_the_reference_the_decider_puts_in_its_place():
    # 40 inputs of 100 kB: 4 MB as text, but each goes to S3 and leaves a short reference.
    state, decisions = _first_decision(lw.BigInputs, [40, 100_000])
    assert len(decisions) == 40
    assert all(d["decisionType"] == "ScheduleActivityTask" for d in decisions)


# -- refused decisions -------------------------------------------------------------------------


def test_backoff_is_capped_jittered_and_deterministic():
    firsts = {backoff_seconds(1, f"run|task-{i}|1") for i in range(50)}
    assert firsts <= {1, 2} and len(firsts) == 2
    assert all(30 <= backoff_seconds(n, f"k{n}") <= 60 for n in range(6, 40))
    assert backoff_seconds(3, "run|a|3") == backoff_seconds(3, "run|a|3")


def test_the_decider_warns_once_past_10000_events(caplog):
    caplog.set_level(logging.WARNING, logger="replayflow.decider")
    result = run_local(lw.ManyActivities, [2000])  # about 6,000 events: no warning
    assert result.ok and "continue_as_new" not in caplog.text
    decider = Decider(object(), {}, "d")
    for _ in range(3):
        decider._warn_long_history({"workflowId": "w", "runId": "r"}, 10_001)
    warnings = [r for r in caplog.records if "continue_as_new" in r.getMessage()]
    assert len(warnings) == 1
    assert "10001 events" in warnings[0].getMessage() and "25000" in warnings[0].getMessage()


class RefusedTimer(Workflow):
    def run(self):
        futures.wait(self.start_timer("t", 5))
        return "done"


def test_a_timer_swf_refused_fails_its_future_and_the_run():
    events = [
        ("WorkflowExecutionStarted", {"input": '{"args":[],"kwargs":{}}',
                                      "workflowType": {"name": RefusedTimer.type_name(),
                                                       "version": "1"},
                                      "taskList": {"name": "d"}, "childPolicy": "TERMINATE"}),
        ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
        ("DecisionTaskStarted", {"scheduledEventId": 2}),
        ("DecisionTaskCompleted", {"scheduledEventId": 2, "startedEventId": 3}),
        ("StartTimerFailed", {"timerId": "t", "cause": "TIMER_ID_ALREADY_IN_USE",
                              "decisionTaskCompletedEventId": 4}),
        ("DecisionTaskScheduled", {"taskList": {"name": "d"}}),
        ("DecisionTaskStarted", {"scheduledEventId": 6}),
    ]
    history = [{"eventId": i, "eventType": t, "eventTimestamp": 0,
                t[0].lower() + t[1:] + "EventAttributes": a}
               for i, (t, a) in enumerate(events, 1)]
    decisions = ExecutionState(RefusedTimer, workflow_id="wf", run_id="run").handle(history)
    assert [d["decisionType"] for d in decisions] == ["FailWorkflowExecution"]
    reason = decisions[0]["failWorkflowExecutionDecisionAttributes"]["reason"]
    assert "SWF refused to start timer t: TIMER_ID_ALREADY_IN_USE" in reason



def test_the_decider_records_the_waiting_with_each_answer_once_anything_waited():
    events = run_local(lw.Capped, [6]).run.events
    contexts = [json.loads(e["decisionTaskCompletedEventAttributes"]["executionContext"])
                for e in events if e["eventType"] == "DecisionTaskCompleted"]
    assert all(c["v"] == 1 for c in contexts)  # the progress summary stays as it is
    first, last = contexts[0]["slots"], contexts[-1]["slots"]
    assert first["waiting"]["activities"] == 10 and first["next"]
    assert last["waiting"] == {"activities": 0, "timers": 0, "children": 0}
    # A run that never waited sends the progress summary alone.
    plain = run_local(lw.ManyActivities, [5]).run.events
    assert not any("slots" in e["decisionTaskCompletedEventAttributes"].get("executionContext",
                                                                            "")
                   for e in plain if e["eventType"] == "DecisionTaskCompleted")


class CancelsWhatWaits(Workflow):
    max_open_activities = 1
    max_open_timers = 2  # one for the workflow, one kept for the continuation timer

    def run(self):
        first, second, third = self.map(lw.echo, [1, 2, 3])
        nap, later = self.start_timer("nap", 1), self.start_timer("later", 1)
        third.cancel()
        later.cancel()
        futures.wait(first, second, nap)
        return [first.result, second.result, third.cancelled, later.cancelled]


def test_a_task_cancelled_while_it_waits_is_never_scheduled():
    result = run_local(CancelsWhatWaits, [])
    assert (result.status, result.result) == ("COMPLETED", [1, 2, True, True])
    events = result.run.events
    scheduled = [e["activityTaskScheduledEventAttributes"]["activityId"] for e in events
                 if e["eventType"] == "ActivityTaskScheduled"]
    assert scheduled == [f"activity-{lw.echo.name}-1#1", f"activity-{lw.echo.name}-2#1"]
    timers = [e["timerStartedEventAttributes"]["timerId"] for e in events
              if e["eventType"] == "TimerStarted"]
    assert timers == ["nap"]
    assert not any(e["eventType"] in ("RequestCancelActivityTaskFailed", "CancelTimerFailed",
                                      "ActivityTaskCancelRequested") for e in events)


def test_no_second_continuation_timer_while_one_is_open():
    state, first = _first_decision(lw.ManyActivities, [300])
    assert len(first) == 100 and first[-1]["decisionType"] == "StartTimer"
    timer_id = first[-1]["startTimerDecisionAttributes"]["timerId"]
    events = _start_events(lw.ManyActivities, [300])

    def add(kind: str, attrs: dict) -> int:
        event_id = len(events) + 1
        events.append({"eventId": event_id, "eventType": kind, "eventTimestamp": 0,
                       kind[0].lower() + kind[1:] + "EventAttributes": attrs})
        return event_id

    def record(decisions: list[dict], started: int) -> list[int]:
        completed = add("DecisionTaskCompleted", {"scheduledEventId": started - 1,
                                                  "startedEventId": started})
        ids = []
        for d in decisions:
            if d["decisionType"] == "ScheduleActivityTask":
                a = d["scheduleActivityTaskDecisionAttributes"]
                ids.append(add("ActivityTaskScheduled", {
                    "activityId": a["activityId"], "activityType": a["activityType"],
                    "input": a["input"], "taskList": a["taskList"],
                    "decisionTaskCompletedEventId": completed}))
            else:
                ids.append(add("TimerStarted", {
                    "timerId": d["startTimerDecisionAttributes"]["timerId"],
                    "startToFireTimeout": "0", "decisionTaskCompletedEventId": completed}))
        return ids

    def decide() -> int:
        scheduled = add("DecisionTaskScheduled", {"taskList": {"name": "d"}})
        return add("DecisionTaskStarted", {"scheduledEventId": scheduled})

    ids = record(first, 3)
    started = add("ActivityTaskStarted", {"scheduledEventId": ids[0]})
    add("ActivityTaskCompleted", {"scheduledEventId": ids[0], "startedEventId": started,
                                  "result": "0"})
    fed = 3  # what `state` has seen
    at = decide()
    # An activity closed before the continuation timer fired: this decision task sends a full
    # hundred and no second timer (the first one's firing brings the next task).
    second = state.handle(events[fed:])
    assert [d["decisionType"] for d in second] == ["ScheduleActivityTask"] * 100
    fed = len(events)
    record(second, at)
    add("TimerFired", {"timerId": timer_id, "startedEventId": ids[-1]})
    decide()
    third = state.handle(events[fed:])
    assert len(third) == 100 and third[-1]["decisionType"] == "StartTimer"  # 99 and a new one
    full = ExecutionState(lw.ManyActivities, workflow_id="wf", run_id="run")
    assert full.handle(events) == third
