"""Live progress on stderr while a run goes on; stdout holds only the result.

Plain mode writes one line per change; on a terminal (a pseudo-terminal here) one status line
is repainted in place. The counts come from the decider's execution context, locally as on SWF.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from support.cli import run_cli

from replayflow.progress import Summary, summarize

REPO = Path(__file__).resolve().parents[2]


def test_plain_progress_of_a_local_run():
    done = run_cli("workflow.start", "--local", "--progress", "plain",
                   "examples.canvas.ThumbnailWorkflow", "--input", '[["a.png", "b.png"], 1]')
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["index"] == "2 thumbnails"  # stdout: the result only
    lines = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert lines, done.stderr
    assert "done" in lines[-1] and "last: " in lines[-1]


def test_no_progress_with_none():
    done = run_cli("workflow.start", "--local", "--progress", "none",
                   "examples.basic.BasicWorkflow", "--input", "[1]")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "4", "")


def test_a_terminal_gets_one_repainted_line():
    """stderr on a pseudo-terminal: the line is repainted (carriage return, erase line) with a
    spinner and the clock, and cleared at the end; stdout (a pipe) has only the result."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "workflow.start", "--local",
         "examples.basic.BasicWorkflow", "--input", "[1, 1]"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=slave, text=True,
        env={**os.environ, "TERM": "xterm", "LOG_LEVEL": "WARNING"})
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert out.strip() == "4"
    text = seen.decode("utf-8", "replace")
    assert text.count("\r\x1b[2K") >= 3, text  # repainted several times over the second
    assert any(frame in text for frame in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
    assert text.endswith("\r\x1b[2K")  # the terminal is left on a clean line
    assert "\n" not in text.replace("\r\n", "")  # one line, never scrolled


def test_the_counts_are_the_tasks_latest_states():
    """A replayed run with a retried task and a handled failure: each task counted once, by its
    latest state, at the end and part-way through."""
    from examples.failure import HandledFailureWorkflow
    from replayflow.engine.replay import ExecutionState
    from replayflow.local import run_local

    events = run_local(HandledFailureWorkflow).run.events
    state = ExecutionState(HandledFailureWorkflow, workflow_id="w", run_id="r")
    state.handle(events)
    summary = summarize(state._tasks.values(), events)
    tasks = [t for t in state._tasks.values() if hasattr(t, "attempt")]
    assert summary.total == len(tasks) >= 1
    assert summary.failed == sum(t.future.failed for t in tasks) >= 1
    assert summary.last  # the last thing that happened is named
    first_decision = next(i for i, e in enumerate(events) if e["eventType"] ==
                          "DecisionTaskCompleted")
    early = ExecutionState(HandledFailureWorkflow, workflow_id="w", run_id="r")
    early.handle(events[:first_decision + 2])
    assert summarize(early._tasks.values(), []).waiting >= 1  # scheduled, not started
    assert Summary.from_json(summary.to_json()) == summary
    assert Summary.from_json("not json") is None and Summary.from_json('{"v": 9}') is None
