"""A long loop that stays small: continue as new whenever the history grows long.

    replayflow workflow.start --local examples.long_loop.TickerWorkflow --input '[3000]'
    # prints {"runs": 4, "ticks": 3000, "total": 13495500}

SWF ends a run whose history reaches 25,000 events (each step of this loop takes 6), and the
decider and workflow.info warn from 10,000 on. The loop asks `self.history_length()` (the events
so far, the same on every replay) after each step, and past `EVENTS_PER_RUN` it carries its state
over to a fresh run with `self.continue_as_new(...)`: the workflow id stays, the history starts
again.
Compare examples/continue_as_new.py, which continues after a fixed number of items.
"""

from replayflow import Workflow, activity

#: Well under SWF's 25,000 and replayflow's warning at 10,000: a full replay stays quick too.
EVENTS_PER_RUN = 5_000


@activity.with_attributes(task_list="quickstart", version="example")
def tick(n):
    return n * 3  # stands in for one unit of work


class TickerWorkflow(Workflow):
    name = "long-loop"
    version = "example"
    task_list = "example"

    def run(self, ticks, done=0, total=0, runs=1):
        while done < ticks:
            total += self.submit(tick, done).result
            done += 1
            if done < ticks and self.history_length() > EVENTS_PER_RUN:
                self.continue_as_new(ticks, done=done, total=total, runs=runs + 1)
        return {"ticks": ticks, "total": total, "runs": runs}
