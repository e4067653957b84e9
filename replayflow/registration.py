"""Registering workflow and activity types with the SWF service, whichever backend provides it.

Registration is done up front and idempotently: the workflow type and every activity its module
declares, so neither the first start nor the first decision pays a round trip for a type SWF has
never seen. The decider, `workflow.start`, `standalone` and local runs all register this way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from .activity import Activity
from .backends.base import SwfService


def module_activities(workflow_cls: type) -> list[Activity]:
    """Every Activity defined at the top level of the workflow's module (what it can schedule)."""
    module = sys.modules.get(workflow_cls.__module__)
    if module is None:
        return []
    seen: dict[tuple[str, str], Activity] = {}
    for value in list(vars(module).values()):
        if isinstance(value, Activity):
            seen.setdefault((value.name, value.version), value)
    return list(seen.values())


def register_workflow(backend: SwfService, workflow_cls: type) -> None:
    """Register the workflow type and its module's activity types (once per process)."""
    backend.register_workflow_type(
        workflow_cls.type_name(),
        workflow_cls.version,
        workflow_cls.task_list,
        execution_timeout=workflow_cls.execution_timeout,
        decision_task_timeout=workflow_cls.decision_task_timeout,
        child_policy=workflow_cls.child_policy,
    )
    for act in module_activities(workflow_cls):
        backend.register_activity_type(act.name, act.version, act.task_list)


def register_workflows(backend: SwfService, workflow_classes: Iterable[type]) -> None:
    """`register_workflow` for each class."""
    for cls in workflow_classes:
        register_workflow(backend, cls)


__all__ = ["module_activities", "register_workflow", "register_workflows"]
