"""replayflow: durable, distributed workflows on Amazon SWF, written as plain Python.

Authors use `Workflow`, `activity`, `futures`, `canvas` and `errors`; everything else is machinery.
"""

from . import activity, errors, futures, policy
from .__about__ import __version__
from .futures import Future
from .workflow import Workflow

__all__ = [
    "Future",
    "Workflow",
    "__version__",
    "activity",
    "errors",
    "futures",
    "policy",
]
