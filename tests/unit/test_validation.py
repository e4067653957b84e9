"""What SWF would refuse is refused where the workflow code asks for it: inside run() (or at
declaration), with an error naming the call, so a run fails the same way locally and on SWF
instead of wedging the decider. Also: every SWF duration rounds a fraction up, timers included.
"""

from __future__ import annotations

import math

import pytest
from support.failure_workflows import EmptyMarkerNameWorkflow, EmptyTimerIdWorkflow

from replayflow import Workflow, activity, policy
from replayflow.history import attributes
from replayflow.local import LocalRunner
from replayflow.validation import check_name, check_seconds


@activity.with_attributes(task_list="validation", version="1")
def noop(x=None):
    return x


@activity.with_attributes(task_list="validation", version="1", priority=7)
def prioritised(x=None):
    return x


class Child(Workflow):
    name = "validation-child"

    def run(self):
        return 1


CALLS = {
    "empty timer id": (lambda w: w.start_timer("", 1), "timer id must not be empty"),
    "long timer id": (lambda w: w.start_timer("t" * 257, 1), "over SWF's limit of 256"),
    "colon in timer id": (lambda w: w.start_timer("a:b", 1), "contains ':'"),
    "timer id arn": (lambda w: w.start_timer("arn", 1), "must not be the string 'arn'"),
    "control char in timer id": (lambda w: w.start_timer("a\x07", 1), "contains '\\x07'"),
    "infinite timer": (lambda w: w.start_timer("t", math.inf), "at most 99,999,999 seconds"),
    "nan sleep": (lambda w: w.sleep(math.nan), "sleep 'sleep-1' seconds must be a number"),
    "negative timer": (lambda w: w.start_timer("t", -1), "must be a number of seconds 0 or more"),
    "string timer": (lambda w: w.start_timer("t", "5"), "must be a number of seconds"),
    "empty marker": (lambda w: w.record_marker(""), "marker name must not be empty"),
    "long marker": (lambda w: w.record_marker("m" * 300), "marker name is 300 characters"),
    "empty signal": (lambda w: w.signal(""), "signal name must not be empty"),
    "bad signal target": (lambda w: w.signal("go", workflow_id="a/b"), "workflow id 'a/b'"),
    "bad priority": (lambda w: w.submit(noop, 1, __priority="high"), "priority must be"),
    "huge priority": (lambda w: w.submit(noop, 1, __priority=2**40), "priority must be between"),
    "child id": (lambda w: w.submit(Child, __workflow_id=""), "__workflow_id) must not be empty"),
    "child timeout": (lambda w: w.submit(Child, __execution_timeout=math.inf),
                      "__execution_timeout must be at most"),
    "child policy": (lambda w: w.submit(Child, __child_policy="KILL"), "__child_policy must be"),
    "child tags": (lambda w: w.submit(Child, __tags=["t"] * 6), "SWF keeps at most 5"),
    "child task list": (lambda w: w.submit(Child, __task_list="a|b"), "contains '|'"),
}


class BadCall(Workflow):
    """Makes one bad call, catches what it raises, and reports it: the error is run()'s."""

    name = "validation-bad-call"

    def run(self, call):
        try:
            CALLS[call][0](self)
        except (ValueError, TypeError) as exc:
            return {"raised": type(exc).__name__, "message": str(exc)}
        return {"raised": None}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_call_swf_would_refuse_raises_inside_run(call):
    result = LocalRunner(max_workers=2).run(BadCall, [call])
    assert result.ok, result.reason
    assert result.result["raised"] == "ValueError"
    assert CALLS[call][1] in result.result["message"]
    scheduled = [e["eventType"] for e in result.execution.events
                 if e["eventType"] in ("TimerStarted", "MarkerRecorded", "ActivityTaskScheduled",
                                       "StartChildWorkflowExecutionInitiated",
                                       "SignalExternalWorkflowExecutionInitiated")]
    assert scheduled == []  # nothing reached SWF


