"""Throughput on a local moto server: many short executions at once, and what each one costs.

Reproduce (from the repository root; it starts its own moto servers):

    .venv/bin/python bench/throughput.py          # one line of figures
    .venv/bin/python bench/throughput.py --json   # one JSON object

Per phase (200 executions, then 1,000, each on a fresh moto server): one `decider.start` and two
`worker.start` processes (`--processes` activity processes each) against moto with its empty-poll
sleep patched to 0.05 s (tests/support/run_moto.py, test support only). After a warm-up, the
decider's idle CPU is measured over `--idle` seconds, then every execution (a chain of 3 trivial
activities) is started at once from a thread pool, and the clock runs until the last one is seen
closed (ListOpenWorkflowExecutions every 0.5 s). Then every result is checked.

- `wf_per_s_200`, `wf_per_s_1000`: executions per second, first start to last close;
- `decider_cpu_ms_per_decision`: the decider's CPU time during the 200 phase / decision tasks
  it answered (RespondDecisionTaskCompleted calls);
- `decider_idle_cpu_s_per_s`: the decider's CPU seconds per second while nothing runs;
- `decider_peak_rss_mb`: the decider's peak RSS (VmHWM) in the 1,000 phase;
- `moto_calls_per_execution`: calls moto served per execution in the 200 phase, empty polls and
  the benchmark's own observation calls left out (15 is the least a chain of 3 can cost: one
  start, four decision tasks polled and answered, three activity tasks polled and answered);
- `moto_cpu_share`: moto's share of the CPU time of moto, the decider and the workers (with
  their activity processes) during the 200 phase.

The decider logs its cache statistics when it stops: the 1,000 phase reports them
(`decider_cache_misses_1000`: one per execution, its first decision task, means no full replay
happened; `decider_full_fetches_1000`: histories fetched because a task came without them).

moto's own cost per call grows with the executions it holds: every call first scans every
execution ever started for timeouts, and each execution finds its tasks by filtering all of its
domain's (480 ms of moto per decision task with 1,000 executions open). `--lean-scans` makes
those scans skip closed executions and keeps each execution's tasks beside it (the same
answers: 18 ms), and `--scan-every S` makes moto look for timeouts at most once every S seconds
(timeouts noticed up to S late); without them 1,000 executions do not finish within the hour,
nearly all of it moto's (tests/support/run_moto.py). `--no-keep-alive` makes moto close every
connection, as werkzeug's server does. Figures, never test assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.moto_server import MotoServer  # noqa: E402
from support.workflows import ChainWorkflow  # noqa: E402

from replayflow import encoding  # noqa: E402
from replayflow.backends.swf import SwfBackend  # noqa: E402
from replayflow.client import start_execution  # noqa: E402
from replayflow.registration import register_workflow  # noqa: E402

PYTHON = [sys.executable, "-m", "replayflow"]
CHAIN = 3
#: Calls the benchmark itself makes while it watches: not the executions' cost.
OBSERVER_CALLS = ("ListClosedWorkflowExecutions", "ListOpenWorkflowExecutions",
                  "DescribeWorkflowExecution", "GetWorkflowExecutionHistory", "s3 GET")
STATS_LINE = re.compile(r"stopped: (\d+) tasks, (\d+) cache hits, (\d+) misses "
                        r"\((\d+) full history fetches\), (\d+) evictions")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its threads included), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    """Direct children of a process (a worker's activity processes)."""
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def tree_cpu_seconds(pid: int) -> float:
    return cpu_seconds(pid) + sum(cpu_seconds(kid) for kid in children(pid))


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Process:
    """A replayflow command in its own session, its stderr kept in a file."""

    def __init__(self, env: dict[str, str], *argv: str) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile(prefix="bench-")
        self.output = ""
        self.proc = subprocess.Popen(PYTHON + list(argv), env=env, cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, start_new_session=True)

    def stop(self) -> str:
        """SIGTERM, wait (SIGKILL after 20 s); returns what it wrote to stderr."""
        if self.log.closed:
            return self.output
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever is left of its session (activity processes)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.log.seek(0)
        self.output = self.log.read().decode("utf-8", "replace")
        self.log.close()
        return self.output


def open_ids(backend: SwfBackend) -> set[str]:
    """The open executions' ids: moto answers at most 1,000 (and no page token), so this
    watches the open list, which never holds more than a phase's executions."""
    response = backend.client.list_open_workflow_executions(
        domain=backend.domain, startTimeFilter={"oldestDate": 0})
    return {info["execution"]["workflowId"] for info in response["executionInfos"]}


def wait_closed(backend: SwfBackend, ids: set[str], timeout: float) -> float:
    """Poll until no id in `ids` is open; returns the monotonic time that was first seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ids & open_ids(backend):
            return time.monotonic()
        time.sleep(0.5)
    missing = len(ids & open_ids(backend))
    raise SystemExit(f"{missing} of {len(ids)} executions still open after {timeout:.0f} s")


def check_results(backend: SwfBackend, started: list[tuple[str, str]]) -> None:
    for workflow_id, run_id in started:
        event = backend.close_event(workflow_id, run_id)
        if event is None or event["eventType"] != "WorkflowExecutionCompleted":
            raise SystemExit(f"{workflow_id} did not complete: {event}")
        result = encoding.loads(
            event["workflowExecutionCompletedEventAttributes"].get("result") or "null")
        if result != CHAIN:
            raise SystemExit(f"{workflow_id} returned {result!r}, expected {CHAIN}")


def phase(n: int, args: argparse.Namespace, idle: float) -> dict[str, Any]:
    """One fresh moto server, decider and workers; `n` executions at once."""
    server = MotoServer().start(poll_sleep=0.05, keep_alive=not args.no_keep_alive,
                                lean_scans=args.lean_scans, scan_every=args.scan_every)
    procs: list[Process] = []
    try:
        env = server.subprocess_env()
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
        env["LOG_LEVEL"] = "INFO"
        os.environ.update(server.env())
        domain = f"bench-{uuid.uuid4().hex[:8]}"
        backend = SwfBackend(domain)
        backend.register_domain()
        register_workflow(backend, ChainWorkflow)
        decider = Process(env, "decider.start", "--domain", domain, "--pollers",
                          str(args.pollers), "support.workflows.ChainWorkflow")
        procs.append(decider)
        procs += [Process(env, "worker.start", "--domain", domain, "--task-list",
                          "e2e-activities", "--processes", str(args.processes),
                          "--module", "support.workflows") for _ in range(2)]
        # Warm-up: every process polling, types registered, the sticky poller given up.
        warm = [start_execution(backend, ChainWorkflow, [CHAIN], register=False)
                for _ in range(2)]
        wait_closed(backend, {w for w, _ in warm}, 120)
        figures: dict[str, Any] = {}
        if idle:
            time.sleep(1.0)
            cpu0, t0 = cpu_seconds(decider.proc.pid), time.monotonic()
            time.sleep(idle)
            figures["decider_idle_cpu_s_per_s"] = (
                (cpu_seconds(decider.proc.pid) - cpu0) / (time.monotonic() - t0))

        pids = {"decider": decider.proc.pid, "worker1": procs[1].proc.pid,
                "worker2": procs[2].proc.pid}
        cpu_before = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
        moto_before = server.cpu_seconds()
        calls_before = Counter(server.calls())
        ids = [f"chain-{i}-{uuid.uuid4().hex[:8]}" for i in range(n)]
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            started = list(pool.map(
                lambda wid: start_execution(backend, ChainWorkflow, [CHAIN], workflow_id=wid,
                                            register=False), ids))
        print(f"{n} started in {time.monotonic() - began:.1f} s", file=sys.stderr)
        last_close = wait_closed(backend, set(ids), args.timeout)
        elapsed = last_close - began
        print(f"{n} closed in {elapsed:.1f} s", file=sys.stderr)
        calls = Counter(server.calls())
        calls.subtract(calls_before)
        cpu = {name: tree_cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        moto_cpu = server.cpu_seconds() - moto_before
        rss = peak_rss_mb(decider.proc.pid)
        check_results(backend, started)

        counted = {op: c for op, c in calls.items()
                   if c and "(empty)" not in op and op not in OBSERVER_CALLS}
        decisions = calls["RespondDecisionTaskCompleted"]
        figures.update({
            "wf_per_s": n / elapsed,
            "elapsed_s": elapsed,
            "decisions": decisions,
            "decider_cpu_s": cpu["decider"],
            "decider_cpu_ms_per_decision": cpu["decider"] / decisions * 1000,
            "decider_peak_rss_mb": rss,
            "moto_calls_per_execution": sum(counted.values()) / n,
            "moto_calls": counted,
            "empty_polls": sum(c for op, c in calls.items() if "(empty)" in op),
            "moto_cpu_s": moto_cpu,
            "workers_cpu_s": cpu["worker1"] + cpu["worker2"],
            "moto_cpu_share": moto_cpu / (moto_cpu + sum(cpu.values())),
        })
        stderr = decider.stop()
        match = STATS_LINE.search(stderr)
        if match:
            tasks, hits, misses, fetches, evictions = map(int, match.groups())
            figures.update({"decider_tasks": tasks, "decider_cache_hits": hits,
                            "decider_cache_misses": misses, "decider_full_fetches": fetches,
                            "decider_evictions": evictions,
                            "executions": n + len(warm)})
        return figures
    finally:
        try:
            for proc in procs:
                proc.stop()
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sizes", default="200,1000",
                        help="executions per phase, comma-separated (default 200,1000)")
    parser.add_argument("--idle", type=float, default=10.0,
                        help="seconds of idle decider measured before the first phase")
    parser.add_argument("--processes", type=int, default=4,
                        help="activity processes of each of the two workers")
    parser.add_argument("--pollers", type=int, default=3, help="the decider's pollers")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="give up on a phase after this many seconds")
    parser.add_argument("--lean-scans", action="store_true",
                        help="moto's scans skip closed executions and filter no domain-wide "
                             "task lists (the same answers; run_moto.py)")
    parser.add_argument("--scan-every", type=float, default=None, metavar="S",
                        help="moto scans for timeouts at most every S seconds (run_moto.py)")
    parser.add_argument("--no-keep-alive", action="store_true",
                        help="moto closes every connection (werkzeug's behaviour)")
    parser.add_argument("--verbose", action="store_true", help="every figure, per phase")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    if max(sizes) > 1000:
        parser.error("moto lists at most 1,000 executions: phases of up to 1,000")
    phases = {n: phase(n, args, args.idle if i == 0 else 0.0) for i, n in enumerate(sizes)}
    first, last = phases[sizes[0]], phases[sizes[-1]]
    summary: dict[str, Any] = {f"wf_per_s_{n}": round(p["wf_per_s"], 1)
                               for n, p in phases.items()}
    summary.update({
        "decider_cpu_ms_per_decision": round(first["decider_cpu_ms_per_decision"], 2),
        "decider_idle_cpu_s_per_s": round(first.get("decider_idle_cpu_s_per_s", 0.0), 3),
        "decider_peak_rss_mb": round(last["decider_peak_rss_mb"], 1),
        "moto_calls_per_execution": round(first["moto_calls_per_execution"], 2),
        "moto_cpu_share": round(first["moto_cpu_share"], 3),
    })
    for n, p in phases.items():
        if "decider_cache_misses" in p:
            summary[f"decider_cache_misses_{n}"] = p["decider_cache_misses"]
            summary[f"decider_full_fetches_{n}"] = p["decider_full_fetches"]
            summary[f"executions_{n}"] = p["executions"]
    if args.verbose:
        summary["phases"] = {str(n): {k: (round(v, 4) if isinstance(v, float) else v)
                                      for k, v in p.items()} for n, p in phases.items()}
    if args.json:
        print(json.dumps(summary))
        return
    print(" ".join(f"{key} {value}" for key, value in summary.items() if key != "phases"))
    if args.verbose:
        print(json.dumps(summary["phases"], indent=1))


if __name__ == "__main__":
    main()
