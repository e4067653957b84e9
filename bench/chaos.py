"""Chaos trials on a local moto server: a random fault at a random moment, then a restart.

Reproduce (from the repository root; it starts its own moto server):

    .venv/bin/python bench/chaos.py                 # 20 trials, one line each, then a summary
    .venv/bin/python bench/chaos.py --json          # one JSON object
    .venv/bin/python bench/chaos.py --trials 5 --seed 7

Each trial (tests/support/chaos.py) runs a chain of 10 and a fan-out of 20 with one
`decider.start` and one `worker.start`, sends SIGKILL or SIGTERM to the worker, the decider or
both at a random moment, and restarts what it stopped. Per trial it reports whether both runs
completed with the right result, the wall time, any (task, attempt) started twice, and any new
attempt of a task whose earlier attempt had finished its body, split by the history into
"after completion" (a finished task scheduled again: a bug) and "after a lost outcome" (the
worker died between the body's end and its report: at-least-once, expected only after a
SIGKILL of the worker). Figures, never test assertions: tests/integration/test_chaos.py runs 4
trials and asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support import chaos  # noqa: E402
from support.moto_server import MotoServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="seed of the faults (default: "
                        "random, printed)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds a trial may take")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    server = MotoServer().start(poll_sleep=0.05)
    results = []
    try:
        os.environ.update(server.env())
        env = server.subprocess_env()
        with tempfile.TemporaryDirectory(prefix="chaos-") as workdir:
            for trial in range(args.trials):
                result = chaos.run_trial(env, chaos.Fault.random(rng),
                                         Path(workdir) / str(trial), timeout=args.timeout)
                results.append(result)
                if not args.json:
                    print(f"{trial + 1:2d} {result.fault}: "
                          f"{'right result' if result.ok else 'WRONG: ' + str(result.outcomes)}"
                          f", {result.wall_s:.1f} s, {result.attempts} attempts, started twice "
                          f"{len(result.started_twice)}, rerun after completion "
                          f"{len(result.rerun_after_completion)}, rerun after a lost outcome "
                          f"{len(result.rerun_after_lost_outcome)}", flush=True)
    finally:
        server.stop()
    figures = {"seed": seed, **chaos.summary(results)}
    if args.json:
        print(json.dumps({**figures, "per_trial": [r.as_dict() for r in results]}))
        return
    print(" ".join(f"{key} {value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
