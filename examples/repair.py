"""Repair: run a failed workflow again, reusing the results its finished activities recorded.

    replayflow workflow.start --local examples.repair.ReportWorkflow --input '["/tmp/outbox"]' \
        --history-file failed.json
    # exits 1: publish failed, the outbox /tmp/outbox does not exist
    # mkdir /tmp/outbox, then:
    replayflow workflow.start --local examples.repair.ReportWorkflow --repair failed.json
    # {"published": "/tmp/outbox/report.txt", "reused": ["activity-...gather-1", ...]}

On SWF the same is `standalone --repair RUN_ID` (the failed run's id; its workflow id, input and
tags are read from its history):

    replayflow standalone --domain D examples.repair.ReportWorkflow --repair <run-id>

The repaired run records a `replayflow.repaired` marker for each reused task, and schedules only
what did not finish: here, publish.
"""

import os

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example")
def gather(source):
    return [f"{source}-{n}" for n in range(3)]


@activity.with_attributes(task_list="quickstart", version="example")
def summarise(rows):
    return f"{len(rows)} rows: {', '.join(rows)}"


@activity.with_attributes(task_list="quickstart", version="example")
def publish(outbox, text):
    if not os.path.isdir(outbox):
        raise FileNotFoundError(f"the outbox {outbox} does not exist")
    path = os.path.join(outbox, "report.txt")
    with open(path, "w") as out:
        out.write(text + "\n")
    return path


class ReportWorkflow(Workflow):
    name = "report"
    version = "example"
    task_list = "example"

    def run(self, outbox, source="sales"):
        rows = self.submit(gather, source)
        text = self.submit(summarise, rows)
        path = self.submit(publish, outbox, text).result
        reused = [marker.details["task_id"] for marker in self.list_markers()
                  if marker.name == "replayflow.repaired"]
        return {"published": path, "reused": reused}
