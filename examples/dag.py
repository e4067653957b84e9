"""DAGs: tasks with dependencies, from a dict of edges or from the data each task provides.

    replayflow workflow.start --local examples.dag.PageWorkflow --input '["https://example.com/a"]'
    # prints {"by_edges": {"fetch": ..., "parse": ..., "checksum": ..., "store": ...},
    #         "by_data": {...the same...}}

- `canvas.Dag({parent: [children], parent: {child: "slot"}})`: a child starts when all its
  parents are done; a parent's result is the child's last positional argument, or the keyword
  argument its slot names;
- `canvas.Dag.from_nodes([canvas.Node(fn, provides=..., requires=[...])])`: the edges come from
  data names, and a required name is passed as the keyword argument of that name;
- `self.submit(dag, *args)` gives the input to every root and returns a future of
  `{node name: result}`; `max_parallel=N` bounds the nodes running at once.

A cycle, an unknown node, a name provided twice or by nobody, or a slot that is not a parameter
is refused when the DAG is built, in a local run as on SWF.
"""

import hashlib

from replayflow import Workflow, activity, canvas


@activity.with_attributes(task_list="quickstart", version="example")
def fetch(url):
    """Stands in for an HTTP GET: the page is made from the URL, so the example needs no network."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    return f"title: page {name}\nrow: {name}-1\nrow: {name}-2\nrow: {name}-3\n"


@activity.with_attributes(task_list="quickstart", version="example")
def parse(page):
    return [line.split(": ", 1)[1] for line in page.splitlines() if line.startswith("row: ")]


@activity.with_attributes(task_list="quickstart", version="example")
def checksum(page):
    return hashlib.sha256(page.encode()).hexdigest()[:12]


@activity.with_attributes(task_list="quickstart", version="example")
def store(records, digest):
    return f"stored {len(records)} records under {digest}"


class PageWorkflow(Workflow):
    name = "dag"
    version = "example"
    task_list = "example"

    def run(self, url):
        by_edges = canvas.Dag({
            fetch: [parse, checksum],   # parse and checksum each take the page
            parse: {store: "records"},  # store(records=..., digest=...)
            checksum: {store: "digest"},
        })
        by_data = canvas.Dag.from_nodes([
            canvas.Node(fetch, provides="page"),
            canvas.Node(parse, requires=["page"], provides="records"),
            canvas.Node(checksum, requires=["page"], provides="digest"),
            canvas.Node(store, requires=["records", "digest"]),
        ], max_parallel=1)
        first, second = self.submit(by_edges, url), self.submit(by_data, url)
        return {"by_edges": first.result, "by_data": second.result}
