"""Local mode enforces an activity's schedule-to-start and schedule-to-close timeouts as SWF does.

A task can only wait to start in a local run when every activity thread is busy, so these tests
run with one thread and keep it busy with `hold`, which lets go once the history shows what the
test waits for. SWF timeouts are whole seconds: the shortest, 1 s, keeps each test near 1 s.
"""

from __future__ import annotations

import threading
import time

import pytest
from support.history_model import validate_history

from replayflow import Workflow, activity, futures
from replayflow.activity import context
from replayflow.errors import StuckWorkflow, TaskTimedOut
from replayflow.history import attributes, events_to_wire
from replayflow.local import LocalRunner

#: the backend of the run in progress, for activities that watch their own history
_backend: LocalRunner | None = None
_LOCK = threading.Lock()


def _history() -> list[dict]:
    assert _backend is not None
    return _backend.executions[context().workflow_id].events


def _wait_for_timeout(timeout_type: str, deadline: float = 20.0) -> None:
    """Block (in an activity thread) until the run records an ActivityTaskTimedOut of that type."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(attributes(e).get("timeoutType") == timeout_type for e in list(_history())
               if e["eventType"] == "ActivityTaskTimedOut"):
            return
        time.sleep(0.01)
    raise AssertionError(f"no {timeout_type} timeout recorded within {deadline} s")


@activity.with_attributes(task_list="timeouts", version="test")
def hold(timeout_type):
    """Keep the only thread busy until the other task has timed out."""
    _wait_for_timeout(timeout_type)
    return "held"


@activity.with_attributes(task_list="timeouts", version="test", schedule_to_start_timeout=1)
def must_start_soon(x):
    return x


@activity.with_attributes(task_list="timeouts", version="test", schedule_to_start_timeout=1,
                          retry=1)
def must_start_soon_retried(x):
    return x


@activity.with_attributes(task_list="timeouts", version="test", schedule_to_close_timeout=1)
def must_close_soon(x):
    return x


@activity.with_attributes(task_list="timeouts", version="test", schedule_to_close_timeout=1,
                          retry=1)
def slow_first_time(x):
    """The first attempt outlives its schedule-to-close timeout; the retry is quick."""
    if context().attempt == 1:
        _wait_for_timeout("SCHEDULE_TO_CLOSE")
        return "late"
    return x


@activity.with_attributes(task_list="timeouts", version="test", schedule_to_close_timeout=1)
def quick_then_slow(seconds):
    time.sleep(seconds)  # the activity's own work: how long it runs is what is tested
    return seconds


class BusyThenTask(Workflow):
    """`hold` takes the only thread, then `task` waits for it; reports how `task` ended."""

    name = "timeouts-busy-then-task"

    def run(self, task_name, timeout_type, catch=True):
        task = {"must_start_soon": must_start_soon,
                "must_start_soon_retried": must_start_soon_retried,
                "must_close_soon": must_close_soon}[task_name]
        held = self.submit(hold, timeout_type)
        waiting = self.submit(task, "done")
        if not catch:
            return waiting.result
        try:
            outcome = {"result": waiting.result}
        except TaskTimedOut as exc:
            outcome = {"error_type": exc.error_type, "message": exc.message,
                       "reason": exc.reason}
        outcome["held"] = held.result
        return outcome


class SlowFirstAttempt(Workflow):
    name = "timeouts-slow-first-attempt"

    def run(self):
        return self.submit(slow_first_time, "on time").result


class InlineThenSlow(Workflow):
    name = "timeouts-inline-then-slow"

    def run(self):
        futures.wait(self.submit(quick_then_slow, 0))  # on a thread: the type is seen to be fast
        try:
            return self.submit(quick_then_slow, 1.2).result  # runs inline, past its limit
        except TaskTimedOut as exc:
            return exc.message


class WaitsForSignal(Workflow):
    name = "timeouts-waits-for-signal"

    def run(self):
        futures.wait(self.submit(must_close_soon, 1))
        return self.wait_signal("never").result


def run(workflow_cls, *args, max_workers=1, **options):
    global _backend
    with _LOCK:  # activities find the run's history through the module's backend
        _backend = LocalRunner(max_workers=max_workers, **options)
        try:
            result = _backend.run(workflow_cls, list(args))
        finally:
            _backend = None
    assert validate_history(events_to_wire(result.execution.events)) == []
    return result


def by_type(events, event_type):
    return [e for e in events if e["eventType"] == event_type]


def scheduled(events, name):
    return [e for e in by_type(events, "ActivityTaskScheduled")
            if attributes(e)["activityType"]["name"] == name]


def closes_of(events, scheduled_event):
    """The events that refer to this ActivityTaskScheduled event (start and close)."""
    return [e["eventType"] for e in events
            if e["eventType"].startswith("ActivityTask")
            and e["eventType"] != "ActivityTaskScheduled"
            and attributes(e).get("scheduledEventId") == scheduled_event["eventId"]]


def test_schedule_to_start_fires_when_no_thread_is_free_in_time():
    result = run(BusyThenTask, "must_start_soon", "SCHEDULE_TO_START")
    events = result.execution.events
    assert result.ok, result.reason
    assert result.result == {"error_type": "TimeoutError", "message": "SCHEDULE_TO_START",
                             "reason": "timed out (SCHEDULE_TO_START)", "held": "held"}
    [task] = scheduled(events, must_start_soon.name)
    assert attributes(task)["scheduleToStartTimeout"] == "1"
    assert closes_of(events, task) == ["ActivityTaskTimedOut"]  # it never started
    [timed_out] = by_type(events, "ActivityTaskTimedOut")
    assert attributes(timed_out) == {"timeoutType": "SCHEDULE_TO_START",
                                     "scheduledEventId": task["eventId"], "startedEventId": 0}


def test_a_retry_after_a_schedule_to_start_timeout_runs_as_normal():
    result = run(BusyThenTask, "must_start_soon_retried", "SCHEDULE_TO_START")
    events = result.execution.events
    assert result.ok, result.reason
    assert result.result == {"result": "done", "held": "held"}
    first, second = scheduled(events, must_start_soon_retried.name)
    assert attributes(first)["activityId"].endswith("#1")
    assert attributes(second)["activityId"].endswith("#2")
    assert closes_of(events, first) == ["ActivityTaskTimedOut"]
    assert closes_of(events, second) == ["ActivityTaskStarted", "ActivityTaskCompleted"]


def test_schedule_to_close_fires_on_a_task_that_never_started():
    result = run(BusyThenTask, "must_close_soon", "SCHEDULE_TO_CLOSE", False)
    events = result.execution.events
    # unhandled, the timeout fails the workflow the way a start-to-close timeout does
    assert result.status == "FAILED"
    assert "timed out (SCHEDULE_TO_CLOSE)" in result.reason
    [task] = scheduled(events, must_close_soon.name)
    assert closes_of(events, task) == ["ActivityTaskTimedOut"]
    [timed_out] = by_type(events, "ActivityTaskTimedOut")
    assert attributes(timed_out) == {"timeoutType": "SCHEDULE_TO_CLOSE",
                                     "scheduledEventId": task["eventId"], "startedEventId": 0}


def test_schedule_to_close_fires_on_a_running_task_whose_late_result_is_dropped():
    result = run(SlowFirstAttempt)
    events = result.execution.events
    assert result.ok, result.reason
    assert result.result == "on time"
    first, second = scheduled(events, slow_first_time.name)
    # one thread: the retry started only once the first attempt had returned "late"
    assert closes_of(events, first) == ["ActivityTaskStarted", "ActivityTaskTimedOut"]
    assert closes_of(events, second) == ["ActivityTaskStarted", "ActivityTaskCompleted"]
    [started] = [e for e in by_type(events, "ActivityTaskStarted")
                 if attributes(e)["scheduledEventId"] == first["eventId"]]
    [timed_out] = by_type(events, "ActivityTaskTimedOut")
    assert attributes(timed_out) == {"timeoutType": "SCHEDULE_TO_CLOSE",
                                     "scheduledEventId": first["eventId"],
                                     "startedEventId": started["eventId"]}
    assert all(attributes(e).get("result") != '"late"' for e in events)


def test_schedule_to_close_applies_to_a_task_run_inline():
    # a threshold this high makes the first call's type an inline one for sure
    result = run(InlineThenSlow, max_workers=2, inline_threshold=10.0)
    events = result.execution.events
    assert result.ok, result.reason
    assert result.result == "SCHEDULE_TO_CLOSE"
    first, second = scheduled(events, quick_then_slow.name)
    assert closes_of(events, first) == ["ActivityTaskStarted", "ActivityTaskCompleted"]
    assert closes_of(events, second) == ["ActivityTaskStarted", "ActivityTaskTimedOut"]
    [timed_out] = by_type(events, "ActivityTaskTimedOut")
    assert attributes(timed_out)["timeoutType"] == "SCHEDULE_TO_CLOSE"


@pytest.mark.timeout(60)
def test_a_finished_tasks_timeouts_do_not_delay_the_stuck_report():
    # The task's schedule-to-close (1 s) and start-to-close (1 h) timers are still pending when
    # the run can go no further: they can never fire on a closed task, so they must not hold off
    # the report (the timeout mark fails the test if they do).
    with pytest.raises(StuckWorkflow, match="signal 'never'"):
        run(WaitsForSignal, max_workers=2)
