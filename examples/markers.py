"""Markers: notes in the history for operators and for the workflow itself.

    replayflow workflow.start --local examples.markers.MarkerWorkflow --input '[["a", "b", "c"]]'
    # prints {"processed": ["A", "B", "C"], "markers": [["progress", {"done": 1, "of": 3}], ...]}

`self.record_marker(name, details)` is a RecordMarker decision: the marker shows up in
`replayflow workflow.tasks`/history output, and `self.list_markers()` lists every marker this run
recorded, oldest first, from the moment it is recorded (its MarkerRecorded event may still be to
come).
"""

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example")
def process(item):
    return item.upper()


class MarkerWorkflow(Workflow):
    name = "markers"
    version = "example"
    task_list = "example"

    def run(self, items):
        processed = []
        for done, item in enumerate(items, 1):
            processed.append(self.submit(process, item).result)
            self.record_marker("progress", {"done": done, "of": len(items)})
        return {"processed": processed,
                "markers": [[m.name, m.details] for m in self.list_markers()]}
