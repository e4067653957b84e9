"""Workflows whose runs the console tests draw: futures passed between tasks, and a failure."""

from __future__ import annotations

from replayflow import Workflow, activity


@activity.with_attributes(task_list="console", version="1")
def load(n):
    return list(range(1, n + 1))


@activity.with_attributes(task_list="console", version="1")
def square(values, i):
    return values[i] * values[i]


@activity.with_attributes(task_list="console", version="1")
def total(squares):
    return sum(squares)


@activity.with_attributes(task_list="console", version="1")
def check(value, limit):
    if value > limit:
        raise ValueError(f"total {value} is over {limit}")
    return value


class DataflowWorkflow(Workflow):
    """load -> n squares -> total -> check: 3 + n tasks, 3n edges; check fails past `limit`."""

    version = "1"  # no name: the type is the import path, so replay tests find the class
    task_list = "console"

    def run(self, n, limit=1000):
        values = self.submit(load, n)
        squares = [self.submit(square, values, i) for i in range(n)]
        return self.submit(check, self.submit(total, squares), limit).result


class FanoutWorkflow(Workflow):
    """n independent squares of one type, summed: a run wide enough to be drawn grouped."""

    version = "1"
    task_list = "console"

    def run(self, n):
        values = self.submit(load, n)
        squares = [self.submit(square, values, i) for i in range(n)]
        return self.submit(total, squares).result


class SumChild(Workflow):
    version = "1"

    def run(self, values):
        return self.submit(total, values).result


class ChildFedWorkflow(Workflow):
    """A child workflow that takes a future: the child's control names both."""

    version = "1"

    def run(self, n):
        return self.submit(SumChild, self.submit(load, n)).result
