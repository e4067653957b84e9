"""`replayflow simulate` and `workflow.start --local --simulate`: activities answered by a
simulator, from canned results, with failures on demand; no activity code runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, run_cli

from replayflow.errors import InvalidInput
from replayflow.simulate import Simulation, parse_delay

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "examples" / "simulated_results.json"


def test_a_local_run_answers_every_activity_from_the_results_file():
    done = run_cli("workflow.start", "--local", "--simulate", "--delay", "0", "--results",
                   str(RESULTS), "examples.basic.BasicWorkflow", "--input", "[1, 5]")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 84  # double's canned result; delay(5) never slept


def test_a_local_run_with_every_activity_failing(tmp_path):
    history = tmp_path / "h.json"
    done = run_cli("workflow.start", "--local", "--simulate", "--delay", "0", "--fail-rate", "1",
                   "examples.basic.BasicWorkflow", "--input", "[1]",
                   "--history-file", str(history))
    line = assert_one_line_error(done, 1)
    assert "simulated failure of examples.basic.increment" in line
    tasks = json.loads(run_cli("--format", "json", "workflow.tasks", "--history-file",
                               str(history)).stdout)
    assert {row["state"] for row in tasks if row["kind"] == "activity"} >= {"FAILED"}


def test_simulation_options_are_checked():
    for bad in (["--fail-rate", "2"], ["--delay", "3-1"], ["--delay", "x"],
                ["--fail-rate", "0.6", "--timeout-rate", "0.6"]):
        done = run_cli("workflow.start", "--local", "--simulate", *bad,
                       "examples.basic.BasicWorkflow", "--input", "[1]")
        assert_one_line_error(done, 2)
    done = run_cli("workflow.start", "--local", "--fail-rate", "0.5",
                   "examples.basic.BasicWorkflow", "--input", "[1]")
    assert "go with --simulate" in assert_one_line_error(done, 2)


def test_a_seed_repeats_the_plan():
    first = Simulation(delay=(0, 1), fail_rate=0.3, seed=7)
    second = Simulation(delay=(0, 1), fail_rate=0.3, seed=7)
    plan = [first.plan("x") for _ in range(20)]
    assert plan == [second.plan("x") for _ in range(20)]
    assert {kind for kind, _ in plan} == {"complete", "fail"}  # both drawn, in a fixed order
    assert parse_delay("0.5") == (0.5, 0.5)
    with pytest.raises(InvalidInput):
        parse_delay("-1")


@pytest.mark.integration
def test_simulate_answers_an_swf_run(aws_env, swf_domain, tmp_path):
    """On moto: a decider, `replayflow simulate` in place of the workers, and the run's result
    comes from the results file."""
    env = {**aws_env, "PYTHONPATH": str(REPO), "LOG_LEVEL": "WARNING"}
    task_list = f"sim-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen([sys.executable, "-m", "replayflow", "decider.start", "--domain",
                          swf_domain, "--task-list", task_list, "--activity-task-list",
                          task_list, "examples.basic.BasicWorkflow"],
                         env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True),
        subprocess.Popen([sys.executable, "-m", "replayflow", "simulate", "--domain", swf_domain,
                          "--task-list", task_list, "--delay", "0-0.1", "--results",
                          str(RESULTS)],
                         env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True),
    ]
    try:
        done = run_cli("workflow.start", "--domain", swf_domain, "--task-list", task_list,
                       "examples.basic.BasicWorkflow", "--input", "[1]", "--wait", env=env,
                       timeout=90)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout.strip().splitlines()[-1]) == 84
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    assert procs[1].returncode == 0, procs[1].stderr.read()
