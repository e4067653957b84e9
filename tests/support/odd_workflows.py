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


@activity.with_attributes(task_list="t")
def ratio(a, b):
    return a / b if b else float("nan")  # NaN: Python's json would write it, JSON has no such thing


class NanResultWorkflow(Workflow):
    """An activity produces NaN: its task fails there, instead of a result no reader can parse."""

    def run(self):
        return self.submit(ratio, 1, 0).result


class NanOwnResultWorkflow(Workflow):
    """run() itself returns Infinity."""

    def run(self):
        return {"total": float("inf")}


class NanInputWorkflow(Workflow):
    """run() submits a task with NaN in its input: refused at the submit."""

    def run(self):
        return self.submit(ratio, float("nan"), 1).result
