"""canvas.Dag and canvas.Node: built from edges or from provides/requires, checked when built, run
through a local run (the real decider against the in-process SWF) and replayed from its history."""

from __future__ import annotations

import pytest

from replayflow import Workflow, activity, canvas
from replayflow.errors import DependencyFailed, InvalidDag, TaskCancelled, TaskFailed
from replayflow.history import attributes
from replayflow.local import LocalRunner
from replayflow.testing import replay


@activity.with_attributes(task_list="dag", version="test")
def fetch(url):
    return f"<page of {url}>"


@activity.with_attributes(task_list="dag", version="test")
def parse(page):
    return page.strip("<>").split(" of ")


@activity.with_attributes(task_list="dag", version="test")
def checksum(page):
    return len(page)


@activity.with_attributes(task_list="dag", version="test")
def store(records, digest):
    return {"stored": records, "digest": digest}


@activity.with_attributes(task_list="dag", version="test")
def broken(page):
    raise ValueError(f"cannot read {page}")


@activity.with_attributes(task_list="dag", version="test", raises_on_failure=False)
def quiet_broken(page):
    raise ValueError("quietly broken")


@activity.with_attributes(task_list="dag", version="test")
def echo(value=None, *, label="x"):
    return [label, value]


@activity.with_attributes(task_list="dag", version="test")
def either(a=None, b=None):
    return [a, b]


class Child(Workflow):
    name = "dag-test-child"

    def run(self, page):
        return f"child saw {page}"


def issue_dag() -> canvas.Dag:
    return canvas.Dag({fetch: [parse, checksum], parse: {store: "records"},
                       checksum: {store: "digest"}})


def issue_dag_from_nodes() -> canvas.Dag:
    return canvas.Dag.from_nodes([
        canvas.Node(fetch, provides="page"),
        canvas.Node(parse, requires=["page"], provides="records"),
        canvas.Node(checksum, requires="page", provides="digest"),
        canvas.Node(store, requires=["records", "digest"]),
    ])


def fan_dag() -> canvas.Dag:
    roots = [canvas.Node(echo, name=f"e{i}", label=f"e{i}") for i in range(5)]
    return canvas.Dag({root: [] for root in roots}, max_parallel=2)


BUILDERS = {
    "issue": issue_dag,
    "from-nodes": issue_dag_from_nodes,
    "fan": fan_dag,
    "fails": lambda: canvas.Dag({fetch: [broken, checksum], broken: {store: "records"},
                                 checksum: {store: "digest"}}),
    "quiet": lambda: canvas.Dag({fetch: [quiet_broken], quiet_broken: {echo: "value"}}),
    "child": lambda: canvas.Dag({fetch: [Child, canvas.Node(echo, label="fixed")]}),
    "by-name": lambda: canvas.Dag({canvas.Node(fetch, name="get"): ["parse"],
                                   parse: {"slot": "value"},
                                   canvas.Node(echo, name="slot", label="s"): []}),
    "empty": lambda: canvas.Dag({}),
}


class Runner(Workflow):
    """Submits BUILDERS[kind]() with `url` as its input; reports the result or the failure."""

    name = "dag-test-runner"

    def run(self, kind, url="u"):
        future = self.submit(BUILDERS[kind](), url)
        try:
            return {"result": future.result}
        except TaskFailed as exc:
            return {"failed": exc.task_id, "type": type(exc).__name__, "reason": exc.reason}


def run(kind: str, *args):
    result = LocalRunner(max_workers=8).run(Runner, [kind, *args])
    assert result.ok, result.reason
    return result.result, result.run


def scheduled(run) -> list[str]:
    return [attributes(e)["activityId"].split("#")[0] for e in run.events
            if e["eventType"] == "ActivityTaskScheduled"]


def max_open_activities(events: list[dict]) -> int:
    open_ids: set[int] = set()
    most = 0
    for event in events:
        kind = event["eventType"]
        if kind == "ActivityTaskScheduled":
            open_ids.add(event["eventId"])
            most = max(most, len(open_ids))
        elif kind in ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut",
                      "ActivityTaskCanceled"):
            open_ids.discard(attributes(event)["scheduledEventId"])
    return most


EXPECTED = {"fetch": "<page of u>", "parse": ["page", "u"], "checksum": 11,
            "store": {"stored": ["page", "u"], "digest": 11}}


@pytest.mark.parametrize("kind", ["issue", "from-nodes"])
def test_the_issue_dag_returns_every_node_result_and_replays(kind):
    result, run_ = run(kind)
    assert result == {"result": EXPECTED}
    # parents before children: fetch alone first, then parse and checksum together, then store
    assert scheduled(run_) == [f"activity-{fetch.name}-1", f"activity-{parse.name}-1",
                               f"activity-{checksum.name}-1", f"activity-{store.name}-1"]
    assert max_open_activities(run_.events) == 2
    assert replay(run_.history(), Runner).closed


