"""Retries: `flaky` fails on its first two attempts and succeeds on the third (retry=2).

    replayflow workflow.start --local examples.retry.RetryWorkflow --input '["/tmp/attempts"]'

The attempt number comes from `activity.context()`, so the example needs no shared state.
"""

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example", retry=2)
def flaky(label):
    attempt = activity.context().attempt
    if attempt < 3:
        raise RuntimeError(f"{label}: attempt {attempt} failed, as planned")
    return f"{label}: succeeded on attempt {attempt}"


class RetryWorkflow(Workflow):
    name = "retry"
    version = "example"
    task_list = "example"

    def run(self, label="flaky"):
        return self.submit(flaky, label).result
