"""Timers: a durable sleep, and a deadline timer raced against an activity and then cancelled.

    replayflow workflow.start --local examples.timers.TimerWorkflow --input '[1]'
    # prints {"slept_seconds": 1, "report": "report for 2 items", "deadline": "cancelled"}

`self.sleep()` and `self.start_timer()` are StartTimer decisions: the wait survives a decider
restart, and no process sits idle during it. Timers have whole-second resolution on SWF.
"""

from replayflow import Workflow, activity, futures


@activity.with_attributes(task_list="quickstart", version="example")
def build_report(items):
    return f"report for {len(items)} items"


class TimerWorkflow(Workflow):
    name = "timers"
    version = "example"
    task_list = "example"

    def run(self, seconds=1):
        before = self.now()
        self.sleep(seconds)  # blocks run(), durably
        slept = (self.now() - before).total_seconds()

        # A deadline: whichever finishes first wins; the loser of a timer race is cancelled.
        deadline = self.start_timer("report-deadline", 60)
        report = self.submit(build_report, ["a", "b"])
        if futures.wait_any(report, deadline) is report:
            self.cancel_timer("report-deadline")
        futures.wait(deadline)  # resolves once SWF confirms the cancel (TimerCanceled)
        return {"slept_seconds": int(slept), "report": report.result,
                "deadline": "cancelled" if deadline.cancelled else "fired"}
