"""The failure a waiting command prints: the failing task's traceback is found in the run's
history when the failure details lost it (a real in-process SWF holds the history)."""

from __future__ import annotations

from examples.failure import UnhandledFailureWorkflow
from replayflow.cli.workflow import with_task_traceback
from replayflow.local import LocalRunner


def failed_run() -> tuple[LocalRunner, object]:
    runner = LocalRunner(2)
    outcome = runner.run_until_closed(runner.start(UnhandledFailureWorkflow))
    assert outcome.status == "FAILED"
    return runner, outcome


def ids(outcome) -> tuple[str, str]:
    return outcome.workflow_id, outcome.run.run_id


def test_a_lost_traceback_is_read_from_the_history():
    runner, outcome = failed_run()
    whole = outcome.details
    assert "ZeroDivisionError" in whole["traceback"]
    cut = {key: value for key, value in whole.items() if key not in ("traceback", "error")}
    filled = with_task_traceback(runner.service, *ids(outcome), cut)
    assert filled == {**cut, "traceback": whole["traceback"]}


def test_details_that_have_a_traceback_or_name_no_task_are_kept():
    runner, outcome = failed_run()
    whole = outcome.details
    assert with_task_traceback(runner.service, *ids(outcome), whole) is whole
    for details in (None, "text", {"reason": "no task named"}):
        assert with_task_traceback(runner.service, *ids(outcome), details) is details


def test_an_unreadable_history_leaves_the_details_as_they_are():
    runner, outcome = failed_run()
    cut = {"task_id": outcome.details["task_id"], "reason": "r"}
    assert with_task_traceback(runner.service, outcome.workflow_id, "no-such-run", cut) is cut
