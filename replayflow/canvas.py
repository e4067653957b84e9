"""Groups, chains and DAGs: describe a shape of tasks, submit it once, get one future of results.

Canvas is ordinary workflow code on top of `Workflow.submit`: a running group or chain is a small
state machine that the engine steps at each decision point (`ExecutionState.add_driver`), so it
never blocks `run()` and replays exactly like the tasks it submits.

    flow = canvas.Chain(
        canvas.ActivityTask(download, url),
        canvas.Group(*[canvas.ActivityTask(resize, size) for size in SIZES], max_parallel=2),
        canvas.FuncGroup(publish_each, channels),
    )
    results = self.submit(flow).result   # [download's result, [resized...], [published...]]

A `Dag` is a graph of tasks, from `{parent: child}` edges or from the data names its nodes provide
and require; it is checked when it is built, and each node is submitted once its parents are done,
with their futures as its arguments, so dependency failures come from the engine itself.
"""

from __future__ import annotations

import graphlib
import inspect
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import DependencyFailed, GroupFailed, InvalidDag, TaskCancelled
from .futures import CANCELLED, RUNNING, Future

if TYPE_CHECKING:
    from .workflow import Workflow

__all__ = ["ActivityTask", "WorkflowTask", "Group", "Chain", "FuncGroup", "Dag", "Node"]


class _Task:
    """Something a group or chain can run: it starts itself and returns a future."""

    def _start(self, workflow: Workflow, extra: tuple) -> Future:  # pragma: no cover - abstract
        raise NotImplementedError

    def _replayflow_submit(self, workflow: Workflow) -> Future:
        """What `Workflow.submit(canvas_object)` calls."""
        return self._start(workflow, ())


class ActivityTask(_Task):
    """An activity call: `fn(*args, **kwargs)`; kwargs may carry submit options (`__priority`)."""

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"ActivityTask({getattr(self.fn, '__name__', self.fn)!r}, ...)"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return workflow.submit(self.fn, *self.args, *extra, **self.kwargs)


class WorkflowTask(ActivityTask):
    """A child workflow: `cls(*args, **kwargs)`; kwargs may carry `__workflow_id` and friends."""

    def __init__(self, cls: type, *args: Any, **kwargs: Any) -> None:
        from .workflow import Workflow

        if not (isinstance(cls, type) and issubclass(cls, Workflow)):
            raise TypeError(f"WorkflowTask needs a Workflow subclass, not {cls!r}")
        super().__init__(cls, *args, **kwargs)


def _check_members(kind: str, tasks: tuple) -> tuple:
    for task in tasks:
        if not isinstance(task, _Task):
            raise TypeError(f"{kind} members are ActivityTask, WorkflowTask, Group, Chain or "
                            f"FuncGroup objects, not {task!r}")
    return tasks


class Group(_Task):
    """Run tasks in parallel, at most `max_parallel` at once; the result is their results in order.

    Every member runs even if one fails; the group then fails with `errors.GroupFailed` (a
    TaskFailed), which carries every member's failure in member order: "k of n tasks failed:
    ...". A member whose activity has raises_on_failure=False contributes None instead.
    """

    def __init__(self, *tasks: _Task, max_parallel: int | None = None) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1 (or None for no limit)")
        self.tasks = _check_members("Group", tasks)
        self.max_parallel = max_parallel

    def __repr__(self) -> str:
        return f"Group({len(self.tasks)} tasks, max_parallel={self.max_parallel})"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return _GroupRun(self, workflow, extra).start()


class Chain(_Task):
    """Run tasks one after the other; the result is the list of their results.

    With `send_result`, each task after the first gets the previous result as an extra last
    positional argument. With `break_on_failure` (the default) the first failed task stops the
    chain: a failure that raises (or a cancellation) fails the chain's future with it; a quiet
    failure (an activity with raises_on_failure=False) ends the chain successfully, with the
    results so far and None for the failed task (`[None]` if the first one failed). Without
    `break_on_failure`, a failed task contributes None and the chain goes on.
    """

    def __init__(self, *tasks: _Task, send_result: bool = False,
                 break_on_failure: bool = True) -> None:
        self.tasks = _check_members("Chain", tasks)
        self.send_result = send_result
        self.break_on_failure = break_on_failure

    def __repr__(self) -> str:
        return f"Chain({len(self.tasks)} tasks, send_result={self.send_result})"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return _ChainRun(self, workflow, extra).start()


