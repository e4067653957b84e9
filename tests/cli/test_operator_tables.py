"""What the operator tables look like to a person, read from history files (no server needed).

Column by column: workflow.tasks (header, durations, whole ids, terminal width, ABANDONED),
workflow.profile (summary line, units, a run without tasks), task.info on a file, and the
`workflows` listing of a project's Workflow classes.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
from pathlib import Path

from support.cli import assert_one_line_error, run_cli

from replayflow.history import attributes_key

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
TASK_HEADER = ["task_id", "name", "state", "attempts", "waited", "ran", "error"]


def history(name: str) -> str:
    return str(HISTORIES / name)


def table(*args: str, columns: int | None = 200) -> list[str]:
    env = None
    if columns is not None:


        env = dict(os.environ, COLUMNS=str(columns))
    proc = run_cli(*args, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def cells(line: str, header: str) -> dict[str, str]:
    """A table line cut at the header's column starts (cells may contain spaces)."""
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    names = header.split()
    bounds = [*starts[1:], None]
    return {name: line[start:end].strip() for name, start, end in zip(names, starts, bounds,
                                                                       strict=True)}


def long_id_history(tmp_path: Path) -> str:
    """failed.json with task ids of 67 characters."""
    data = json.loads((HISTORIES / "failed.json").read_text())
    text = json.dumps(data).replace("activity-examples.basic.double-",
                                    "activity-examples.basic.double-" + "x" * 34 + "-")
    path = tmp_path / "long-ids.json"
    path.write_text(text)
    return str(path)


# -- workflow.tasks -----------------------------------------------------------------------------


def test_tasks_table_has_a_header_and_durations_not_timestamps():
    out = table("workflow.tasks", "--history-file", history("completed_retry.json"))
    assert out[0].split() == TASK_HEADER
    rows = [cells(line, out[0]) for line in out[1:]]
    assert [row["task_id"] for row in rows] == [
        "activity-examples.basic.increment-1", "activity-examples.basic.double-2",
        "activity-examples.basic.increment-3"]
    double = rows[1]
    assert (double["state"], double["attempts"]) == ("COMPLETED", "2")
    assert (double["waited"], double["ran"]) == ("500ms", "5.0s")  # over both attempts
    assert not any("2024-" in line for line in out)  # no raw timestamps in the table


def test_tasks_header_is_dropped_by_either_flag():
    args = ("--history-file", history("completed_retry.json"))
    with_header = table("workflow.tasks", *args)
    assert table("workflow.tasks", "--no-header", *args)[0].split() == with_header[1].split()
    assert table("--no-header", "workflow.tasks", *args)[0].split() == with_header[1].split()
    csv_rows = table("--format", "csv", "workflow.tasks", *args)
    assert csv_rows[0].startswith("activity-examples.basic.increment-1,")  # csv: none by default
    csv_header = table("--format", "csv", "--header", "workflow.tasks", *args)[0]
    assert csv_header.split(",")[-2:] == ["waited", "ran"]


def test_tasks_csv_and_json_keep_timestamps_and_add_seconds():
    args = ("workflow.tasks", "--history-file", history("completed_retry.json"))
    rows = list(csv.DictReader(io.StringIO("\n".join(table("--format", "csv", "--header",
                                                           *args)))))
    double = rows[1]
    assert double["scheduled"].startswith("2024-11-25 ")
    assert double["closed"].startswith("2024-11-25 ")
    assert (double["waited"], double["ran"]) == ("0.5", "5")
    data = json.loads("\n".join(table("--format", "json", *args)))
    assert data[1]["ran"] == 5.0 and data[1]["started"].startswith("2024-11-25T")


def test_tasks_fit_the_terminal_and_never_cut_an_id(tmp_path):
    path = long_id_history(tmp_path)
    wide = table("workflow.tasks", "--history-file", path, columns=200)
    natural = max(len(line) for line in wide)
    assert wide[2].endswith("ValueError: boom")  # room enough: nothing cut
    assert natural == 143
    fitted = table("workflow.tasks", "--history-file", path, columns=135)
    assert max(len(line) for line in fitted) == 135
    assert cells(fitted[2], fitted[0])["error"].endswith("…")
    # Narrower than the ids allow: name and error shrink to 12 characters, ids stay whole.
    for width in (80, 100, 120):
        out = table("workflow.tasks", "--history-file", path, columns=width)
        ids = [line.split()[0] for line in out[1:]]
        assert [task_id.rsplit("-", 1)[0][-34:] for task_id in ids] == ["x" * 34] * 2
        assert not any("…" in task_id for task_id in ids)
        assert max(len(line) for line in out) == 130
        assert cells(out[2], out[0])["error"] == "ValueError:…"


