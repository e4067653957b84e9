"""The jumbo cache trusts nothing it did not write: raw bytes only, in a directory of its own user.

diskcache unpickles a row stored in its pickle mode, and opens (and deletes) whatever file a row
names. Whoever can write into the cache directory could run code in every decider and worker
that reads it. These tests plant such rows, with marker files that would appear if planted code
ran or a file outside the cache were touched, and run a real decider process over them.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import diskcache
import pytest
from support.cli import assert_one_line_error, run_cli
from support.security_workflows import SIGNAL

from replayflow import jumbo
from replayflow.backends.swf import SwfBackend
from replayflow.client import wait_for_close
from replayflow.encoding import MAX_INPUT
from replayflow.errors import ConfigurationError

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
PREFIX = "runs"
PAYLOAD = '"what S3 holds"'


class Planted:
    """Unpickling it creates the directory `marker`: the proof that planted code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def cache_env(aws_env, s3_bucket, tmp_path, monkeypatch) -> Path:
    """Jumbo fields on, to `s3_bucket/runs`; yields the cache directory (not created yet)."""
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv(jumbo.BUCKET_ENV, f"{s3_bucket}/{PREFIX}")
    monkeypatch.setenv(jumbo.CACHE_DIR_ENV, str(cache_dir))
    jumbo.reset_default_store()
    yield cache_dir
    jumbo.reset_default_store()


def s3_object(text: str = PAYLOAD) -> str:
    """An object replayflow could have written (configured bucket, prefix, uuid); its reference."""
    bucket = jumbo.JumboConfig.from_env().bucket
    key = f"{PREFIX}/{uuid.uuid4()}"
    data = text.encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=data)
    return f"replayflow+s3://{bucket}/{key} {len(data)}"


def cache_key(reference: str) -> str:
    bucket, key, _ = jumbo.parse_reference(reference)
    return f"s3://{bucket}/{key}"


def plant(cache_dir: Path, key: str, value: object) -> None:
    """What an intruder does: write a row with diskcache's default (pickling) Disk."""
    with diskcache.Cache(str(cache_dir / "jumbo")) as cache:
        cache.set(key, value)


def rows(cache_dir: Path) -> list[tuple]:
    with sqlite3.connect(cache_dir / "jumbo" / "cache.db") as db:
        return db.execute("SELECT key, mode, filename FROM Cache").fetchall()


# --- planted rows ---------------------------------------------------------------------------------


def test_a_planted_pickle_is_never_unpickled_and_is_deleted(cache_env, tmp_path):
    reference = s3_object()
    marker = tmp_path / "pickle-ran"
    plant(cache_env, cache_key(reference), Planted(marker))

    assert jumbo.decode_field(reference) == PAYLOAD  # from S3, not from the planted row
    assert not marker.exists()
    assert [(key, mode) for key, mode, _ in rows(cache_env)] == [(cache_key(reference), 2)]
    assert jumbo.decode_field(reference) == PAYLOAD  # now a raw-bytes row of our own
    assert not marker.exists()


def test_a_planted_row_naming_a_file_outside_the_cache_is_neither_read_nor_deleted(cache_env,
                                                                                 tmp_path):
    reference = s3_object()
    victim = tmp_path / "victim.txt"
    victim.write_text('"private key material"')
    os.chmod(victim, 0o600)
    jumbo.default_store().cache  # noqa: B018 - the cache exists, as it would on a busy host
    with sqlite3.connect(cache_env / "jumbo" / "cache.db") as db:
        db.execute("INSERT INTO Cache (key, raw, store_time, expire_time, access_time, "
                   "access_count, tag, size, mode, filename, value) VALUES "
                   "(?, 1, 0, NULL, 0, 0, NULL, ?, 2, ?, NULL)",
                   (cache_key(reference), len(PAYLOAD), str(victim)))

    assert jumbo.decode_field(reference) == PAYLOAD
    assert victim.read_text() == '"private key material"'  # still there, and never returned


