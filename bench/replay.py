"""Decision cost against history length: the engine's cold and warm paths, offline.

Cases (the same as simpleflow 0.36's figures on this machine, which re-parse the whole history and
re-run `run()` from the top on every decision):
- one decision of a chain with K completed activities (K = 10, 100, 1000, 5000; 6 events per step
  plus 3 to start), where the decision must be "schedule activity K+1":
  - cold: a fresh ExecutionState fed the whole history (a cache miss), timed from the raw
    response body (compact JSON, as SWF sends it) to the decisions: the SWF backend's history
    parser, in the engine's view the decider asks for, then the replay. Not timed: freeing the
    parsed events after the answer (a few ms at K = 5000);
  - warm: a cached ExecutionState fed only the 6 new events (the decider-affinity path), also
    parsed from raw JSON;
- a chain of 1000 and a fan-out of 5000 driven decision by decision, with the cache on (one state
  fed new events) and off (a fresh state fed the full history every time): total decider CPU,
  and the peak RSS of a fresh process that does only that;
- the memory cost of 1,000 cached idle executions (each suspended in run(), 10 steps in).

No server and no HTTP: histories are built in memory in SWF's exact shape, the way the in-memory
backend records them.

Reproduce:  .venv/bin/python bench/replay.py [--quick] [--json]
            --quick skips K = 5000 and the fan-out of 5000.
Reference (simpleflow 0.36): one decision at K = 10/100/1000/5000: 1.2/10.4/107/651 ms; a chain of
1000: 68 s of decider CPU; a fan-out of 5000: 12.8 s.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import multiprocessing
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import botocore.session  # noqa: E402

from replayflow import Workflow, activity, futures  # noqa: E402
from replayflow.backends.swf_history import HistoryView, parse_history  # noqa: E402
from replayflow.engine.replay import ExecutionState  # noqa: E402
from replayflow.history import events_to_wire  # noqa: E402


@activity.with_attributes(task_list="bench")
def step(x):
    return x + 1


class Chain(Workflow):
    def run(self, n):
        value = 0
        for _ in range(n):
            value = self.submit(step, value).result
        return value


class Fanout(Workflow):
    def run(self, n):
        fs = self.map(step, range(n))
        futures.wait(*fs)
        return len(fs)


class OfflineSwf:
    """Just enough of SWF to drive one execution: every scheduled activity completes at once."""

    def __init__(self, cls: type, args: list) -> None:
        self.events: list[dict] = []
        self.stamp = datetime(2026, 11, 25, tzinfo=UTC)
        self.scheduled = 0
        self.add("WorkflowExecutionStarted", {
            "input": json.dumps({"args": args, "kwargs": {}}),
            "workflowType": {"name": cls.type_name(), "version": cls.version},
            "taskList": {"name": cls.task_list}, "childPolicy": "TERMINATE",
            "executionStartToCloseTimeout": "86400", "taskStartToCloseTimeout": "300"})
        self.schedule_decision()

    def add(self, event_type: str, attrs: dict) -> int:
        event_id = len(self.events) + 1
        key = event_type[0].lower() + event_type[1:] + "EventAttributes"
        self.events.append({"eventId": event_id, "eventTimestamp": self.stamp,
                            "eventType": event_type, key: attrs})
        return event_id

    def tick(self) -> None:
        """Time moves on by a few milliseconds between SWF transactions, as in real histories
        (the events one transaction records share a timestamp)."""
        self.stamp += timedelta(milliseconds=7)

    def schedule_decision(self) -> None:
        self.tick()
        self.scheduled = self.add("DecisionTaskScheduled", {"taskList": {"name": "bench"}})
        self.started = self.add("DecisionTaskStarted", {"scheduledEventId": self.scheduled})

    def apply(self, decisions: list[dict]) -> bool:
        """Record the decisions and what follows them; False once the workflow closed."""
        self.tick()
        completed = self.add("DecisionTaskCompleted", {"scheduledEventId": self.scheduled,
                                                       "startedEventId": self.started})
        finished = []
        for decision in decisions:
            kind = decision["decisionType"]
            if kind == "ScheduleActivityTask":
                a = decision["scheduleActivityTaskDecisionAttributes"]
                sid = self.add("ActivityTaskScheduled", {
                    "activityId": a["activityId"], "activityType": a["activityType"],
                    "input": a["input"], "taskList": a["taskList"],
                    "decisionTaskCompletedEventId": completed})
                finished.append((sid, json.loads(a["input"])["args"][0] + 1))
            elif kind == "StartTimer":
                a = decision["startTimerDecisionAttributes"]
                tid = self.add("TimerStarted", {"timerId": a["timerId"], "startToFireTimeout": "0",
                                                "decisionTaskCompletedEventId": completed})
                finished.append(("timer", (a["timerId"], tid)))
            else:
                return False
        for sid, value in finished:
            if sid == "timer":
                self.add("TimerFired", {"timerId": value[0], "startedEventId": value[1]})
                continue
            self.tick()
            started = self.add("ActivityTaskStarted", {"scheduledEventId": sid})
            self.tick()
            self.add("ActivityTaskCompleted", {"scheduledEventId": sid, "startedEventId": started,
                                               "result": json.dumps(value)})
        self.schedule_decision()
        return True


def chain_history(k: int) -> list[dict]:
    """A chain with K completed activities, ending at the DecisionTaskStarted of step K+1."""
    swf = OfflineSwf(Chain, [k + 1])
    state = ExecutionState(Chain, workflow_id="bench", run_id="run")
    fed = 0
    for _ in range(k):
        decisions = state.handle(swf.events[fed:])
        fed = len(swf.events)
        swf.apply(decisions)
    return swf.events


def wire_body(events: list[dict]) -> bytes:
    """The response body SWF sends: compact JSON, epoch-second timestamps."""
    return json.dumps({"events": events_to_wire(events)}, separators=(",", ":")).encode()


@functools.cache
def poll_model():
    return botocore.session.get_session().get_service_model("swf").operation_model(
        "PollForDecisionTask")


def parse_wire(raw: bytes) -> list[dict]:
    """What our decider does with a response body: the SWF backend's history parser, in the
    engine's view (epoch-second timestamps, only the attributes the engine reads)."""
    return parse_history(poll_model(), raw, HistoryView.ENGINE)["events"]


