"""Live updates: one poll per watched open run, fanned out to every tab as server-sent events.

A tab that opens `.../events` joins the run's watch; the first one starts its poller, the last one
to leave stops it. The poller re-reads the run through `Runs.get` (whose cache also serves the
tabs' follow-up reads, so an update costs the tabs no SWF call) and tells subscribers only when the
history grew. A closed run (or a history file, a snapshot) gets one update and the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import msgspec
from starlette.concurrency import run_in_threadpool

from ..errors import ReplayflowError
from ..history import CLOSE_STATUS
from .models import LiveUpdate, StreamEnd
from .runs import CachedRun, Runs

log = logging.getLogger(__name__)

#: Seconds between two reads of a watched open run.
POLL_INTERVAL = 2.0
#: A comment line this often keeps proxies from closing an idle stream.
KEEPALIVE = 15.0


def update_of(run: CachedRun) -> LiveUpdate:
    history = run.history
    last = history.events[-1]["eventType"] if history.events else ""
    return LiveUpdate(workflow_id=run.workflow_id, run_id=run.run_id,
                      status=CLOSE_STATUS.get(last, "OPEN"), event_count=len(history.events),
                      closed=not history.is_open)


def sse(event: str, data: LiveUpdate | StreamEnd) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


class _Watch:
    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[LiveUpdate]] = set()
        self.last: LiveUpdate | None = None
        self.task: asyncio.Task | None = None
        self.polls = 0


class LiveRuns:
    """The watches of one console process, by (workflow id, run id)."""

    def __init__(self, runs: Runs, interval: float = POLL_INTERVAL) -> None:
        self.runs = runs
        self.interval = interval
        self.watches: dict[tuple[str, str], _Watch] = {}

    async def _poll(self, key: tuple[str, str], watch: _Watch) -> None:
        try:
            while watch.queues:
                try:
                    run = await run_in_threadpool(self.runs.get, *key, fresh=True)
                except ReplayflowError as exc:  # throttled, endpoint gone: try again later
                    log.warning("live poll of %s %s: %s", *key, exc)
                else:
                    watch.polls += 1
                    update = update_of(run)
                    if watch.last is None or (update.event_count, update.status) != (
                            watch.last.event_count, watch.last.status):
                        watch.last = update
                        for queue in list(watch.queues):
                            queue.put_nowait(update)
                    if update.closed:
                        return
                await asyncio.sleep(self.interval)
        finally:
            if self.watches.get(key) is watch:
                del self.watches[key]

    async def stream(self, first: CachedRun) -> AsyncIterator[bytes]:
        """The event stream of one tab: `update` events, then `end` once nothing will change."""
        update = update_of(first)
        yield sse("update", update)
        if update.closed or not self.runs.live:
            yield sse("end", StreamEnd("closed" if update.closed else "snapshot"))
            return
        key = (first.workflow_id, first.run_id)
        watch = self.watches.get(key)
        if watch is None:
            watch = self.watches[key] = _Watch()
            watch.last = update
        queue: asyncio.Queue[LiveUpdate] = asyncio.Queue()
        watch.queues.add(queue)
        if watch.last is not None and watch.last.event_count > update.event_count:
            queue.put_nowait(watch.last)
        if watch.task is None or watch.task.done():
            watch.task = asyncio.create_task(self._poll(key, watch))
        try:
            while True:
                try:
                    update = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield sse("update", update)
                if update.closed:
                    yield sse("end", StreamEnd("closed"))
                    return
        finally:
            watch.queues.discard(queue)

    async def close(self) -> None:
        """Stop every poller (at shutdown)."""
        for watch in list(self.watches.values()):
            watch.queues.clear()
            if watch.task is not None:
                watch.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watch.task
        self.watches.clear()