def test_tasks_piped_output_is_not_cut_to_a_width(tmp_path):
    path = long_id_history(tmp_path)
    out = table("workflow.tasks", "--history-file", path, columns=None)
    assert out[2].endswith("ValueError: boom")


def test_tasks_left_open_by_a_closed_run_are_abandoned(tmp_path):
    data = json.loads((HISTORIES / "open.json").read_text())
    last = data["events"][-1]
    closing = {"eventId": last["eventId"] + 1, "eventTimestamp": last["eventTimestamp"] + 5,
               "eventType": "WorkflowExecutionTerminated",
               attributes_key("WorkflowExecutionTerminated"): {"childPolicy": "TERMINATE",
                                                                "cause": "OPERATOR_INITIATED"}}
    terminated = copy.deepcopy(data)
    terminated["events"].append(closing)
    path = tmp_path / "terminated.json"
    path.write_text(json.dumps(terminated))
    out = table("workflow.tasks", "--history-file", str(path))
    states = {cells(line, out[0])["task_id"]: cells(line, out[0])["state"] for line in out[1:]}
    assert states["activity-examples.basic.slow-2"] == "ABANDONED"  # was RUNNING
    assert states["activity-examples.basic.slow-3"] == "ABANDONED"  # was SCHEDULED
    assert states["activity-examples.basic.increment-1"] == "COMPLETED"
    # the open run's file, before the close, still says what was running
    before = table("workflow.tasks", "--history-file", history("open.json"))
    assert {cells(line, before[0])["state"] for line in before[1:]} >= {"RUNNING", "SCHEDULED"}
    info = json.loads("\n".join(table("--format", "json", "workflow.info", "--history-file",
                                      str(path))))
    assert info["task_counts"] == {"ABANDONED": 2, "COMPLETED": 1, "RECEIVED": 1}


def test_tasks_name_column_says_the_kind_when_the_id_does_not():
    out = table("workflow.tasks", "--history-file", history("timer_signal_marker_moto.json"))
    names = {cells(line, out[0])["task_id"]: cells(line, out[0])["name"] for line in out[1:]}
    assert names == {"marker-5": "marker checkpoint", "sleep-1": "timer",
                     "approval-deadline": "timer", "signal-12": "signal approve"}
    instant = cells(next(line for line in out if line.startswith("signal-12")), out[0])
    assert (instant["waited"], instant["ran"]) == ("", "")  # a signal takes no time


# -- workflow.profile ---------------------------------------------------------------------------


def test_profile_starts_with_a_summary_and_has_units_in_its_header():
    out = table("workflow.profile", "--history-file", history("completed_retry.json"))
    assert out[0] == ("wall 15.6s  busy 8.5s (54%)  longest path 15.5s over 3 tasks: "
                      "running 8.5s, waiting 1.5s, between tasks 5.5s")
    assert out[1] == ("path: activity-examples.basic.increment-1 -> "
                      "activity-examples.basic.double-2 -> activity-examples.basic.increment-3")
    assert out[2] == ""
    assert out[3].split() == ["task_id", "name", "state", "attempts", "waiting(s)",
                              "running(s)", "%wall", "timeline", "0-15.6s"]
    first = cells(out[4], out[3].replace("timeline 0-15.6s", "timeline"))
    assert first["task_id"] == "activity-examples.basic.double-2"
    assert (first["waiting(s)"], first["running(s)"], first["%wall"]) == ("0.5", "5", "32.05")


def test_profile_of_parallel_children_counts_busy_time_once():
    out = table("workflow.profile", "--history-file", history("child_workflow.json"))
    wall, busy = re.match(r"wall (\S+)  busy (\S+) \((\d+)%\)", out[0]).groups()[:2]
    assert (wall, busy) == ("14.1s", "10.5s")  # two children side by side: not 2 x


