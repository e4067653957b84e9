"""Run the replayflow CLI as a subprocess, the way users run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def run_cli(*args: str, env: dict | None = None, input: str | None = None,
            cwd: str | Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = dict(os.environ if env is None else env)
    full_env.setdefault("LOG_LEVEL", "WARNING")
    return subprocess.run(
        [sys.executable, "-m", "replayflow", *args], capture_output=True, text=True,
        env=full_env, input=input, cwd=str(cwd or ROOT), timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, exit_code: int = 2) -> str:
    """A user error: the given exit code, one `Error: ...` line on stderr, no traceback of our
    own. (A failed run shows its activity's remote traceback indented under a heading: that is
    the failure's report, not a crash.)"""
    assert proc.returncode == exit_code, (proc.returncode, proc.stdout, proc.stderr)
    assert not any(line.startswith("Traceback") for line in proc.stderr.splitlines()), \
        proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]
