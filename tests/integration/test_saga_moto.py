"""examples/saga.py end to end on moto, through `replayflow standalone`: the undos run on a real
worker, in reverse order, one at a time, and the history on the SWF endpoint says so.

(moto has no child workflows and no cancel requests: compensation by a child workflow and
cancel-then-compensate are proved on the memory backend, in tests/unit/test_saga.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from replayflow.backends.swf import SwfBackend

REPO = Path(__file__).resolve().parents[2]
DEADLINE = 90


def test_the_trip_is_undone_in_reverse_on_moto(aws_env, swf_domain):
    env = {**aws_env, "LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), aws_env.get("PYTHONPATH")) if p)}
    workflow_id = f"saga-{time.monotonic_ns()}"
    done = subprocess.run(
        [sys.executable, "-m", "replayflow", "standalone", "--domain", swf_domain,
         "examples.saga.TripWorkflow", "--input", '["ann", 5000]', "--workflow-id", workflow_id],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"booked": False, "error": "card declined for 5000",
                                       "undone": 4}
    events = SwfBackend(swf_domain).get_workflow_execution_history(workflow_id)
    scheduled = [(e["eventId"], e["activityTaskScheduledEventAttributes"]["activityId"])
                 for e in events if e["eventType"] == "ActivityTaskScheduled"]
    undos = [(event_id, activity_id) for event_id, activity_id in scheduled
             if activity_id.startswith("compensate-")]
    assert [activity_id for _, activity_id in undos] == [
        "compensate-activity-examples.saga.charge-1#1",
        "compensate-step-examples.saga.notify_undo-1#1",
        "compensate-activity-examples.saga.book_hotel-1#1",
        "compensate-activity-examples.saga.reserve_car-1#1",
    ]
    completed = {e["activityTaskCompletedEventAttributes"]["scheduledEventId"]: e["eventId"]
                 for e in events if e["eventType"] == "ActivityTaskCompleted"}
    for (previous, _), (following, _) in zip(undos, undos[1:], strict=False):
        assert completed[previous] < following  # one at a time
    markers = [e["markerRecordedEventAttributes"]["markerName"] for e in events
               if e["eventType"] == "MarkerRecorded"]
    assert markers == ["replayflow-compensation-started", "replayflow-compensation-ended"]
