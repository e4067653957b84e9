"""Chaos trials on a moto server: kill or stop the worker, the decider or both, mid-run.

Used by bench/chaos.py (20 trials, figures) and tests/integration/test_chaos.py (4 trials,
assertions). A trial runs a chain of 10 and a fan-out of 20 on a fresh domain with one
`decider.start` and one `worker.start` process. At a random moment it sends SIGKILL or SIGTERM
to one or both, waits for them to exit, and starts them again after a random pause. Every
activity appends `start` and `end` records (workflow, task id, attempt) to one log file opened
with O_APPEND, so the trial can tell afterwards:

- whether both runs completed with the right result, and how long it took;
- whether any (task, attempt) was started twice (SWF hands a task out once: never);
- whether a new attempt of a task started after an earlier attempt had finished its body. Two
  cases, told apart by the history: the earlier attempt's completion was recorded (a bug: a
  finished task was scheduled again), or it was not, because the worker died between the body's
  end and its report (at-least-once: expected after a SIGKILL of the worker, and only then).

The activities heartbeat-time out after 2 s, so a killed worker costs seconds; a killed decider's
decision task times out after 3 s.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from replayflow import Workflow, activity
from replayflow.backends.swf import SwfBackend
from replayflow.client import start_execution, wait_for_close

TASK_LIST = "chaos-activities"
CHAIN = 10
FAN_OUT = 20
PAUSE = 0.25  # seconds each activity runs
TESTS_DIR = Path(__file__).resolve().parents[1]
REPO = TESTS_DIR.parent


def _record(log_path: str, event: str) -> None:
    """One line, one write(2) on an O_APPEND descriptor: lines from processes never interleave."""
    ctx = activity.context()
    line = json.dumps({"workflow": ctx.workflow_id, "task": ctx.task_id, "attempt": ctx.attempt,
                       "activity_id": ctx.activity_id, "event": event, "pid": os.getpid(),
                       "time": round(time.time(), 3)})
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@activity.with_attributes(task_list=TASK_LIST, version="1", retry=6, heartbeat_timeout=2,
                          start_to_close_timeout=60)
def chain_step(log_path: str, value: int, pause: float) -> int:
    _record(log_path, "start")
    time.sleep(pause)
    _record(log_path, "end")
    return value + 1


@activity.with_attributes(task_list=TASK_LIST, version="1", retry=6, heartbeat_timeout=2,
                          start_to_close_timeout=60)
def fan_out_square(log_path: str, value: int, pause: float) -> int:
    _record(log_path, "start")
    time.sleep(pause)
    _record(log_path, "end")
    return value * value


class ChaosChain(Workflow):
    """n steps, each fed the previous one's future: returns n."""

    name = "chaos-chain"
    version = "1"
    task_list = "chaos-decisions"
    decision_task_timeout = 3

    def run(self, log_path: str, n: int, pause: float) -> int:
        value: Any = 0
        for _ in range(n):
            value = self.submit(chain_step, log_path, value, pause)
        return value.result


class ChaosFanOut(Workflow):
    """n squares at once, then their sum."""

    name = "chaos-fan-out"
    version = "1"
    task_list = "chaos-decisions"
    decision_task_timeout = 3

    def run(self, log_path: str, n: int, pause: float) -> int:
        squares = self.starmap(fan_out_square, [(log_path, i, pause) for i in range(n)])
        return sum(f.result for f in squares)


@activity.with_attributes(task_list=TASK_LIST, version="1", retry=1)
def first_attempt_hangs(marker: str) -> int:
    """Default timeouts. Attempt 1 writes `marker` and runs until its worker dies; the next
    attempt returns its number at once."""
    attempt = activity.context().attempt
    if attempt == 1:
        Path(marker).write_text(str(os.getpid()))
        time.sleep(600)
    return attempt


