"""Live progress on stderr while a run goes on (results stay on stdout).

On a terminal one status line is repainted in place: a spinner, the elapsed time, the task
counts and the last thing that happened. Anywhere else (a log, a CI job) one line is written per
change, so the output reads as a timeline. `--progress none` prints nothing.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from typing import IO

import click

from ..progress import Summary

MODES = ("auto", "plain", "none")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: How often the terminal line is repainted (the spinner and the clock move on their own).
REPAINT = 0.1

PROGRESS_OPTION = click.option(
    "--progress", type=click.Choice(MODES), default="auto", show_default=True,
    help="Progress on stderr: a live status line on a terminal, one line per change otherwise "
         "(auto); always one line per change (plain); nothing (none).")


def describe(summary: Summary) -> str:
    parts = [f"{summary.done} done"]
    for count, label in ((summary.running, "running"), (summary.waiting, "waiting"),
                         (summary.retrying, "retrying"), (summary.failed, "failed")):
        if count:
            parts.append(f"{count} {label}")
    text = ", ".join(parts)
    return f"{text}; last: {summary.last}" if summary.last else text


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:4.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class ProgressPrinter:
    """Receives summaries (`update`) and shows them in the chosen mode; `close()` at the end."""

    def __init__(self, mode: str = "auto", stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "live" if self.stream.isatty() and os.environ.get("TERM") != "dumb" \
                else "plain"
        self.mode = mode
        self.started = time.monotonic()
        self._summary: Summary | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._painted = False
        if self.mode == "live":
            self._thread = threading.Thread(target=self._repaint_loop, daemon=True,
                                            name="replayflow-progress")
            self._thread.start()

    def update(self, summary: Summary) -> None:
        with self._lock:
            changed = summary != self._summary
            self._summary = summary
        if changed and self.mode == "plain":
            elapsed = _elapsed(time.monotonic() - self.started).strip()
            print(f"[{elapsed}] {describe(summary)}", file=self.stream, flush=True)

    def _repaint_loop(self) -> None:
        frame = 0
        while not self._stop.wait(REPAINT):
            self._paint(SPINNER[frame % len(SPINNER)])
            frame += 1

    def _paint(self, spinner: str) -> None:
        with self._lock:
            summary = self._summary
        text = f"{spinner} {_elapsed(time.monotonic() - self.started)}  "
        text += describe(summary) if summary is not None else "starting"
        width = shutil.get_terminal_size((100, 20)).columns
        if len(text) > width - 1:
            text = text[: width - 2] + "…"
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._painted = True

    def close(self) -> None:
        """Stop repainting and leave the terminal on a clean line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1)
        if self._painted:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def progress_printer(mode: str) -> ProgressPrinter | None:
    """A printer for `--progress MODE`, or None for `none`."""
    return None if mode == "none" else ProgressPrinter(mode)


__all__ = ["PROGRESS_OPTION", "ProgressPrinter", "describe", "progress_printer"]