def test_a_planted_row_with_a_pickled_key_cannot_stall_or_run_in_eviction(cache_env, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv(jumbo.CACHE_SIZE_ENV, "100kB")
    marker = tmp_path / "key-pickle-ran"
    with diskcache.Cache(str(cache_env / "jumbo")) as cache:
        cache.set(("a", "tuple", "key"), "x" * 60_000)  # non-str key: diskcache pickles it
        cache.set(Planted(marker), b"y")  # stored first in LRU order after the tuple
    assert not marker.exists()  # (pickling it ran nothing)
    jumbo.reset_default_store()

    # Two payloads that need the room: eviction must get past the foreign rows, by rowid.
    first = jumbo.encode_field("input", "a" * 40_000, MAX_INPUT)
    second = jumbo.encode_field("input", "b" * 40_000, MAX_INPUT)
    assert jumbo.decode_field(second) == "b" * 40_000
    assert jumbo.decode_field(first) == "a" * 40_000
    assert not marker.exists()
    assert all(isinstance(key, str) for key, _, _ in rows(cache_env))


def test_a_planted_pickle_never_runs_in_a_real_decider(cache_env, swf_domain, tmp_path,
                                                       aws_env):
    """The decider decodes a signal's reference; the shared cache holds a pickle for its key."""
    reference = s3_object()
    marker = tmp_path / "decider-ran-the-pickle"
    plant(cache_env, cache_key(reference), Planted(marker))
    env = {**aws_env, "PYTHONPATH": os.pathsep.join([str(TESTS), str(REPO)]),
           jumbo.BUCKET_ENV: os.environ[jumbo.BUCKET_ENV], jumbo.CACHE_DIR_ENV: str(cache_env)}
    workflow = "support.security_workflows.EchoSignalWorkflow"
    log_path = tmp_path / "decider.log"
    with open(log_path, "w") as log:
        decider = subprocess.Popen(
            [sys.executable, "-m", "replayflow", "decider.start", "--domain", swf_domain,
             workflow], env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
    try:
        started = run_cli("workflow.start", "--domain", swf_domain, workflow, env=env)
        assert started.returncode == 0, started.stderr
        workflow_id, run_id = started.stdout.split()
        boto3.client("swf").signal_workflow_execution(
            domain=swf_domain, workflowId=workflow_id, runId=run_id, signalName=SIGNAL,
            input=reference)
        outcome = wait_for_close(SwfBackend(swf_domain), workflow_id, run_id, timeout=60)
    finally:
        os.killpg(decider.pid, signal.SIGTERM)
        decider.wait(timeout=30)
    assert outcome.ok, (outcome, log_path.read_text()[-3000:])
    assert outcome.result == "what S3 holds"
    assert not marker.exists(), log_path.read_text()[-3000:]
    assert "refused" in log_path.read_text()  # the planted row was reported


# --- the directory and its files ------------------------------------------------------------------


def modes(cache_dir: Path) -> dict[str, int]:
    found = {}
    for path in [cache_dir, *cache_dir.rglob("*")]:
        found[str(path.relative_to(cache_dir))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_the_cache_is_created_for_its_user_alone(cache_env):
    reference = jumbo.encode_field("input", "z" * 50_000, MAX_INPUT)
    assert jumbo.decode_field(reference) == "z" * 50_000
    found = modes(cache_env)
    assert any(name.endswith(".val") for name in found)  # a payload file is among them
    for name, mode in found.items():
        is_dir = (cache_env / name).is_dir() if name != "." else True
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))


def test_a_cache_left_readable_by_an_older_version_is_narrowed(cache_env):
    old = cache_env / "jumbo"
    with diskcache.Cache(str(old)):  # diskcache's own defaults: 0755 and 0644
        pass
    os.chmod(cache_env, 0o755)
    os.chmod(old / "cache.db", 0o644)
    jumbo.check_config()
    assert stat.S_IMODE(old.stat().st_mode) == 0o700
    assert stat.S_IMODE((old / "cache.db").stat().st_mode) == 0o600


@pytest.mark.parametrize("which", ["cache", "jumbo"])
def test_a_directory_others_can_write_is_refused(cache_env, which):
    directory = cache_env if which == "cache" else cache_env / "jumbo"
    directory.mkdir(parents=True, mode=0o700)
    os.chmod(directory, 0o777)
    with pytest.raises(ConfigurationError, match=r"writable by group or others \(mode 0777\)"):
        jumbo.check_config()
    # Without check_config (the library used directly), the store reads from S3, uncached.
    text = "w" * 40_000
    reference = jumbo.encode_field("input", text, MAX_INPUT)
    assert jumbo.decode_field(reference) == text
    assert not (cache_env / "jumbo" / "cache.db").exists()  # nothing written into it


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a directory to another user needs root")
def test_a_directory_owned_by_another_user_is_refused(cache_env):
    cache_env.mkdir(mode=0o700)
    os.chown(cache_env, 65534, -1)  # nobody
    with pytest.raises(ConfigurationError, match="belongs to uid 65534, not to this user"):
        jumbo.check_config()


def test_a_symlinked_database_is_refused(cache_env, tmp_path):
    (cache_env / "jumbo").mkdir(parents=True, mode=0o700)
    elsewhere = tmp_path / "elsewhere.db"
    elsewhere.write_bytes(b"")
    (cache_env / "jumbo" / "cache.db").symlink_to(elsewhere)
    with pytest.raises(ConfigurationError, match="is a symbolic link"):
        jumbo.check_config()


@pytest.mark.parametrize("command", ["workflow.start", "decider.start", "worker.start"])
def test_commands_refuse_an_unsafe_cache_at_start_up_with_one_line(cache_env, swf_domain,
                                                                   aws_env, command):
    cache_env.mkdir(mode=0o700)
    os.chmod(cache_env, 0o770)
    env = {**aws_env, jumbo.BUCKET_ENV: os.environ[jumbo.BUCKET_ENV],
           jumbo.CACHE_DIR_ENV: str(cache_env)}
    args = {
        "workflow.start": ["--local", "examples.basic.BasicWorkflow", "--input", "[1, 0]"],
        "decider.start": ["--domain", swf_domain, "examples.basic.BasicWorkflow"],
        "worker.start": ["--domain", swf_domain, "--task-list", "t"],
    }[command]
    proc = run_cli(command, *args, env=env, timeout=60)
    line = assert_one_line_error(proc, 2)
    assert jumbo.CACHE_DIR_ENV in line and "writable by group or others (mode 0770)" in line
