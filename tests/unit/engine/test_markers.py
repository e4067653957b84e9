"""`list_markers()` lists what this run recorded, from the moment it was recorded: markers of the
current decision too (their MarkerRecorded event is still to come), in order, the same for a
cached state and a full replay."""

from __future__ import annotations

import copy

from support.history_model import assert_valid_history

from replayflow import Workflow, activity
from replayflow.decider import Decider
from replayflow.engine.replay import ExecutionState
from replayflow.history import attributes
from replayflow.local import LocalRunner


@activity.with_attributes(task_list="markers", version="1")
def step(x):
    return x + 1


def listed(workflow: Workflow) -> list:
    return [[m.name, m.details, m.event_id is not None] for m in workflow.list_markers()]


class Noting(Workflow):
    name = "markers-noting"

    def run(self):
        seen = [listed(self)]
        self.record_marker("m1", {"at": (1, 2)})  # a tuple: listed as JSON gives it back
        seen.append(listed(self))
        self.record_marker("m2")
        seen.append(listed(self))
        self.submit(step, 1).result  # noqa: B018
        self.record_marker("m1", "again")
        seen.append(listed(self))
        return seen


EXPECTED = [
    [],
    [["m1", {"at": [1, 2]}, False]],
    [["m1", {"at": [1, 2]}, False], ["m2", None, False]],
    [["m1", {"at": [1, 2]}, True], ["m2", None, True], ["m1", "again", False]],
]


def test_markers_of_the_current_decision_are_listed_in_order():
    result = LocalRunner(max_workers=2).run(Noting)
    assert result.ok, result.reason
    assert result.result == EXPECTED
    recorded = [attributes(e)["markerName"] for e in result.execution.events
                if e["eventType"] == "MarkerRecorded"]
    assert recorded == ["m1", "m2", "m1"]


def test_a_cached_state_and_a_full_replay_list_the_same_markers():
    events = LocalRunner(max_workers=2).run(Noting).execution.events

    class History:
        def get_workflow_execution_history(self, *args, **kwargs):
            return list(events)

    cached = Decider(History(), {Noting.type_name(): Noting}, "markers")
    fresh = Decider(History(), {Noting.type_name(): Noting}, "markers", cache_size=0)
    previous = 0
    for i, event in enumerate(events):
        if event["eventType"] != "DecisionTaskStarted":
            continue
        task = {"taskToken": "t", "startedEventId": event["eventId"],
                "previousStartedEventId": previous, "events": events[: i + 1],
                "workflowExecution": {"workflowId": "wf", "runId": "run"},
                "workflowType": {"name": Noting.type_name(), "version": "1"}}
        assert cached.handle_task(task) == fresh.handle_task(task)
        previous = event["eventId"]
    assert cached.stats.hits > 0


class NotingOnce(Workflow):
    name = "markers-noting-once"

    def run(self):
        self.record_marker("m1")
        self.sleep(0)
        return [m.name for m in self.list_markers()]


def test_a_marker_swf_refused_leaves_the_list():
    """RecordMarkerFailed (SWF's OPERATION_NOT_PERMITTED): the marker is not in the history, so
    it is not listed either, from that event on."""
    events = LocalRunner(max_workers=2).run(NotingOnce).execution.events
    failed = copy.deepcopy(events)
    for event in failed:
        if event["eventType"] == "MarkerRecorded":
            completed = event["markerRecordedEventAttributes"]["decisionTaskCompletedEventId"]
            event["eventType"] = "RecordMarkerFailed"
            event["recordMarkerFailedEventAttributes"] = {
                "markerName": "m1", "cause": "OPERATION_NOT_PERMITTED",
                "decisionTaskCompletedEventId": completed}
            del event["markerRecordedEventAttributes"]
    assert_valid_history({"events": [dict(e, eventTimestamp=e["eventTimestamp"].timestamp())
                                      for e in failed]})
    last_started = max(i for i, e in enumerate(events) if e["eventType"] == "DecisionTaskStarted")
    decide = [ExecutionState(NotingOnce).handle(h[: last_started + 1]) for h in (events, failed)]
    results = [d[-1]["completeWorkflowExecutionDecisionAttributes"]["result"] for d in decide]
    assert results == ['["m1"]', "[]"]
