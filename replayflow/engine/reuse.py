"""The reuse table of a repair run: what the engine may take from the run it repairs.

The engine's side of `replayflow.repair` (which reads the old history and starts the run): the
table's format, how a task is matched (task id, activity, SHA-256 of the encoded input), and the
marker a reused task records. Pure, so the engine can hold it.
"""

from __future__ import annotations

import hashlib
from typing import Any

#: The input keyword that carries the reuse table (taken out before `run()` sees the input).
REPAIR_KEY = "__replayflow_repair__"
#: The marker a reused task records in place of its ActivityTaskScheduled.
MARKER = "replayflow.repaired"


def input_digest(input_text: str) -> str:
    """What a task's input is matched by: the SHA-256 of its encoded input string."""
    return hashlib.sha256(input_text.encode("utf-8", "surrogatepass")).hexdigest()


class ReuseTable:
    """The reuse table a run was started with, checked once (it came from a history)."""

    __slots__ = ("from_run", "tasks")

    def __init__(self, from_run: str, tasks: dict[str, tuple[str, str, str | None]]) -> None:
        self.from_run = from_run
        #: task id -> (activity name, input digest, result as recorded).
        self.tasks = tasks

    @classmethod
    def from_option(cls, value: Any) -> ReuseTable:
        """The table from the run's input; ValueError, said plainly, if it is not one."""
        if not isinstance(value, dict) or not isinstance(value.get("tasks"), dict):
            raise ValueError(f"the run's {REPAIR_KEY} input is not a reuse table")
        tasks: dict[str, tuple[str, str, str | None]] = {}
        for task_id, entry in value["tasks"].items():
            if (not isinstance(entry, list) or len(entry) != 3
                    or not all(isinstance(part, str) for part in entry[:2])
                    or not isinstance(entry[2], str | None)):
                raise ValueError(f"the reuse table's entry for task {task_id!r} is not "
                                 "[activity name, input digest, result]")
            tasks[task_id] = (entry[0], entry[1], entry[2])
        from_run = value.get("from_run")
        return cls(from_run if isinstance(from_run, str) else "", tasks)

    def match(self, task_id: str, activity_name: str,
              input_text: str) -> tuple[str, str, str | None] | None:
        """The entry of `task_id` if it ran with this activity and this input, else None."""
        entry = self.tasks.get(task_id)
        if entry is None or entry[0] != activity_name or entry[1] != input_digest(input_text):
            return None
        return entry


__all__ = ["MARKER", "REPAIR_KEY", "ReuseTable", "input_digest"]