def test_the_two_forms_build_the_same_graph():
    by_edges, by_data = issue_dag(), issue_dag_from_nodes()
    assert by_edges.order == by_data.order == ("fetch", "parse", "checksum", "store")
    assert by_edges.roots == ["fetch"]
    assert by_edges.parents("store") == by_data.parents("store") == ["parse", "checksum"]


def test_max_parallel_bounds_the_running_nodes():
    result, run_ = run("fan")
    assert result == {"result": {f"e{i}": [f"e{i}", "u"] for i in range(5)}}
    assert max_open_activities(run_.events) == 2


def test_a_failure_fails_its_descendants_unrun_and_the_dag_with_the_cause():
    result, run_ = run("fails")
    assert result["failed"] == f"activity-{broken.name}-1"
    assert result["type"] == "TaskFailed"
    assert "cannot read <page of u>" in result["reason"]
    # the independent branch ran; store never did (DependencyFailed, nothing scheduled)
    assert scheduled(run_) == [f"activity-{fetch.name}-1", f"activity-{broken.name}-1",
                               f"activity-{checksum.name}-1"]


def test_a_quiet_failure_reads_as_none_for_its_children():
    result, _run = run("quiet")
    assert result == {"result": {"fetch": "<page of u>", "quiet_broken": None,
                                 "echo": ["x", None]}}


def test_a_workflow_class_is_a_node_run_as_a_child():
    result, run_ = run("child")
    assert result == {"result": {"fetch": "<page of u>", "Child": "child saw <page of u>",
                                 "echo": ["fixed", "<page of u>"]}}
    assert replay(run_.history(), Runner).closed


def test_nodes_can_be_named_and_referred_to_by_name():
    result, _run = run("by-name")
    assert result == {"result": {"get": "<page of u>", "parse": ["page", "u"],
                                 "slot": ["s", ["page", "u"]]}}


def test_an_empty_dag_resolves_at_once():
    assert run("empty")[0] == {"result": {}}


class DagInChain(Workflow):
    name = "dag-test-chain"

    def run(self):
        flow = canvas.Chain(canvas.ActivityTask(fetch, "v"), issue_dag(), send_result=True)
        return self.submit(flow).result


def test_in_a_chain_the_previous_result_is_the_roots_input():
    result = LocalRunner().run(DagInChain)
    assert result.ok, result.reason
    page = "<page of v>"
    assert result.result[1]["fetch"] == f"<page of {page}>"


class BadInput(Workflow):
    name = "dag-test-bad-input"

    def run(self):
        return self.submit(issue_dag(), "a", "b").result


def test_an_input_that_does_not_fit_a_root_fails_before_anything_is_scheduled():
    result = LocalRunner().run(BadInput)
    assert result.status == "FAILED"
    assert "InvalidDag" in result.reason
    assert "does not fit its root node 'fetch'" in result.reason
    assert not [e for e in result.run.events if e["eventType"] == "ActivityTaskScheduled"]


class Built(Workflow):
    """Builds an invalid DAG inside run(): a local run fails with the reason, as SWF would."""

    name = "dag-test-built"

    def run(self):
        return self.submit(canvas.Dag({fetch: parse, parse: fetch}), "u").result


def test_an_invalid_dag_fails_a_local_run_with_its_reason():
    result = LocalRunner().run(Built)
    assert result.status == "FAILED"
    assert "the DAG has a cycle" in result.reason


@activity.with_attributes(task_list="dag", version="test", heartbeat_timeout=30)
def wait_for_cancel(page):
    import time

    ctx = activity.context()
    for _ in range(3000):
        if ctx.heartbeat():
            raise RuntimeError("stopped")
        time.sleep(0.01)
    return "never cancelled"


class CancelDag(Workflow):
    name = "dag-test-cancel"

    def run(self):
        dag = self.submit(canvas.Dag({fetch: [wait_for_cancel], wait_for_cancel: [parse]}), "u")
        self.sleep(0)
        cancelled = dag.cancel()
        try:
            dag.result  # noqa: B018
        except TaskCancelled as exc:
            return {"cancelled": cancelled, "task": exc.task_id}


def test_cancelling_a_dag_cancels_its_running_nodes_and_submits_no_more():
    result = LocalRunner().run(CancelDag)
    assert result.ok, result.reason
    assert result.result == {"cancelled": True, "task": "dag-1"}
    names = [attributes(e)["activityType"]["name"] for e in result.run.events
             if e["eventType"] == "ActivityTaskScheduled"]
    assert parse.name not in names


