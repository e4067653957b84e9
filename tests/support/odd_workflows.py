"""Small workflows for edge cases of the core API (used by unit and CLI tests)."""

from replayflow import Workflow, activity, futures


@activity.with_attributes(task_list="t", idempotent=True)
def lookup(key):
    return f"value-of-{key}"


@activity.with_attributes(task_list="t")
def make_set():
    return {1, 2, 3}  # not JSON-serialisable


class IdempotentWorkflow(Workflow):
    def run(self):
        fs = [self.submit(lookup, "a"), self.submit(lookup, "b"), self.submit(lookup, "a")]
        futures.wait(*fs)
        return [f.result for f in fs]


class UnserialisableResultWorkflow(Workflow):
    def run(self):
        return self.submit(make_set).result


class AsCompletedWorkflow(Workflow):
    def run(self, n):
        order = []
        for f in futures.as_completed(self.map(lookup, [str(i) for i in range(n)])):
            order.append(f.result)
        return sorted(order)