def test_profile_of_a_run_without_tasks_says_so():
    args = ("workflow.profile", "--history-file", history("vocab_signals.json"))
    assert table(*args) == [
        "wall 3.2s: no activity, child workflow or timer in this run, so no time to split"]
    assert table("--format", "json", *args) == ["[]"]
    assert table("--format", "csv", *args) == []


# -- task.info ----------------------------------------------------------------------------------


def test_task_info_from_a_history_file_with_the_remote_traceback():
    out = run_cli("task.info", "--history-file", history("completed_retry.json"),
                  "activity-examples.basic.double-2")
    assert out.returncode == 0, out.stderr
    info, attempts, traceback = out.stdout.split("\n\n")
    fields = dict(line.split(None, 1) for line in info.splitlines()
                  if len(line.split(None, 1)) == 2)
    assert fields["state"] == "COMPLETED" and fields["attempts"] == "2"
    assert (fields["waited"], fields["ran"]) == ("500ms", "5.0s")
    assert fields["result"] == "4"
    lines = attempts.splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["FAILED", "COMPLETED"]
    assert "ConnectionError: upstream reset" in lines[1]
    assert traceback.splitlines()[0] == "traceback of attempt 1:"
    assert traceback.rstrip().endswith("ConnectionError: upstream reset")


def test_task_info_json_and_usage_errors():
    path = history("failed.json")
    proc = run_cli("--format", "json", "task.info", "--history-file", path,
                   "activity-examples.basic.double-2#1")
    detail = json.loads(proc.stdout)
    assert detail["state"] == "FAILED" and detail["error"] == "ValueError: boom"
    assert detail["details"]["message"] == "boom"
    assert detail["attempt_list"][0]["worker"]
    assert_one_line_error(run_cli("task.info", "--history-file", path, "wf", "t"), 2)
    error = assert_one_line_error(run_cli("task.info", "--history-file", path, "nope"), 2)
    assert "activity-examples.basic.double-1" in error


# -- workflows ----------------------------------------------------------------------------------


def test_workflows_lists_the_classes_of_a_package():
    proc = run_cli("--format", "json", "workflows", "examples")
    assert proc.returncode == 0, proc.stderr
    rows = {row["workflow"]: row for row in json.loads(proc.stdout)}
    basic = rows["examples.basic.BasicWorkflow"]
    assert (basic["type"], basic["version"], basic["task_list"]) == ("basic", "example",
                                                                      "example")
    assert {"examples.children.RegionWorkflow", "examples.children.InventoryWorkflow",
            "examples.signals.ApprovalWorkflow"} <= set(rows)
    declared = {f"examples.{path.stem}.{name}"
                for path in (HISTORIES.parent.parent / "examples").glob("*.py")
                for name in re.findall(r"^class (\w+)\(Workflow\):", path.read_text(), re.M)}
    assert set(rows) == declared  # every Workflow class of examples/, each once
    one = json.loads(run_cli("--format", "json", "workflows", "examples.basic").stdout)
    assert [row["workflow"] for row in one] == ["examples.basic.BasicWorkflow"]


def test_workflows_without_modules_reads_the_current_directory(tmp_path):
    (tmp_path / "flows.py").write_text(
        "from replayflow import Workflow\n\n\n"
        "class Nightly(Workflow):\n"
        "    '''Rebuild the search index.\n\n    Long text.\n    '''\n"
        "    task_list = 'nightly'\n\n    def run(self):\n        return 1\n")
    (tmp_path / "script.py").write_text("raise SystemExit('never imported')\n")
    proc = run_cli("workflows", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["workflow", "type", "version", "task_list", "description"]
    assert lines[1].split() == ["flows.Nightly", "flows.Nightly", "1", "nightly", "Rebuild",
                                "the", "search", "index."]
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run_cli("workflows", cwd=empty)
    assert nothing.returncode == 0 and nothing.stdout == ""
    assert "no Workflow class found" in nothing.stderr


def test_workflows_of_an_unknown_module_is_one_line():
    error = assert_one_line_error(run_cli("workflows", "no_such_module_here"), 2)
    assert "no_such_module_here" in error
