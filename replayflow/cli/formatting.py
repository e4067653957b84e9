"""Rows and key/value records as text: `table` for people, `csv` and `json` for programs.

Tables cut long cells (a task's input can be 32 KB) and flatten newlines so one row stays one
line; csv and json never cut anything, because a program reading them needs the whole value.
JSON keeps structured values (decoded inputs and results) as JSON, datetimes as ISO 8601 and
durations as seconds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

FORMATS = ("table", "csv", "json")

#: Widest a table cell gets before it is cut with an ellipsis.
TABLE_CELL_WIDTH = 48
#: Info values sit one per line, so they may be much wider.
INFO_VALUE_WIDTH = 200
ELLIPSIS = "…"


def json_value(value: Any) -> Any:
    """A value as JSON-ready data: datetimes to ISO 8601, durations to seconds."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
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
                 width: int | None = TABLE_CELL_WIDTH) -> str:
    """Aligned columns, two spaces apart; numbers right-aligned, text left-aligned."""
    cells = [[truncate(text_value(row.get(col)), width) for col in columns] for row in rows]
    numeric = [all(_is_number(row.get(col)) or row.get(col) is None for row in rows) and
               any(row.get(col) is not None for row in rows) for col in columns]
    widths = [len(col) if header else 0 for col in columns]
    for line in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, line, strict=True)]
    out = []
    if header:
        out.append("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)))
    for line in cells:
        out.append("  ".join(c.rjust(w) if num else c.ljust(w)
                             for c, w, num in zip(line, widths, numeric, strict=True)))
    return "\n".join(s.rstrip() for s in out) + ("\n" if out else "")


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str],
               header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(columns)
    for row in rows:
        writer.writerow([text_value(row.get(col)) for col in columns])
    return buffer.getvalue()


def render_json(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    data = [{col: json_value(row.get(col)) for col in columns} for row in rows]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], fmt: str = "table",
           header: bool = False) -> str:
    """Rows (dicts) limited to `columns`, as `table`, `csv` or `json` (which ignores header)."""
    if fmt == "table":
        return render_table(rows, columns, header)
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
