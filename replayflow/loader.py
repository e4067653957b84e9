"""Find workflow classes from `module.Class` paths, with one-line errors for every mistake."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from .errors import InvalidInput, WorkflowNotFound
from .workflow import Workflow


def ensure_cwd_on_path() -> None:
    """`replayflow workflow.start examples.basic.X` must find ./examples, as `python -m` would."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def load_workflow(path: str) -> type[Workflow]:
    """Import `module.Class` and check that it is a Workflow subclass."""
    ensure_cwd_on_path()
    module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
        raise WorkflowNotFound(
            f"{path!r} is not a workflow path; write it as MODULE.CLASS, "
            "e.g. examples.basic.BasicWorkflow")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):
            raise WorkflowNotFound(
                f"no module named {missing!r} (from {path!r}); is it on PYTHONPATH or in the "
                "current directory?") from None
        raise WorkflowNotFound(f"importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
        raise WorkflowNotFound(
            f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    obj = getattr(module, class_name, None)
    if obj is None:
        raise WorkflowNotFound(f"module {module_name!r} has no {class_name!r}")
    if not (isinstance(obj, type) and issubclass(obj, Workflow)):
        raise WorkflowNotFound(f"{path!r} is not a Workflow subclass")
    return obj


def require_workflow_class(obj: Any, caller: str) -> type[Workflow]:
    """`obj` itself if it is a Workflow subclass, else WorkflowNotFound naming what it got."""
    if isinstance(obj, type) and issubclass(obj, Workflow):
        return obj
    shown = obj.__qualname__ if isinstance(obj, type) else type(obj).__name__ + " instance"
    raise WorkflowNotFound(f"{caller} needs a Workflow subclass (class X(replayflow.Workflow)); "
                           f"{shown} is not a Workflow subclass")


def load_workflows(paths: list[str]) -> dict[str, type[Workflow]]:
    """Load several classes, keyed by their SWF type name."""
    found: dict[str, type[Workflow]] = {}
    for path in paths:
        cls = load_workflow(path)
        found[cls.type_name()] = cls
    return found


def check_arguments(cls: type[Workflow], args: list, kwargs: dict) -> None:
    """Refuse input that does not fit `run()` before anything is started."""
    try:
        inspect.signature(cls.run).bind(None, *args, **kwargs)
    except TypeError as exc:
        raise InvalidInput(f"input does not fit {cls.__name__}.run(): {exc}") from None
