"""The SWF activity worker: poll a task list, run each activity in a supervised child process.

The parent process never runs user code. Each poller owns one warm, pre-forked child that runs
the activities it is handed one after another (no fork and no imports on the hot path). The
parent heartbeats for it, kills it when it overruns its start-to-close timeout (moto does not
enforce it) or when the worker shuts down, and reports every task it took exactly once:
completed, failed (with a reason that says why, even for a segfault), or canceled. A child that
dies cannot take the worker with it: only its own task fails, and a fresh child replaces it.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import jumbo
from .activity import Activity, ActivityContext, ActivityRegistry
from .backends.base import default_identity, error_code
from .errors import ReplayflowError
from .execution import Outcome, failure, report_outcome, run_activity, task_context
from .lifetime import die_with_parent
from .middleware import ActivityMiddleware
from .naming import split_activity_id
from .polling import PollSpacer

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 60.0
#: Heartbeats per heartbeat timeout, at least: one lost beat (an outage that outlasts the
#: call's retries, a stalled parent) still leaves time for the next before SWF gives up.
BEATS_PER_TIMEOUT = 3
DEFAULT_GRACE_PERIOD = 30.0
#: Never heartbeat SWF more often than this, however often the activity calls heartbeat().
MIN_HEARTBEAT_INTERVAL = 0.5
#: Backoff after a failed poll: doubles from the first value up to the second.
POLL_BACKOFF = (1.0, 30.0)
#: How long the parent waits for a child to exit after it sent its outcome.
EXIT_WAIT = 5.0



def _mp_context() -> Any:
    """fork where available: the child inherits imported activity modules and starts in ms."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


@dataclass
class _Slot:
    """The activity a poller thread is supervising right now."""

    task_token: str
    activity_id: str
    wake_fd: int = -1  # a byte written here wakes the supervisor (shutdown began)

    def wake(self) -> None:
        try:
            os.write(self.wake_fd, b"!")
        except OSError:
            pass


class _Flag:
    """The cancel flag the parent sets in shared memory, as an ActivityContext cancel source."""

    __slots__ = ("flag",)

    def __init__(self, flag: Any) -> None:
        self.flag = flag

    @property
    def cancel_requested(self) -> bool:
        return bool(self.flag.value)


def _child_loop(conn: Any, flag: Any, middlewares: Sequence[ActivityMiddleware],
                registry: ActivityRegistry) -> None:
    """Entry point of a pool process: run each task sent, answer its outcome; EOF or None: exit.

    Every message back carries the task's sequence number, so nothing a finished activity left
    behind (a stray heartbeat from one of its threads) can be taken for the next task's.
    """
    # Ctrl-C reaches the whole process group and systemd may SIGTERM the whole cgroup: the
    # parent decides when a child stops (grace period), and it stops it with SIGKILL.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    die_with_parent(signal.SIGKILL)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        seq, type_name, input_text, fields = message
        outcome = _run_one(conn, flag, middlewares, registry, seq, type_name, input_text, fields)
        try:
            conn.send(("outcome", seq, outcome))
        except OSError:  # the parent is gone
            return


def _run_one(conn: Any, flag: Any, middlewares: Sequence[ActivityMiddleware],
             registry: ActivityRegistry, seq: int, type_name: str, input_text: str | None,
             fields: tuple[Any, ...]) -> Outcome:
    def heartbeat(_token: Any, details: str | None) -> bool:
        # Already text of at most 2,048 characters (ActivityContext.heartbeat fits it); the
        # parent sends it with the task's token.
        try:
            conn.send(("heartbeat", seq, details))
        except OSError:  # the parent is gone; the activity will find out soon enough
            pass
        return bool(flag.value)

    def process_group(pgid: int, adopted: bool) -> None:
        # A command's own process group (shell.run): the parent kills it when it kills us.
        try:
            conn.send(("group", seq, pgid, adopted))
        except OSError:
            pass

    ctx = ActivityContext(*fields, heartbeat=heartbeat, cancel_source=_Flag(flag),
                          process_groups=process_group)
    try:
        activity = registry.find(type_name)
    except ReplayflowError as exc:  # checked by the parent already: only a spawn child gets here
        return failure(str(exc), type(exc).__name__)
    return run_activity(activity, input_text, ctx, jumbo.decode_field, middlewares)


