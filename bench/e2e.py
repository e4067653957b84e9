"""End-to-end wall times on a local moto server: `standalone` basic, chain 50, fan-out 100.

Reproduce (from the repository root; it starts its own moto servers):

    .venv/bin/python bench/e2e.py          # one line of figures
    .venv/bin/python bench/e2e.py --json   # one JSON object

Each case runs twice: against moto as shipped (an empty poll sleeps 1 s server-side) and with
that sleep patched to 0.05 s (tests/support/run_moto.py, test support only).

- standalone basic: the whole `replayflow standalone ... examples.basic.BasicWorkflow` command,
  process start-up, registration, the run and the cleanup of its decider and worker included;
- chain of 50 / fan-out of 100: one `decider.start` (`--pollers`, default 4 here) and two
  `worker.start` processes (four activity processes each, so four spaced pollers each;
  `--processes` to change) already polling; timed from StartWorkflowExecution to the close
  being seen by `wait_for_close`.

Each figure is the median of `--repeat` runs (default 3). Figures, never test assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from support.moto_server import MotoServer  # noqa: E402
from support.workflows import ChainWorkflow, FanOutWorkflow  # noqa: E402

from replayflow.backends.swf import SwfBackend  # noqa: E402
from replayflow.client import start_execution, wait_for_close  # noqa: E402

PYTHON = [sys.executable, "-m", "replayflow"]


def _env(server: MotoServer) -> dict[str, str]:
    env = server.subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    env.setdefault("LOG_LEVEL", "ERROR")
    return env


def _spawn(env: dict[str, str], *argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(PYTHON + list(argv), env=env, cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, start_new_session=True)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def standalone_basic(env: dict[str, str], domain: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(PYTHON + ["standalone", "--domain", domain,
                                    "examples.basic.BasicWorkflow", "--input", "[1]"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or done.stdout.strip() != "4":
        raise SystemExit(f"standalone basic failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def timed_run(backend: SwfBackend, cls: type, n: int, expected: int,
              register: bool = False) -> float:
    started = time.perf_counter()
    workflow_id, run_id = start_execution(backend, cls, [n], register=register)
    outcome = wait_for_close(backend, workflow_id, run_id, timeout=600)
    elapsed = time.perf_counter() - started
    if not outcome.ok or outcome.result != expected:
        raise SystemExit(f"{cls.__name__}({n}) ended {outcome.status}: {outcome.reason}")
    return elapsed


def against(poll_sleep: float | None, repeat: int, processes: int, pollers: int,
            ) -> dict[str, float]:
    server = MotoServer().start(poll_sleep=poll_sleep)
    try:
        env = _env(server)
        os.environ.update(server.env())
        domain = f"bench-{uuid.uuid4().hex[:8]}"
        backend = SwfBackend(domain)
        backend.register_domain()
        figures = {"standalone_basic_s": statistics.median(
            standalone_basic(env, domain) for _ in range(repeat))}
        procs = [_spawn(env, "decider.start", "--domain", domain, "--pollers", str(pollers),
                        "support.workflows.ChainWorkflow", "support.workflows.FanOutWorkflow")]
        procs += [_spawn(env, "worker.start", "--domain", domain, "--task-list",
                         "e2e-activities", "--processes", str(processes),
                         "--module", "support.workflows") for _ in range(2)]
        try:
            timed_run(backend, ChainWorkflow, 2, 2, register=True)  # warm-up: all polling
            timed_run(backend, FanOutWorkflow, 2, 1, register=True)
            figures["chain50_s"] = statistics.median(
                timed_run(backend, ChainWorkflow, 50, 50) for _ in range(repeat))
            figures["fanout100_s"] = statistics.median(
                timed_run(backend, FanOutWorkflow, 100, sum(i * i for i in range(100)))
                for _ in range(repeat))
        finally:
            _stop(procs)
        return figures
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--processes", type=int, default=4,
                        help="activities each of the two workers runs at once (its pollers)")
    parser.add_argument("--pollers", type=int, default=4, help="the decider's pollers")
    parser.add_argument("--patched-only", action="store_true",
                        help="skip the runs against moto as shipped (the slow half)")
    args = parser.parse_args()
    patched = against(0.05, args.repeat, args.processes, args.pollers)
    if args.patched_only:
        figures = {"chain50_patched_s": round(patched["chain50_s"], 3),
                   "fanout100_patched_s": round(patched["fanout100_s"], 3),
                   "standalone_basic_s": round(patched["standalone_basic_s"], 3)}
        print(json.dumps(figures) if args.json else
              " ".join(f"{key} {value:.2f}" for key, value in figures.items()))
        return
    stock = against(None, args.repeat, args.processes, args.pollers)
    result = {
        "chain50_patched_s": round(patched["chain50_s"], 3),
        "fanout100_patched_s": round(patched["fanout100_s"], 3),
        "chain50_stock_s": round(stock["chain50_s"], 3),
        "fanout100_stock_s": round(stock["fanout100_s"], 3),
        "standalone_basic_s": round(patched["standalone_basic_s"], 3),
        "standalone_basic_stock_s": round(stock["standalone_basic_s"], 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"patched 0.05 s: chain50 {result['chain50_patched_s']:.2f} s, "
          f"fanout100 {result['fanout100_patched_s']:.2f} s, "
          f"standalone basic {result['standalone_basic_s']:.2f} s | "
          f"stock: chain50 {result['chain50_stock_s']:.2f} s, "
          f"fanout100 {result['fanout100_stock_s']:.2f} s, "
          f"standalone basic {result['standalone_basic_stock_s']:.2f} s "
          f"(median of {args.repeat}, 1 decider x {args.pollers} pollers + 2 workers x "
          f"{args.processes} processes)")


if __name__ == "__main__":
    main()
