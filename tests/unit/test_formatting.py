"""table / csv / json rendering of operator rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from replayflow.cli.formatting import (
    ELLIPSIS,
    MIN_CUT_WIDTH,
    TABLE_CELL_WIDTH,
    Duration,
    format_duration,
    render,
    render_info,
    render_table,
    terminal_width,
)
from replayflow.history import load_history_file
from replayflow.inspection import execution_info, task_rows

T = datetime(2024, 11, 25, 9, 30, 0, 250000, tzinfo=UTC)
LONG = {"args": ["x" * 500], "kwargs": {}}
ROWS = [
    {"task_id": "activity-a-1", "state": "COMPLETED", "attempts": 1, "started": T,
     "running": 2.5, "input": {"args": [1], "kwargs": {}}, "error": None},
    {"task_id": "activity-bb-2", "state": "FAILED", "attempts": 12, "started": None,
     "running": timedelta(seconds=90), "input": LONG, "error": "ValueError: line one\nline two"},
]
COLUMNS = ["task_id", "state", "attempts", "started", "running", "input", "error"]


def test_table_columns_are_aligned() -> None:
    lines = render(ROWS, COLUMNS, "table", header=True).splitlines()
    assert len(lines) == 3
    header, first, second = lines
    assert header.split() == COLUMNS
    for column in ("state", "started", "input"):
        start = header.index(column)
        assert first[start - 2:start] == "  " and first[start] != " "
    # numbers are right-aligned under their header
    end = header.index("attempts") + len("attempts")
    assert first[:end].endswith(" 1") and second[:end].endswith("12")


def test_table_without_header_has_only_rows() -> None:
    lines = render(ROWS, COLUMNS, "table", header=False).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("activity-a-1 ")


def test_table_cuts_long_values_and_keeps_one_line_per_row() -> None:
    out = render(ROWS, COLUMNS, "table", header=False)
    second = out.splitlines()[1]
    assert ELLIPSIS in second
    assert "x" * TABLE_CELL_WIDTH not in out
    assert "ValueError: line one⏎line two" in second
    assert len(out.splitlines()) == 2


def test_table_shows_datetimes_durations_and_blanks() -> None:
    first, second = render(ROWS, COLUMNS, "table").splitlines()
    assert "2024-11-25 09:30:00.250+00:00" in first
    assert " 2.5 " in first and " 90 " in second
    assert '{"args":[1],"kwargs":{}}' in first


def test_csv_is_parseable_and_never_truncated() -> None:
    out = render(ROWS, COLUMNS, "csv", header=True)
    parsed = list(csv.reader(io.StringIO(out)))
    assert parsed[0] == COLUMNS
    assert parsed[1][:5] == ["activity-a-1", "COMPLETED", "1", "2024-11-25 09:30:00.250+00:00",
                             "2.5"]
    assert json.loads(parsed[2][5]) == LONG
    assert parsed[2][6] == "ValueError: line one\nline two"
    assert parsed[2][3] == ""
    assert list(csv.reader(io.StringIO(render(ROWS, COLUMNS, "csv"))))[0][0] == "activity-a-1"


def test_json_is_a_list_of_objects_with_iso_datetimes_and_seconds() -> None:
    data = json.loads(render(ROWS, COLUMNS, "json", header=True))
    assert [list(obj) for obj in data] == [COLUMNS, COLUMNS]
    assert datetime.fromisoformat(data[0]["started"]) == T
    assert data[1]["started"] is None
    assert data[1]["running"] == 90.0
    assert data[0]["input"] == {"args": [1], "kwargs": {}}  # structured, not a string
    assert data[1]["input"] == LONG  # never truncated
    assert data[1]["error"] == "ValueError: line one\nline two"


def test_only_the_requested_columns_are_rendered() -> None:
    data = json.loads(render(ROWS, ["state", "task_id", "missing"], "json", header=False))
    assert data[0] == {"state": "COMPLETED", "task_id": "activity-a-1", "missing": None}


def test_empty_rows() -> None:
    assert render([], COLUMNS, "json", header=True) == "[]\n"
    assert render([], COLUMNS, "table", header=True).split() == COLUMNS
    assert render([], COLUMNS, "table", header=False) == ""
    assert render([], COLUMNS, "csv", header=False) == ""


def test_unknown_format_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown output format 'yaml'"):
        render(ROWS, COLUMNS, "yaml", header=False)
    with pytest.raises(ValueError, match="unknown output format"):
        render_info({"a": 1}, "xml")


INFO = {"workflow_id": "basic-1", "status": "FAILED", "started": T,
        "input": {"args": [1, 0], "kwargs": {}}, "details": {"traceback": "a\nb" + "c" * 400},
        "task_counts": {"COMPLETED": 2, "FAILED": 1}}


def test_info_table_is_aligned_key_value_lines() -> None:
    lines = render_info(INFO, "table").splitlines()
    assert [line.split()[0] for line in lines] == list(INFO)
    column = lines[0].index("basic-1")
    assert all(line[column - 2:column] == "  " and line[column] != " " for line in lines)
    assert lines[3].endswith('{"args":[1,0],"kwargs":{}}')
    assert lines[4].endswith(ELLIPSIS)
    assert len(lines) == len(INFO)


def test_info_json_and_csv_keep_everything() -> None:
    data = json.loads(render_info(INFO, "json"))
    assert data["input"] == {"args": [1, 0], "kwargs": {}}
    assert data["details"]["traceback"].endswith("c" * 400)
    assert data["started"] == T.isoformat()
    rows = list(csv.reader(io.StringIO(render_info(INFO, "csv", header=True))))
    assert rows[0] == ["key", "value"]
    assert dict(rows[1:])["task_counts"] == '{"COMPLETED":2,"FAILED":1}'
    assert render_info(INFO, "table", keys=["status"]).strip() == "status  FAILED"


def test_real_history_renders_in_every_format() -> None:
    path = Path(__file__).resolve().parents[1] / "histories" / "failed.json"
    events = load_history_file(path).events
    rows = [row.as_dict() for row in task_rows(events)]
    columns = ["task_id", "state", "attempts", "error", "input", "details"]
    data = json.loads(render(rows, columns, "json", header=False))
    assert [d["state"] for d in data] == ["COMPLETED", "FAILED"]
    assert data[1]["details"]["message"] == "boom"
    assert "FAILED" in render(rows, columns, "table", header=True)
    info = json.loads(render_info(execution_info(events), "json"))
    assert info["status"] == "FAILED"
    assert info["input"] == {"args": [[3, 4]], "kwargs": {"strict": True}}


# -- durations and fitting a table to a terminal -----------------------------------------------

@pytest.mark.parametrize(("seconds", "text"), [
    (None, ""), (0, "0ms"), (0.0004, "0ms"), (0.25, "250ms"), (0.9996, "1.0s"), (4.24, "4.2s"),
    (15.6, "15.6s"), (59.96, "1m00s"), (185, "3m05s"), (3599.6, "1h00m"), (7260, "2h01m"),
    (90000, "1d01h"), (-1, "0ms"),
])
def test_format_duration(seconds, text) -> None:
    assert format_duration(seconds) == text
    assert len(text) <= 6


def test_durations_read_as_durations_in_tables_and_as_seconds_elsewhere() -> None:
    rows = [{"task_id": "t", "ran": Duration(185.0)}]
    assert render(rows, ["task_id", "ran"], "table").split() == ["t", "3m05s"]
    assert render(rows, ["task_id", "ran"], "csv") == "t,185\n"
    assert json.loads(render(rows, ["task_id", "ran"], "json")) == [{"task_id": "t",
                                                                     "ran": 185.0}]


FIT_ROWS = [{"id": "i" * 30, "name": "n" * 30, "error": "e" * 40},
            {"id": "j" * 30, "name": "short", "error": None}]


def test_fitting_shrinks_only_cuttable_columns_widest_first() -> None:
    lines = render_table(FIT_ROWS, ["id", "name", "error"], header=True,
                         cuttable=("name", "error"), max_width=80).splitlines()
    assert max(len(line) for line in lines) == 80
    assert lines[1].startswith("i" * 30 + "  ")  # the id is whole
    name, error = lines[1][32:].split("  ")
    assert name.endswith(ELLIPSIS) and error.endswith(ELLIPSIS)
    assert abs(len(name) - len(error)) <= 1  # the room was shared, widest first
    assert lines[2].split() == ["j" * 30, "short"]


def test_fitting_never_cuts_below_the_floor_nor_an_uncuttable_column() -> None:
    lines = render_table(FIT_ROWS, ["id", "name", "error"], header=True,
                         cuttable=("name", "error"), max_width=20).splitlines()
    assert lines[1] == "i" * 30 + "  " + "n" * (MIN_CUT_WIDTH - 1) + ELLIPSIS + "  " + (
        "e" * (MIN_CUT_WIDTH - 1) + ELLIPSIS)
    untouched = render_table(FIT_ROWS, ["id", "name", "error"], header=True,
                             cuttable=("name", "error"), max_width=200)
    assert ELLIPSIS not in untouched


def test_labels_name_the_header_cells() -> None:
    out = render_table([{"running": 2.5}], ["running"], header=True,
                       labels={"running": "running(s)"})
    assert out.splitlines() == ["running(s)", "       2.5"]


def test_terminal_width_comes_from_columns_or_is_unset_when_piped(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "91")
    assert terminal_width() == 91
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert terminal_width() is None
