"""Where the console's runs come from: history files (read-only, no AWS) or an SWF domain.

SWF's List and Describe budgets are small and shared with the deciders, so nothing here asks SWF
more than it must: a closed run never changes and is kept for good (least recently used first
out), an open run is kept for `open_ttl` seconds, and a list for `list_ttl` seconds. Every cached
entry has one lock, so a dozen tabs asking for the same open run at once cost one call. What the
API derives from a history (tasks, graph, profile) is memoized on the entry, so a closed run of
thousands of tasks is folded once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import operator
from ..errors import ExecutionNotFound, UserError
from ..inspection import CLOSE_STATUS
from ..operator import RunHistory

T = TypeVar("T")

#: How long an open run's history is reused before SWF is asked again.
OPEN_TTL = 2.0
#: How long a list of runs is reused.
LIST_TTL = 5.0
#: Closed runs kept in memory (each is immutable; the oldest-read goes first).
CLOSED_RUNS_KEPT = 256
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LATEST = "latest"


@dataclass
class CachedRun:
    """A run's history as last read, and what was derived from it (by view name)."""

    history: RunHistory
    fetched: float
    views: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def workflow_id(self) -> str:
        return self.history.workflow_execution.get("workflowId") or ""

    @property
    def run_id(self) -> str:
        return self.history.workflow_execution.get("runId") or ""

    def view(self, name: str, build: Callable[[RunHistory], T]) -> T:
        """`build(history)`, computed once per history read."""
        with self.lock:
            if name not in self.views:
                self.views[name] = build(self.history)
            return self.views[name]


@dataclass
class ListQuery:
    status: str = "all"
    since: dt.datetime | None = None
    type_name: str | None = None
    tag: str | None = None

    def key(self) -> tuple:
        return (self.status, self.since, self.type_name, self.tag)


def _page(rows: list[dict], page_token: str | None, page_size: int,
          query: ListQuery) -> tuple[list[dict], str | None]:
    """Slice `rows`; the token carries the offset and the filters it is valid for."""
    offset = 0
    if page_token:
        try:
            data = json.loads(base64.urlsafe_b64decode(page_token.encode() + b"=="))
            offset = int(data["offset"])
            if data.get("query") != repr(query.key()) or offset < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise UserError("page_token is not one this console gave for these filters") \
                from None
    chunk = rows[offset:offset + page_size]
    next_token = None
    if offset + page_size < len(rows):
        raw = json.dumps({"offset": offset + page_size, "query": repr(query.key())})
        next_token = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return chunk, next_token


def _matches(row: dict, query: ListQuery) -> bool:
    if query.status == "open" and row["status"] != "OPEN":
        return False
    if query.status == "closed" and row["status"] == "OPEN":
        return False
    if query.type_name and row["type"] != query.type_name:
        return False
    if query.tag and query.tag not in row["tags"]:
        return False
    started = row["started"]
    return not (query.since and isinstance(started, dt.datetime) and started < query.since)


class Runs:
    """What both sources offer the API. `live` sources change; `read_only` ones take no action."""

    live = False
    read_only = True
    name = "runs"

    def list(self, query: ListQuery, page_token: str | None = None,
             page_size: int = DEFAULT_PAGE_SIZE) -> tuple[list[dict], str | None]:
        raise NotImplementedError

    def get(self, workflow_id: str, run_id: str, *, fresh: bool = False) -> CachedRun:
        raise NotImplementedError

    def decode(self, text: str | None) -> str | None:
        return text

    def first_run(self) -> tuple[str, str] | None:
        """Some run's (workflow id, run id), for the OpenAPI examples."""
        return None


