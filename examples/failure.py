"""Failures are never swallowed: handle them where you can, and the rest fail the workflow.

    replayflow workflow.start --local examples.failure.HandledFailureWorkflow   # prints a dict
    replayflow workflow.start --local examples.failure.UnhandledFailureWorkflow  # exits 1
"""

from replayflow import Workflow, activity
from replayflow.errors import TaskFailed


@activity.with_attributes(task_list="quickstart", version="example")
def divide(a, b):
    return a / b


@activity.with_attributes(task_list="quickstart", version="example", raises_on_failure=False)
def optional_divide(a, b):
    return a / b


class HandledFailureWorkflow(Workflow):
    name = "failure-handled"
    version = "example"
    task_list = "example"

    def run(self):
        try:
            quotient = self.submit(divide, 1, 0).result
            handled = {"task": None, "error": None, "quotient": quotient}
        except TaskFailed as failure:
            handled = {"task": failure.task_id, "error": failure.error_type}
        # raises_on_failure=False: .result is None, .exception keeps the failure.
        quiet = self.submit(optional_divide, 1, 0)
        return {"handled": handled, "quiet_result": quiet.result,
                "quiet_error": quiet.exception.error_type}


class UnhandledFailureWorkflow(Workflow):
    name = "failure-unhandled"
    version = "example"
    task_list = "example"

    def run(self):
        return self.submit(divide, 1, 0).result
