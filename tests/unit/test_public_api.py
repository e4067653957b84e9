"""The public surface changes only on purpose: this test pins it."""

import json
import subprocess
import sys

import replayflow


def test_exported_names_are_pinned():
    assert sorted(replayflow.__all__) == sorted([
        "Future", "Workflow", "__version__", "activity", "canvas", "errors", "futures", "policy",
        "shell",
    ])
    for name in replayflow.__all__:
        assert hasattr(replayflow, name), name


def test_no_public_name_is_missing_from_all():
    """As httpx's test does: whatever `import replayflow` exposes without a leading underscore
    is in __all__, or is a module known to be internal (imported by the public ones)."""
    # replayflow.Workflow is workflow's public face; validation (SWF's rules, checked at
    # declaration) and naming (the id rules it uses) are imported by activity and policy.
    internal_modules = {"workflow", "validation", "naming"}
    code = ("import json, types, replayflow; print(json.dumps({k: isinstance(v, types.ModuleType)"
            " for k, v in vars(replayflow).items() if not k.startswith('_')}))")
    names = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                      capture_output=True, text=True).stdout)
    missing = sorted(name for name, is_module in names.items()
                     if name not in replayflow.__all__
                     and not (is_module and name in internal_modules))
    assert missing == [], f"public but not in replayflow.__all__: {missing}"


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
