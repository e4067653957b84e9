"""Fan-out and fan-in: `map` submits one activity per item; the sum waits for all of them.

    replayflow workflow.start --local examples.fanout.FanoutWorkflow --input '[10]'   # prints 285
"""

from replayflow import Workflow, activity, futures


@activity.with_attributes(task_list="quickstart", version="example")
def square(x):
    return x * x


@activity.with_attributes(task_list="quickstart", version="example")
def total(values):
    return sum(values)


class FanoutWorkflow(Workflow):
    name = "fanout"
    version = "example"
    task_list = "example"

    def run(self, n):
        squares = self.map(square, range(n))
        futures.wait(*squares)
        # A list of futures as an argument is a data dependency too.
        return self.submit(total, squares).result
