"""Is a process still running? For tests that check a kill reached every process it should."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped) counts as dead."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a recycled pid owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, timeout: float = 10.0) -> bool:
    """Wait for `pid` to die; True if it did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def read_pid(path: Path, timeout: float = 10.0) -> int:
    """The pid a command wrote to `path` (waits for the file to be complete)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return int(text)
        time.sleep(0.05)
    raise AssertionError(f"no pid was written to {path} within {timeout} s")


def spawn_replayflow(env: dict[str, str], *argv: str) -> subprocess.Popen[bytes]:
    """`python -m replayflow ARGV...` from the repository root, in its own process group (so
    `kill_group` reaches the children it starts), stdout discarded, stderr inherited."""
    return subprocess.Popen([sys.executable, "-m", "replayflow", *argv], env=env, cwd=REPO,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started by `spawn_replayflow` and its group, and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
