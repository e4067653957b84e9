"""Run moto's server on 127.0.0.1, optionally patched to behave more like the real service.

Every patch here is test and bench support only: the library never touches moto.

- `--poll-sleep S`: moto 5.x has no long poll: when PollForDecisionTask / PollForActivityTask
  finds no task, the backend calls `sleep(1)` (moto/swf/models/__init__.py, `from time import
  sleep`) so naive clients do not spin. Tests poll often, so a whole second per empty poll makes
  them slow; this swaps that module-level `sleep` for one that waits S seconds instead.
- `--count-calls`: count the calls served, by operation (GET /_harness/calls answers the counts
  as JSON; empty polls are counted apart).
- `--keep-alive` (implies `--count-calls`): werkzeug's development server answers every request
  with `Connection: close`, so each call costs the client a new TCP connection (AWS keeps
  connections open). This serves moto's application with HTTP/1.1 keep-alive instead.
- `--swf-fidelity`: two of moto's departures from SWF that a test or a bench would otherwise
  take for ours. moto's SWF model has no locks, and its server runs each request on its own
  thread: two polls arriving together can both take the same task (SWF hands a task out once).
  Every SWF call (and a timer firing) runs under one lock here, released during an empty
  poll's sleep. And moto starts an activity's heartbeat clock when the task is scheduled, and
  applies it to a task still waiting in its queue: a task that waited longer than its heartbeat
  timeout times out as soon as it starts. SWF starts that clock when the task starts.
- `--lean-scans` (benches): moto's cost per call grows with the executions it holds, twice over.
  Every SWF call first looks for timeouts in every execution of every domain, closed ones
  included; and an execution finds its own tasks by filtering every task of its domain, so
  that scan is quadratic (480 ms for a decision task polled and answered with 1,000 executions
  open). This skips closed executions in the scan (each `first_timeout` returns None for them)
  and keeps each execution's tasks beside it, in the domain's order: the same answers.
- `--scan-every S` (benches): runs the timeout scan at most once every S seconds: a timeout is
  noticed up to S late (SWF does not promise to the millisecond either), nothing else changes.

Usage: python tests/support/run_moto.py --port PORT [--poll-sleep S] [--count-calls]
       [--keep-alive] [--swf-fidelity] [--lean-scans] [--scan-every S]
"""

from __future__ import annotations

import argparse
import collections
import functools
import io
import json
import sys
import threading
import time
from typing import Any

#: The path that answers the call counts (never an AWS path).
CALLS_PATH = "/_harness/calls"


def patch_swf_poll_sleep(seconds: float) -> None:
    """Make moto's SWF backend wait `seconds` (not 1 s) when a poll finds nothing."""
    import moto.swf.models as swf_models

    if not hasattr(swf_models, "sleep"):
        raise RuntimeError(
            "moto.swf.models has no module-level `sleep` any more; "
            "update tests/support/run_moto.py for this moto version"
        )
    real_sleep = time.sleep

    def short_sleep(_requested: float) -> None:
        real_sleep(seconds)

    short_sleep.seconds = seconds  # type: ignore[attr-defined]  # read by patch_swf_fidelity
    swf_models.sleep = short_sleep


def patch_swf_fidelity() -> None:
    """Atomic SWF calls, and heartbeat timeouts that run from an activity's start (see above).
    Apply after patch_swf_poll_sleep: the empty-poll sleep is rebuilt to release the lock."""
    import moto.swf.models as swf_models
    from moto.swf.models.activity_task import ActivityTask
    from moto.swf.models.workflow_execution import WorkflowExecution

    calls = threading.Condition(threading.RLock())

    def serialised(method: Any) -> Any:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            with calls:
                return method(*args, **kwargs)
        return call

    for name, member in list(vars(swf_models.SWFBackend).items()):
        if not name.startswith("_") and callable(member):
            setattr(swf_models.SWFBackend, name, serialised(member))
    WorkflowExecution._fire_timer = serialised(WorkflowExecution._fire_timer)
    seconds = getattr(swf_models.sleep, "seconds", None)

    def sleep_unlocked(requested: float) -> None:
        with calls:  # held already (re-entrant): wait() releases it for the whole sleep
            calls.wait(seconds if seconds is not None else requested)

    swf_models.sleep = sleep_unlocked

    started = ActivityTask.start
    first_timeout = ActivityTask.first_timeout

    def start(self: Any, started_event_id: int) -> None:
        started(self, started_event_id)
        self.reset_heartbeat_clock()

    def heartbeat_timeout_once_started(self: Any) -> Any:
        return first_timeout(self) if self.state == "STARTED" else None

    ActivityTask.start = start
    ActivityTask.first_timeout = heartbeat_timeout_once_started


