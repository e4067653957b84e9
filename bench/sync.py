"""What latches and semaphores cost, in local mode: wall time per operation, and the events each
operation adds to the coordinator's history (what bounds a coordinator run: SWF ends a history at
25,000 events, and the coordinator continues as new every 500 operations).

Cases:
- latch: one workflow makes N acquires then N releases, one decision each (2N round trips
  through the coordinator);
- latch-batched: the same 2N operations made in one decision each way (the courier sends each
  decision's operations as one signal);
- semaphore: N child workflows each enter and leave a 2-permit semaphore around a no-op activity.

Reproduce:  .venv/bin/python bench/sync.py           # one line of figures
            .venv/bin/python bench/sync.py --json    # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from replayflow import Workflow, activity  # noqa: E402
from replayflow.local import LocalRunner  # noqa: E402


@activity.with_attributes(task_list="bench")
def noop(x):
    return x


class LatchOneByOne(Workflow):
    def run(self, n):
        latch = self.latch("bench-latch")
        for _ in range(n):
            latch.acquire().result  # noqa: B018
        for _ in range(n):
            latch.release().result  # noqa: B018
        return n


class LatchBatched(Workflow):
    def run(self, n):
        latch = self.latch("bench-batched")
        self.wait([latch.acquire() for _ in range(n)])
        self.wait([latch.release() for _ in range(n)])
        return n


class Guarded(Workflow):
    def run(self, part):
        with self.semaphore("bench-gpu", permits=2, lease=600):
            return self.submit(noop, part).result


class GuardedMany(Workflow):
    def run(self, n):
        children = [self.submit(Guarded, part) for part in range(n)]
        return len([child.result for child in children])


def measure(cls: type, n: int, coordinator: str, operations: int) -> dict:
    runner = LocalRunner(max_workers=8)
    begin = time.perf_counter()
    result = runner.run(cls, [n])
    wall = time.perf_counter() - begin
    assert result.ok, result.reason
    events = sum(len(run.events) for run in runner.all_runs if run.workflow_id == coordinator)
    return {"n": n, "operations": operations, "wall_s": round(wall, 3),
            "ms_per_op": round(wall / operations * 1000, 3),
            "coordinator_events_per_op": round(events / operations, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n = args.n
    figures = {
        "latch": measure(LatchOneByOne, n, "replayflow-sync.bench-latch", 2 * n),
        "latch-batched": measure(LatchBatched, n, "replayflow-sync.bench-batched", 2 * n),
        "semaphore": measure(GuardedMany, n // 4, "replayflow-sync.bench-gpu", 2 * (n // 4)),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print("  ".join(f"{name}: {f['operations']} ops {f['wall_s']}s ({f['ms_per_op']} ms/op, "
                    f"{f['coordinator_events_per_op']} coordinator events/op)"
                    for name, f in figures.items()))


if __name__ == "__main__":
    main()
