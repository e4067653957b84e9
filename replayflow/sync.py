"""Latches and semaphores shared by workflows: `self.latch(name)` and `self.semaphore(name)`.

Why a coordinator workflow. littleflow keeps such counters where a release can fall between a
countdown's read and its registration, a counter can go below zero, and a holder that dies holds on
forever. Here every operation on a name is a signal to one execution, the coordinator
`replayflow-sync.<name>`, whose one history puts all of them in one order, so no wakeup is lost;
answers (the counter is zero, a permit is yours) come back as signals that the requester waits for
with `wait_signal(match=...)`. A release below zero is clamped and recorded with a marker. A permit
is leased: a holder that closes or times out without releasing loses it when its lease timer
fires, and a grant whose signal finds its requester closed goes to the next in line.

Why a launcher. SWF decisions can only start children, and a child is closed with its parent
under the parent's child policy (TERMINATE by default), whatever its own. So a requester whose
signal finds no coordinator (UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION) starts a launcher child with
child policy ABANDON; the launcher starts the coordinator as its own child, with the request as its
input, and completes, and the coordinator outlives both. Of two launchers racing, one start fails
with WORKFLOW_ALREADY_RUNNING, and that launcher signals the winner instead.

The coordinator continues as new every `operations_per_run` requests and completes only when it is
idle. It proposes both closes (ExecutionState.propose_close), so a request that arrives while it
decides (SWF then refuses the close) is handled, never dropped. Its futures and the requester's
bookkeeping futures are marked as carried: what fails there fails the operation's own future.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from greenlet import GreenletExit

from . import encoding, futures
from .errors import SyncFailed, TaskFailed
from .futures import FAILED, FINISHED, PENDING, SCHEDULED, Future
from .naming import SYNC_COORDINATOR_PREFIX, SYNC_LAUNCHER_PREFIX, fit_id
from .validation import MAX_RUN_ID_LENGTH, check_name, check_seconds
from .workflow import Workflow

if TYPE_CHECKING:
    from .engine.replay import ExecutionState

#: The signal that carries a request to a coordinator, and the one that carries its answer back.
REQUEST_SIGNAL = "replayflow-sync"
ANSWER_SIGNAL = "replayflow-sync-answer"
#: Markers in a coordinator's history (a clamped release also in a releasing workflow's history,
#: when no coordinator ran).
CLAMPED_MARKER = "replayflow.sync.clamped"
LEASE_EXPIRED_MARKER = "replayflow.sync.lease-expired"
UNDELIVERED_MARKER = "replayflow.sync.grant-undelivered"
IGNORED_MARKER = "replayflow.sync.ignored"
#: A permit's lease when `semaphore()` is not given one (seconds).
DEFAULT_LEASE = 3600
#: Start-or-signal rounds a launcher tries while coordinators keep closing under it.
MAX_START_ROUNDS = 10
#: A continue-as-new whose state is over SWF's input limit (with no jumbo bucket, the decider
#: could not send it) waits for the state to shrink, until the history holds this many events.
DEFER_CONTINUE_UNTIL = 20_000

#: Room left in a batch's signal input for what a launcher's and a coordinator's input add
#: around the requests (a name, an id, a task list: each at most 256 characters).
BATCH_MARGIN = 1024

_UNKNOWN = "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION"
_ALREADY_RUNNING = "WORKFLOW_ALREADY_RUNNING"
_OPS = ("acquire", "release", "countdown", "sem-acquire", "sem-release")


def coordinator_id(name: str) -> str:
    """The workflow id of the coordinator of latch and semaphore `name` (validated: a name must
    make a workflow id SWF accepts)."""
    check_name("a latch or semaphore name", name)
    return check_name(f"the coordinator workflow id of {name!r}", SYNC_COORDINATOR_PREFIX + name)


def _quiet(future: Future) -> Future:
    """A bookkeeping future: whatever fails there fails the operation that owns it instead."""
    future._carried()
    return future


def _cause(exc: BaseException | None) -> str | None:
    details = exc.details if isinstance(exc, TaskFailed) else None
    return details.get("cause") if isinstance(details, dict) else None


# ------------------------------------------------------------------------------ requester side
@dataclass(frozen=True)
class Permit:
    """A granted semaphore permit, as `with self.semaphore(...) as permit:` gives it.

    `expires_at` is when its lease ends: from then on the coordinator may give it to another
    workflow, whether or not this one has left the `with` block.
    """

    name: str
    request: str
    lease: int
    expires_at: datetime | None


class _Operation:
    """One latch or semaphore operation of this run; `future` is what workflow code holds.

    It resolves once the operation is in the coordinator's history (acquire, release, leaving a
    semaphore) or once the coordinator has answered (countdown, entering a semaphore). One that
    waits for no answer keeps the run open until it has arrived (ExecutionState.hold_open), so a
    `latch.acquire()` just before run() returns still counts.
    """

    __slots__ = ("op", "name", "id", "body", "future", "answer", "when_absent")

    def __init__(self, workflow: Workflow, op: str, name: str, when_absent: str,
                 extra: dict[str, Any] | None = None, wants_answer: bool = False) -> None:
        execution: ExecutionState = workflow._execution
        self.op = op
        self.name = name
        #: what it does when no coordinator runs (the latch is at zero, nobody holds the
        #: semaphore): "start" one (an acquisition), resolve at once as "zero" (a countdown),
        #: "clamp" (a latch release), or "nothing" (leaving a semaphore)
        self.when_absent = when_absent
        self.id = execution._next_id("sync")
        self.body: dict[str, Any] = {"op": op, "name": name,
                                     "workflow_id": execution.workflow_id,
                                     "run_id": execution.run_id, "request": self.id,
                                     **(extra or {})}
        self.future = Future(self.id, execution)
        self.answer = (execution.wait_signal(ANSWER_SIGNAL, {"request": self.id})
                       if wants_answer else None)
        if not wants_answer:
            execution.hold_open(self.future)
        _courier(workflow, name).add(self)

    def arrived(self) -> None:
        if self.answer is None:
            self.future._set_result(None)

    def answered(self) -> bool:
        answer = self.answer
        if answer is None or not answer.done or self.future.done:
            return False
        self.future._set_result(answer._result if self.op == "sem-acquire" else None)
        return True

    def fail(self, why: str) -> None:
        if self.future.done:
            return
        kind = "semaphore" if self.op.startswith("sem-") else "latch"
        self.future._set_exception(SyncFailed(
            self.id, f"{kind} {self.name!r} {self.op}: {why}", {"name": self.name, "op": self.op},
            error_type="SyncFailed", message=why))


def _courier(workflow: Workflow, name: str) -> _Courier:
    couriers = workflow.__dict__.setdefault("_replayflow_couriers", {})
    courier = couriers.get(name)
    if courier is None:
        courier = couriers[name] = _Courier(workflow, name)
    return courier


class _Courier:
    """Carries one run's operations on one name to its coordinator, in the order they were made.

    The operations made in one decision go as one signal (a list of requests), sent once the
    previous one has arrived, so that none can overtake another: were `acquire(); release()` sent
    separately with no coordinator running, the release could find none (and be clamped) while
    the acquire starts one. A batch whose signal finds no coordinator starts one through a
    launcher if it holds an acquisition; otherwise each operation is settled as the coordinator
    would (the latch is at zero, nobody holds the semaphore). Stepped at each decision point
    (ExecutionState.add_driver) while anything is queued, on its way or waiting for an answer.
    """

    def __init__(self, workflow: Workflow, name: str) -> None:
        self.workflow = workflow
        self.execution: ExecutionState = workflow._execution
        self.name = name
        self.coordinator_id = coordinator_id(name)
        self.queued: list[_Operation] = []
        self.carried: list[_Operation] = []  # the batch on its way, by `signal` or `launch`
        self.answering: list[_Operation] = []  # arrived, the coordinator's answer still to come
        self.signal: Future | None = None
        self.launch: Future | None = None
        self.active: Future | None = None  # keys the driver while there is anything to do

    def add(self, op: _Operation) -> None:
        self.queued.append(op)
        if self.active is None:
            self.active = Future(f"courier-{self.name}")
            self.execution.add_driver(self.active, self.step)

    def step(self) -> bool:
        progressed = False
        if self.answering:
            before = len(self.answering)
            self.answering = [op for op in self.answering if not op.answered()]
            progressed = len(self.answering) != before
        if self.carried:
            progressed |= self._follow()
        if self.queued and not self.carried:
            self.carried = batch = self._next_batch()
            self.signal = _quiet(self.execution.send_signal(
                REQUEST_SIGNAL, [op.body for op in batch], self.coordinator_id, None))
            progressed = True
        if not (self.queued or self.carried or self.answering):
            active, self.active = self.active, None
            assert active is not None
            active._set_result(None)  # this driver ends; the next operation starts another
        return progressed

    def _next_batch(self) -> list[_Operation]:
        """The queued operations, oldest first, that fit in one signal's input (and in the
        launcher's and coordinator's, should it have to be started); the rest go next."""
        budget = encoding.MAX_INPUT - BATCH_MARGIN
        size = 2
        count = 0
        for op in self.queued:
            size += len(encoding.dumps(op.body)) + 1
            if count and size > budget:
                break
            count += 1
        batch, self.queued = self.queued[:count], self.queued[count:]
        return batch

    def _follow(self) -> bool:
        """Where the batch on its way stands; True when it has arrived or failed."""
        if self.launch is not None:
            launch = self.launch
            if not launch.done:
                return False
            self.launch = None
            if launch.state == FINISHED:
                return self._arrived()
            exc = launch._exception
            reason = exc.reason if isinstance(exc, TaskFailed) else str(exc)
            return self._failed(f"could not start its coordinator {self.coordinator_id}: "
                                f"{reason}")
        signal = self.signal
        assert signal is not None
        if not signal.done:
            return False
        self.signal = None
        if signal.state == FINISHED:
            return self._arrived()
        cause = _cause(signal._exception)
        if cause != _UNKNOWN:
            return self._failed(f"could not signal its coordinator {self.coordinator_id}: "
                                f"{cause or signal._exception}")
        if any(op.when_absent == "start" for op in self.carried):
            self._start()
            return True
        for op in self.carried:  # nothing to start a coordinator for: settle them here
            if op.when_absent == "clamp":
                self.workflow.record_marker(CLAMPED_MARKER, {
                    "latch": self.name, "request": op.id, "count": 0,
                    "why": "released while no coordinator ran (the count was zero)"})
            if op.answer is not None:  # a countdown, at zero already: no answer will come
                waits = self.execution._signal_waits
                waits[:] = [w for w in waits if w[2] is not op.answer]
            op.future._set_result(None)
        self.carried = []
        return True

    def _start(self) -> None:
        execution = self.execution
        task_list = ((execution.start_attributes.get("taskList") or {}).get("name")
                     or type(self.workflow).task_list)
        run = hashlib.sha1(f"{execution.workflow_id}\0{execution.run_id}".encode()).hexdigest()
        launcher_id = fit_id(f"{SYNC_LAUNCHER_PREFIX}{self.name}.{run[:12]}."
                             f"{self.carried[0].id}")
        self.launch = _quiet(execution.submit_child(
            SyncLauncher, (self.coordinator_id, self.name, [op.body for op in self.carried],
                           task_list), {},
            {"workflow_id": launcher_id, "task_list": task_list, "child_policy": "ABANDON"}))

    def _arrived(self) -> bool:
        for op in self.carried:
            op.arrived()
            if op.answer is not None:
                self.answering.append(op)
        self.carried = []
        self.answering = [op for op in self.answering if not op.answered()]
        return True

    def _failed(self, why: str) -> bool:
        for op in self.carried:
            op.fail(why)
        self.carried = []
        return True


class Latch:
    """A counter shared by every workflow that names it: `acquire()` adds one, `release()` takes
    one away (never below zero), `countdown()` resolves once it is zero.

    Each call returns a future at once and never blocks: read it (or `self.wait` for it) to know
    that the coordinator has the operation. Operations from one run reach the coordinator in the
    order they were made.
    """

    def __init__(self, workflow: Workflow, name: str) -> None:
        self.name = name
        self.coordinator_id = coordinator_id(name)
        self._workflow = workflow

    def __repr__(self) -> str:
        return f"Latch({self.name!r})"

    def acquire(self) -> Future:
        """Add one to the counter; the future resolves (to None) once the coordinator has it."""
        return _Operation(self._workflow, "acquire", self.name, "start").future

    def release(self) -> Future:
        """Take one away; at zero every countdown resolves. A release at zero changes nothing
        and is recorded with a `replayflow.sync.clamped` marker."""
        return _Operation(self._workflow, "release", self.name, "clamp").future

    def countdown(self) -> Future:
        """A future that resolves (to None) when the counter is zero: at once if it is."""
        return _Operation(self._workflow, "countdown", self.name, "zero",
                          wants_answer=True).future


class Semaphore:
    """`with self.semaphore(name, permits=N, lease=S) as permit:` blocks until one of the N
    permits of `name` is granted (first come, first served), and gives it back on leaving.

    The lease (seconds, default one hour) bounds how long a permit stays granted: a workflow that
    closes, times out or is terminated inside the block loses it when the lease ends. Every
    requester of a name should agree on N; when they differ, the latest request's N applies.
    """

    def __init__(self, workflow: Workflow, name: str, permits: int = 1,
                 lease: float = DEFAULT_LEASE) -> None:
        if isinstance(permits, bool) or not isinstance(permits, int) or permits < 1:
            raise ValueError(f"semaphore {name!r}: permits must be a whole number of at least 1; "
                             f"got {permits!r}")
        self.name = name
        self.coordinator_id = coordinator_id(name)
        self.permits = permits
        self.lease = check_seconds(f"semaphore {name!r} lease", lease, zero_ok=False)
        self._workflow = workflow
        self._held: list[Permit] = []

    def __repr__(self) -> str:
        return f"Semaphore({self.name!r}, permits={self.permits}, lease={self.lease})"

    def __enter__(self) -> Permit:
        op = _Operation(self._workflow, "sem-acquire", self.name, "start",
                        {"permits": self.permits, "lease": self.lease}, wants_answer=True)
        try:
            answer = op.future.result
        except (GreenletExit, SyncFailed):
            raise
        except BaseException:  # cancelled while waiting: give our place in the queue back
            _Operation(self._workflow, "sem-release", self.name, "nothing", {"permit": op.id})
            raise
        expires = answer.get("expires") if isinstance(answer, dict) else None
        permit = Permit(self.name, op.id, self.lease,
                        datetime.fromtimestamp(expires, UTC)
                        if isinstance(expires, int | float) and not isinstance(expires, bool)
                        and math.isfinite(expires) else None)
        self._held.append(permit)
        return permit

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        permit = self._held.pop()
        if exc_type is not None and issubclass(exc_type, GreenletExit):
            return  # the engine is dropping this run's state: nothing may be decided
        _Operation(self._workflow, "sem-release", self.name, "nothing",
                   {"permit": permit.request})


# ------------------------------------------------------------------------------ the launcher
class SyncLauncher(Workflow):
    """Starts the coordinator of a name with a first request, or signals the one that runs."""

    name = "replayflow.sync-start"
    version = "1"
    execution_timeout = 3600
    child_policy = "ABANDON"
    _replayflow_machinery = True

    def run(self, coordinator: str, name: str, requests: list, task_list: str) -> str:
        execution = self._execution
        options = {"workflow_id": coordinator, "task_list": task_list, "child_policy": "ABANDON"}
        for _round in range(MAX_START_ROUNDS):
            child = _quiet(execution.submit_child(
                SyncCoordinator, (name, None, requests), {}, options))
            execution.block_until(lambda child=child: child.state not in (PENDING, SCHEDULED))
            exc = child._exception
            if not (isinstance(exc, TaskFailed)
                    and exc.error_type == "StartChildWorkflowExecutionFailed"):
                return "started"  # it runs (or ran) with the request as its input
            if _cause(exc) != _ALREADY_RUNNING:
                raise SyncFailed(child.task_id, exc.reason, exc.details,
                                 error_type="StartChildWorkflowExecutionFailed",
                                 message=exc.message)
            sent = _quiet(self.signal(REQUEST_SIGNAL, requests, workflow_id=coordinator))
            futures.wait(sent)
            if sent.state == FINISHED:
                return "signalled"
            if _cause(sent._exception) != _UNKNOWN:  # it closed in between: start it again
                raise SyncFailed(sent.task_id, f"could not signal {coordinator}: "
                                 f"{_cause(sent._exception) or sent._exception}")
        raise SyncFailed(execution.workflow_id, f"{coordinator} kept closing between a start "
                         f"and a signal ({MAX_START_ROUNDS} rounds)")


# ------------------------------------------------------------------------------ the coordinator
class _Holder:
    __slots__ = ("who", "lease", "expires", "timer_id", "timer", "grant")

    def __init__(self, who: dict, lease: int, expires: float, timer_id: str, timer: Future,
                 grant: Future | None) -> None:
        self.who = who
        self.lease = lease
        self.expires = expires
        self.timer_id = timer_id
        self.timer = timer
        self.grant = grant


def _who(body: dict) -> dict[str, str]:
    return {"workflow_id": body["workflow_id"], "run_id": body["run_id"],
            "request": body["request"]}


def _problem(body: Any, name: str) -> str | None:
    """Why a request cannot be applied (anyone may signal a coordinator), or None."""
    if not isinstance(body, dict):
        return f"a request must be a JSON object, not {type(body).__name__}"
    op = body.get("op")
    if op not in _OPS:
        return f"unknown op {str(op)[:40]!r}"
    if body.get("name") != name:
        return f"a request for {str(body.get('name'))[:80]!r}, not {name!r}"
    try:
        check_name("workflow_id", body.get("workflow_id"))
        check_name("run_id", body.get("run_id"), identifier=False, max_length=MAX_RUN_ID_LENGTH)
        check_name("request", body.get("request"), identifier=False)
        if op == "sem-acquire":
            permits = body.get("permits")
            if isinstance(permits, bool) or not isinstance(permits, int) or permits < 1:
                return f"permits must be a whole number of at least 1, not {str(permits)[:40]}"
            check_seconds("lease", body.get("lease"), zero_ok=False)
        if op == "sem-release":
            check_name("permit", body.get("permit"), identifier=False)
    except (TypeError, ValueError) as exc:
        return str(exc)[:200]
    return None


class SyncCoordinator(Workflow):
    """Serialises every operation on one latch and semaphore name (see the module docstring)."""

    name = "replayflow.sync"
    version = "1"
    execution_timeout = 365 * 24 * 3600  # SWF's ceiling; each continue-as-new starts it over
    child_policy = "ABANDON"
    #: Requests handled by one run before it continues as new (a request costs a handful of
    #: events; SWF ends a history at 25,000).
    operations_per_run: ClassVar[int] = 500
    _replayflow_machinery = True

    def run(self, name: str, state: dict | None = None, requests: list | None = None) -> Any:
        state = state or {}
        self.sync_name = name
        self.count: int = state.get("count", 0)
        self.waiters: list[dict] = list(state.get("waiters", []))
        self.permits: int = state.get("permits", 1)
        self.queue: list[dict] = list(state.get("queue", []))
        self.holders: list[_Holder] = []
        self.answers: list[Future] = []  # countdown answers on their way
        self.operations: int = state.get("operations", 0)  # over every run
        self.handled = 0  # in this run
        self.leases = 0
        now = self.now().timestamp()
        for held in state.get("holders", []):  # their grants arrived before the last run ended
            self._hold(held, held["lease"], held["expires"], max(0.0, held["expires"] - now),
                       announce=False)
        self._receive_all(requests or [])
        incoming = self.wait_signal(REQUEST_SIGNAL)
        while True:
            while incoming.done:
                self._receive_all(incoming.result)
                incoming = self.wait_signal(REQUEST_SIGNAL)
            self._settle_holders()
            self.answers = [f for f in self.answers if not f.done]
            in_flight = self.answers + [h.grant for h in self.holders
                                        if h.grant is not None and not h.grant.done]
            if not in_flight and self._idle():
                self._execution.propose_close({
                    "decisionType": "CompleteWorkflowExecution",
                    "completeWorkflowExecutionDecisionAttributes": {"result": encoding.dumps(
                        {"name": name, "operations": self.operations})}})
                continue  # refused: something came in meanwhile
            if not in_flight and self.handled >= self.operations_per_run:
                decision = self._execution.continue_as_new_decision((name, self._state()), {})
                text = decision["continueAsNewWorkflowExecutionDecisionAttributes"]["input"]
                if (len(text) <= encoding.MAX_INPUT
                        or self._execution.last_event_id >= DEFER_CONTINUE_UNTIL):
                    if self._execution.propose_close(decision) != "UNHANDLED_DECISION":
                        self.handled = 0  # SWF will not take it: try again later
                    continue
            futures.wait_any([incoming, *in_flight, *(h.timer for h in self.holders)])

    # ---------------------------------------------------------------- requests
    def _receive_all(self, value: Any) -> None:
        """A signal's requests (a list, in the order one run made them), or one request."""
        for body in value if isinstance(value, list) else [value]:
            self._receive(body)

    def _receive(self, body: Any) -> None:
        problem = _problem(body, self.sync_name)
        if problem is not None:
            self.record_marker(IGNORED_MARKER, {"why": problem})
            return
        self.handled += 1
        self.operations += 1
        op = body["op"]
        who = _who(body)
        if op == "acquire":
            self.count += 1
        elif op == "release":
            if self.count == 0:
                self.record_marker(CLAMPED_MARKER, {"latch": self.sync_name, **who, "count": 0})
            else:
                self.count -= 1
                if self.count == 0:
                    for waiter in self.waiters:
                        self._answer(waiter, "countdown")
                    self.waiters = []
        elif op == "countdown":
            if self.count == 0:
                self._answer(who, "countdown")
            else:
                self.waiters.append(who)
        elif op == "sem-acquire":
            self.permits = body["permits"]
            key = (who["workflow_id"], who["run_id"], who["request"])
            if all(_key(h.who) != key for h in self.holders) and all(
                    _key(q) != key for q in self.queue):
                self.queue.append({**who, "lease": body["lease"]})
            self._grant()
        else:  # sem-release: of a permit held, or of a place in the queue
            key = (who["workflow_id"], who["run_id"], body["permit"])
            holder = next((h for h in self.holders if _key(h.who) == key), None)
            if holder is not None:
                self._drop(holder, None)
            else:
                self.queue = [q for q in self.queue if _key(q) != key]
            self._grant()

    def _answer(self, who: dict, op: str, **more: Any) -> Future:
        """Signal an answer to the run that asked; a countdown's is followed here until it
        has arrived (a grant's, by its holder)."""
        future = _quiet(self.signal(ANSWER_SIGNAL, {"request": who["request"], "op": op, **more},
                                    workflow_id=who["workflow_id"], run_id=who["run_id"]))
        if op == "countdown":
            self.answers.append(future)
        return future

    # ---------------------------------------------------------------- the semaphore
    def _grant(self) -> None:
        """First come, first served, while permits are free."""
        now = self.now().timestamp()
        while self.queue and len(self.holders) < self.permits:
            request = self.queue.pop(0)
            lease = request["lease"]
            expires = math.ceil(now) + math.ceil(lease)
            self._hold(request, lease, expires, lease, announce=True)

    def _hold(self, request: dict, lease: int, expires: float, seconds: float,
              announce: bool) -> None:
        who = {k: request[k] for k in ("workflow_id", "run_id", "request")}
        self.leases += 1
        timer_id = f"lease-{self.leases}"
        timer = self.start_timer(timer_id, seconds)
        grant = self._answer(who, "sem-acquire", expires=expires) if announce else None
        self.holders.append(_Holder(who, lease, expires, timer_id, timer, grant))

    def _settle_holders(self) -> None:
        """Take back the permits whose lease ended, or whose grant found its requester closed."""
        for holder in list(self.holders):
            if holder.timer.state == FINISHED:
                self._drop(holder, LEASE_EXPIRED_MARKER)
            elif holder.grant is not None and holder.grant.state == FAILED:
                self._drop(holder, UNDELIVERED_MARKER)
        self._grant()

    def _drop(self, holder: _Holder, marker: str | None) -> None:
        self.holders.remove(holder)
        self.cancel_timer(holder.timer_id)  # a no-op for a lease that ended
        if marker is not None:
            self.record_marker(marker, {"semaphore": self.sync_name, **holder.who})

    # ---------------------------------------------------------------- state
    def _idle(self) -> bool:
        return self.count == 0 and not (self.waiters or self.holders or self.queue)

    def _state(self) -> dict:
        return {"count": self.count, "waiters": self.waiters, "permits": self.permits,
                "queue": self.queue, "operations": self.operations,
                "holders": [{**h.who, "lease": h.lease, "expires": h.expires}
                            for h in self.holders]}


def _key(who: dict) -> tuple[str, str, str]:
    return (who["workflow_id"], who["run_id"], who["request"])


#: The workflow types every decider decides without being told (see Decider.handle_task).
MACHINERY_WORKFLOWS: dict[str, type[Workflow]] = {
    cls.type_name(): cls for cls in (SyncCoordinator, SyncLauncher)}

__all__ = ["DEFAULT_LEASE", "Latch", "Permit", "Semaphore", "SyncCoordinator", "SyncLauncher",
           "coordinator_id"]