class FileRuns(Runs):
    """Runs read once from history files: snapshots, served with no AWS at all."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.runs: dict[tuple[str, str], CachedRun] = {}
        now = time.monotonic()
        for path in paths:
            history = operator.read_history_file(path)
            execution = history.workflow_execution
            # A saved GetWorkflowExecutionHistory response names no execution: the file does.
            execution.setdefault("workflowId", Path(path).stem)
            execution.setdefault("runId", "file")
            key = (execution["workflowId"], execution["runId"])
            if key in self.runs:
                raise UserError(f"{path} holds run {key[1]} of workflow {key[0]!r}, which "
                                f"{self.runs[key].history.source} holds too")
            self.runs[key] = CachedRun(history, now)
        self.name = ", ".join(str(p) for p in paths)

    def _rows(self) -> list[dict]:
        rows = []
        for run in self.runs.values():
            info = run.view("summary", lambda h: operator.run_info(h, self.decode))
            rows.append({
                "workflow_id": run.workflow_id, "run_id": run.run_id,
                "type": info["workflow_type"], "version": info["workflow_version"],
                "status": info["status"], "started": info["started"], "closed": info["closed"],
                "duration": info["duration"], "tags": list(info["tags"]),
            })
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        rows.sort(key=lambda r: r["started"] or epoch, reverse=True)
        return rows

    def list(self, query: ListQuery, page_token: str | None = None,
             page_size: int = DEFAULT_PAGE_SIZE) -> tuple[list[dict], str | None]:
        return _page([r for r in self._rows() if _matches(r, query)], page_token, page_size,
                     query)

    def get(self, workflow_id: str, run_id: str, *, fresh: bool = False) -> CachedRun:
        if run_id == LATEST:
            rows = [r for r in self._rows() if r["workflow_id"] == workflow_id]
            if rows:
                run_id = rows[0]["run_id"]
        found = self.runs.get((workflow_id, run_id))
        if found is None:
            raise ExecutionNotFound(f"no run {run_id} of workflow {workflow_id!r} in the "
                                    "history files this console serves")
        return found

    def first_run(self) -> tuple[str, str] | None:
        return next(iter(self.runs), None)


class SwfRuns(Runs):
    """Runs of one SWF domain, read through the caches described above."""

    live = True
    read_only = False

    def __init__(self, domain: str, *, open_ttl: float = OPEN_TTL,
                 list_ttl: float = LIST_TTL, closed_kept: int = CLOSED_RUNS_KEPT) -> None:
        self.backend = operator.backend_for(domain)
        self.domain = domain
        self.name = f"SWF domain {domain}"
        self.open_ttl = open_ttl
        self.list_ttl = list_ttl
        self.closed_kept = closed_kept
        self._decode = operator.make_decoder()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._closed: OrderedDict[tuple[str, str], CachedRun] = OrderedDict()
        self._open: dict[tuple[str, str], CachedRun] = {}
        self._latest: dict[str, tuple[float, str]] = {}
        self._lists: dict[tuple, tuple[float, list[dict]]] = {}
        self._first: tuple[str, str] | None = None

    def decode(self, text: str | None) -> str | None:
        return self._decode(text)

    def _key_lock(self, key: tuple) -> threading.Lock:
        with self._lock:
            lock = self._key_locks.get(key)
            if lock is None:
                if len(self._key_locks) > 4 * self.closed_kept:
                    self._key_locks.clear()  # only unheld locks matter; held ones are in use
                lock = self._key_locks[key] = threading.Lock()
            return lock

    def check(self) -> None:
        """Fail at start-up, with one line, on an unknown domain or an unreachable endpoint."""
        self.backend.check_domain()

    def list(self, query: ListQuery, page_token: str | None = None,
             page_size: int = DEFAULT_PAGE_SIZE) -> tuple[list[dict], str | None]:
        key = ("list", *query.key())
        with self._key_lock(key):
            cached = self._lists.get(key)
            if cached is None or time.monotonic() - cached[0] > self.list_ttl:
                rows = operator.list_runs(self.backend, query.status, query.since,
                                          query.type_name, query.tag)
                cached = self._lists[key] = (time.monotonic(), rows)
                if rows and self._first is None:
                    self._first = (rows[0]["workflow_id"], rows[0]["run_id"])
        return _page(cached[1], page_token, page_size, query)

    def _resolve_latest(self, workflow_id: str) -> str:
        with self._key_lock(("latest", workflow_id)):
            cached = self._latest.get(workflow_id)
            if cached is not None and time.monotonic() - cached[0] <= self.open_ttl:
                return cached[1]
            run_id = self.backend.find_latest_run(workflow_id)["execution"]["runId"]
            self._latest[workflow_id] = (time.monotonic(), run_id)
            return run_id

    def get(self, workflow_id: str, run_id: str, *, fresh: bool = False) -> CachedRun:
        """The run's history: for good once closed, for `open_ttl` seconds while open.

        `fresh` (the live poller) re-reads an open run whose copy is older than half the TTL.
        """
        if run_id == LATEST:
            run_id = self._resolve_latest(workflow_id)
        key = (workflow_id, run_id)
        with self._lock:
            closed = self._closed.get(key)
            if closed is not None:
                self._closed.move_to_end(key)
                return closed
        with self._key_lock(key):
            cached = self._open.get(key)
            ttl = self.open_ttl / 2 if fresh else self.open_ttl
            if cached is not None and time.monotonic() - cached.fetched <= ttl:
                return cached
            history = operator.fetch_history(self.backend, workflow_id, run_id)
            run = CachedRun(history, time.monotonic())
            if history.is_open:
                self._open[key] = run
                return run
            self._open.pop(key, None)
        with self._lock:
            self._closed[key] = run
            while len(self._closed) > self.closed_kept:
                self._closed.popitem(last=False)
        return run

    def forget(self, workflow_id: str, run_id: str | None = None) -> None:
        """Drop what an action made stale: the open run, its `latest`, and the lists."""
        with self._lock:
            if run_id:
                self._open.pop((workflow_id, run_id), None)
            self._latest.pop(workflow_id, None)
            self._lists.clear()

    def first_run(self) -> tuple[str, str] | None:
        return self._first


def is_closed_status(status: str) -> bool:
    return status in CLOSE_STATUS.values()
