"""What a saga costs the decider: registration per submit, and compensating N tasks.

Cases, each a run recorded locally (the real decider and MemorySwf), then replayed offline by a
fresh ExecutionState fed the whole history (a cache miss: the decider's worst case):
- a fan-out of N activities with no saga, and the same inside `with self.saga()` with
  `__compensate=` on every task, ending without error: the replay time difference over N is
  what registering one compensation costs;
- the same fan-out, after which run() raises: N undos, in parallel mode (one decision schedules
  them all) and in the default mode (one decision per undo);
- a chain of N tasks that fails at its end, in parallel mode: the undos come one per decision
  (each waits for the next task's), the worst case of the parallel planner.

Reproduce:  .venv/bin/python bench/saga.py [--n 1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from replayflow import Workflow, activity, futures  # noqa: E402
from replayflow.engine.replay import ExecutionState  # noqa: E402
from replayflow.local import LocalRunner  # noqa: E402


@activity.with_attributes(task_list="bench")
def work(i):
    return i


@activity.with_attributes(task_list="bench")
def undo(i, result=None, failure=None, task_id=None):
    return task_id


class Plain(Workflow):
    def run(self, n, fail=False):
        futures.wait(self.map(work, range(n)))
        return n


class Compensated(Workflow):
    def run(self, n, fail=False, parallel=False):
        with self.saga(parallel=parallel):
            futures.wait(self.map(work, range(n), __compensate=undo))
            if fail:
                raise RuntimeError("stop")
        return n


class FailingChain(Workflow):
    def run(self, n):
        with self.saga(parallel=True):
            value = 0
            for _ in range(n):
                value = self.submit(work, value, __compensate=undo).result
            raise RuntimeError("stop")


def record(cls: type, *args) -> tuple[list[dict], float]:
    started = time.perf_counter()
    result = LocalRunner(max_workers=8).run(cls, list(args))
    return list(result.execution.events), time.perf_counter() - started


def replay_ms(cls: type, events: list[dict], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        state = ExecutionState(cls, workflow_id="bench", run_id="bench")
        started = time.perf_counter()
        state.handle(events)
        best = min(best, time.perf_counter() - started)
        state.discard()
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    n = options.n
    figures: dict[str, float] = {"n": n}
    plain, _ = record(Plain, n)
    saga, _ = record(Compensated, n)
    figures["replay_plain_ms"] = round(replay_ms(Plain, plain), 1)
    figures["replay_saga_ms"] = round(replay_ms(Compensated, saga), 1)
    figures["registration_us_per_task"] = round(
        (figures["replay_saga_ms"] - figures["replay_plain_ms"]) * 1000 / n, 2)
    for mode, parallel in (("parallel", True), ("serial", False)):
        events, wall = record(Compensated, n, True, parallel)
        figures[f"undo_{mode}_local_s"] = round(wall, 2)
        figures[f"undo_{mode}_replay_ms"] = round(replay_ms(Compensated, events, 3), 1)
        figures[f"undo_{mode}_decisions"] = sum(e["eventType"] == "DecisionTaskCompleted"
                                               for e in events)
    chain_n = min(n, 300)
    events, wall = record(FailingChain, chain_n)
    figures["chain_n"] = chain_n
    figures["chain_parallel_local_s"] = round(wall, 2)
    figures["chain_parallel_replay_ms"] = round(replay_ms(FailingChain, events, 3), 1)
    if options.json:
        print(json.dumps(figures))
        return
    print(f"n={n}: full replay {figures['replay_plain_ms']} ms without a saga, "
          f"{figures['replay_saga_ms']} ms with __compensate on every task "
          f"({figures['registration_us_per_task']} us per registration); "
          f"{n} undos: parallel {figures['undo_parallel_decisions']} decisions, "
          f"{figures['undo_parallel_local_s']} s local, replay "
          f"{figures['undo_parallel_replay_ms']} ms; serial "
          f"{figures['undo_serial_decisions']} decisions, {figures['undo_serial_local_s']} s "
          f"local, replay {figures['undo_serial_replay_ms']} ms; a failed chain of {chain_n} "
          f"in parallel mode: {figures['chain_parallel_local_s']} s local, replay "
          f"{figures['chain_parallel_replay_ms']} ms")


if __name__ == "__main__":
    main()
