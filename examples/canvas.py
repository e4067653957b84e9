"""Canvas: groups and chains of tasks, nested, each submitted as one future of its results.

    replayflow workflow.start --local examples.canvas.ThumbnailWorkflow \
        --input '[["cat.png", "dog.png", "owl.png"], 2]'
    # prints {"thumbnails": [...], "published": [...], "index": "3 thumbnails"}

- `Group(*tasks, max_parallel=N)` runs tasks in parallel, never more than N at once;
- `Chain(*tasks, send_result=True)` runs them in order, passing each result to the next task;
- `FuncGroup(fn, *args)` builds a group when it starts, from the result it is sent;
- `ActivityTask(fn, *args)` and `WorkflowTask(cls, *args)` are the members.
"""

from replayflow import Workflow, activity, canvas


@activity.with_attributes(task_list="quickstart", version="example")
def thumbnail(name, size):
    return f"{name.rsplit('.', 1)[0]}-{size}px.png"


@activity.with_attributes(task_list="quickstart", version="example")
def publish(name):
    return f"https://cdn.example/{name}"


@activity.with_attributes(task_list="quickstart", version="example")
def write_index(urls):
    return f"{len(urls)} thumbnails"


def publish_all(names):
    """Runs inside the workflow when the thumbnails are known: one publish task per name."""
    return [canvas.ActivityTask(publish, name) for name in names]


class ThumbnailWorkflow(Workflow):
    name = "canvas"
    version = "example"
    task_list = "example"

    def run(self, images, max_parallel=2):
        flow = canvas.Chain(
            canvas.Group(*[canvas.ActivityTask(thumbnail, image, 64) for image in images],
                         max_parallel=max_parallel),
            canvas.FuncGroup(publish_all),  # receives the group's list of thumbnails
            canvas.ActivityTask(write_index),  # receives the list of URLs
            send_result=True,
        )
        thumbnails, published, index = self.submit(flow).result
        return {"thumbnails": thumbnails, "published": published, "index": index}
