"""Signals: wait for outside input, matched by content, with nothing lost if it came early.

    replayflow workflow.start --local examples.signals.ApprovalWorkflow --input '[["o-1", "o-2"]]'
    # prints {"o-1": "approved", "o-2": "rejected"}

In production an approver sends the signal from outside:

    replayflow workflow.signal --domain D <workflow-id> approval \
        --input '{"order": "o-1", "approved": true}'

and the workflow is started with `self_approve` false (`--input '{"orders": ["o-1"],
"self_approve": false}'`). So that this example runs on its own, by default the workflow first
sends the signals to itself (`self.signal` with no workflow_id), in the opposite order from the
one it waits in: each `wait_signal(..., match=...)` still gets the answer for its own order.
"""

from replayflow import Workflow


class ApprovalWorkflow(Workflow):
    name = "signals"
    version = "example"
    task_list = "example"

    def run(self, orders, self_approve=True):
        for order in reversed(orders if self_approve else []):  # stand-in for the approvers
            self.signal("approval", {"order": order, "approved": order != "o-2"})
        outcome = {}
        for order in orders:
            answer = self.wait_signal("approval", match={"order": order}).result
            outcome[order] = "approved" if answer["approved"] else "rejected"
        return outcome