class DefaultHeartbeatWorkflow(Workflow):
    """One activity with the default heartbeat timeout (and one retry)."""

    name = "chaos-default-heartbeat"
    version = "1"
    task_list = "chaos-decisions"

    def run(self, marker: str) -> int:
        return self.submit(first_attempt_hangs, marker).result


EXPECTED = {ChaosChain: CHAIN, ChaosFanOut: sum(i * i for i in range(FAN_OUT))}
TARGETS = ("worker", "decider", "both")
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}


@dataclass
class Fault:
    target: str  # worker, decider or both
    signal: str  # SIGKILL or SIGTERM
    at: float  # seconds after the runs started
    restart_after: float  # seconds between the process's exit and its replacement

    @classmethod
    def random(cls, rng: random.Random, target: str | None = None, sig: str | None = None,
               ) -> Fault:
        return cls(target or rng.choice(TARGETS), sig or rng.choice(list(SIGNALS)),
                   round(rng.uniform(0.3, 3.5), 2), round(rng.uniform(0.1, 1.0), 2))

    def __str__(self) -> str:
        return (f"{self.signal} {self.target} at {self.at:.2f} s, restart "
                f"{self.restart_after:.2f} s later")


@dataclass
class TrialResult:
    fault: Fault
    ok: bool  # both runs completed with the right result
    wall_s: float
    outcomes: dict[str, str]
    attempts: int  # activity attempts started
    started_twice: list[tuple[str, str, int]] = field(default_factory=list)
    rerun_after_completion: list[tuple[str, str, int]] = field(default_factory=list)
    rerun_after_lost_outcome: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def worker_killed(self) -> bool:
        return self.fault.signal == "SIGKILL" and self.fault.target in ("worker", "both")

    def as_dict(self) -> dict[str, Any]:
        return {"fault": str(self.fault), "ok": self.ok, "wall_s": round(self.wall_s, 2),
                "outcomes": self.outcomes, "attempts": self.attempts,
                "started_twice": self.started_twice,
                "rerun_after_completion": self.rerun_after_completion,
                "rerun_after_lost_outcome": self.rerun_after_lost_outcome}


class Processes:
    """A decider and a worker command, started, signalled and restarted; output to files."""

    def __init__(self, env: dict[str, str], domain: str, workdir: Path,
                 workflows: tuple[str, ...] = ("support.chaos.ChaosChain",
                                               "support.chaos.ChaosFanOut")) -> None:
        self.env = {**env, "PYTHONPATH": os.pathsep.join(
            [str(TESTS_DIR), str(REPO), env.get("PYTHONPATH", "")]),
            "LOG_LEVEL": env.get("LOG_LEVEL", "WARNING")}
        self.argv = {
            "decider": ["decider.start", "--domain", domain, *workflows],
            "worker": ["worker.start", "--domain", domain, "--task-list", TASK_LIST,
                       "--processes", "4", "--module", "support.chaos"],
        }
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.generation = 0

    def start(self, name: str) -> None:
        self.generation += 1
        log = open(self.workdir / f"{name}-{self.generation}.log", "wb")  # noqa: SIM115
        with log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "replayflow", *self.argv[name]], env=self.env, cwd=REPO,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

    def signal(self, name: str, signum: int) -> None:
        """The process itself, as a crash or a `kill` would hit it (a worker's activity
        processes die with it: PR_SET_PDEATHSIG)."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.kill(proc.pid, signum)

    def wait(self, name: str, timeout: float = 60) -> None:
        proc = self.procs[name]
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in self.procs.items():
            self.wait(name, 20)
            try:  # whatever is left of the session (a SIGKILLed worker's orphans)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def run_trial(env: dict[str, str], fault: Fault, workdir: Path, timeout: float = 120,
              ) -> TrialResult:
    """One trial on a fresh domain of the moto server `env` points at (os.environ too)."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "activities.log"
    domain = f"chaos-{uuid.uuid4().hex[:10]}"
    backend = SwfBackend(domain)
    backend.register_domain()
    procs = Processes(env, domain, workdir)
    runs: dict[type, tuple[str, str]] = {}
    try:
        procs.start("decider")
        procs.start("worker")
        began = time.monotonic()
        for cls, n in ((ChaosChain, CHAIN), (ChaosFanOut, FAN_OUT)):
            runs[cls] = start_execution(backend, cls, [str(log_path), n, PAUSE])
        time.sleep(max(0.0, began + fault.at - time.monotonic()))
        targets = ["worker", "decider"] if fault.target == "both" else [fault.target]
        for name in targets:
            procs.signal(name, SIGNALS[fault.signal])
        for name in targets:
            procs.wait(name)
        time.sleep(fault.restart_after)
        for name in targets:
            procs.start(name)
        outcomes = {}
        ok = True
        for cls, (workflow_id, run_id) in runs.items():
            remaining = max(1.0, began + timeout - time.monotonic())
            outcome = wait_for_close(backend, workflow_id, run_id, timeout=remaining)
            outcomes[cls.name] = (f"{outcome.status} {outcome.result!r}" if outcome.ok
                                  else f"{outcome.status}: {outcome.reason}")
            ok = ok and outcome.ok and outcome.result == EXPECTED[cls]
        wall = time.monotonic() - began
    finally:
        procs.stop_all()
    return analyse(backend, fault, ok, wall, outcomes, log_path, runs)


