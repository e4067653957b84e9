"""Which tasks fed which: the data dependencies a decision records in its `control` field.

When a task is scheduled with futures among its arguments, the engine writes the ids of the tasks
that produced them into the decision's `control` field. SWF keeps `control` in the history and
never hands it to a worker, so any run's dataflow graph can be rebuilt from its history alone,
including runs no console watched. The format is written here and read here (one rule, one place):

    {"deps": ["activity-mod.f-3", ["activity-mod.square-", 1, 1000]], "more": 0}

A list item `[prefix, first, last]` stands for `prefix + n` for every n from first to last, so a
fan-in over a thousand `map()` tasks stays a few dozen characters. A child workflow's `control`
also names the child's task id (`"task"`), and is that id alone, as plain text, when the child has
no dependencies. The text is kept under `MAX_CONTROL_CHARS`, well below SWF's 32,768, so it never
becomes a jumbo field nor fails a run: ids that do not fit are counted in `"more"` instead.
Histories written before this existed have no such field; they draw with no edges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

#: The largest `control` text written for dependencies; the rest is only counted.
MAX_CONTROL_CHARS = 8192

_NUMBERED = re.compile(r"^(.*-)([1-9][0-9]{0,8})$")


def _compact(task_ids: Iterable[str]) -> list[str | list]:
    """Ids in order, each run of consecutive `prefix-n` ids folded into `[prefix, first, last]`."""
    out: list[str | list] = []
    for task_id in task_ids:
        match = _NUMBERED.match(task_id)
        if match is None:
            out.append(task_id)
            continue
        prefix, n = match.group(1), int(match.group(2))
        last = out[-1] if out else None
        if isinstance(last, list) and last[0] == prefix and last[2] + 1 == n:
            last[2] = n
        elif isinstance(last, str) and last == f"{prefix}{n - 1}":
            out[-1] = [prefix, n - 1, n]
        else:
            out.append(task_id)
    return out


def dependencies_control(dependency_ids: Iterable[str], task_id: str | None = None) -> str:
    """The `control` text naming `dependency_ids` (duplicates and empty ids dropped)."""
    seen: dict[str, None] = {}
    for dep in dependency_ids:
        if dep:
            seen.setdefault(dep)
    items = _compact(seen)
    data: dict[str, object] = {"deps": items}
    if task_id is not None:
        data["task"] = task_id
    text = json.dumps(data, separators=(",", ":"))
    if len(text) <= MAX_CONTROL_CHARS:
        return text
    more = 0
    while items and len(text) > MAX_CONTROL_CHARS:
        # Halve what is kept until it fits: a few passes even for tens of thousands of ids.
        keep = len(items) // 2
        dropped = items[keep:]
        items = items[:keep]
        more += sum(d[2] - d[1] + 1 if isinstance(d, list) else 1 for d in dropped)
        data["deps"] = items
        data["more"] = more
        text = json.dumps(data, separators=(",", ":"))
    return text


def read_control(control: str | None) -> tuple[str | None, list[str]]:
    """(task id or None, dependency ids) read from a `control` field.

    Tolerant by design: a history may come from anyone, so anything unexpected reads as "no
    dependencies" rather than an error. Nothing in it is ever evaluated.
    """
    if not control:
        return None, []
    if not control.startswith("{"):
        return control, []  # a child's plain task id, or some other decider's own text
    try:
        data = json.loads(control)
    except ValueError:
        return None, []
    if not isinstance(data, dict):
        return None, []
    task_id = data.get("task") if isinstance(data.get("task"), str) else None
    items = data.get("deps")
    deps: list[str] = []
    for item in items if isinstance(items, list) else ():
        if isinstance(item, str):
            deps.append(item)
        elif (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
              and all(isinstance(n, int) and not isinstance(n, bool) for n in item[1:])):
            first, last = item[1], item[2]
            if 0 <= first <= last and last - first < 1_000_000:
                deps.extend(f"{item[0]}{n}" for n in range(first, last + 1))
    return task_id, deps


__all__ = ["MAX_CONTROL_CHARS", "dependencies_control", "read_control"]
