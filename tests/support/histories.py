"""Load the SWF-shaped history fixtures in tests/histories/ as boto3-shaped events."""

from __future__ import annotations

from pathlib import Path

from replayflow.history import load_history_file

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def load_events(name: str) -> list[dict]:
    return load_history_file(HISTORIES / f"{name}.json").events


def engine_view(events: list[dict], operation: str = "GetWorkflowExecutionHistory") -> list[dict]:
    """The events as the decider gets them: sent as SWF's wire JSON and parsed by our SWF
    client's history parser in the engine's view (epoch timestamps, only what the engine
    reads)."""
    import json

    import botocore.session

    from replayflow.backends.swf import _for_engine, _parse_history_response
    from replayflow.history import events_to_wire

    model = botocore.session.get_session().get_service_model("swf").operation_model(operation)
    response = {"body": json.dumps({"events": events_to_wire(events)}).encode(), "headers": {},
                "status_code": 200}
    parsed: dict = {}
    with _for_engine(True):
        _parse_history_response(response_dict=response, customized_response_dict=parsed,
                                operation_model=model)
    return parsed["events"]
