"""deploy/: the kustomize manifests render, validate offline against the Kubernetes schemas, and
say what the README promises (two deciders under a disruption budget, one worker Deployment per
task list that outlives its grace period, identities from pod names, an optional console).

Rendering uses `kubectl kustomize` when kubectl is installed, else the Python stand-in in
tests/support/kustomize.py (compared with kubectl here whenever both exist). Validation uses
kubernetes-validate's bundled schemas: nothing here touches a network or a cluster.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from support import kustomize

import replayflow.cli as cli_package

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def with_console(tmp_path: Path) -> Path:
    """A copy of deploy/ with the console component switched on, as the README says to."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    path = copy / "kustomization.yaml"
    text = path.read_text()
    assert "# components:\n#   - console\n" in text
    path.write_text(text.replace("# components:\n#   - console\n", "components:\n  - console\n"))
    return copy


@pytest.fixture(scope="module")
def plain() -> list[dict[str, Any]]:
    return kustomize.render(DEPLOY)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return kustomize.render(with_console(tmp_path_factory.mktemp("console")))


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def containers(docs: list[dict]) -> list[tuple[dict, dict]]:
    return [(doc, container) for doc in docs if doc["kind"] == "Deployment"
            for container in doc["spec"]["template"]["spec"]["containers"]]


def option(args: list[str], name: str) -> str | None:
    for arg in args:
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


# -- rendering and schemas ---------------------------------------------------------------------


def test_the_plain_installation_has_no_console(plain):
    kinds = sorted((doc["kind"], doc["metadata"]["name"]) for doc in plain)
    assert kinds == [
        ("ConfigMap", "replayflow"), ("Deployment", "replayflow-decider"),
        ("Deployment", "replayflow-worker-quickstart"), ("Namespace", "replayflow"),
        ("PodDisruptionBudget", "replayflow-decider"), ("ServiceAccount", "replayflow")]


@pytest.mark.parametrize("variant", ["plain", "full"])
def test_every_manifest_is_valid_for_kubernetes(variant, request):
    docs = request.getfixturevalue(variant)
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)  # raises with the reason
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "replayflow"
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "replayflow"


def test_validation_can_fail(plain):
    """The schemas are really applied: a misspelt field is refused."""
    decider = copy_of(by_kind(plain, "Deployment")["replayflow-decider"])
    decider["spec"]["replica"] = decider["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(decider, kubernetes_validate.latest_version(), strict=True)


def copy_of(doc: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(doc))


@pytest.mark.skipif(kustomize.kubectl() is None, reason="kubectl is not installed")
def test_the_python_stand_in_renders_what_kustomize_renders(tmp_path):
    for directory in (DEPLOY, with_console(tmp_path)):
        def keyed(docs: list[dict]) -> dict:
            return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}

        assert keyed(kustomize.render_in_python(directory)) == keyed(
            kustomize.render_with_kubectl(directory))


# -- what the manifests promise ----------------------------------------------------------------


def test_two_deciders_under_a_disruption_budget(plain):
    decider = by_kind(plain, "Deployment")["replayflow-decider"]
    assert decider["spec"]["replicas"] == 2
    assert decider["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    budget = by_kind(plain, "PodDisruptionBudget")["replayflow-decider"]
    assert budget["spec"]["minAvailable"] == 1
    pod_labels = decider["spec"]["template"]["metadata"]["labels"]
    selector = budget["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert decider["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_every_pod_names_itself_after_its_pod(plain):
    for doc, container in containers(plain):
        assert option(container["args"], "--identity") == "$(POD_NAME)", doc["metadata"]["name"]
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_one_worker_deployment_per_task_list_outliving_its_grace_period(plain):
    workers = [(doc, c) for doc, c in containers(plain) if c["args"][0] == "worker.start"]
    assert workers
    task_lists = [option(c["args"], "--task-list") for _, c in workers]
    assert len(set(task_lists)) == len(task_lists)  # one Deployment per task list
    for doc, container in workers:
        grace = float(option(container["args"], "--grace-period"))
        pod_grace = doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert pod_grace > grace, doc["metadata"]["name"]
        task_list = option(container["args"], "--task-list")
        assert doc["metadata"]["name"] == f"replayflow-worker-{task_list}"


def test_pods_run_as_the_images_user_with_the_service_account_and_config(plain):
    uid = int(re.search(r"useradd --uid (\d+)", (REPO / "Dockerfile").read_text()).group(1))
    accounts = by_kind(plain, "ServiceAccount")
    configmaps = by_kind(plain, "ConfigMap")
    role = accounts["replayflow"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert role.startswith("arn:aws:iam::") and ":role/" in role
    assert "SWF_DOMAIN" in configmaps["replayflow"]["data"]
    for doc, container in containers(plain):
        spec = doc["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] in accounts
        assert spec["securityContext"]["runAsUser"] == uid
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        for source in container["envFrom"]:
            assert source["configMapRef"]["name"] in configmaps
        assert container["image"] == "replayflow:latest"
        # what the read-only root filesystem leaves writable is where replayflow writes
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {configmaps["replayflow"]["data"]["REPLAYFLOW_CACHE_DIR"], "/tmp"} <= mounts


def test_every_command_line_is_one_replayflow_accepts(full, monkeypatch):
    """The args parse with the real CLI, in the environment the ConfigMap gives the pods (so
    SWF_DOMAIN stands for --domain); the workflow classes and modules they name import."""
    from replayflow.loader import load_workflow

    cli_package._load_commands()
    group = cli_package.cli
    for name, value in by_kind(full, "ConfigMap")["replayflow"]["data"].items():
        monkeypatch.setenv(name, value)
    for doc, container in containers(full):
        args = [re.sub(r"\$\((\w+)\)", r"from-\1", arg) for arg in container["args"]]
        command = group.get_command(None, args[0])  # type: ignore[arg-type]
        assert command is not None, f"{doc['metadata']['name']}: no command {args[0]!r}"
        ctx = command.make_context(args[0], args[1:])
        if args[0] == "decider.start":
            for path in ctx.params["workflows"]:
                load_workflow(path)
        for module in ctx.params.get("modules", ()):
            __import__(module)
        assert shlex.join(args)  # printable as a shell command, for the README


def test_the_console_is_optional_and_reads_its_token_from_a_secret(plain, full):
    assert "replayflow-console" not in by_kind(plain, "Deployment")
    console = by_kind(full, "Deployment")["replayflow-console"]
    container = console["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:1] == ["console"]
    assert option(container["args"], "--host") == "0.0.0.0"
    assert option(container["args"], "--port") == "8642"
    assert option(container["args"], "--domain") == "$(SWF_DOMAIN)"
    token = {e["name"]: e for e in container["env"]}["REPLAYFLOW_CONSOLE_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"] == {"name": "replayflow-console", "key": "token"}
    service = by_kind(full, "Service")["replayflow-console"]
    assert service["spec"]["selector"].items() <= console["spec"]["template"]["metadata"][
        "labels"].items()
    port = service["spec"]["ports"][0]
    assert port["port"] == 8642
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
