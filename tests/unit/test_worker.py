"""The worker's supervision logic against a scripted backend (no SWF): cancellation, heartbeat
details, poll errors, shutdown of late tasks, and the helpers."""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

import pytest
from support import activities

from replayflow import encoding
from replayflow import worker as worker_mod
from replayflow.activity import ActivityContext
from replayflow.errors import ConnectionFailed
from replayflow.execution import run_activity
from replayflow.middleware import ActivityMiddleware, LogDuration
from replayflow.worker import Worker, split_activity_id


class ScriptedBackend:
    """Just the calls the worker makes, recorded; cancellation is requested on demand."""

    domain = "unit"

    def __init__(self, tasks: list[Any] | None = None) -> None:
        self.tasks = list(tasks or [])
        self.responses: list[tuple] = []
        self.heartbeats: list[str | None] = []
        self.cancel = False
        self.polled = threading.Event()

    def poll_for_activity_task(self, task_list: str, identity: str | None = None) -> Any:
        self.polled.set()
        if not self.tasks:
            time.sleep(0.01)
            return None
        item = self.tasks.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def record_activity_task_heartbeat(self, token: str, details: str | None = None) -> bool:
        self.heartbeats.append(details)
        return self.cancel

    def respond_activity_task_completed(self, token: str, result: str | None = None) -> None:
        self.responses.append(("completed", token, result))

    def respond_activity_task_failed(self, token: str, reason: str | None = None,
                                     details: str | None = None) -> None:
        self.responses.append(("failed", token, reason, details))

    def respond_activity_task_canceled(self, token: str, details: str | None = None) -> None:
        self.responses.append(("canceled", token, details))


def task(act: Any, *args: Any, activity_id: str = "activity-x-1#1", token: str = "tok") -> dict:
    return {
        "taskToken": token,
        "activityId": activity_id,
        "startedEventId": 7,
        "workflowExecution": {"workflowId": "wf", "runId": "run"},
        "activityType": {"name": act.name, "version": act.version},
        "input": encoding.encode_call(args, {}),
    }


def test_cancel_request_reaches_the_activity_and_is_acknowledged() -> None:
    backend = ScriptedBackend()
    backend.cancel = True
    worker = Worker(backend, "t", heartbeat=0.5)  # type: ignore[arg-type]
    assert worker.process_task(task(activities.until_cancelled)) == "canceled"
    kind, token, details = backend.responses[0]
    assert (kind, token) == ("canceled", "tok")
    assert json.loads(details)["message"] == "cancelled as asked"
    assert backend.heartbeats[0] == "still here"


def test_a_task_swf_closed_meanwhile_is_stopped_and_not_reported(tmp_path: Any) -> None:
    """A heartbeat refused with UnknownResourceFault (SWF timed the task out, or its run
    closed): the activity's process is killed at once and nothing is reported."""
    from replayflow.backends.base import ServiceError

    class ClosedBackend(ScriptedBackend):
        def record_activity_task_heartbeat(self, token: str, details: str | None = None) -> bool:
            raise ServiceError("Unknown activity", "UnknownResourceFault")

    backend = ClosedBackend()
    worker = Worker(backend, "t", heartbeat=0.5)  # type: ignore[arg-type]
    pid_file = tmp_path / "pid"
    assert worker.process_task(task(activities.until_cancelled, str(pid_file))) == "abandoned"
    assert backend.responses == []
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        __import__("os").kill(pid, 0)
    worker.close()


def test_cancel_flag_is_visible_without_heartbeating() -> None:
    backend = ScriptedBackend()
    backend.cancel = True
    worker = Worker(backend, "t", heartbeat=0.5)  # type: ignore[arg-type]
    assert worker.process_task(task(activities.watch_cancel)) == "canceled"
    assert backend.heartbeats  # the worker's own heartbeat carried the cancel request


def test_completed_activity_stays_completed_when_no_cancel() -> None:
    backend = ScriptedBackend()
    worker = Worker(backend, "t")  # type: ignore[arg-type]
    assert worker.process_task(task(activities.add, 1, 2)) == "completed"
    assert backend.responses == [("completed", "tok", "3")]


def test_heartbeat_details_are_cut_to_swf_limit() -> None:
    backend = ScriptedBackend()
    worker = Worker(backend, "t")  # type: ignore[arg-type]
    assert worker.process_task(task(activities.long_heartbeat, 5000)) == "completed"
    assert backend.heartbeats == ["h" * encoding.MAX_HEARTBEAT_DETAILS]


def test_poll_errors_are_logged_in_one_line_and_retried(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker_mod, "POLL_BACKOFF", (0.01, 0.02))
    backend = ScriptedBackend([
        ConnectionFailed("Cannot reach http://x: check AWS_ENDPOINT_URL"),
        task(activities.add, 2, 2),
    ])
    worker = Worker(backend, "t")  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    with caplog.at_level(logging.WARNING, logger="replayflow.worker"):
        thread.start()
        deadline = time.monotonic() + 10
        while not backend.responses and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        thread.join(10)
    assert backend.responses == [("completed", "tok", "4")]
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING and r.getMessage().startswith("polling")]
    assert warnings == ["polling 't' failed: Cannot reach http://x: check AWS_ENDPOINT_URL "
                        "(retrying in 0 s)"]


