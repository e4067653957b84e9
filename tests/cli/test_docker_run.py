"""script/docker-run builds the docker command a user needs (read in its dry-run mode: no
docker daemon is needed, and none is started)."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "script" / "docker-run"


def dry_run(cwd: Path, home: Path, *args: str, **env: str) -> list[str]:
    full_env = {"PATH": os.environ["PATH"], "HOME": str(home),
                "REPLAYFLOW_DOCKER_DRY_RUN": "1", **env}
    proc = subprocess.run(["bash", str(SCRIPT), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return shlex.split(proc.stdout)


def options(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == name]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    cwd = tmp_path / "my project"  # a space: the mount must survive quoting
    cwd.mkdir()
    return cwd, home


def test_mounts_the_directory_and_aws_config_and_runs_as_the_user(project):
    cwd, home = project
    argv = dry_run(cwd, home, "workflow.start", "--local", "flows.Nightly", "--input", "[1, 0]")
    assert argv[:3] == ["docker", "run", "--rm"]
    volumes = options(argv, "--volume")
    assert f"{cwd}:/work" in volumes
    aws = next(v for v in volumes if v.startswith(f"{home}/.aws:"))
    container_home = next(e.split("=", 1)[1] for e in options(argv, "--env")
                          if e.startswith("HOME="))
    assert aws == f"{home}/.aws:{container_home}/.aws:ro"  # where boto3 looks, read-only
    assert options(argv, "--workdir") == ["/work"]
    assert "PYTHONPATH=/work:/app" in options(argv, "--env")
    assert options(argv, "--user") == [f"{os.getuid()}:{os.getgid()}"]
    image = argv.index("replayflow:latest")
    assert argv[image + 1:] == ["workflow.start", "--local", "flows.Nightly", "--input",
                                "[1, 0]"]


def test_passes_aws_and_replayflow_settings_and_nothing_else(project):
    cwd, home = project
    argv = dry_run(cwd, home, "workflow.list", AWS_PROFILE="dev", AWS_REGION="eu-west-1",
                   REPLAYFLOW_JUMBO_FIELDS_BUCKET="bucket/prefix", SWF_DOMAIN="d",
                   LOG_LEVEL="INFO", SECRET_TOKEN="no", REPLAYFLOW_IMAGE="mine:1")
    passed = {e for e in options(argv, "--env") if "=" not in e}
    assert passed == {"AWS_PROFILE", "AWS_REGION", "REPLAYFLOW_JUMBO_FIELDS_BUCKET",
                      "SWF_DOMAIN", "LOG_LEVEL"}
    assert "mine:1" in argv and "replayflow:latest" not in argv


def test_without_aws_config_nothing_is_mounted_for_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    argv = dry_run(tmp_path, home, "--help")
    assert options(argv, "--volume") == [f"{tmp_path}:/work"]


def test_the_image_user_is_the_one_the_manifests_expect():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "useradd --uid 10001" in dockerfile and "\nUSER 10001\n" in dockerfile
    assert "ENV " in dockerfile and "PYTHONPATH=/app" in dockerfile
