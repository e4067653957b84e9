"""The public surface changes only on purpose: this test pins it."""

import replayflow


def test_exported_names_are_pinned():
    assert sorted(replayflow.__all__) == sorted([
        "Future", "Workflow", "__version__", "activity", "canvas", "errors", "futures", "policy",
    ])
    for name in replayflow.__all__:
        assert hasattr(replayflow, name), name


def test_the_quickstart_vocabulary_is_importable():
    from replayflow import Workflow, activity, futures
    from replayflow.errors import NonDeterministicWorkflow, TaskFailed, WorkflowCancelled

    assert callable(activity.with_attributes)
    assert callable(activity.context)
    assert callable(futures.wait) and callable(futures.as_completed)
    assert issubclass(TaskFailed, Exception)
    assert issubclass(NonDeterministicWorkflow, Exception)
    assert issubclass(WorkflowCancelled, Exception)
    assert hasattr(Workflow, "submit") and hasattr(Workflow, "map")


def test_plain_and_bare_decorated_functions_get_the_defaults():
    from replayflow import activity

    def plain(x):
        return x

    @activity.with_attributes
    def bare(x):
        return x

    @activity.with_attributes()
    def called(x):
        return x

    for act in (activity.as_activity(plain), bare, called):
        assert act.task_list == "default"
        assert act.version == "1"
        assert act.retry == 0
    assert bare(3) == 3  # still callable as a function