def analyse(backend: SwfBackend, fault: Fault, ok: bool, wall: float, outcomes: dict[str, str],
            log_path: Path, runs: dict[type, tuple[str, str]]) -> TrialResult:
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    starts = Counter((r["workflow"], r["task"], r["attempt"]) for r in records
                     if r["event"] == "start")
    ended: dict[tuple[str, str], list[int]] = {}
    for r in records:
        if r["event"] == "end":
            ended.setdefault((r["workflow"], r["task"]), []).append(r["attempt"])
    completed_ids: set[tuple[str, str]] = set()  # (workflow id, activity id) SWF completed
    for workflow_id, run_id in runs.values():
        events = backend.get_workflow_execution_history(workflow_id, run_id)
        by_id = {e["eventId"]: e for e in events}
        for event in events:
            if event["eventType"] == "ActivityTaskCompleted":
                scheduled = by_id[event["activityTaskCompletedEventAttributes"]["scheduledEventId"]]
                completed_ids.add(
                    (workflow_id, scheduled["activityTaskScheduledEventAttributes"]["activityId"]))
    result = TrialResult(fault, ok, wall, outcomes, attempts=sum(starts.values()))
    result.started_twice = sorted(key for key, count in starts.items() if count > 1)
    activity_ids = {(r["workflow"], r["task"], r["attempt"]): r["activity_id"] for r in records}
    for (workflow_id, task_id, attempt) in sorted(starts):
        for finished in ended.get((workflow_id, task_id), []):
            if finished < attempt:
                earlier = activity_ids[(workflow_id, task_id, finished)]
                bucket = (result.rerun_after_completion
                          if (workflow_id, earlier) in completed_ids
                          else result.rerun_after_lost_outcome)
                bucket.append((workflow_id, task_id, attempt))
                break
    return result


def summary(results: list[TrialResult]) -> dict[str, Any]:
    walls = sorted(r.wall_s for r in results)
    return {
        "trials": len(results),
        "completed_right": sum(r.ok for r in results),
        "wall_s_median": round(walls[len(walls) // 2], 2),
        "wall_s_max": round(walls[-1], 2),
        "started_twice": sum(len(r.started_twice) for r in results),
        "rerun_after_completion": sum(len(r.rerun_after_completion) for r in results),
        "rerun_after_lost_outcome": sum(len(r.rerun_after_lost_outcome) for r in results),
        "attempts": sum(r.attempts for r in results),
    }