def one_decision(k: int) -> tuple[float, float]:
    events = chain_history(k)
    expected = f"activity-{step.name}-{k + 1}#1"
    raw_full = wire_body(events)
    # The 6 events of the last step (Completed, Scheduled, Started, Completed, Scheduled, Started).
    split = len(events) - 6
    raw_new = wire_body(events[split:])

    def cold() -> float:
        # Timed from the raw body to the decisions. What a decider does after answering is not
        # part of the decision: it keeps the state in its cache, and drops the parsed events
        # (freeing 30,000 dicts at K = 5000 takes a few ms more) once the response is sent.
        start = time.perf_counter()
        state = ExecutionState(Chain, workflow_id="bench", run_id="run")
        events = parse_wire(raw_full)
        decisions = state.handle(events)
        elapsed = time.perf_counter() - start
        assert decisions[0]["scheduleActivityTaskDecisionAttributes"]["activityId"] == expected
        state.discard()
        del events, state
        return elapsed

    warm_states = []

    def prepare() -> ExecutionState:
        state = ExecutionState(Chain, workflow_id="bench", run_id="run")
        state.handle(events[:split])
        return state

    repeat = 3 if k >= 1000 else 10
    warm_states = [prepare() for _ in range(repeat)]
    warm_best = float("inf")
    for state in warm_states:
        start = time.perf_counter()
        decisions = state.handle(parse_wire(raw_new))
        warm_best = min(warm_best, time.perf_counter() - start)
        assert decisions[0]["scheduleActivityTaskDecisionAttributes"]["activityId"] == expected
        state.discard()
    cold_best = float("inf")
    for _ in range(repeat):
        gc.collect()
        cold_best = min(cold_best, cold())
    return cold_best * 1e3, warm_best * 1e3


def drive(cls: type, n: int, cached: bool) -> tuple[float, int]:
    """Decider CPU seconds to run the whole workflow decision by decision; and the decisions."""
    swf = OfflineSwf(cls, [n])
    state = ExecutionState(cls, workflow_id="bench", run_id="run")
    fed = 0
    cpu = 0.0
    count = 0
    while True:
        start = time.process_time()
        if cached:
            decisions = state.handle(swf.events[fed:])
            fed = len(swf.events)
        else:
            state = ExecutionState(cls, workflow_id="bench", run_id="run")
            decisions = state.handle(swf.events)
            state.discard()
        cpu += time.process_time() - start
        count += 1
        if not swf.apply(decisions):
            return cpu, count


def _drive_child(cls_name: str, n: int, cached: bool, conn) -> None:
    cpu, decisions = drive(globals()[cls_name], n, cached)
    conn.send((cpu, decisions, peak_rss_mb()))
    conn.close()


def drive_apart(cls_name: str, n: int, cached: bool) -> tuple[float, int, float]:
    """`drive` in a fresh process, so that its peak RSS is its own: (CPU s, decisions, MB)."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_drive_child, args=(cls_name, n, cached, sender))
    child.start()
    result = receiver.recv()
    child.join()
    return result


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not ru_maxrss: Linux carries that over from the parent
    through fork and exec, so a child would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def idle_executions(count: int = 1000) -> float:
    events = chain_history(10)
    gc.collect()
    before = rss_mb()
    states = []
    for i in range(count):
        state = ExecutionState(Chain, workflow_id=f"bench-{i}", run_id=f"run-{i}")
        state.handle([dict(e) for e in events])
        states.append(state)
    gc.collect()
    used = rss_mb() - before
    for state in states:
        state.discard()
    return used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip K=5000 and the 5000 fan-out")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    ks = [10, 100, 1000] if options.quick else [10, 100, 1000, 5000]
    cold_ms, warm_ms = {}, {}
    for k in ks:
        cold, warm = one_decision(k)
        cold_ms[str(k)] = round(cold, 3)
        warm_ms[str(k)] = round(warm, 3)
    figures: dict = {"warm_ms": warm_ms, "cold_ms": cold_ms}
    drives = [("chain1000", "Chain", 1000)]
    if not options.quick:
        drives.append(("fanout5000", "Fanout", 5000))
    for name, cls_name, n in drives:
        for cached in (True, False):
            cpu, decisions, peak = drive_apart(cls_name, n, cached)
            suffix = "" if name == "fanout5000" and cached else (
                "_cached" if cached else "_uncached")
            figures[f"{name}_cpu_s{suffix}"] = round(cpu, 3)
            figures[f"{name}_peak_rss_mb{'_cached' if cached else '_uncached'}"] = round(peak, 1)
        figures[f"{name}_decisions"] = decisions
    figures["cached_1000_idle_mb"] = round(idle_executions(), 1)
    if options.json:
        print(json.dumps(figures))
        return
    parts = [f"warm_ms[K={k}]={v}" for k, v in warm_ms.items()]
    parts += [f"cold_ms[K={k}]={v}" for k, v in cold_ms.items()]
    parts += [f"{k}={v}" for k, v in figures.items() if k not in ("warm_ms", "cold_ms")]
    print(" ".join(parts))


if __name__ == "__main__":
    main()
