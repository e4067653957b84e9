"""Rows and key/value records as text: `table` for people, `csv` and `json` for programs.

Tables cut long cells (a task's input can be 32 KB) and flatten newlines so one row stays one
line; csv and json never cut anything, because a program reading them needs the whole value.
A table can also be fitted to a terminal's width: only the columns named as cuttable give up
room, so ids stay whole and can be pasted into the next command. JSON keeps structured values
(decoded inputs and results) as JSON, datetimes as ISO 8601 and durations as seconds.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

FORMATS = ("table", "csv", "json")

#: Widest a table cell gets before it is cut with an ellipsis.
TABLE_CELL_WIDTH = 48
#: Info values sit one per line, so they may be much wider.
INFO_VALUE_WIDTH = 200
ELLIPSIS = "…"
#: A cuttable column keeps at least this many characters when a table is fitted to a width.
MIN_CUT_WIDTH = 12


#: The longest reason printed on a terminal; a longer one (a 50 MB exception message) is cut,
#: its whole text staying in the run's failure details (`workflow.info`).
MAX_REASON_LINE = 2000


def one_line(text: str | None) -> str:
    """A reason fit for one stderr line (cut at MAX_REASON_LINE characters)."""
    if text and len(text) > MAX_REASON_LINE:
        size = len(text)
        text = text[: MAX_REASON_LINE * 2]  # never split a 50 MB string into words
        line = " ".join(text.split())[:MAX_REASON_LINE]
        return f"{line}… ({size} characters; the whole text is in the failure details)"
    return " ".join((text or "").split()) or "no reason given"


class Duration(float):
    """Seconds shown the way people read them (`850ms`, `4.2s`, `3m05s`, `2h01m`) in tables.

    csv and json see the plain number of seconds.
    """


def format_duration(seconds: float | None) -> str:
    """A duration in at most six characters, precise where it matters (short ones)."""
    if seconds is None:
        return ""
    seconds = max(float(seconds), 0.0)
    if seconds < 1:
        return f"{round(seconds * 1000)}ms" if seconds < 0.9995 else "1.0s"
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def terminal_width() -> int | None:
    """COLUMNS if set, else the width of the terminal stdout is; None when stdout is no terminal.

    Output piped to a file or another program is not cut to any width.
    """
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def json_value(value: Any) -> Any:
    """A value as JSON-ready data: datetimes to ISO 8601, durations to seconds."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Duration):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def text_value(value: Any) -> str:
    """A value as one untruncated string, the same for table and csv cells."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        return format_duration(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    if isinstance(value, str | int):
        return str(value)
    return json.dumps(json_value(value), ensure_ascii=False, separators=(",", ":"))


def truncate(text: str, width: int | None) -> str:
    """One line of at most `width` characters, cut with … (never cut when width is None)."""
    text = text.replace("\r\n", "\n").replace("\n", "⏎").replace("\t", " ")
    if width is None or len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | timedelta) and not isinstance(value, bool)


def render_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], header: bool = False,
                 width: int | None = TABLE_CELL_WIDTH, *,
                 labels: Mapping[str, str] | None = None,
                 cuttable: Collection[str] | None = None,
                 max_width: int | None = None) -> str:
    """Aligned columns, two spaces apart; numbers right-aligned, text left-aligned.

    `width` caps every cell of the `cuttable` columns (all columns when None); the others are
    never cut. `labels` are the header texts (default: the column names). With `max_width`, the
    widest cuttable columns give up room, down to MIN_CUT_WIDTH each, until a line fits; if the
    uncut columns alone are wider, the line is as wide as they need.
    """
    cut = set(columns if cuttable is None else cuttable)
    titles = [(labels or {}).get(col, col) for col in columns]
    texts = [[text_value(row.get(col)) for col in columns] for row in rows]
    cells = [[truncate(text, width if col in cut else None) for text, col in zip(
        line, columns, strict=True)] for line in texts]
    numeric = [all(_is_number(row.get(col)) or row.get(col) is None for row in rows) and
               any(row.get(col) is not None for row in rows) for col in columns]
    widths = [len(title) if header else 0 for title in titles]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    if max_width is not None and cells:
        widths = _fit(widths, titles if header else None, columns, cut, max_width)
        cells = [[truncate(text, w) if col in cut else text for text, col, w in zip(
            line, columns, widths, strict=True)] for line in cells]
    out = []
    if header:
        out.append("  ".join(truncate(title, w).ljust(w) if col in cut else title.ljust(w)
                             for title, col, w in zip(titles, columns, widths, strict=True)))
    for line in cells:
        out.append("  ".join(c.rjust(w) if num else c.ljust(w)
                             for c, w, num in zip(line, widths, numeric, strict=True)))
    return "\n".join(s.rstrip() for s in out) + ("\n" if out else "")


def _fit(widths: list[int], titles: list[str] | None, columns: Sequence[str],
         cut: Collection[str], max_width: int) -> list[int]:
    """Column widths whose sum (with two-space gaps) fits `max_width`, shrinking cuttable ones."""
    widths = list(widths)
    floors = [min(w, max(MIN_CUT_WIDTH, len(titles[i]) if titles else 0)) if col in cut else w
              for i, (w, col) in enumerate(zip(widths, columns, strict=True))]
    excess = sum(widths) + 2 * (len(widths) - 1) - max_width
    while excess > 0:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
               header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([text_value(_seconds_if_duration(row.get(col))) for col in columns])
    return buffer.getvalue()


def _seconds_if_duration(value: Any) -> Any:
    return float(value) if isinstance(value, Duration) else value


def render_json(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    data = [{col: json_value(row.get(col)) for col in columns} for row in rows]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "table",
           header: bool = False, **table_options: Any) -> str:
    """Rows (dicts) limited to `columns`, as `table`, `csv` or `json` (which ignores header).

    `table_options` (labels, cuttable, max_width, width) go to `render_table` only.
    """
    if fmt == "table":
        return render_table(rows, columns, header, **table_options)
    if fmt == "csv":
        return render_csv(rows, columns, header)
    if fmt == "json":
        return render_json(rows, columns)
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


def render_info(record: Mapping[str, Any], fmt: str = "table", header: bool = False,
                keys: Sequence[str] | None = None, width: int | None = INFO_VALUE_WIDTH) -> str:
    """One record as key/value pairs: aligned `key  value` lines, `key,value` csv, or an object.

    JSON keeps nested values nested; table and csv show them as compact JSON.
    """
    keys = list(record) if keys is None else list(keys)
    if fmt == "json":
        return json.dumps({k: json_value(record.get(k)) for k in keys}, indent=2,
                          ensure_ascii=False) + "\n"
    pairs = [{"key": k, "value": record.get(k)} for k in keys]
    if fmt == "csv":
        return render_csv(pairs, ["key", "value"], header)
    if fmt == "table":
        key_width = max((len(k) for k in keys), default=0)
        lines = [f"{k.ljust(key_width)}  {truncate(text_value(record.get(k)), width)}".rstrip()
                 for k in keys]
        return "\n".join(lines) + ("\n" if lines else "")
    raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")
