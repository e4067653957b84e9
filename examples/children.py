"""Child workflows: a parent starts one child per region and collects their results.

    replayflow workflow.start --local examples.children.InventoryWorkflow \
        --input '[["eu", "us", "nowhere"]]'
    # prints {"eu": 2, "us": 3, "nowhere": "failed: unknown region 'nowhere'"}

`self.submit(ChildClass, ...)` returns a future of the child's result. Options ride along as
double-underscore keywords: `__workflow_id`, `__task_list`, `__tags`, `__execution_timeout`,
`__child_policy`, `__priority`. A child's failure is a TaskFailed, like an activity's.
"""

from replayflow import Workflow, activity, futures
from replayflow.errors import TaskFailed

STOCK = {"eu": ["bolt", "nut"], "us": ["bolt", "nut", "gear"]}


@activity.with_attributes(task_list="quickstart", version="example")
def list_stock(region):
    if region not in STOCK:
        raise ValueError(f"unknown region {region!r}")
    return STOCK[region]


class RegionWorkflow(Workflow):
    name = "children-region"
    version = "example"
    task_list = "example"
    execution_timeout = 600

    def run(self, region):
        return len(self.submit(list_stock, region).result)


class InventoryWorkflow(Workflow):
    name = "children"
    version = "example"
    task_list = "example"

    def run(self, regions):
        children = {
            region: self.submit(RegionWorkflow, region, __workflow_id=f"inventory-{region}",
                                __tags=["inventory", region], __execution_timeout=300,
                                __child_policy="TERMINATE")
            for region in regions
        }
        futures.wait(*children.values())
        counts = {}
        for region, child in children.items():
            try:
                counts[region] = child.result
            except TaskFailed as failure:
                counts[region] = f"failed: {failure.message or failure.reason}"
        return counts
