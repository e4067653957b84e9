"""A stand-in for every activity: try a workflow's shape before its activities exist.

`Simulation` decides, for each activity task, how long it "runs" (a random delay), whether it
completes (with a canned result from a JSON file, or null), fails, or is left to time out. It
runs no activity code at all, so it answers tasks of any type: nothing a task names is imported
or called.

`SimulatedWorker` is the SWF side (`replayflow simulate`): it polls task lists and answers through
the same reporting code as the real worker. The local side is `LocalRunner(simulation=...)`
(`workflow.start --local --simulate`), which puts the simulator in place of the activity runner.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import encoding
from .backends.base import default_identity
from .errors import InvalidInput, ReplayflowError
from .execution import Outcome, failure, report_outcome
from .polling import PollSpacer

log = logging.getLogger(__name__)

DEFAULT_DELAY = (0.1, 2.0)


def parse_delay(text: str) -> tuple[float, float]:
    """`0.1-2` -> (0.1, 2.0); `0.5` -> (0.5, 0.5)."""
    low, sep, high = text.partition("-")
    try:
        bounds = (float(low), float(high if sep else low))
    except ValueError:
        raise InvalidInput(f"--delay {text!r}: write SECONDS or MIN-MAX, e.g. 0.1-2") from None
    if bounds[0] < 0 or bounds[1] < bounds[0] or bounds[1] == float("inf"):
        raise InvalidInput(f"--delay {text!r}: need 0 <= MIN <= MAX, finite")
    return bounds


def load_results(path: str | Path | None) -> dict[str, Any]:
    """The canned results file: a JSON object of activity name -> result."""
    if path is None:
        return {}
    try:
        data = encoding.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"cannot read --results {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"--results {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"--results {path} must hold a JSON object: activity name -> result")
    return data


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"{name} must be between 0 and 1, got {value}")
    return value


@dataclass
class Simulation:
    """How simulated activities behave. Thread-safe; `seed` makes the plan reproducible in the
    order tasks are taken."""

    results: Mapping[str, Any] = field(default_factory=dict)
    delay: tuple[float, float] = DEFAULT_DELAY
    fail_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _rate("--fail-rate", self.fail_rate)
        _rate("--timeout-rate", self.timeout_rate)
        if self.fail_rate + self.timeout_rate > 1.0:
            raise InvalidInput("--fail-rate and --timeout-rate add up to more than 1")
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def result_for(self, type_name: str) -> Any:
        """The canned result: by full type name (`module.func`), else by its last part."""
        if type_name in self.results:
            return self.results[type_name]
        return self.results.get(type_name.rpartition(".")[2])

    def plan(self, type_name: str) -> tuple[str, float]:
        """("complete" | "fail" | "timeout", seconds to wait first)."""
        with self._lock:
            roll = self._random.random()
            seconds = self._random.uniform(*self.delay)
        if roll < self.fail_rate:
            return "fail", seconds
        if roll < self.fail_rate + self.timeout_rate:
            return "timeout", seconds
        return "complete", seconds

    def outcome(self, task: Mapping[str, Any], kind: str) -> Outcome | None:
        """The Outcome to report for a planned task (None: leave it to time out)."""
        type_name = task["activityType"]["name"]
        if kind == "fail":
            return failure(f"simulated failure of {type_name}", "SimulatedFailure")
        if kind == "timeout":
            return None
        return Outcome("completed", encoding.dumps(self.result_for(type_name)))


class SimulatedWorker:
    """Polls SWF task lists and answers every activity task as the simulation says."""

    def __init__(self, backend: Any, task_lists: Sequence[str], simulation: Simulation, *,
                 pollers: int = 4, identity: str | None = None) -> None:
        if not task_lists:
            raise InvalidInput("give at least one --task-list")
        self.backend = backend
        self.task_lists = list(task_lists)
        self.simulation = simulation
        self.pollers = max(1, pollers)
        self.identity = identity or f"simulate:{default_identity()}"
        self.answered = 0

    def run(self, stop: threading.Event) -> None:
        threads = []
        for task_list in self.task_lists:
            spacer = PollSpacer(self.pollers)
            for index in range(self.pollers):
                thread = threading.Thread(target=self._poll, args=(task_list, spacer, index, stop),
                                          name=f"simulate-{task_list}-{index}", daemon=True)
                thread.start()
                threads.append(thread)
        log.info("simulating every activity on %s (delay %g-%g s, fail rate %g, timeout rate %g)",
                 ", ".join(self.task_lists), *self.simulation.delay, self.simulation.fail_rate,
                 self.simulation.timeout_rate)
        while not stop.wait(0.2):
            pass
        for thread in threads:
            thread.join(5)

    def _poll(self, task_list: str, spacer: PollSpacer, index: int, stop: threading.Event) -> None:
        task: dict[str, Any] | None = None
        delay = 1.0
        while not stop.is_set():
            spacer.wait(index, stop, after_task=task is not None)
            began = time.monotonic()
            try:
                task = self.backend.poll_for_activity_task(task_list, self.identity)
            except ReplayflowError as exc:
                log.warning("polling %s failed: %s (retrying in %.0f s)", task_list, exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            if task is None:
                spacer.record_empty(time.monotonic() - began)
                continue
            self.answer(task, stop)

    def answer(self, task: Mapping[str, Any], stop: threading.Event | None = None) -> str:
        """Wait the planned delay, then report; returns what was reported ("timeout": nothing)."""
        kind, seconds = self.simulation.plan(task["activityType"]["name"])
        if stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)
        outcome = self.simulation.outcome(task, kind)
        if outcome is None:
            log.info("activity %s: left to time out (simulated)", task.get("activityId"))
            return "timeout"
        self.answered += 1
        return report_outcome(self.backend, task, outcome)


def simulation_from_options(delay: str | None, fail_rate: float, timeout_rate: float,
                            results: str | None, seed: int | None) -> Simulation:
    """The CLI's options as a Simulation (one-line errors for bad values)."""
    return Simulation(results=load_results(results),
                      delay=parse_delay(delay) if delay else DEFAULT_DELAY,
                      fail_rate=fail_rate, timeout_rate=timeout_rate, seed=seed)


__all__ = ["DEFAULT_DELAY", "SimulatedWorker", "Simulation", "load_results", "parse_delay",
           "simulation_from_options"]
