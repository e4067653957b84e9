"""Workflows for the security tests: they hand back what a signal or their input carried.

If a jumbo reference in a signal were read from anywhere, the run's result would carry the
object to whoever can read the run: these workflows are the shortest such path.
"""

from __future__ import annotations

from replayflow import Workflow

SIGNAL = "payload"


class EchoSignalWorkflow(Workflow):
    """Returns the input of the first `payload` signal."""

    name = "security-echo-signal"
    version = "1"
    task_list = "security"

    def run(self) -> object:
        return self.wait_signal(SIGNAL).result


class EchoInputWorkflow(Workflow):
    """Returns its own input."""

    name = "security-echo-input"
    version = "1"
    task_list = "security"

    def run(self, value: object = None) -> object:
        return value
