"""The dependencies a decision records in `control`: compact, bounded, and read back exactly."""

from __future__ import annotations

import json

import pytest
from support.console_workflows import ChildFedWorkflow

from examples.fanout import FanoutWorkflow
from replayflow.console import views
from replayflow.dataflow import MAX_CONTROL_CHARS, dependencies_control, read_control
from replayflow.history import attributes
from replayflow.local import run_local
from replayflow.operator import RunHistory


def test_consecutive_numbered_ids_fold_into_ranges_and_read_back_in_order():
    ids = [f"activity-m.square-{n}" for n in range(1, 1001)] + ["activity-m.f-7", "timer-a"]
    text = dependencies_control(ids)
    assert json.loads(text) == {"deps": [["activity-m.square-", 1, 1000], "activity-m.f-7",
                                         "timer-a"]}
    assert read_control(text) == (None, ids)


def test_a_gap_starts_a_new_range_and_duplicates_are_dropped():
    ids = ["a-1", "a-2", "a-2", "a-4", "a-5", "b-1"]
    text = dependencies_control(ids)
    assert json.loads(text)["deps"] == [["a-", 1, 2], ["a-", 4, 5], "b-1"]
    assert read_control(text)[1] == ["a-1", "a-2", "a-4", "a-5", "b-1"]


def test_a_child_control_names_its_task_id_with_or_without_dependencies():
    assert read_control(dependencies_control(["activity-m.f-1"], "workflow-child-1")) == (
        "workflow-child-1", ["activity-m.f-1"])
    assert read_control("workflow-child-1") == ("workflow-child-1", [])


def test_too_many_ids_are_counted_not_written_so_the_field_never_goes_to_s3():
    ids = [f"activity-m.f-{n:x}z{n}" for n in range(20_000)]  # nothing folds
    text = dependencies_control(ids)
    assert len(text) <= MAX_CONTROL_CHARS
    data = json.loads(text)
    assert data["more"] == 20_000 - len(data["deps"])
    assert read_control(text)[1] == ids[: len(data["deps"])]


@pytest.mark.parametrize("control", [
    None, "", "{", "[1, 2]", '{"deps": 3}', '{"deps": [[1, 2, 3], ["p-", "1", 2], {"x": 1}]}',
    '{"deps": [["p-", 5, 1]]}', '{"deps": [["p-", 0, 99999999]]}', '{"deps": [["p-", true, 2]]}',
])
def test_anything_unexpected_reads_as_no_dependencies(control):
    assert read_control(control)[1] == []


def test_a_local_run_records_the_fan_in_edges_in_its_history():
    result = run_local(FanoutWorkflow, [30])
    scheduled = [attributes(e) for e in result.history().events
                 if e["eventType"] == "ActivityTaskScheduled"]
    squares = [a for a in scheduled if a["activityType"]["name"] == "examples.fanout.square"]
    assert all("control" not in a for a in squares)  # no futures among their arguments
    total = next(a for a in scheduled if a["activityType"]["name"] == "examples.fanout.total")
    assert read_control(total["control"]) == (
        None, [f"activity-examples.fanout.square-{n}" for n in range(1, 31)])


def test_a_child_fed_a_future_names_its_task_and_dependency_and_the_graph_links_them():
    result = run_local(ChildFedWorkflow, [3])
    assert result.result == 6
    parent = result.history()
    initiated = [attributes(e) for e in parent.events
                 if e["eventType"] == "StartChildWorkflowExecutionInitiated"]
    assert len(initiated) == 1
    child_task, deps = read_control(initiated[0]["control"])
    assert child_task == "workflow-support.console_workflows.SumChild-1"
    assert deps == ["activity-support.console_workflows.load-1"]
    history = RunHistory(parent.events, dict(parent.workflow_execution))
    graph = views.graph(history, lambda text: text)
    child_node = initiated[0]["workflowId"]
    assert {(e.source, e.target) for e in graph.edges} == {
        ("activity-support.console_workflows.load-1", child_node)}