# -- validation, at build time ------------------------------------------------------------------


def invalid(build) -> str:
    with pytest.raises(InvalidDag) as caught:
        build()
    return str(caught.value)


def test_a_cycle_is_refused_with_its_path():
    message = invalid(lambda: canvas.Dag({fetch: parse, parse: checksum, checksum: fetch}))
    assert message.startswith("the DAG has a cycle: ")
    path = message.removeprefix("the DAG has a cycle: ").split(" -> ")
    assert path[0] == path[-1] and set(path) == {"fetch", "parse", "checksum"}
    assert "cycle" in invalid(lambda: canvas.Dag({fetch: fetch}))


def test_unknown_nodes_are_refused():
    assert "unknown node 'prase' (nodes: fetch, parse)" in invalid(
        lambda: canvas.Dag({fetch: ["prase"], parse: []}))
    assert "unknown node 42" in invalid(lambda: canvas.Dag({fetch: [42]}))
    assert "unknown node" in invalid(lambda: canvas.Dag({fetch: [canvas.Group()]}))
    assert "not Group" in invalid(lambda: canvas.Node(canvas.Group()))
    assert "takes a dict of edges" in invalid(lambda: canvas.Dag([fetch, parse]))


def test_ambiguous_and_missing_providers_are_refused():
    assert invalid(lambda: canvas.Dag.from_nodes([
        canvas.Node(fetch, provides="page"), canvas.Node(echo, provides="page"),
    ])) == "ambiguous provider: 'page' is provided by both 'fetch' and 'echo'"
    assert invalid(lambda: canvas.Dag.from_nodes([
        canvas.Node(fetch, provides="page"), canvas.Node(store, requires=["records", "digest"]),
    ])) == "node 'store' requires 'records', which no node provides (provided: page)"


def test_a_slot_that_is_not_a_parameter_is_refused():
    message = invalid(lambda: canvas.Dag({fetch: {store: "recs"}}))
    assert message == ("node 'store' takes 'fetch''s result as 'recs', which is not a parameter "
                       "of store(records, digest)")
    assert "'html', which is not a parameter of parse(page)" in invalid(
        lambda: canvas.Dag.from_nodes([canvas.Node(fetch, provides="page"),
                                       canvas.Node(parse, requires={"html": "page"})]))


def test_several_unlabelled_parents_are_refused():
    message = invalid(lambda: canvas.Dag({parse: [store], checksum: [store]}))
    assert message.startswith("node 'store' has 2 unlabelled parents (parse, checksum)")
    assert "parse: {store: 'param'}" in message


def test_a_child_that_cannot_take_its_inputs_is_refused():
    # store needs two arguments; one parent gives it only one
    assert "missing a required argument: 'digest'" in invalid(
        lambda: canvas.Dag({parse: {store: "records"}}))
    # a slot filled twice, or both by a parent and as a fixed argument
    assert "gets 'a' from both 'fetch' and 'parse'" in invalid(
        lambda: canvas.Dag({fetch: {either: "a"}, parse: {either: "a"}}))
    assert "gets 'a' from 'fetch' and as a fixed argument" in invalid(
        lambda: canvas.Dag({fetch: {canvas.Node(either, a=1): "a"}}))


def test_node_names_are_unique_and_sets_have_no_order():
    assert "two nodes are named 'fetch'" in invalid(
        lambda: canvas.Dag({fetch: [canvas.Node(fetch)]}))
    assert "use a list" in invalid(lambda: canvas.Dag({fetch: {parse, checksum}}))
    assert "must be a parameter name" in invalid(lambda: canvas.Dag({fetch: {parse: 3}}))
    assert "given twice" in invalid(lambda: canvas.Dag({fetch: [parse, "parse"]}))


def test_max_parallel_must_be_positive():
    with pytest.raises(ValueError, match="max_parallel"):
        canvas.Dag({fetch: []}, max_parallel=0)


def test_dependency_failed_is_what_a_skipped_node_carries():
    # The engine's own rule, relied on by the DAG: a child of a failed parent is never run.
    assert issubclass(DependencyFailed, TaskFailed)


class DagWithOptions(Workflow):
    name = "dag-test-options"

    def run(self):
        return self.submit(issue_dag(), "u", __priority=3).result


def test_submit_options_go_to_nodes_not_to_the_dag():
    result = LocalRunner().run(DagWithOptions)
    assert result.status == "FAILED"
    assert "takes its roots' input, not submit options" in result.reason
