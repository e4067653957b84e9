"""What an operator sees of SWF's limits: a long history warned about (workflow.start --local's
log, workflow.info), and the tasks that wait for a free slot (workflow.tasks, workflow.info).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from support import limit_workflows as lw
from support.cli import run_cli

from replayflow.decider import with_slots
from replayflow.engine.replay import ExecutionState
from replayflow.history import HistoryFile
from replayflow.local import run_local

TESTS = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}


def test_a_history_past_10000_events_is_warned_about(tmp_path):
    history = tmp_path / "long.json"
    started = run_cli("workflow.start", "--local", "support.fidelity_workflows.LongChain",
                      "--input", "[2000]", "--history-file", str(history), env=ENV)
    assert started.returncode == 0, started.stderr
    warnings = [line for line in started.stderr.splitlines() if "continue_as_new" in line]
    assert len(warnings) == 1, started.stderr  # once per run, not once per decision
    assert "past 10000" in warnings[0]
    info = run_cli("--format", "json", "workflow.info", "--history-file", str(history), env=ENV)
    assert info.returncode == 0, info.stderr
    shown = json.loads(info.stdout)
    assert shown["event_count"] > 10_000
    assert "past 10,000" in shown["warning"] and "continue_as_new" in shown["warning"]
    short = tmp_path / "short.json"
    assert run_cli("workflow.start", "--local", "support.fidelity_workflows.LongChain",
                   "--input", "[10]", "--history-file", str(short), env=ENV).returncode == 0
    info = run_cli("workflow.info", "--history-file", str(short), env=ENV)
    assert "warning" not in info.stdout


def waiting_history(tmp_path: Path, n: int) -> str:
    """TwoAtATime(n) after its first answer: two scheduled, n - 2 waiting (no worker ran)."""
    state = ExecutionState(lw.TwoAtATime, workflow_id="wf", run_id="run")
    events = run_local(lw.TwoAtATime, [n]).run.events[:3]
    decisions = state.handle(events)
    completed = {"eventId": 4, "eventType": "DecisionTaskCompleted",
                 "eventTimestamp": events[-1]["eventTimestamp"],
                 "decisionTaskCompletedEventAttributes": {
                     "scheduledEventId": 2, "startedEventId": 3,
                     "executionContext": with_slots(None, state)}}
    events = [*events, completed]
    for i, decision in enumerate(decisions):
        attrs = decision["scheduleActivityTaskDecisionAttributes"]
        events.append({"eventId": 5 + i, "eventType": "ActivityTaskScheduled",
                       "eventTimestamp": completed["eventTimestamp"],
                       "activityTaskScheduledEventAttributes": {
                           **attrs, "decisionTaskCompletedEventId": 4}})
    path = tmp_path / "waiting.json"
    path.write_text(json.dumps(HistoryFile(events, {"workflowId": "wf", "runId": "run"}).to_json()))
    return str(path)


def test_workflow_tasks_lists_the_waiting_tasks_and_counts_the_rest(tmp_path):
    path = waiting_history(tmp_path, 15)
    table = run_cli("workflow.tasks", "--history-file", path, env={**ENV, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert sum(" SCHEDULED " in line for line in lines) == 2
    assert sum(" WAITING " in line for line in lines) == 10  # the next ten in line
    assert lines[-1] == "(+3 more waiting for a free slot; workflow.info counts them)"
    info = run_cli("workflow.info", "--history-file", path, env=ENV)
    assert info.returncode == 0, info.stderr
    assert any(line.split()[:1] == ["waiting"] and '"activities":13' in line.replace(" ", "")
               for line in info.stdout.splitlines()), info.stdout
