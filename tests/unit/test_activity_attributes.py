"""Declaring activities: what SWF will be told, and declarations refused before anything runs."""

from __future__ import annotations

import pytest

from replayflow import activity


def noop():
    return None


def test_timeouts_are_whole_seconds_rounded_up_or_none():
    declared = activity.with_attributes(start_to_close_timeout=1.2, heartbeat_timeout=30,
                                        schedule_to_start_timeout=None,
                                        schedule_to_close_timeout=0.5)(noop)
    assert declared.timeouts == {
        "startToCloseTimeout": "2",
        "heartbeatTimeout": "30",
        "scheduleToStartTimeout": "NONE",
        "scheduleToCloseTimeout": "1",
    }


@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_a_timeout_that_is_not_a_positive_number_is_refused(value):
    with pytest.raises(ValueError, match=r"heartbeat_timeout must be a number of seconds above 0"):
        activity.with_attributes(heartbeat_timeout=value)(noop)


def test_a_negative_retry_is_refused():
    with pytest.raises(ValueError, match="retry must be >= 0"):
        activity.with_attributes(retry=-1)(noop)


def test_the_heartbeat_timeout_defaults_to_a_minute_and_none_means_none():
    """A dead worker's task must come back within a minute, not at start-to-close (an hour)."""
    assert activity.DEFAULT_HEARTBEAT_TIMEOUT == 60
    assert activity.with_attributes()(noop).timeouts["heartbeatTimeout"] == "60"
    assert activity.with_attributes(noop).timeouts["heartbeatTimeout"] == "60"  # bare
    assert activity.as_activity(lambda: None).timeouts["heartbeatTimeout"] == "60"  # undeclared
    assert activity.with_attributes(heartbeat_timeout=None)(noop).timeouts[
        "heartbeatTimeout"] == "NONE"
    assert activity.with_attributes(heartbeat_timeout=5)(noop).heartbeat_timeout == 5
