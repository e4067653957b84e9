"""One path for local and SWF: the same workflows through `workflow.start --local` and through
`standalone` on a real moto server, with the same results, failure reasons and task states.

Each case runs both ways as subprocesses, all cases at once (most of the time is interpreter
start-up and moto's polling). Task states are compared through `workflow.tasks --format json`,
read from the local run's history file and from SWF: the operator's view must agree too.
"""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.cli import run_cli

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
FW = "support.fidelity_workflows"

#: name -> (workflow, input JSON or None, extra options for both runs)
CASES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "basic": ("examples.basic.BasicWorkflow", "[1, 0]", ()),
    "unhandled failure": ("examples.failure.UnhandledFailureWorkflow", None, ()),
    "handled failure": ("examples.failure.HandledFailureWorkflow", None, ()),
    "failure policy": ("examples.failure_policy.ResilientWorkflow", None, ()),
    "canvas": ("examples.canvas.ThumbnailWorkflow", '[["a.png", "b.png", "c.png"], 2]', ()),
    "timers": ("examples.timers.TimerWorkflow", "[1]", ()),
    "markers": ("examples.markers.MarkerWorkflow", '[["a", "b"]]', ()),
    "heartbeat details": (f"{FW}.HeartbeatDetails", "[3]", ()),
    "never heartbeats": (f"{FW}.NeverHeartbeats", "[2.5]", ()),
    "unprintable failure": (f"{FW}.UnprintableFailure", None, ()),
    "middleware": (f"{FW}.Recorded", '[["a", "b"]]', ("--middleware", f"{FW}.Recorder")),
    "plain function refused": (f"{FW}.UsesPlainFunction", '["hi"]', ()),
    "plain function loaded": (f"{FW}.UsesPlainFunction", '["hi"]',
                              ("--module", "support.plain_activities")),
}


@pytest.fixture(scope="module")
def env(moto_server) -> dict[str, str]:
    base = moto_server.subprocess_env()
    path = os.pathsep.join(p for p in (str(REPO), str(TESTS), base.get("PYTHONPATH")) if p)
    return {**base, "PYTHONPATH": path, "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def domain(moto_server, env) -> str:
    name = f"fidelity-{uuid.uuid4().hex[:10]}"
    done = run_cli("domain.register", name, env=env)
    assert done.returncode == 0, done.stderr
    return name


@pytest.fixture(scope="module")
def runs(env, domain, tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("fidelity")

    def one(case: str) -> dict:
        workflow, input_json, extra = CASES[case]
        slug = case.replace(" ", "-")
        inputs = ["--input", input_json] if input_json is not None else []
        hooks = {side: out / f"{slug}-{side}.log" for side in ("local", "swf")}
        history = out / f"{slug}.json"
        local = run_cli("workflow.start", "--local", workflow, *inputs, *extra,
                        "--workflow-id", f"local-{slug}", "--history-file", str(history),
                        env={**env, "FIDELITY_MIDDLEWARE_LOG": str(hooks["local"])},
                        timeout=120)
        swf_id = f"swf-{slug}-{uuid.uuid4().hex[:6]}"
        swf = run_cli("standalone", "--domain", domain, workflow, *inputs, *extra,
                      "--workflow-id", swf_id,
                      env={**env, "FIDELITY_MIDDLEWARE_LOG": str(hooks["swf"])}, timeout=120)
        tasks = {
            "local": run_cli("--format", "json", "workflow.tasks", "--history-file", str(history),
                             env=env),
            "swf": run_cli("--format", "json", "workflow.tasks", "--domain", domain, swf_id,
                           env=env),
        }
        return {"local": local, "swf": swf, "tasks": tasks, "hooks": hooks}

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(CASES, pool.map(one, CASES), strict=True))


def _ending(proc) -> tuple[int, object]:
    """(exit code, the result JSON or the reason of the one Error line)."""
    if proc.returncode == 0:
        return 0, json.loads(proc.stdout)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    return proc.returncode, errors[0]


def _task_states(proc) -> list[tuple]:
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    return sorted((row["task_id"], row["kind"], row["state"], row["attempts"]) for row in rows)


@pytest.mark.parametrize("case", list(CASES))
def test_local_and_swf_agree(runs, case):
    run = runs[case]
    assert _ending(run["local"]) == _ending(run["swf"]), (run["local"].stderr, run["swf"].stderr)
    assert _task_states(run["tasks"]["local"]) == _task_states(run["tasks"]["swf"])


def test_the_expected_endings(runs):
    """What both sides agree on is also what each case is meant to show."""
    assert _ending(runs["basic"]["local"]) == (0, 4)
    assert _ending(runs["heartbeat details"]["local"]) == (0, 3)
    assert _ending(runs["never heartbeats"]["local"]) == (0, "done quietly")
    code, line = _ending(runs["unprintable failure"]["local"])
    assert code == 1 and "BrokenStr" in line
    code, line = _ending(runs["plain function refused"]["local"])
    assert code == 1 and "is not registered on this worker" in line and "--module" in line
    assert _ending(runs["plain function loaded"]["swf"]) == (0, "HI")


def test_middlewares_run_on_both_sides(runs):
    hooks = runs["middleware"]["hooks"]
    local = sorted(hooks["local"].read_text().splitlines())
    swf = sorted(hooks["swf"].read_text().splitlines())
    assert local == swf
    assert len(local) == 4 and sum(line.startswith("before ") for line in local) == 2
