"""Schemathesis against the console's own OpenAPI document, in-process through the ASGI app.

The path parameters carry a real run as their example, so the explicit-example phase reaches a
real run's info, tasks, profile, history, graph and events; generated values mostly hit 404s,
which must be JSON errors the document declares, never a 500.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from support.console import HISTORIES

from replayflow.console import FileRuns, create_app

APP = create_app(FileRuns([str(HISTORIES / f"{name}.json") for name in (
    "console_dataflow_failed", "console_dataflow_completed", "child_workflow", "open")]),
    token="t")
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case):
    excluded = []
    if case.query and case.query.get("page_token"):
        # An opaque token cannot be described by a schema: a made-up one is rightly a 400.
        excluded.append(positive_data_acceptance)
    case.call_and_validate(excluded_checks=excluded)


def test_the_examples_name_a_real_run():
    operation = schema["/api/executions/{workflow_id}/{run_id}/graph"]["GET"]
    case = operation.Case(path_parameters={"workflow_id": "dataflow-failed", "run_id": "latest"})
    response = case.call_and_validate()
    assert response.status_code == 200
    assert len(response.json()["nodes"]) == 6
