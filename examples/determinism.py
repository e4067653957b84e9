"""Determinism: the clock, randomness and ids a workflow may use, and how to test a change.

    replayflow workflow.start --local examples.determinism.RaffleWorkflow \
        --input '[["ann", "bob", "cid"]]'
    # prints {"winner": ..., "ticket": ..., "drawn_at": ...}

`run()` is replayed from the history, so it must make the same decisions every time:
- use `self.now()`, `self.random()` and `self.uuid4()`, never `datetime.now()`, `random` or
  `uuid`; they return the same values on every replay of a run;
- never reorder, remove or change the inputs of tasks that running executions already made:
  the decider then stops with NonDeterministicWorkflow (naming the task and the difference) and
  leaves the decision task to be retried after a fix, rather than corrupting the execution.

Protect deployments with a unit test that replays recorded histories against the new code:

    from replayflow.testing import replay
    replay("tests/histories/raffle.json", RaffleWorkflow)   # raises NonDeterministicWorkflow

Record one with `replayflow workflow.start --local ... --history-file raffle.json`.
"""

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example")
def notify(name, ticket):
    return f"{name} wins with ticket {ticket}"


class RaffleWorkflow(Workflow):
    name = "determinism"
    version = "example"
    task_list = "example"

    def run(self, people):
        winner = self.random().choice(sorted(people))
        ticket = str(self.uuid4())[:8]
        message = self.submit(notify, winner, ticket).result
        return {"winner": winner, "ticket": ticket, "message": message,
                "drawn_at": self.now().isoformat()}
