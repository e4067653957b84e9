"""Steps: a restarted pipeline skips the work an earlier run of it already did.

    replayflow workflow.start --local examples.steps.MonthlyLoad --workflow-id load-2026-11 \
        --input '["2026-11"]'
    # {"loaded": 3, "skipped": []}          the first time
    # {"loaded": 3, "skipped": ["extract-2026-11", "load-2026-11"]}   run again: nothing redone
    # --force-steps load-2026-11            loads again, reusing the extract

`self.step(name, fn, *args)` runs `fn` only if no earlier run of this workflow id recorded step
`name` as done, and returns a future of its result (the recorded result when skipped). Steps are
remembered in S3 (the jumbo bucket, under `steps/`) or, without one, in a local directory
(REPLAYFLOW_STEPS_DIR). A `replayflow.step` marker records each step's fate.
"""

from replayflow import Workflow, activity


@activity.with_attributes(task_list="quickstart", version="example")
def extract(month):
    return [f"{month}-{n}" for n in range(3)]


@activity.with_attributes(task_list="quickstart", version="example")
def load(rows):
    return len(rows)


class MonthlyLoad(Workflow):
    name = "monthly-load"
    version = "example"
    task_list = "example"

    def run(self, month):
        rows = self.step(f"extract-{month}", extract, month).result
        loaded = self.step(f"load-{month}", load, rows).result
        skipped = [marker.details["step"] for marker in self.list_markers()
                   if marker.name == "replayflow.step" and marker.details["skipped"]]
        return {"loaded": loaded, "skipped": skipped}
