"""Cancellation: a deadline cancels a running activity and a child workflow, which clean up.

    replayflow workflow.start --local examples.cancellation.DeadlineWorkflow --input '[1]'
    # prints {"crawl": "cancelled", "report": "cancelled"}

- `future.cancel()` on an activity sends RequestCancelActivityTask; the running activity learns
  of it from `activity.context().heartbeat()` (or `.cancel_requested`), cleans up and raises
  (here `TaskCancelled`): the task is then reported canceled. An activity that ignores the
  request and returns is reported completed, on SWF and locally alike.
- On a child workflow it sends RequestCancelExternalWorkflowExecution: the child's `run()` gets
  `WorkflowCancelled` where it is blocked, its cleanup runs, and it closes as CANCELED.
- `replayflow workflow.cancel` (or SWF's RequestCancelWorkflowExecution) does the same to a
  top-level workflow.
"""

import time

from replayflow import Workflow, activity, futures
from replayflow.errors import TaskCancelled, WorkflowCancelled


@activity.with_attributes(task_list="quickstart", version="example", heartbeat_timeout=30)
def crawl(site):
    ctx = activity.context()
    deadline = time.monotonic() + 60  # a long job; a deadline cancels it well before
    while time.monotonic() < deadline:
        if ctx.heartbeat(f"crawling {site}"):
            # the cleanup point; raising acknowledges the cancel: SWF records
            # ActivityTaskCanceled (a normal return would be recorded as completed)
            raise TaskCancelled(ctx.task_id, "stopped early")
        time.sleep(0.02)
    return "crawled"


@activity.with_attributes(task_list="quickstart", version="example")
def delete_draft(name):
    return f"deleted {name}"


class ReportWorkflow(Workflow):
    name = "cancellation-report"
    version = "example"
    task_list = "example"

    def run(self):
        try:
            return self.wait_signal("data-ready").result  # never sent in this example
        except WorkflowCancelled:
            futures.wait(self.submit(delete_draft, "draft"))  # cleanup still schedules work
            self.record_marker("cleaned-up")
            raise  # the workflow then closes as CANCELED


class DeadlineWorkflow(Workflow):
    name = "cancellation"
    version = "example"
    task_list = "example"

    def run(self, seconds=1):
        crawl_job = self.submit(crawl, "example.org")
        report = self.submit(ReportWorkflow)
        deadline = self.start_timer("deadline", seconds)
        futures.wait(deadline)  # the deadline passes before either finishes
        crawl_job.cancel()
        report.cancel()
        futures.wait(crawl_job, report)
        return {"crawl": "cancelled" if crawl_job.cancelled else "finished",
                "report": "cancelled" if report.cancelled else "finished"}