def test_task_received_after_stop_is_released_at_once() -> None:
    backend = ScriptedBackend()
    worker = Worker(backend, "t")  # type: ignore[arg-type]
    worker._stopping.set()
    backend.tasks.append(task(activities.add, 1, 1))
    worker._stopping.clear()

    original = backend.poll_for_activity_task

    def poll_then_stop(*args: Any) -> Any:
        result = original(*args)
        worker._stopping.set()  # the shutdown begins while the poll is in flight
        return result

    backend.poll_for_activity_task = poll_then_stop  # type: ignore[method-assign]
    worker._poll_loop(0)
    assert [r[:3] for r in backend.responses] == [
        ("failed", "tok", "worker shut down before the activity started")]


def test_kill_now_ends_the_grace_period() -> None:
    backend = ScriptedBackend([task(activities.sleep_then, 20)])
    worker = Worker(backend, "t", grace_period=60)  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    deadline = time.monotonic() + 10
    while not worker._slots and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    worker.kill_now()
    thread.join(15)
    assert not thread.is_alive()
    assert [r[:3] for r in backend.responses] == [
        ("failed", "tok", "worker shut down before the activity finished")]


def test_failure_details_that_do_not_fit_stay_valid_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPLAYFLOW_JUMBO_FIELDS_BUCKET", raising=False)
    details = encoding.dumps({"type": "ValueError", "message": "m" * 50_000,
                              "reason": "ValueError: boom", "traceback": "t" * 50_000 + "END"})
    shrunk = encoding.shrink_details(details, encoding.MAX_DETAILS)
    assert len(shrunk) <= encoding.MAX_DETAILS
    value = json.loads(shrunk)
    assert value["type"] == "ValueError"
    assert value["traceback"].endswith("END")
    assert value["reason"] == "ValueError: boom"


@pytest.mark.parametrize("activity_id, expected", [
    ("activity-m.f-3#2", ("activity-m.f-3", 2)),
    ("a#b#4", ("a#b", 4)),
    ("plain", ("plain", 1)),
    ("odd#x", ("odd#x", 1)),
])
def test_split_activity_id(activity_id: str, expected: tuple[str, int]) -> None:
    assert split_activity_id(activity_id) == expected


class Recorder(ActivityMiddleware):
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def before(self, ctx: ActivityContext) -> None:
        self.calls.append(("before", ctx.activity_id))

    def after(self, ctx: ActivityContext, result: Any) -> None:
        self.calls.append(("after", result))

    def on_failure(self, ctx: ActivityContext, exc: BaseException) -> None:
        self.calls.append(("on_failure", type(exc).__name__))


class Broken(ActivityMiddleware):
    def after(self, ctx: ActivityContext, result: Any) -> None:
        raise RuntimeError("middleware bug")


def test_middleware_hooks_wrap_the_call() -> None:
    recorder = Recorder()
    ctx = ActivityContext(activity_id="a#1")
    ok = run_activity(activities.add, encoding.encode_call([1, 2], {}), ctx,
                      middlewares=[recorder, Broken(), LogDuration()])
    assert (ok.kind, ok.result) == ("completed", "3")
    failed = run_activity(activities.boom, encoding.encode_call(["x"], {}), ctx,
                          middlewares=[recorder])
    assert (failed.kind, failed.reason) == ("failed", "ValueError: x")
    assert recorder.calls == [("before", "a#1"), ("after", 3), ("before", "a#1"),
                              ("on_failure", "ValueError")]


def test_middlewares_run_in_the_activity_process(tmp_path: Any) -> None:
    class MarkPid(ActivityMiddleware):
        def before(self, ctx: ActivityContext) -> None:
            (tmp_path / "pid").write_text(str(__import__("os").getpid()))

    backend = ScriptedBackend()
    worker = Worker(backend, "t", middlewares=[MarkPid()])  # type: ignore[arg-type]
    assert worker.process_task(task(activities.add, 1, 1)) == "completed"
    assert int((tmp_path / "pid").read_text()) != __import__("os").getpid()


def test_activities_run_one_after_another_in_a_warm_child_replaced_when_it_dies() -> None:
    """No fork per task: one child runs task after task with each its own context; a child
    that crashes fails only its own task and the next task gets a fresh child."""
    worker = Worker(ScriptedBackend(), "t")  # type: ignore[arg-type]
    backend = worker.backend
    try:
        for n in (1, 2):
            assert worker.process_task(task(activities.whoami, activity_id=f"a-{n}#{n}")) == (
                "completed")
        first, second = (json.loads(r[2]) for r in backend.responses)  # type: ignore[attr-defined]
        assert first["pid"] == second["pid"]
        assert (first["activity_id"], second["activity_id"]) == ("a-1#1", "a-2#2")
        assert second["attempt"] == 2

        assert worker.process_task(task(activities.hard_exit, 3)) == "failed"
        assert backend.responses[-1][2] == (  # type: ignore[attr-defined]
            "activity process exited with code 3 without a result")
        assert worker.process_task(task(activities.whoami)) == "completed"
        third = json.loads(backend.responses[-1][2])  # type: ignore[attr-defined]
        assert third["pid"] != first["pid"]
    finally:
        worker.close()
    assert not worker._children


@pytest.mark.parametrize("period, timeout, expected", [
    (60.0, 60, 20.0),   # the default heartbeat timeout: a beat every 20 s, one may be lost
    (60.0, None, 60.0),  # no heartbeat timeout: the worker's own period
    (5.0, 60, 5.0),      # a shorter --heartbeat wins
    (60.0, 1, 0.5),      # never more often than twice a second
])
def test_the_worker_beats_three_times_per_heartbeat_timeout(period, timeout, expected) -> None:
    assert worker_mod.heartbeat_interval(period, timeout) == expected
