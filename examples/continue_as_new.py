"""Continue-as-new: a long loop split into runs, each with a fresh, short history.

    replayflow workflow.start --local examples.continue_as_new.PagingWorkflow --input '[7, 3]'
    # prints {"pages": 7, "total": 28, "runs": 3}

An SWF history holds at most 25,000 events. A workflow that loops for months processes a batch,
then calls `self.continue_as_new(...)` with the state to carry over: this run closes as
CONTINUED_AS_NEW and a new run of the same workflow id starts with that input.
"""

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example")
def fetch_page(number):
    return number + 1  # stands in for "how many records page <number> holds"


class PagingWorkflow(Workflow):
    name = "continue-as-new"
    version = "example"
    task_list = "example"

    def run(self, pages, per_run, done=0, total=0, runs=1):
        stop = min(pages, done + per_run)
        for number in range(done, stop):
            total += self.submit(fetch_page, number).result
        if stop < pages:
            self.continue_as_new(pages, per_run, done=stop, total=total, runs=runs + 1)
        return {"pages": pages, "total": total, "runs": runs}
