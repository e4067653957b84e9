"""Spacing the polls of several pollers on one task list, for servers without a long poll.

SWF holds an empty poll open until a task arrives (up to 60 s), so a new task is handed out at
once. moto has no long poll: it looks for a task when the poll arrives, then sleeps a fixed time
and answers empty. A task scheduled during that sleep waits for the next poll to arrive, and
pollers that drift into step (they do: each restarts right after the work a task caused) all
arrive together, leaving long blind spots. `PollSpacer` starts a poll that follows an empty one
at least cycle / pollers after the latest poll of the *other* pollers, where the cycle is the
measured length of an empty poll (1 s assumed until one is measured). A poll that follows a
task is never held back (tasks may be queued), nor is a lone poller. Empty polls that last
seconds are real long polls: no spacing at all then.
"""

from __future__ import annotations

import threading
import time

#: Empty polls longer than this are long polls (a task would have ended them): no spacing.
LONG_POLL_OVER = 5.0
#: The cycle assumed before an empty poll was measured (moto's own empty-poll sleep).
DEFAULT_CYCLE = 1.0
#: Never hold a poll back longer than this.
MAX_GAP = 0.5
_SMOOTHING = 0.2


class PollSpacer:
    """Shared by the pollers of one task list in one process; each poller has an index."""

    def __init__(self, pollers: int) -> None:
        self.pollers = max(1, int(pollers))
        self._changed = threading.Condition()
        self._starts: dict[int, float] = {}  # poller index -> its latest (planned) start
        self.cycle: float | None = None  # smoothed length of an empty poll, seconds

    def gap(self) -> float:
        """The spacing between two pollers' starts right now (0: none)."""
        cycle = DEFAULT_CYCLE if self.cycle is None else self.cycle
        if self.pollers < 2 or cycle >= LONG_POLL_OVER:
            return 0.0
        return min(cycle / self.pollers, MAX_GAP)

    def _plan(self, index: int, now: float, after_task: bool = False) -> float:
        gap = 0.0 if after_task else self.gap()
        others = [t + gap for i, t in self._starts.items() if i != index]
        start = max([now, *others]) if gap else now
        self._starts[index] = start
        return start

    def next_start(self, index: int, now: float | None = None, after_task: bool = False,
                   ) -> float:
        """Plan poller `index`'s next poll (monotonic time); returns when it may start."""
        with self._changed:
            return self._plan(index, time.monotonic() if now is None else now, after_task)

    def wait(self, index: int, stop: threading.Event, after_task: bool = False) -> None:
        """Sleep until poller `index` may poll (or `stop` is set); replanned once the first
        empty poll replaces the assumed cycle with a measured one."""
        with self._changed:
            measured = self.cycle is not None
            start = self._plan(index, time.monotonic(), after_task)
            while not stop.is_set():
                now = time.monotonic()
                if now >= start:
                    return
                self._changed.wait(min(start - now, 0.1))  # now and then: see `stop`
                if not measured and self.cycle is not None:
                    measured = True
                    start = self._plan(index, time.monotonic())

    def record_empty(self, seconds: float) -> None:
        """Feed the length of a poll that came back empty."""
        with self._changed:
            first = self.cycle is None
            self.cycle = seconds if first else self.cycle + _SMOOTHING * (seconds - self.cycle)
            if first:  # plans made on the assumed cycle are void: the waiting pollers replan
                now = time.monotonic()
                self._starts = {i: t for i, t in self._starts.items() if t <= now}
                self._changed.notify_all()


__all__ = ["PollSpacer"]
