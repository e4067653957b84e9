"""Load the SWF-shaped history fixtures in tests/histories/ as boto3-shaped events."""

from __future__ import annotations

from pathlib import Path

from replayflow.history import load_history_file

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def load_events(name: str) -> list[dict]:
    return load_history_file(HISTORIES / f"{name}.json").events