class FuncGroup(_Task):
    """A task built when it starts: `fn(*args)` returns a canvas task or a list of them (a Group).

    In a chain with send_result, `fn` receives the previous result as its last argument, which is
    how a chain fans out over a list it computed. `fn` runs inside the workflow, so it must be
    deterministic (no I/O, no clock).
    """

    def __init__(self, fn: Any, *args: Any, **kwargs: Any) -> None:
        self.fn = fn
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"FuncGroup({getattr(self.fn, '__name__', self.fn)!r}, ...)"

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        built = self.fn(*self.args, *extra, **self.kwargs)
        if isinstance(built, list | tuple):
            built = Group(*built)
        if not isinstance(built, _Task):
            raise TypeError(f"FuncGroup function {getattr(self.fn, '__name__', self.fn)!r} "
                            f"returned {built!r}; it must return a canvas task or a list of them")
        return built._start(workflow, ())


def _outcome(future: Future) -> tuple[BaseException | None, Any]:
    """(exception to propagate or None, value to collect) of a finished member."""
    exc = future._exception
    if exc is None:
        return None, future._result
    future._carried()  # the composite now answers for this failure
    if future.state == CANCELLED or future._raises:
        return exc, None
    return None, None  # raises_on_failure=False: the failure reads as None


class _CompositeRun:
    """The running state of one submitted group or chain."""

    kind = "composite"

    def __init__(self, workflow: Workflow, extra: tuple) -> None:
        self.workflow = workflow
        self.execution = workflow._execution
        self.extra = extra
        self.started: list[Future] = []
        self.future = Future(self.execution._next_id(self.kind), self.execution)
        self.future._cancel = self._cancel

    def start(self) -> Future:
        self.future.state = RUNNING
        self.step()
        if not self.future.done:
            # Members submitted later belong to the saga block this one was submitted in.
            self.execution.add_driver(self.future, self.workflow._in_saga_scope(self.step))
        return self.future

    def step(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def _cancel(self, _future: Future) -> bool:
        if self.future.done:
            return False
        for member in self.started:
            if not member.done:
                member.cancel()
        self.future._set_exception(TaskCancelled(self.future.task_id))
        return True


class _GroupRun(_CompositeRun):
    kind = "group"

    def __init__(self, group: Group, workflow: Workflow, extra: tuple) -> None:
        super().__init__(workflow, extra)
        self.tasks = group.tasks
        self.limit = group.max_parallel

    def step(self) -> bool:
        progressed = False
        started = self.started
        running = sum(1 for f in started if not f.done)
        while len(started) < len(self.tasks) and (self.limit is None or running < self.limit):
            member = self.tasks[len(started)]._start(self.workflow, self.extra)
            started.append(member)
            progressed = True
            if not member.done:
                running += 1
        if len(started) == len(self.tasks) and running == 0:
            results = []
            failures = []
            for member in started:
                exc, value = _outcome(member)
                if exc is not None:
                    failures.append(exc)
                results.append(value)
            if failures:
                self.future._set_exception(
                    GroupFailed(self.future.task_id, failures, len(self.tasks)))
            else:
                self.future._set_result(results)
            progressed = True
        return progressed


class _ChainRun(_CompositeRun):
    kind = "chain"

    def __init__(self, chain: Chain, workflow: Workflow, extra: tuple) -> None:
        super().__init__(workflow, extra)
        self.chain = chain
        self.results: list[Any] = []

    def step(self) -> bool:
        progressed = False
        chain = self.chain
        while True:
            if self.started:
                current = self.started[-1]
                if len(self.results) < len(self.started):
                    if not current.done:
                        return progressed
                    exc, value = _outcome(current)
                    if exc is not None and chain.break_on_failure:
                        self.future._set_exception(exc)
                        return True
                    self.results.append(value)
                    progressed = True
                    if chain.break_on_failure and current._exception is not None:
                        # A quiet failure stops the chain too, which ends with the results so far.
                        self.future._set_result(self.results)
                        return True
            index = len(self.started)
            if index == len(chain.tasks):
                self.future._set_result(self.results)
                return True
            if index == 0:
                extra = self.extra
            else:
                extra = (self.results[-1],) if chain.send_result else ()
            self.started.append(chain.tasks[index]._start(self.workflow, extra))
            progressed = True


# -- DAGs -----------------------------------------------------------------------------------------


def _runnable(fn: Any) -> bool:
    """An activity, a plain function or a Workflow subclass: what a DAG node may run."""
    if isinstance(fn, type):
        from .workflow import Workflow

        return issubclass(fn, Workflow)
    return callable(fn) and not isinstance(fn, _Task | Node)


def _signature(fn: Any) -> inspect.Signature | None:
    """The parameters a node's call binds to (a child workflow's `run`, minus self), if known."""
    target = getattr(fn, "func", fn)  # an Activity wraps its function
    try:
        if isinstance(fn, type):
            sig = inspect.signature(fn.run)
            return sig.replace(parameters=list(sig.parameters.values())[1:])
        return inspect.signature(target)
    except (TypeError, ValueError):  # a builtin without a signature: the worker will tell
        return None


def _data_names(requires: Any, node_name: str) -> dict[str, str]:
    """`requires` as {parameter: data name}: a name, a list of names, or a dict."""
    if requires is None:
        return {}
    if isinstance(requires, str):
        requires = [requires]
    if isinstance(requires, Mapping):
        pairs = list(requires.items())
    elif isinstance(requires, list | tuple):
        pairs = [(name, name) for name in requires]
    else:
        raise InvalidDag(f"node {node_name!r}: requires is a data name, a list of them, or a "
                         f"dict of parameter -> data name, not {requires!r}")
    for parameter, data in pairs:
        if not (isinstance(parameter, str) and parameter.isidentifier() and isinstance(data, str)
                and data):
            raise InvalidDag(f"node {node_name!r}: requirement {parameter!r}: {data!r} must map "
                             "a parameter name to a data name")
    return dict(pairs)


class Node:
    """One task of a Dag: what it runs, the fixed arguments it always gets, and, for
    `Dag.from_nodes`, the data name it provides and the data names it requires.

    `fn` is an activity, a plain function or a Workflow subclass (run as a child workflow). A node
    is called as `fn(*args, <unlabelled parent's result>, **kwargs, <slot>=<parent's result>...)`;
    a root (a node without parents) gets the DAG's own input instead of a parent's result. `name`
    (by default the function's or class's `__name__`) keys the DAG's result. `kwargs` may carry
    submit options (`__priority`, `__workflow_id`...), as `Workflow.submit` takes them.
    """

    def __init__(self, fn: Any, *args: Any, name: str | None = None,
                 provides: str | None = None, requires: Any = None, **kwargs: Any) -> None:
        if not _runnable(fn):
            raise InvalidDag(f"a DAG node runs an activity, a function or a Workflow subclass, "
                             f"not {fn!r}")
        if name is None:
            name = getattr(fn, "__name__", None)
        if not isinstance(name, str) or not name:
            raise InvalidDag(f"the node of {fn!r} needs a name: Node(fn, name=...)")
        if provides is not None and not (isinstance(provides, str) and provides):
            raise InvalidDag(f"node {name!r}: provides is one data name, not {provides!r}")
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name
        self.provides = provides
        self.requires = _data_names(requires, name)

    def __repr__(self) -> str:
        return f"Node({self.name!r})"


#: (parent node name, the child's parameter it fills, or None for the positional argument)
_Input = tuple[str, str | None]


class Dag(_Task):
    """Tasks with dependencies; the result is `{node name: result}`.

    Built from edges, in Lightflow's shape: `Dag({fetch: [parse, checksum], parse: {store:
    "records"}})`. A value is one child, a list of children, or a dict of child -> slot (the
    parameter of the child that receives the parent's result); without a slot the result is the
    child's last positional argument, so a child has at most one unlabelled parent. Keys and
    values are activities, functions, Workflow subclasses, `Node`s, or the name of a node given
    elsewhere in the dict. `Dag.from_nodes` infers the edges from provides/requires instead.

    `self.submit(dag, *args, **kwargs)` gives that input to every root. Each node is submitted
    when all its parents are done (with their futures as arguments: a failed parent fails it with
    DependencyFailed without running it), in topological order, at most `max_parallel` running
    at once. Independent branches run to their end even if one fails; the DAG then fails with the
    first failure in topological order that is not a dependency failure. Submission order is a
    topological order, so undoing in reverse submission order undoes children before parents.
    Everything that can be checked is checked when the DAG is built, so a bad graph fails in a
    local run and in a replay test as it would on SWF.
    """

    _replayflow_takes_input = True  # Workflow.submit passes its arguments to the roots

    def __init__(self, edges: Mapping[Any, Any], *, max_parallel: int | None = None) -> None:
        nodes, inputs = _parse_edges(edges)
        self._build(nodes, inputs, max_parallel)

    @classmethod
    def from_nodes(cls, nodes: Iterable[Node], *, max_parallel: int | None = None) -> Dag:
        """A DAG whose edges come from data names (TaskFlow's graph flow): a node that requires
        `page` gets, as its parameter `page`, the result of the one node that provides `page`.
        A dict `requires={"html": "page"}` names a different parameter. A name provided twice,
        or required and provided by no node, is refused."""
        by_name = _named_nodes(nodes)
        providers: dict[str, str] = {}
        for node in by_name.values():
            if node.provides is None:
                continue
            other = providers.get(node.provides)
            if other is not None:
                raise InvalidDag(f"ambiguous provider: {node.provides!r} is provided by both "
                                 f"{other!r} and {node.name!r}")
            providers[node.provides] = node.name
        inputs: dict[str, list[_Input]] = {}
        for node in by_name.values():
            for parameter, data in node.requires.items():
                provider = providers.get(data)
                if provider is None:
                    known = ", ".join(sorted(providers)) or "none"
                    raise InvalidDag(f"node {node.name!r} requires {data!r}, which no node "
                                     f"provides (provided: {known})")
                inputs.setdefault(node.name, []).append((provider, parameter))
        dag = cls.__new__(cls)
        dag._build(by_name, inputs, max_parallel)
        return dag

    def _build(self, nodes: dict[str, Node], inputs: dict[str, list[_Input]],
               max_parallel: int | None) -> None:
        if max_parallel is not None and max_parallel < 1:
            raise ValueError("max_parallel must be at least 1 (or None for no limit)")
        self.nodes = nodes
        self.inputs = inputs
        self.max_parallel = max_parallel
        sorter: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
        for name in nodes:
            sorter.add(name, *(parent for parent, _slot in inputs.get(name, ())))
        try:
            self.order: tuple[str, ...] = tuple(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = exc.args[1]
            raise InvalidDag(f"the DAG has a cycle: {' -> '.join(cycle)}") from None
        for name, node_inputs in inputs.items():
            _check_inputs(nodes[name], node_inputs)

    def __repr__(self) -> str:
        return f"Dag({len(self.nodes)} nodes, max_parallel={self.max_parallel})"

    def parents(self, name: str) -> list[str]:
        """The names of the nodes whose results node `name` takes."""
        return [parent for parent, _slot in self.inputs.get(name, ())]

    @property
    def roots(self) -> list[str]:
        """The nodes without parents, in topological order: they get the DAG's input."""
        return [name for name in self.order if name not in self.inputs]

    def _replayflow_submit(self, workflow: Workflow, *args: Any, **kwargs: Any) -> Future:
        return _DagRun(self, workflow, args, kwargs).start()

    def _start(self, workflow: Workflow, extra: tuple) -> Future:
        return _DagRun(self, workflow, extra, {}).start()


def _named_nodes(nodes: Iterable[Node]) -> dict[str, Node]:
    by_name: dict[str, Node] = {}
    for node in nodes:
        if not isinstance(node, Node):
            raise InvalidDag(f"Dag.from_nodes takes canvas.Node objects, not {node!r}")
        _add_node(by_name, node)
    return by_name


def _add_node(by_name: dict[str, Node], node: Node) -> None:
    other = by_name.get(node.name)
    if other is node:
        return
    if other is not None:
        raise InvalidDag(f"two nodes are named {node.name!r}: give one another name with "
                         "Node(fn, name=...)")
    by_name[node.name] = node


def _parse_edges(edges: Mapping[Any, Any]) -> tuple[dict[str, Node], dict[str, list[_Input]]]:
    """Lightflow's dict shape -> nodes by name, and each child's inputs."""
    if not isinstance(edges, Mapping):
        raise InvalidDag(f"Dag() takes a dict of edges {{parent: child(ren)}}, not {edges!r}; "
                         "use Dag.from_nodes for a list of nodes")
    pairs: list[tuple[Any, Any, str | None]] = []
    for parent, children in edges.items():
        if isinstance(children, Mapping):
            for child, slot in children.items():
                if not (isinstance(slot, str) and slot.isidentifier()):
                    raise InvalidDag(f"the slot of edge {_label(parent)} -> {_label(child)} "
                                     f"must be a parameter name, not {slot!r}")
                pairs.append((parent, child, slot))
        elif isinstance(children, set | frozenset):
            raise InvalidDag(f"the children of {_label(parent)} are a set, which has no fixed "
                             "order: use a list")
        elif isinstance(children, list | tuple):
            pairs.extend((parent, child, None) for child in children)
        else:
            pairs.append((parent, children, None))

    # Nodes first (functions and Node objects, in the order they appear), names second.
    by_name: dict[str, Node] = {}
    by_object: dict[int, Node] = {}

    def add(ref: Any) -> None:
        if isinstance(ref, str) or id(ref) in by_object:
            return
        if isinstance(ref, Node):
            node = ref
        elif _runnable(ref):
            node = Node(ref)
        else:
            raise InvalidDag(f"unknown node {ref!r}: a node is an activity, a function, a "
                             "Workflow subclass, a canvas.Node, or the name of one")
        by_object[id(ref)] = node
        _add_node(by_name, node)

    for parent in edges:
        add(parent)
    for _parent, child, _slot in pairs:
        add(child)

    def name_of(ref: Any) -> str:
        if isinstance(ref, str):
            if ref not in by_name:
                known = ", ".join(by_name) or "none"
                raise InvalidDag(f"unknown node {ref!r} (nodes: {known})")
            return ref
        return by_object[id(ref)].name

    inputs: dict[str, list[_Input]] = {}
    for parent, child, slot in pairs:
        parent_name, child_name = name_of(parent), name_of(child)
        if any(p == parent_name for p, _s in inputs.get(child_name, ())):
            raise InvalidDag(f"the edge {parent_name} -> {child_name} is given twice")
        inputs.setdefault(child_name, []).append((parent_name, slot))
    return by_name, inputs


def _label(ref: Any) -> str:
    if isinstance(ref, Node):
        return ref.name
    return ref if isinstance(ref, str) else getattr(ref, "__name__", repr(ref))


def _check_inputs(node: Node, inputs: list[_Input]) -> None:
    """A child's parents fit its parameters: one unlabelled parent at most, slots that exist."""
    unlabelled = [parent for parent, slot in inputs if slot is None]
    if len(unlabelled) > 1:
        edges = ", ".join(f"{parent}: {{{node.name}: 'param'}}" for parent in unlabelled)
        raise InvalidDag(f"node {node.name!r} has {len(unlabelled)} unlabelled parents "
                         f"({', '.join(unlabelled)}): their results would be positional "
                         f"arguments in no meaningful order; name the parameter each one fills "
                         f"({edges})")
    slots: dict[str, str] = {}
    for parent, slot in inputs:
        if slot is None:
            continue
        if slot in slots:
            raise InvalidDag(f"node {node.name!r} gets {slot!r} from both {slots[slot]!r} and "
                             f"{parent!r}")
        slots[slot] = parent
    from .workflow import _split_options

    plain, _options = _split_options(dict(node.kwargs))
    for slot, parent in slots.items():
        if slot in plain:
            raise InvalidDag(f"node {node.name!r} gets {slot!r} from {parent!r} and as a fixed "
                             "argument")
    signature = _signature(node.fn)
    if signature is None:
        return
    params = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for slot, parent in slots.items():
        if slot not in params and not takes_any:
            raise InvalidDag(f"node {node.name!r} takes {parent!r}'s result as {slot!r}, which "
                             f"is not a parameter of {node.name}{signature}")
    placeholder = object()
    positional = [placeholder] * len(unlabelled)
    try:
        signature.bind(*node.args, *positional, **plain, **dict.fromkeys(slots, placeholder))
    except TypeError as exc:
        how = f"{unlabelled[0]!r}'s result as its last positional argument" if unlabelled \
            else "its slots"
        raise InvalidDag(f"node {node.name!r} cannot be called with {how}: {exc}") from None


def _check_root_input(node: Node, args: tuple, kwargs: dict) -> None:
    """The DAG's input fits a root, checked before any node is submitted."""
    from .workflow import _split_options

    plain, _options = _split_options(dict(node.kwargs))
    both = sorted(set(plain) & set(kwargs))
    if both:
        raise InvalidDag(f"root node {node.name!r} gets {', '.join(both)} both as a fixed "
                         "argument and from the DAG's input")
    signature = _signature(node.fn)
    if signature is None:
        return
    try:
        signature.bind(*node.args, *args, **plain, **kwargs)
    except TypeError as exc:
        raise InvalidDag(f"the DAG's input does not fit its root node {node.name!r}: "
                         f"{exc}") from None


class _DagRun(_CompositeRun):
    kind = "dag"

    def __init__(self, dag: Dag, workflow: Workflow, args: tuple, kwargs: dict) -> None:
        super().__init__(workflow, args)
        self.dag = dag
        self.kwargs = kwargs
        self.futures: dict[str, Future] = {}
        self.unsubmitted = list(dag.order)

    def start(self) -> Future:
        for name in self.dag.roots:  # before anything is submitted
            _check_root_input(self.dag.nodes[name], self.extra, self.kwargs)
        return super().start()

    def step(self) -> bool:
        dag = self.dag
        futures = self.futures
        limit = dag.max_parallel
        progressed = False
        submitted = True
        while submitted:  # a node failed at once (a failed parent) may free the next one
            submitted = False
            running = sum(1 for f in futures.values() if not f.done)
            for name in list(self.unsubmitted):
                if limit is not None and running >= limit:
                    break
                inputs = dag.inputs.get(name, ())
                if not all(parent in futures and futures[parent].done for parent, _ in inputs):
                    continue
                future = self._submit(dag.nodes[name], inputs)
                self.unsubmitted.remove(name)
                futures[name] = future
                self.started.append(future)
                submitted = progressed = True
                if not future.done:
                    running += 1
        if self.unsubmitted or not all(f.done for f in futures.values()):
            return progressed
        results: dict[str, Any] = {}
        failure: BaseException | None = None
        for name in dag.order:
            exc, value = _outcome(futures[name])
            if exc is not None and (failure is None or (
                    isinstance(failure, DependencyFailed)
                    and not isinstance(exc, DependencyFailed))):
                failure = exc
            results[name] = value
        if failure is not None:
            self.future._set_exception(failure)
        else:
            self.future._set_result(results)
        return True

    def _submit(self, node: Node, inputs: Iterable[_Input]) -> Future:
        if not inputs:
            return self.workflow.submit(node.fn, *node.args, *self.extra, **node.kwargs,
                                        **self.kwargs)
        futures = self.futures
        positional = [futures[parent] for parent, slot in inputs if slot is None]
        slots = {slot: futures[parent] for parent, slot in inputs if slot is not None}
        return self.workflow.submit(node.fn, *node.args, *positional, **node.kwargs, **slots)