def patch_swf_lean_scans() -> None:
    """Look for timeouts in open executions only (closed ones have none), and let each
    execution keep its own tasks: the same answers, at a cost that stops growing with the
    executions ever run."""
    from moto.swf.models import SWFBackend
    from moto.swf.models.domain import Domain
    from moto.swf.models.workflow_execution import WorkflowExecution

    def own(execution: Any, kind: str) -> dict[str, list[Any]]:
        tasks = execution.__dict__.get(kind)
        if tasks is None:
            tasks = execution.__dict__[kind] = {}
        return tasks

    def indexed(add: Any, kind: str) -> Any:
        @functools.wraps(add)
        def add_to_task_list(self: Any, task_list: Any, obj: Any) -> None:
            add(self, task_list, obj)
            own(obj.workflow_execution, kind).setdefault(task_list, []).append(obj)
        return add_to_task_list

    def tasks_of(kind: str, lists: str) -> property:
        def tasks(self: Any) -> list[Any]:
            mine = own(self, kind)
            # In the domain's order: task list by task list, each in creation order.
            return [t for name in getattr(self.domain, lists) for t in mine.get(name, ())]
        return property(tasks)

    Domain.add_to_decision_task_list = indexed(Domain.add_to_decision_task_list,
                                               "_harness_decision_tasks")
    Domain.add_to_activity_task_list = indexed(Domain.add_to_activity_task_list,
                                               "_harness_activity_tasks")
    WorkflowExecution.decision_tasks = tasks_of("_harness_decision_tasks",  # type: ignore
                                                "decision_task_lists")
    WorkflowExecution.activity_tasks = tasks_of("_harness_activity_tasks",  # type: ignore
                                                "activity_task_lists")

    def process_timeouts(self: Any) -> None:
        for domain in self.domains:
            for execution in domain.workflow_executions:
                if execution.open:
                    execution._process_timeouts()

    if not hasattr(SWFBackend, "_process_timeouts"):
        raise RuntimeError("moto's SWFBackend has no _process_timeouts any more; "
                           "update tests/support/run_moto.py for this moto version")
    SWFBackend._process_timeouts = process_timeouts


def patch_swf_scan_every(seconds: float) -> None:
    """Run moto's timeout scan at most once every `seconds` (apply after the other patches)."""
    from moto.swf.models import SWFBackend

    scan = SWFBackend._process_timeouts
    last = [0.0]

    def process_timeouts(self: Any) -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            scan(self)

    SWFBackend._process_timeouts = process_timeouts


class CallCounter:
    """Calls served, by operation (X-Amz-Target, or `s3 METHOD`); empty polls apart."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, operation: str) -> None:
        with self._lock:
            self.counts[operation] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)


def harness_handler(counter: CallCounter, keep_alive: bool) -> type:
    """moto's request handler, counting calls, with HTTP/1.1 keep-alive if asked.

    werkzeug closes every connection because the standard library's server cannot tell where
    an unread request body ends; this handler reads each body whole before calling the
    application, so the next request line is always where the stream stands.
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class HarnessRequestHandler(MotoRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def run_wsgi(self) -> None:
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.environ = environ = self.make_environ()
            if environ.get("wsgi.input_terminated"):  # chunked: werkzeug dechunks it
                body = environ["wsgi.input"].read()
                del environ["wsgi.input_terminated"]
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            if self.command == "GET" and self.path == CALLS_PATH:
                self._answer("200 OK", [("Content-Type", "application/json")],
                             json.dumps(counter.snapshot()).encode())
                return
            target = self.headers.get("X-Amz-Target")
            operation = target.rpartition(".")[2] if target else f"s3 {self.command}"
            status: list[Any] = []
            chunks: list[bytes] = []

            def start_response(status_line: str, headers: list[tuple[str, str]],
                               exc_info: Any = None) -> Any:
                status[:] = [status_line, headers]
                return chunks.append

            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            except Exception as exc:  # noqa: BLE001 - answer 500, as werkzeug does
                self.server.log("error", f"Error on request: {exc!r}")
                status[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
                chunks[:] = [b"Internal Server Error"]
            data = b"".join(chunks)
            if operation.startswith("PollFor") and b"taskToken" not in data:
                operation += " (empty)"
            counter.add(operation)
            self._answer(status[0], status[1], data)

        def _answer(self, status_line: str, headers: list[tuple[str, str]],
                    data: bytes) -> None:
            code, _, message = status_line.partition(" ")
            self.send_response(int(code), message)
            head = self.command == "HEAD"
            for key, value in headers:
                lowered = key.lower()
                if lowered in ("connection", "transfer-encoding") or (
                        lowered == "content-length" and not head):
                    continue
                self.send_header(key, value)
            if not keep_alive:
                self.send_header("Connection", "close")
                self.close_connection = True
            if not head:
                self.send_header("Content-Length", str(len(data)))
                # Head and body in one write: two small segments would meet the client's
                # delayed ACK (40 ms a call).
                self._headers_buffer.append(b"\r\n" + data)
                self.flush_headers()
            else:
                self.end_headers()

    return HarnessRequestHandler


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, apply the optional patch, then serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--poll-sleep",
        type=float,
        default=None,
        help="seconds moto's SWF waits on an empty poll (moto's own default: 1)",
    )
    parser.add_argument("--count-calls", action="store_true",
                        help=f"count calls by operation (GET {CALLS_PATH})")
    parser.add_argument("--keep-alive", action="store_true",
                        help="serve HTTP/1.1 keep-alive connections (and count calls)")
    parser.add_argument("--swf-fidelity", action="store_true",
                        help="atomic SWF calls; heartbeat timeouts from an activity's start")
    parser.add_argument("--lean-scans", action="store_true",
                        help="moto's scans skip closed executions and filter no domain lists")
    parser.add_argument("--scan-every", type=float, default=None, metavar="S",
                        help="look for timeouts at most once every S seconds (benches)")
    args = parser.parse_args(argv)
    if args.poll_sleep is not None:
        patch_swf_poll_sleep(args.poll_sleep)
    if args.swf_fidelity:
        patch_swf_fidelity()
    if args.lean_scans:
        patch_swf_lean_scans()
    if args.scan_every:
        patch_swf_scan_every(args.scan_every)

    import moto.server

    if args.keep_alive or args.count_calls:
        # moto.server.main passes this module-level name to werkzeug's run_simple.
        moto.server.MotoRequestHandler = harness_handler(  # type: ignore[misc]
            CallCounter(), args.keep_alive)
    sys.stdout.flush()
    moto.server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
