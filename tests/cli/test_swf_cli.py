"""`domain.register`, `decider.start`, `standalone` and `workflow.start` on SWF, run as users run
them: subprocesses against the session's moto server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import pytest

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 60


def replayflow(env: dict[str, str], *argv: str, timeout: float = DEADLINE,
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "replayflow", *argv], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def spawn(env: dict[str, str], *argv: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "replayflow", *argv], env=env, cwd=REPO,
                            stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    return lines[0]


def describe(env: dict[str, str], domain: str, workflow_id: str) -> dict:
    client = boto3.client("swf", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    infos = client.list_closed_workflow_executions(
        domain=domain, startTimeFilter={"oldestDate": 0})["executionInfos"]
    infos += client.list_open_workflow_executions(
        domain=domain, startTimeFilter={"oldestDate": 0})["executionInfos"]
    return next(i for i in infos if i["execution"]["workflowId"] == workflow_id)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- domain.register --------------------------------------------------------------------------


def test_domain_register_is_idempotent(aws_env):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    first = replayflow(aws_env, "domain.register", name, "--retention-days", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"registered domain {name} (retention 3 days)\n"
    again = replayflow(aws_env, "domain.register", name)
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"domain {name} already registered\n"


# --- decider.start ----------------------------------------------------------------------------


def test_decider_start_unknown_domain_is_one_line(aws_env):
    done = replayflow(aws_env, "decider.start", "--domain", "no-such-domain",
                      "examples.basic.BasicWorkflow")
    assert done.returncode == 2
    assert "no-such-domain" in one_error_line(done.stderr)
    assert "domain.register" in done.stderr


def test_decider_start_bad_class_is_one_line(aws_env, swf_domain):
    done = replayflow(aws_env, "decider.start", "--domain", swf_domain, "examples.nope.Missing")
    assert done.returncode == 2
    assert "examples.nope" in one_error_line(done.stderr)


def test_decider_start_exits_0_on_sigterm(aws_env, swf_domain):
    env = {**aws_env, "LOG_LEVEL": "INFO"}
    proc = spawn(env, "decider.start", "--domain", swf_domain, "examples.basic.BasicWorkflow",
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + DEADLINE
        while True:  # wait until it polls (it logs that at INFO)
            assert time.monotonic() < deadline
            line = proc.stderr.readline()
            assert line, "the decider exited before polling"
            if "polling" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=DEADLINE)
    finally:
        kill(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "ERROR" not in err


# --- standalone ---------------------------------------------------------------------------------


def test_standalone_basic_prints_4(aws_env, swf_domain):
    done = replayflow(aws_env, "standalone", "--domain", swf_domain,
                      "examples.basic.BasicWorkflow", "--input", "[1]")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n"


def test_standalone_unknown_domain_is_one_line(aws_env):
    done = replayflow(aws_env, "standalone", "--domain", "no-such-domain",
                      "examples.basic.BasicWorkflow", "--input", "[1]")
    assert done.returncode == 2
    assert "no-such-domain" in one_error_line(done.stderr)


def test_standalone_unreachable_endpoint_is_one_line_and_starts_nothing(aws_env):
    env = {**aws_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "REPLAYFLOW_CONNECTION_RETRIES": "1"}
    done = replayflow(env, "standalone", "--domain", "d", "examples.basic.BasicWorkflow",
                      "--input", "[1]")
    assert done.returncode == 2
    assert "Cannot reach http://127.0.0.1:9" in one_error_line(done.stderr)
    assert done.stderr.strip().count("\n") == 0, done.stderr  # no decider or worker spoke


def test_standalone_oversized_input_without_bucket(aws_env, swf_domain):
    env = {k: v for k, v in aws_env.items() if k != "REPLAYFLOW_JUMBO_FIELDS_BUCKET"}
    done = replayflow(env, "standalone", "--domain", swf_domain,
                      "examples.basic.BasicWorkflow", "--input", json.dumps(["x" * 40_000]))
    assert done.returncode == 2
    line = one_error_line(done.stderr)
    assert "input" in line and "32768" in line and "REPLAYFLOW_JUMBO_FIELDS_BUCKET" in line


def test_standalone_ctrl_c_cleans_up(aws_env, swf_domain):
    workflow_id = f"interrupted-{uuid.uuid4().hex[:8]}"
    proc = spawn(aws_env, "standalone", "--domain", swf_domain, "examples.basic.BasicWorkflow",
                 "--input", "[1, 600]", "--workflow-id", workflow_id,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + DEADLINE
        while not (len(children_of(proc.pid)) >= 2 and _started(aws_env, swf_domain,
                                                                 workflow_id)):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "standalone never started its run"
            time.sleep(0.05)
        children = children_of(proc.pid)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=DEADLINE)
    finally:
        kill(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert not [pid for pid in children if alive(pid)]
    assert describe(aws_env, swf_domain, workflow_id).get("closeStatus") == "TERMINATED"
    # One line says what became of the run; the children, killed without a grace period,
    # never got to say they were shutting down, nor that the terminated run was gone.
    lines = [line for line in err.splitlines() if not line.startswith("[")]  # progress
    [ids, interrupted] = lines
    run_id = ids.split()[1]
    assert ids == f"{workflow_id} {run_id}"
    assert interrupted == f"interrupted: run {workflow_id} {run_id} terminated"


def test_standalone_passes_its_cache_size_to_the_decider(aws_env, swf_domain):
    """--cache-size 0: the decider keeps nothing, so every decision task is a full replay."""
    done = replayflow({**aws_env, "LOG_LEVEL": "INFO"}, "standalone", "--domain", swf_domain,
                      "examples.basic.BasicWorkflow", "--input", "[1, 1]", "--cache-size", "0",
                      "--progress", "none")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n"
    started = [line for line in done.stderr.splitlines() if "started decider" in line]
    assert len(started) == 1 and "--cache-size 0 " in started[0], done.stderr
    stopped = [line for line in done.stderr.splitlines() if "stopped:" in line]
    assert len(stopped) == 1 and " 0 cache hits" in stopped[0], done.stderr


def test_standalone_success_is_quiet(aws_env, swf_domain):
    """At the default LOG_LEVEL a successful run prints its ids and progress on stderr, its
    result on stdout, and nothing that looks like trouble."""
    env = {k: v for k, v in aws_env.items() if k != "LOG_LEVEL"}
    done = replayflow(env, "standalone", "--domain", swf_domain, "examples.basic.BasicWorkflow",
                      "--input", "[1, 1]")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n"
    lines = done.stderr.splitlines()
    assert lines[0].startswith("basic-") and len(lines[0].split()) == 2, done.stderr
    assert all(line.startswith("[") for line in lines[1:]), done.stderr  # progress only
    assert "3 done" in lines[-1], done.stderr


def test_standalone_failure_shows_the_task_traceback_and_what_to_run(aws_env, swf_domain):
    done = replayflow(aws_env, "standalone", "--domain", swf_domain, "--progress", "none",
                      "examples.failure.UnhandledFailureWorkflow", "--workflow-id", "fails")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert_failure_report(done.stderr, swf_domain, "fails")


def assert_failure_report(stderr: str, domain: str, workflow_id: str) -> None:
    """The failing task's remote traceback under a heading, the commands that show more, and
    one Error line naming the task and its error."""
    task = "activity-examples.failure.divide-1"
    assert f"remote traceback of {task}:" in stderr
    assert "  ZeroDivisionError: division by zero" in stderr
    assert "in divide\n      return a / b" in stderr  # the activity's own frame
    assert f"replayflow workflow.tasks --domain {domain} {workflow_id}\n" in stderr
    assert f"replayflow task.info --domain {domain} {workflow_id} {task}\n" in stderr
    assert not any(line.startswith("Traceback") for line in stderr.splitlines())  # ours
    [error] = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert error == f"Error: workflow failed: {task} failed: ZeroDivisionError: division by zero"


def _started(env: dict[str, str], domain: str, workflow_id: str) -> bool:
    try:
        describe(env, domain, workflow_id)
    except StopIteration:
        return False
    return True


# --- workflow.start on SWF ---------------------------------------------------------------------


@pytest.fixture
def running_decider_and_worker(aws_env, swf_domain):
    procs = [
        spawn(aws_env, "decider.start", "--domain", swf_domain, "examples.basic.BasicWorkflow",
              "examples.failure.UnhandledFailureWorkflow"),
        spawn(aws_env, "worker.start", "--domain", swf_domain, "--task-list", "quickstart",
              "--module", "examples.basic", "--module", "examples.failure"),
    ]
    yield swf_domain
    for proc in procs:
        kill(proc)


def test_workflow_start_wait_prints_the_result(aws_env, running_decider_and_worker):
    domain = running_decider_and_worker
    done = replayflow(aws_env, "workflow.start", "--domain", domain,
                      "examples.basic.BasicWorkflow", "--input", "[1]", "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n"


def test_workflow_start_wait_shows_progress_then_the_result(aws_env,
                                                           running_decider_and_worker):
    domain = running_decider_and_worker
    done = replayflow(aws_env, "workflow.start", "--domain", domain, "--progress", "plain",
                      "examples.basic.BasicWorkflow", "--input", "[1, 1]", "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "4\n"  # stdout: the result only
    ids, *progress = done.stderr.splitlines()
    assert ids.startswith("basic-") and len(ids.split()) == 2
    assert progress and all(line.startswith("[") for line in progress), done.stderr
    assert "3 done" in progress[-1] and "last: " in progress[-1]


def test_workflow_start_wait_failure_shows_the_task_traceback(aws_env,
                                                               running_decider_and_worker):
    domain = running_decider_and_worker
    done = replayflow(aws_env, "workflow.start", "--domain", domain, "--workflow-id",
                      "wait-fails", "examples.failure.UnhandledFailureWorkflow", "--wait")
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert_failure_report(done.stderr, domain, "wait-fails")


def test_workflow_start_wait_ctrl_c_leaves_the_run_going(aws_env, swf_domain):
    """No decider serves it: the run stays open while we wait, and after Ctrl-C."""
    workflow_id = f"waited-{uuid.uuid4().hex[:8]}"
    proc = spawn(aws_env, "workflow.start", "--domain", swf_domain, "--workflow-id",
                 workflow_id, "examples.basic.BasicWorkflow", "--input", "[1]", "--wait",
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ids = proc.stderr.readline()  # printed once the run is started: it is waiting now
        assert ids.startswith(f"{workflow_id} "), (ids, proc.communicate())
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=DEADLINE)
        err = ids + rest
    finally:
        kill(proc)
    assert proc.returncode == 130, err
    assert out == ""
    ids, interrupted = err.splitlines()
    run_id = ids.split()[1]
    assert interrupted == (f"interrupted: run {workflow_id} {run_id} goes on; follow it with "
                           f"`replayflow workflow.info --domain {swf_domain} {workflow_id}`")
    assert describe(aws_env, swf_domain, workflow_id)["executionStatus"] == "OPEN"


def test_workflow_start_prints_ids_that_do_not_collide(aws_env, swf_domain):
    outputs = [replayflow(aws_env, "workflow.start", "--domain", swf_domain,
                          "examples.basic.BasicWorkflow", "--input", "[1]") for _ in range(2)]
    ids = []
    for done in outputs:
        assert done.returncode == 0, done.stderr
        workflow_id, run_id = done.stdout.split()
        assert workflow_id.startswith("basic-")
        ids.append(workflow_id)
    assert ids[0] != ids[1]
    info = describe(aws_env, swf_domain, ids[0])
    assert info["executionStatus"] == "OPEN"


@pytest.mark.parametrize(("option", "expected"), [((), "86400"),
                                                  (("--execution-timeout", "7200"), "7200")])
def test_execution_timeout_comes_from_the_class_or_the_option(aws_env, swf_domain, option,
                                                              expected):
    done = replayflow(aws_env, "workflow.start", "--domain", swf_domain,
                      "examples.basic.BasicWorkflow", "--input", "[1]", *option)
    assert done.returncode == 0, done.stderr
    workflow_id, run_id = done.stdout.split()
    client = boto3.client("swf", endpoint_url=aws_env["AWS_ENDPOINT_URL"],
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    config = client.describe_workflow_execution(
        domain=swf_domain, execution={"workflowId": workflow_id, "runId": run_id},
    )["executionConfiguration"]
    assert config["executionStartToCloseTimeout"] == expected


def test_identities_given_on_the_command_line_are_recorded(aws_env, swf_domain):
    """What deploy/ does: each pod passes its name as --identity; operators read it back."""
    procs = [
        spawn(aws_env, "decider.start", "--domain", swf_domain, "--identity", "decider-pod-1",
              "examples.basic.BasicWorkflow"),
        spawn(aws_env, "worker.start", "--domain", swf_domain, "--task-list", "quickstart",
              "--module", "examples.basic", "--identity", "worker-pod-1"),
    ]
    try:
        done = replayflow(aws_env, "workflow.start", "--domain", swf_domain, "--workflow-id",
                          "with-identities", "examples.basic.BasicWorkflow", "--input", "[1]",
                          "--wait")
        assert done.returncode == 0, done.stderr
    finally:
        for proc in procs:
            kill(proc)
    history = json.loads(replayflow(aws_env, "--format", "json", "workflow.history",
                                    "--domain", swf_domain, "with-identities").stdout)
    deciders = {e["decisionTaskStartedEventAttributes"]["identity"] for e in history
                if e["eventType"] == "DecisionTaskStarted"}
    assert deciders == {"decider-pod-1"}
    tasks = json.loads(replayflow(aws_env, "--format", "json", "workflow.tasks", "--domain",
                                  swf_domain, "with-identities").stdout)
    detail = json.loads(replayflow(aws_env, "--format", "json", "task.info", "--domain",
                                   swf_domain, "with-identities", tasks[0]["task_id"]).stdout)
    assert [a["worker"] for a in detail["attempt_list"]] == ["worker-pod-1"]
