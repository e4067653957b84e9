"""Workflows that move payloads over SWF's 32,768-character limit, for the jumbo end-to-end tests.

A payload is made from its size alone (`make_payload`), so the test process can compute the
expected digest without shipping the payload anywhere; activities report a digest (length and
sha256), so a 50 MB round trip is checked without printing 50 MB.
"""

from __future__ import annotations

import hashlib

from replayflow import Workflow, activity
from replayflow.errors import TaskFailed

TASK_LIST = "jumbo-activities"
SIGNAL = "payload"


def make_payload(size: int) -> str:
    """`size` characters of non-repeating-looking ASCII: a truncation or a swap changes the hash."""
    block = "".join(f"{i:08x}" for i in range(4096))  # 32 KiB, every 8-char group distinct
    return (block * (size // len(block) + 1))[:size]


def digest_of(text: str) -> dict:
    return {"length": len(text), "sha256": hashlib.sha256(text.encode()).hexdigest()}


@activity.with_attributes(task_list=TASK_LIST, version="1")
def produce(size: int) -> str:
    return make_payload(size)


@activity.with_attributes(task_list=TASK_LIST, version="1")
def digest(payload: str) -> dict:
    return digest_of(payload)


@activity.with_attributes(task_list=TASK_LIST, version="1")
def explode(size: int) -> None:
    raise ValueError(make_payload(size))


class InputWorkflow(Workflow):
    """A big workflow input, handed on to an activity (decider decodes, then re-encodes)."""

    name = "jumbo-input"
    version = "1"
    task_list = "jumbo"

    def run(self, payload: str) -> dict:
        return self.submit(digest, payload).result


class ResultWorkflow(Workflow):
    """A big activity result, passed as the input of the next activity."""

    name = "jumbo-result"
    version = "1"
    task_list = "jumbo"

    def run(self, size: int) -> dict:
        return self.submit(digest, self.submit(produce, size)).result


class FailureWorkflow(Workflow):
    """A failure whose message is `size` characters; what the TaskFailed carries, digested."""

    name = "jumbo-failure"
    version = "1"
    task_list = "jumbo"

    def run(self, size: int) -> dict:
        try:
            value = self.submit(explode, size).result
        except TaskFailed as failure:
            details = failure.details if isinstance(failure.details, dict) else {}
            return {
                "error_type": failure.error_type,
                "message": digest_of(failure.message or ""),
                "details_message": digest_of(details.get("message") or ""),
                "reason_prefix": (failure.reason or "")[:20],
                "reason_length": len(failure.reason or ""),
                "traceback_tail": digest_of((failure.traceback or "").rstrip()[-size:]),
            }
        return {"error_type": None, "value": value}


class UnhandledFailureWorkflow(Workflow):
    """The same failure left unhandled: the workflow fails, its details keep the whole text."""

    name = "jumbo-failure-unhandled"
    version = "1"
    task_list = "jumbo"

    def run(self, size: int) -> None:
        return self.submit(explode, size).result


class SignalWorkflow(Workflow):
    """A big signal input: from outside, or (`size` given) sent to itself (not on moto)."""

    name = "jumbo-signal"
    version = "1"
    task_list = "jumbo"

    def run(self, size: int | None = None) -> dict:
        if size is not None:
            self.signal(SIGNAL, self.submit(produce, size).result)
        return self.submit(digest, self.wait_signal(SIGNAL)).result


class DecidedWorkflow(Workflow):
    """A big field the decider itself writes: an activity input, or (`as_result`) its result."""

    name = "jumbo-decided"
    version = "1"
    task_list = "jumbo"

    def run(self, size: int, as_result: bool = False) -> dict | str:
        if as_result:
            return make_payload(size)
        return self.submit(digest, make_payload(size)).result