class _PoolChild:
    """One warm activity process and the duplex pipe to it (tasks in; heartbeats, outcome out)."""

    def __init__(self, mp: Any, middlewares: Sequence[ActivityMiddleware],
                 registry: ActivityRegistry, name: str) -> None:
        self.flag = mp.Value("b", 0, lock=False)  # cancellation requested (read by the child)
        self.conn, child_conn = mp.Pipe(duplex=True)
        self.process = mp.Process(target=_child_loop,
                                  args=(child_conn, self.flag, middlewares, registry),
                                  name=name, daemon=False)
        self.process.start()
        child_conn.close()
        _LIVE_CHILDREN.add(self)

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, seq: int, type_name: str, input_text: str | None,
             fields: tuple[Any, ...]) -> bool:
        """Hand a task over; False if the child is gone (the caller replaces it)."""
        self.flag.value = 0
        try:
            self.conn.send((seq, type_name, input_text, fields))
        except OSError:
            return False
        return True

    def stop(self, wait: float = 0.0) -> None:
        """Ask an idle child to exit; kill it if it has not within `wait` seconds."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.process.join(wait)
        if self.process.is_alive():
            Worker._kill(self.process)
        else:
            self.process.join()
        self.conn.close()
        _LIVE_CHILDREN.discard(self)


#: Pool processes still running: killed at interpreter exit, before multiprocessing's own exit
#: handler would wait for them (atexit runs this first: it was registered after it).
_LIVE_CHILDREN: weakref.WeakSet[_PoolChild] = weakref.WeakSet()


@atexit.register
def _kill_live_children() -> None:
    for child in list(_LIVE_CHILDREN):
        try:
            child.process.kill()
            child.process.join(EXIT_WAIT)
        except (OSError, ValueError, AssertionError):
            pass


def _stop_children(children: dict[int, _PoolChild]) -> None:
    for child in list(children.values()):
        child.stop(wait=1.0)
    children.clear()


def _kill_groups(groups: set[int], reader: Any, seq: int) -> None:
    """SIGKILL the process groups a dead (or just killed) activity process had adopted.

    A shell command runs in its own session, so the SIGKILL that stops the activity's process
    does not reach it, nor what it started. The child reports each group it adopts and releases
    over the pipe; what it sent before dying is read here first, so a group adopted just before
    the kill is not missed, and one released just before it is left alone (its command was
    reaped: its id could already name another group).
    """
    try:
        while reader.poll():
            message = reader.recv()
            if message[0] == "group" and message[1] == seq:
                (groups.add if message[3] else groups.discard)(message[2])
    except (EOFError, OSError):
        pass
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    groups.clear()


def heartbeat_interval(period: float, heartbeat_timeout: float | None) -> float:
    """How often the worker heartbeats for an activity: its `--heartbeat` period, but at least
    BEATS_PER_TIMEOUT times per heartbeat timeout, and never more often than twice a second."""
    if heartbeat_timeout:
        period = min(period, heartbeat_timeout / BEATS_PER_TIMEOUT)
    return max(period, MIN_HEARTBEAT_INTERVAL)


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed by the OOM killer?)" if -exitcode == signal.SIGKILL else ""
        return f"activity process died with {name} (signal {-exitcode}){hint}"
    return f"activity process exited with code {exitcode} without a result"


class Worker:
    """Polls one task list with `processes` pollers, each supervising one activity at a time."""

    def __init__(
        self,
        backend: Any,
        task_list: str,
        *,
        processes: int = 1,
        heartbeat: float = DEFAULT_HEARTBEAT,
        identity: str | None = None,
        grace_period: float = DEFAULT_GRACE_PERIOD,
        middlewares: Sequence[ActivityMiddleware] = (),
        registry: ActivityRegistry | None = None,
    ) -> None:
        """`registry` says which activity types this worker runs (default: those declared with
        `@activity.with_attributes` in modules this process imported); anything else fails its
        task without running or importing anything."""
        if processes < 1:
            raise ValueError("processes must be at least 1")
        if heartbeat <= 0:
            raise ValueError("heartbeat must be a positive number of seconds")
        if grace_period < 0:
            raise ValueError("grace_period must be >= 0")
        jumbo.check_config()  # a bad bucket/prefix fails at start-up, not on the first big result
        self.backend = backend
        self.task_list = task_list
        self.processes = processes
        self.heartbeat = float(heartbeat)
        self.identity = identity or default_identity()
        self.grace_period = float(grace_period)
        self.middlewares = list(middlewares)
        self.registry = registry if registry is not None else ActivityRegistry()
        self._mp = _mp_context()
        self._stopping = threading.Event()
        self._kill_at: float | None = None  # monotonic time after which children are killed
        self._lock = threading.Lock()
        self._slots: dict[int, _Slot] = {}
        #: One warm child per poller index, forked ahead of its first task.
        self._children: dict[int, _PoolChild] = {}
        self._closed = False  # the pool is shut: no new child, no new task
        self._seq = itertools.count(1)
        self._spacer = PollSpacer(processes)
        weakref.finalize(self, _stop_children, self._children)
        self.completed = 0
        self.failed = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def run(self, stop_event: threading.Event) -> None:
        """Poll until `stop_event` is set, then shut down gracefully (see `shutdown`)."""
        threads = [
            threading.Thread(target=self._poll_loop, args=(index,),
                             name=f"replayflow-poller-{index}", daemon=True)
            for index in range(self.processes)
        ]
        for index in range(self.processes):  # fork before the threads start, off the hot path
            self._child_for(index)
        for thread in threads:
            thread.start()
        log.info("worker %s polling task list %r of domain %r with %d process(es)",
                 self.identity, self.task_list, self.backend.domain, self.processes)
        while not stop_event.wait(0.2):
            if not any(thread.is_alive() for thread in threads):
                break
        self.shutdown(threads)
        self.close()

    def close(self) -> None:
        """Stop the idle pool processes (running ones are the supervisors' to finish)."""
        with self._lock:
            self._closed = True
            idle = {i: c for i, c in self._children.items() if i not in self._slots}
            for index in idle:
                del self._children[index]
        _stop_children(idle)

    def _child_for(self, index: int) -> _PoolChild | None:
        """The live warm child of poller `index`, forked anew if it died; None once closed."""
        with self._lock:
            if self._closed:
                return None
            child = self._children.get(index)
        if child is not None and child.alive():
            return child
        if child is not None:
            child.stop()  # reap it
        child = _PoolChild(self._mp, self.middlewares, self.registry,
                           f"replayflow-activity-{index}")
        with self._lock:
            closed = self._closed
            if not closed:
                self._children[index] = child
        if closed:  # close() ran while we forked
            child.stop()
            return None
        return child

    def shutdown(self, threads: Sequence[threading.Thread], grace_period: float | None = None,
                 ) -> None:
        """Stop polling now; give running activities the grace period, then kill them.

        Every task taken is reported before this returns (a killed one as failed). Pollers still
        inside a long poll are waited for within the same grace period, so a task SWF hands out
        at the last moment is released (failed) rather than left to time out.
        """
        grace = self.grace_period if grace_period is None else grace_period
        self._stopping.set()
        deadline = time.monotonic() + grace
        with self._lock:
            self._kill_at = deadline if self._kill_at is None else min(self._kill_at, deadline)
            self._wake_all()
            running = len(self._slots)
        if running:
            log.warning("shutting down: waiting up to %.0f s for %d running activit%s",
                        grace, running, "y" if running == 1 else "ies")
        for thread in threads:
            # Supervising threads report within a few seconds of the kill deadline; threads in
            # a poll are abandoned at the deadline (daemon threads die with the process).
            while thread.is_alive():
                with self._lock:
                    busy = bool(self._slots)
                if not busy and time.monotonic() >= deadline:
                    break
                thread.join(0.1)

    def kill_now(self) -> None:
        """Second Ctrl-C / SIGTERM: end the grace period at once."""
        self._stopping.set()
        with self._lock:
            self._kill_at = time.monotonic()
            self._wake_all()

    def _wake_all(self) -> None:
        for slot in self._slots.values():
            slot.wake()

    # -- polling --------------------------------------------------------------------------------

    def _poll_loop(self, index: int) -> None:
        backoff = POLL_BACKOFF[0]
        task: dict[str, Any] | None = None
        while not self._stopping.is_set():
            # Spread the polls over the server's empty-poll cycle (no long poll: moto).
            self._spacer.wait(index, self._stopping, after_task=task is not None)
            if self._stopping.is_set():
                break
            began = time.monotonic()
            try:
                task = self.backend.poll_for_activity_task(self.task_list, self.identity)
            except ReplayflowError as exc:
                log.warning("polling %r failed: %s (retrying in %.0f s)",
                            self.task_list, str(exc).splitlines()[0], backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, POLL_BACKOFF[1])
                continue
            except Exception:  # noqa: BLE001 - a poller must survive anything
                log.exception("polling %r failed unexpectedly", self.task_list)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, POLL_BACKOFF[1])
                continue
            backoff = POLL_BACKOFF[0]
            if task is None:
                self._spacer.record_empty(time.monotonic() - began)
                continue
            if self._stopping.is_set():
                # Taken after the shutdown began: release it at once so it can be retried.
                self._respond(task, failure(
                    "worker shut down before the activity started", "WorkerShutdown"), False)
                continue
            try:
                self.process_task(task, index)
            except Exception:  # noqa: BLE001
                log.exception("activity %s: unexpected worker error", task.get("activityId"))

    # -- one task -------------------------------------------------------------------------------

    def process_task(self, task: dict[str, Any], index: int = 0) -> str:
        """Run one polled activity task to its end and report it; returns the response kind."""
        activity_id = str(task.get("activityId", ""))
        type_name = task["activityType"]["name"]
        try:
            activity = self.registry.find(type_name)
        except ReplayflowError as exc:  # not on the allowlist: nothing is imported or run
            log.warning("activity %s refused: %s", activity_id, exc)
            return self._respond(task, failure(str(exc), type(exc).__name__), False)
        wake_r, wake_w = os.pipe()
        with self._lock:
            self._slots[index] = _Slot(task["taskToken"], activity_id, wake_w)
        child = None
        try:
            child = self._child_for(index)
            if child is None:
                return self._respond(task, failure(
                    "worker shut down before the activity started", "WorkerShutdown"), False)
            outcome, cancelled = self._supervise(task, activity, child, wake_r)
            if outcome is None:  # SWF closed the task meanwhile: nothing to report to
                return "abandoned"
            # Report first, replace a dead child after: nobody waits for that fork.
            return self._respond(task, outcome, cancelled)
        finally:
            if child is not None and not child.alive():
                child.stop()
                with self._lock:
                    if self._children.get(index) is child:
                        del self._children[index]
                if not self._stopping.is_set():
                    self._child_for(index)
            # The slot goes last: shutdown() keeps the process alive while a slot is busy.
            with self._lock:
                self._slots.pop(index, None)
            os.close(wake_r)
            os.close(wake_w)

    def _supervise(self, task: dict[str, Any], activity: Activity, child: _PoolChild,
                   wake_fd: int) -> tuple[Outcome | None, bool]:
        token = task["taskToken"]
        activity_id = str(task.get("activityId", ""))
        fields = task_context(task, self.task_list)
        seq = next(self._seq)
        flag, reader, process = child.flag, child.conn, child.process
        pipe_open = child.send(seq, task["activityType"]["name"], task.get("input"), fields)

        started = time.monotonic()
        timeout = activity.start_to_close_timeout
        overrun_at = started + timeout if timeout else None
        interval = heartbeat_interval(self.heartbeat, activity.heartbeat_timeout)
        next_beat = started + interval
        last_beat = started - MIN_HEARTBEAT_INTERVAL  # the activity's first heartbeat goes at once
        pending_details: str | None = None  # the activity's latest heartbeat details, resent
        has_pending = False
        outcome: Outcome | None = None
        groups: set[int] = set()  # process groups the activity adopted (see _kill_groups)

        def beat(details: str | None) -> None:
            nonlocal last_beat, next_beat
            last_beat = time.monotonic()
            next_beat = last_beat + interval
            try:
                cancel = self.backend.record_activity_task_heartbeat(token, details)
                log.debug("activity %s: heartbeat sent (details: %r)", activity_id, details)
                if cancel:
                    if not flag.value:
                        log.info("activity %s: cancellation requested", activity_id)
                    flag.value = 1
            except ReplayflowError as exc:
                if error_code(exc) == "UnknownResourceFault":
                    # SWF closed the task (a timeout it enforces, or its run closed): the work
                    # would be thrown away, so stop it now, its process groups included.
                    nonlocal gone
                    gone = True
                    log.info("activity %s: SWF closed the task (timed out, or its run closed); "
                             "stopping it", activity_id)
                    return
                log.warning("activity %s: heartbeat failed: %s", activity_id,
                            str(exc).splitlines()[0])

        gone = False
        while outcome is None:
            if gone:
                self._kill(process)
                _kill_groups(groups, reader, seq)
                return None, bool(flag.value)
            now = time.monotonic()
            with self._lock:
                kill_at = self._kill_at
            wake = [next_beat]
            if overrun_at is not None:
                wake.append(overrun_at)
            if kill_at is not None:
                wake.append(kill_at)
            if has_pending:
                wake.append(last_beat + MIN_HEARTBEAT_INTERVAL)
            waitables = [process.sentinel, wake_fd] + ([reader] if pipe_open else [])
            ready = multiprocessing.connection.wait(waitables, max(0.0, min(wake) - now))
            if wake_fd in ready:
                os.read(wake_fd, 64)
                continue  # the kill deadline moved: recompute
            if pipe_open and reader in ready:
                try:
                    message = reader.recv()
                except (EOFError, OSError):
                    pipe_open = False
                    continue
                if message[1] != seq:
                    continue  # left over from an earlier task
                if message[0] == "heartbeat":
                    pending_details, has_pending = message[2], True
                elif message[0] == "group":
                    (groups.add if message[3] else groups.discard)(message[2])
                else:
                    outcome = message[2]
                    break
            elif process.sentinel in ready and not pipe_open:
                process.join()
                _kill_groups(groups, reader, seq)
                outcome = failure(_death_reason(process.exitcode), "ActivityProcessDied")
                break
            elif process.sentinel in ready:
                # Exited: whatever it sent is readable now; one more round drains the pipe.
                if not reader.poll():
                    pipe_open = False
                continue
            now = time.monotonic()
            if overrun_at is not None and now >= overrun_at:
                self._kill(process)
                _kill_groups(groups, reader, seq)
                outcome = failure(
                    f"activity timed out: it ran past its startToCloseTimeout of {timeout:g} s "
                    "and the worker killed it", "TimeoutError")
                break
            if kill_at is not None and now >= kill_at:
                self._kill(process)
                _kill_groups(groups, reader, seq)
                outcome = failure("worker shut down before the activity finished",
                                   "WorkerShutdown")
                break
            if (has_pending and now >= last_beat + MIN_HEARTBEAT_INTERVAL) or now >= next_beat:
                has_pending = False
                beat(pending_details)

        if has_pending:
            beat(pending_details)
        return outcome, bool(flag.value)

    @staticmethod
    def _kill(process: Any) -> None:
        try:
            process.kill()
        except (OSError, ValueError):
            pass
        process.join(EXIT_WAIT)

    # -- responding -----------------------------------------------------------------------------

    def _respond(self, task: dict[str, Any], outcome: Outcome, cancelled: bool) -> str:
        """Report an outcome (see execution.report_outcome) and count it."""
        kind = report_outcome(self.backend, task, outcome, cancelled)
        if kind == "completed":
            self.completed += 1
        elif kind == "failed":
            self.failed += 1
        return kind


__all__ = ["DEFAULT_GRACE_PERIOD", "DEFAULT_HEARTBEAT", "Worker", "heartbeat_interval",
           "split_activity_id"]
