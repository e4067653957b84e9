"""Failure policy: decide per task what a failure means, instead of failing the workflow.

    replayflow workflow.start --local examples.failure_policy.ResilientWorkflow
    # prints {"mirror": "fetched from mirror on attempt 2", "thumbnail": null}

`on_task_failure(failure)` is called when a task has failed after its own retries. It returns
a policy from `replayflow.policy`: `RetryNow()`, `RetryAfter(seconds)` (a durable timer, then
another attempt), `Ignore(result)` (the task counts as finished with `result`), `FailWorkflow()`;
or None to let the failure reach `run()` as usual.
"""

from replayflow import Workflow, activity, policy


@activity.with_attributes(task_list="quickstart", version="example")
def fetch(source):
    attempt = activity.context().attempt
    if attempt < 2:
        raise ConnectionError(f"{source} is busy (attempt {attempt})")
    return f"fetched from {source} on attempt {attempt}"


@activity.with_attributes(task_list="quickstart", version="example")
def make_thumbnail(name):
    raise ValueError(f"{name} is not an image")


class ResilientWorkflow(Workflow):
    name = "failure-policy"
    version = "example"
    task_list = "example"

    def run(self):
        mirror = self.submit(fetch, "mirror")
        thumb = self.submit(make_thumbnail, "notes.txt")
        return {"mirror": mirror.result, "thumbnail": thumb.result}

    def on_task_failure(self, failure):
        if failure.name.endswith(".fetch") and failure.attempt < 3:
            return policy.RetryAfter(1)  # a busy server: wait a second, then retry
        if failure.name.endswith(".make_thumbnail"):
            return policy.Ignore(None)  # a thumbnail is optional
        return policy.FailWorkflow()
