"""The quickstart: three activities, a data dependency, and a wait.

    replayflow workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'   # prints 4
"""

import time

from replayflow import Workflow, activity, futures


@activity.with_attributes(task_list="quickstart", version="example", retry=0,
                          start_to_close_timeout=300, heartbeat_timeout=None,
                          raises_on_failure=True, idempotent=False)
def increment(x):
    return x + 1


@activity.with_attributes(task_list="quickstart", version="example")
def double(x):
    return x * 2


@activity.with_attributes(task_list="quickstart", version="example")
def delay(t, x):
    time.sleep(t)
    return x


class BasicWorkflow(Workflow):
    name = "basic"
    version = "example"
    task_list = "example"

    def run(self, x, t=0):
        y = self.submit(increment, x)
        yy = self.submit(delay, t, y)  # y is a future: delay runs once increment is done
        z = self.submit(double, y)
        futures.wait(yy, z)
        return z.result
