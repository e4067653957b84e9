"""replayflow: durable, distributed workflows on Amazon SWF, written as plain Python.

Authors use `Workflow`, `activity`, `futures`, `canvas`, `shell` and `errors`; everything else is
machinery.
`replayflow.testing.replay` checks in a unit test that new code still replays recorded histories.
"""

from . import activity, canvas, errors, futures, policy, shell
from .__about__ import __version__
from .futures import Future
from .workflow import Workflow

__all__ = [
    "Future",
    "Workflow",
    "__version__",
    "activity",
    "canvas",
    "errors",
    "futures",
    "policy",
    "shell",
]
