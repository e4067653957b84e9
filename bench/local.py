"""Local-mode throughput: wall time, µs per activity and peak RSS of `--local` runs.

Cases: a chain and a fan-out of N = 1000 and N = 5000 trivial activities (the chain continues as
new every 1,000 steps), a fan-out of 100 activities that each sleep 0.1 s, and one instant call
followed by 20 calls of the same type sleeping 0.5 s (default settings: 32 workers). Each case
runs in a fresh subprocess so its peak RSS is its own.

Reproduce:  .venv/bin/python bench/local.py           # one line of figures
            .venv/bin/python bench/local.py --json    # one JSON object
Reference (simpleflow 0.36's local executor, same machine): ~114 µs per trivial activity, and
10 s for the sleep fan-out (it runs activities one after another).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from replayflow import Workflow, activity, futures  # noqa: E402


@activity.with_attributes(task_list="bench")
def noop(x):
    return x


@activity.with_attributes(task_list="bench")
def nap(x):
    time.sleep(0.1)
    return x


@activity.with_attributes(task_list="bench")
def snooze(seconds):
    time.sleep(seconds)
    return seconds


class Chain(Workflow):
    """A chain of n steps; it continues as new every 1,000 steps, as a long chain must on SWF
    (25,000 events at most per history: 6 events a step)."""

    def run(self, n, value=0):
        steps = min(n, 1000)
        for _ in range(steps):
            value = self.submit(noop, value).result
        if n > steps:
            self.continue_as_new(n - steps, value)
        return value


class Fanout(Workflow):
    def run(self, n, sleep=False):
        fs = self.map(nap if sleep else noop, range(n))
        futures.wait(*fs)
        return len(fs)


class InstantThenSleepers(Workflow):
    """One instant call, then n calls of the same type sleeping 0.5 s: they must overlap."""

    def run(self, n):
        self.submit(snooze, 0).result  # noqa: B018
        futures.wait(*self.map(snooze, [0.5] * n))
        return n


def _measure(case: str, n: int) -> dict:
    from replayflow.local import run_local

    cls = {"chain": Chain, "fanout": Fanout, "sleep": Fanout,
           "sleepers": InstantThenSleepers}[case]
    kwargs = {"sleep": True} if case == "sleep" else {}
    start = time.perf_counter()
    result = run_local(cls, [n], kwargs)
    wall = time.perf_counter() - start
    assert result.ok, result.reason
    return {"wall_s": wall, "us_per_activity": wall / n * 1e6,
            "peak_rss_mb": _peak_rss_mb(),
            "events": sum(len(run.events) for run in result.runs)}


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM). ru_maxrss would do only by luck: Linux carries it
    over from the parent through fork and exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_subprocess(case: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", case, str(n)], check=True,
                         capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--one", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        print(json.dumps(_measure(options.one[0], int(options.one[1]))))
        return
    figures = {}
    for case, n in [("chain", 1000), ("chain", 5000), ("fanout", 1000), ("fanout", 5000),
                    ("sleep", 100), ("sleepers", 20)]:
        figures[f"{case}{n}"] = _in_subprocess(case, n)
    summary = {
        "chain_us_per_activity": round(figures["chain5000"]["us_per_activity"], 1),
        "fanout_us_per_activity": round(figures["fanout5000"]["us_per_activity"], 1),
        "sleep_fanout_s": round(figures["sleep100"]["wall_s"], 3),
        "instant_then_20_sleepers_s": round(figures["sleepers20"]["wall_s"], 3),
        "peak_rss_mb": round(max(f["peak_rss_mb"] for f in figures.values()), 1),
        "chain1000_us_per_activity": round(figures["chain1000"]["us_per_activity"], 1),
        "fanout1000_us_per_activity": round(figures["fanout1000"]["us_per_activity"], 1),
    }
    if options.json:
        print(json.dumps(summary))
    else:
        print(" ".join(f"{k}={v}" for k, v in summary.items()))


if __name__ == "__main__":
    main()
