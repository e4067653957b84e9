"""Load the SWF-shaped history fixtures in tests/histories/ as boto3-shaped events."""

from __future__ import annotations

from pathlib import Path

from replayflow.history import load_history_file

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def load_events(name: str) -> list[dict]:
    return load_history_file(HISTORIES / f"{name}.json").events


def engine_view(events: list[dict], operation: str = "GetWorkflowExecutionHistory") -> list[dict]:
    """The events as the decider gets them: sent as SWF's wire JSON and parsed by the SWF
    backend's history parser in the engine's view (epoch timestamps, only what the engine
    reads)."""
    import json

    import botocore.session

    from replayflow.backends.swf_history import HistoryView, parse_history
    from replayflow.history import events_to_wire

    model = botocore.session.get_session().get_service_model("swf").operation_model(operation)
    body = json.dumps({"events": events_to_wire(events)}).encode()
    return parse_history(model, body, HistoryView.ENGINE)["events"]