@pytest.mark.parametrize("cls, message", [
    (EmptyTimerIdWorkflow, "ValueError: timer id must not be empty"),
    (EmptyMarkerNameWorkflow, "ValueError: marker name must not be empty"),
])
def test_left_unhandled_it_fails_the_run_with_its_traceback(cls, message):
    """The workflows the moto test runs through `standalone` fail the same way there."""
    result = LocalRunner(max_workers=2).run(cls)
    assert result.status == "FAILED"
    assert result.reason == message
    assert "failure_workflows.py" in result.details["traceback"]


@pytest.mark.parametrize("options, message", [
    ({"start_to_close_timeout": math.inf}, "start_to_close_timeout must be at most 99,999,999"),
    ({"heartbeat_timeout": math.nan}, "heartbeat_timeout must be a number of seconds above 0"),
    ({"schedule_to_close_timeout": 10**9}, "schedule_to_close_timeout must be at most"),
    ({"retry": "3"}, "retry must be >= 0 (a whole number of extra attempts); got '3'"),
    ({"retry": 1.5}, "retry must be >= 0"),
    ({"retry": True}, "retry must be >= 0"),
    ({"priority": "1"}, "priority must be a whole number or None"),
    ({"task_list": ""}, "activity task list must not be empty"),
    ({"task_list": "a:b"}, "activity task list 'a:b' contains ':'"),
    ({"version": "v" * 65}, "activity version is 65 characters, over SWF's limit of 64"),
    ({"name": "my/activity"}, "activity name 'my/activity' contains '/'"),
])
def test_a_declaration_swf_would_refuse_is_refused_at_once(options, message):
    with pytest.raises(ValueError) as raised:
        activity.with_attributes(**options)(noop.func)
    assert message in str(raised.value)


def test_the_rules_themselves():
    assert check_name("id", "a.b-c_d#1 (x)") == "a.b-c_d#1 (x)"
    assert check_name("marker name", "a:b|c", identifier=False) == "a:b|c"
    assert check_name("id", "arnold") == "arnold"
    with pytest.raises(TypeError, match="must be a string, not int"):
        check_name("id", 3)
    assert check_seconds("t", 0, zero_ok=True) == 0
    assert check_seconds("t", 0.3, zero_ok=True) == 1
    assert check_seconds("t", 99_999_999, zero_ok=False) == 99_999_999
    with pytest.raises(ValueError, match="above 0"):
        check_seconds("t", 0, zero_ok=False)
    with pytest.raises(ValueError, match="RetryAfter seconds must be at most"):
        policy.RetryAfter(math.inf)


# --- every SWF duration rounds a fraction up ------------------------------------------------

_attempts: dict[str, int] = {}


@activity.with_attributes(task_list="validation", version="1")
def fails_first(key):
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] == 1:
        raise RuntimeError("first attempt fails")
    return _attempts[key]


class FractionalTimers(Workflow):
    name = "validation-fractional-timers"

    def run(self, key):
        deadline = self.start_timer("deadline", 0.3)
        attempts = self.submit(fails_first, key)  # retried after RetryAfter(0.3)
        self.sleep(0.3)
        self.sleep(0)
        return {"deadline": deadline.result, "attempts": attempts.result}

    def on_task_failure(self, failure):
        return policy.RetryAfter(0.3)


def test_a_fraction_of_a_second_waits_a_whole_second_and_zero_stays_zero():
    result = LocalRunner(max_workers=2).run(FractionalTimers, [f"key-{id(object())}"])
    assert result.ok, result.reason
    assert result.result == {"deadline": None, "attempts": 2}
    timers = {attributes(e)["timerId"]: attributes(e)["startToFireTimeout"]
              for e in result.execution.events if e["eventType"] == "TimerStarted"}
    assert timers == {"deadline": "1", f"retry-activity-{fails_first.name}-1-1": "1",
                      "sleep-1": "1", "sleep-2": "0"}
