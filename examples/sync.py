"""Latches and semaphores across workflows: a batch waits for its parts, which share two GPUs.

    replayflow workflow.start --local examples.sync.BatchWorkflow --input '["nightly", 4]'
    # prints {"batch": "nightly", "models": ["nightly-0.model", "nightly-1.model",
    #         "nightly-2.model", "nightly-3.model"]}

`self.latch(name)` is a counter shared by every workflow that names it: the batch counts one up
per part before starting any, each part counts one down when its model is trained, and
`latch.countdown()` resolves once the count is back to zero. The waiting side need not be the
workflow that counted up: any workflow that knows the name can count down.

`with self.semaphore("example-gpu", permits=2, lease=600):` lets at most two parts train at a
time, whichever workflows they belong to; the others wait their turn, first come first served.
A part that dies inside the block gives its permit back when its lease (600 s) ends.

Each name is served by a coordinator workflow, `replayflow-sync.<name>`, which the first request
starts and which completes once nothing is counted, held or waited for. Its history is the
record of every operation: `replayflow workflow.history --domain D replayflow-sync.example-gpu`.
"""

import time

from replayflow import Workflow, activity

#: At most this many parts train at once, across every batch.
GPUS = 2


@activity.with_attributes(task_list="quickstart", version="example")
def train(batch, part):
    time.sleep(0.05)  # stands in for the work the semaphore rations
    return f"{batch}-{part}.model"


class PartWorkflow(Workflow):
    """Trains one part under a GPU permit, then counts itself off its batch's latch."""

    name = "sync-part"
    version = "example"
    task_list = "example"

    def run(self, batch, part):
        with self.semaphore("example-gpu", permits=GPUS, lease=600):
            model = self.submit(train, batch, part).result
        self.latch(f"batch-{batch}").release()
        return model


class BatchWorkflow(Workflow):
    """Starts one PartWorkflow per part and waits, on a latch, for all of them."""

    name = "sync-batch"
    version = "example"
    task_list = "example"

    def run(self, batch, parts):
        latch = self.latch(f"batch-{batch}")
        self.wait([latch.acquire() for _ in range(parts)])  # counted before any part releases
        children = [self.submit(PartWorkflow, batch, part) for part in range(parts)]
        self.wait(latch.countdown())
        return {"batch": batch, "models": [child.result for child in children]}
