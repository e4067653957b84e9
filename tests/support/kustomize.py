"""Render a kustomization as `kubectl kustomize` does, or with a small Python stand-in.

`render()` prefers `kubectl kustomize` (kustomize itself) when kubectl is installed. Without it,
`render_in_python()` builds the same resources for the subset of kustomize that deploy/ uses:
`resources` (files and directories), `components`, `namespace`, `labels` (metadata only) and
`images`. Anything else in a kustomization is refused rather than silently ignored, so the
stand-in can only ever be narrower than kustomize, never different; a test compares the two
whenever kubectl is there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

#: Kinds kustomize never gives a namespace (cluster-scoped ones that deploy/ could contain).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}
SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "components", "namespace", "labels",
                  "images"}


class UnsupportedKustomization(Exception):
    """The stand-in does not implement this part of kustomize."""


def kubectl() -> str | None:
    return shutil.which("kubectl")


def render(directory: Path) -> list[dict[str, Any]]:
    """The resources of the kustomization in `directory`, by kubectl if present."""
    if kubectl():
        return render_with_kubectl(directory)
    return render_in_python(directory)


def render_with_kubectl(directory: Path) -> list[dict[str, Any]]:
    proc = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def render_in_python(directory: Path) -> list[dict[str, Any]]:
    return _build(Path(directory), expect_kind="Kustomization")


def _load_kustomization(directory: Path, expect_kind: str) -> dict[str, Any]:
    path = directory / "kustomization.yaml"
    data = yaml.safe_load(path.read_text()) or {}
    if data.get("kind", "Kustomization") != expect_kind:
        raise UnsupportedKustomization(f"{path}: expected kind {expect_kind}")
    unknown = set(data) - SUPPORTED_KEYS
    if unknown:
        raise UnsupportedKustomization(f"{path}: {', '.join(sorted(unknown))} not supported")
    return data


def _build(directory: Path, expect_kind: str) -> list[dict[str, Any]]:
    data = _load_kustomization(directory, expect_kind)
    docs: list[dict[str, Any]] = []
    for entry in data.get("resources") or []:
        target = directory / entry
        if target.is_dir():
            docs += _build(target, "Kustomization")
        else:
            docs += [doc for doc in yaml.safe_load_all(target.read_text()) if doc]
    for entry in data.get("components") or []:
        docs += _build(directory / entry, "Component")
    namespace = data.get("namespace")
    for doc in docs:
        metadata = doc.setdefault("metadata", {})
        if namespace and doc.get("kind") not in CLUSTER_SCOPED:
            metadata["namespace"] = namespace
        for label in data.get("labels") or []:
            if label.get("includeSelectors") or label.get("includeTemplates"):
                raise UnsupportedKustomization("labels into selectors or templates")
            metadata.setdefault("labels", {}).update(label.get("pairs") or {})
        for image in data.get("images") or []:
            _set_image(doc, image)
    return docs


def _set_image(doc: dict[str, Any], image: dict[str, Any]) -> None:
    spec = (doc.get("spec") or {}).get("template", {}).get("spec") or {}
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        current = container.get("image", "")
        name, _, tag = current.partition(":")
        if name != image["name"]:
            continue
        new_name = image.get("newName", name)
        new_tag = str(image["newTag"]) if "newTag" in image else tag
        container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name
