"""PollSpacer plans (pure arithmetic on given clock values: no sleeping, no timing asserts)."""

from __future__ import annotations

import threading

from replayflow.polling import DEFAULT_CYCLE, MAX_GAP, PollSpacer


def test_a_lone_poller_is_never_held_back() -> None:
    spacer = PollSpacer(1)
    spacer.record_empty(0.05)
    assert spacer.next_start(0, now=10.0) == 10.0
    assert spacer.next_start(0, now=10.001) == 10.001


def test_pollers_are_spread_over_the_measured_cycle() -> None:
    spacer = PollSpacer(4)
    spacer.record_empty(0.04)
    starts = [spacer.next_start(i, now=1.0) for i in range(4)]
    assert starts == [1.0, 1.01, 1.02, 1.03]
    # Poller 0 comes back from its empty poll: it goes after the latest of the others.
    assert spacer.next_start(0, now=1.035) == 1.04


def test_the_assumed_cycle_is_used_until_one_is_measured() -> None:
    spacer = PollSpacer(2)
    assert spacer.next_start(0, now=0.0) == 0.0
    assert spacer.next_start(1, now=0.0) == min(DEFAULT_CYCLE / 2, MAX_GAP)


def test_a_poll_after_a_task_goes_at_once() -> None:
    spacer = PollSpacer(2)
    spacer.record_empty(0.05)
    assert spacer.next_start(0, now=1.0) == 1.0
    assert spacer.next_start(1, now=1.0, after_task=True) == 1.0


def test_long_polls_are_not_spaced() -> None:
    spacer = PollSpacer(3)
    spacer.record_empty(60.0)
    assert [spacer.next_start(i, now=5.0) for i in range(3)] == [5.0, 5.0, 5.0]


def test_wait_returns_when_stopped() -> None:
    spacer = PollSpacer(2)
    stop = threading.Event()
    spacer.next_start(0)  # poller 0 just started: poller 1 would wait half the assumed cycle
    stop.set()
    spacer.wait(1, stop)  # returns at once: stop is set
