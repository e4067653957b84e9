"""`replayflow console`: a REST API and a web page over the runs of a domain or history files.

`create_app(runs)` builds the ASGI app (Starlette); `FileRuns` and `SwfRuns` are the two sources
of runs. The page under `static/` is plain ES modules with nothing loaded from elsewhere.
"""

from __future__ import annotations

from .app import create_app
from .runs import FileRuns, Runs, SwfRuns

__all__ = ["FileRuns", "Runs", "SwfRuns", "create_app"]
