"""A real moto_server process on 127.0.0.1, for integration tests and benchmarks.

Tests talk HTTP to a separate process (no in-process mocking), so the code under test runs the
same botocore stack it runs against AWS. Free of pytest imports: bench scripts use it too, via
`sys.path.insert(0, "<repo>/tests/support")` or `from tests.support.moto_server import MotoServer`.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

LAUNCHER = Path(__file__).resolve().with_name("run_moto.py")
REGION = "us-east-1"

# Variables that would point boto3 elsewhere than the moto server, or at other credentials.
UNSET_ENV_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL_SWF",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def free_port() -> int:
    """Ask the OS for a port nobody listens on (there is a small race; start() retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServerError(RuntimeError):
    """The moto server did not come up; the message carries its stderr."""


class MotoServer:
    """One moto_server subprocess: start it, point boto3 at it, reset it, kill it by PID."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, poll_sleep: float | None = 0.05, attempts: int = 3, *,
              keep_alive: bool = True, swf_fidelity: bool = True, lean_scans: bool = False,
              scan_every: float | None = None) -> MotoServer:
        """Start the server and block until it answers HTTP; retry on a lost port race.

        `poll_sleep` replaces moto's 1 s server-side sleep on an empty SWF poll (None keeps it).
        The server counts the calls it serves (`calls()`); `keep_alive` serves HTTP/1.1
        keep-alive connections, as AWS does; `swf_fidelity` makes SWF calls atomic and starts
        heartbeat clocks when activities start, as SWF does; `lean_scans` keeps moto's cost per
        call from growing with its executions, and `scan_every` makes it look for timeouts at
        most once every so many seconds (benches; see run_moto.py for all of them).
        """
        if self._proc is not None:
            raise MotoServerError(f"moto server already running (pid {self._proc.pid})")
        last_error: MotoServerError | None = None
        for _ in range(attempts):
            try:
                self._start_once(poll_sleep, keep_alive, swf_fidelity, lean_scans, scan_every)
                atexit.register(self.stop)
                return self
            except MotoServerError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _start_once(self, poll_sleep: float | None, keep_alive: bool, swf_fidelity: bool,
                    lean_scans: bool, scan_every: float | None) -> None:
        self.port = free_port()
        cmd = [sys.executable, str(LAUNCHER), "--port", str(self.port)]
        if poll_sleep is not None:
            cmd += ["--poll-sleep", str(poll_sleep)]
        cmd.append("--keep-alive" if keep_alive else "--count-calls")
        if swf_fidelity:
            cmd.append("--swf-fidelity")
        if lean_scans:
            cmd.append("--lean-scans")
        if scan_every:
            cmd += ["--scan-every", str(scan_every)]
        # A file, not a pipe: werkzeug logs every request, and a full pipe would block the server.
        self._log = tempfile.TemporaryFile(prefix="moto-server-")
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not moto
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise MotoServerError(
                    f"moto server exited with code {self._proc.returncode} before answering "
                    f"on port {self.port}:\n{self.output()}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        raise MotoServerError(
            f"moto server did not answer on {self.endpoint_url} within "
            f"{self.startup_timeout:.0f} s:\n{self.output()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Kill the server by PID and wait for it; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> MotoServer:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- facts about the running server ------------------------------------------------------

    @property
    def pid(self) -> int:
        """PID of the server process."""
        if self._proc is None:
            raise MotoServerError("moto server is not running")
        return self._proc.pid

    @property
    def endpoint_url(self) -> str:
        """http://127.0.0.1:PORT, the value of AWS_ENDPOINT_URL."""
        if self.port is None:
            raise MotoServerError("moto server was never started")
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """Everything the server wrote to stdout/stderr so far (for error messages)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every HTTP request the server has logged so far, oldest first.

        The server's own access log: what reached it, whatever the client believes it sent. S3
        requests are path-style here (`/bucket/key`), so a test can prove an object was never read.
        """
        found = []
        for line in self.output().splitlines():
            _, quote, rest = line.partition('"')
            method, _, tail = rest.partition(" ")
            if quote and method.isalpha() and method.isupper():
                found.append((method, tail.partition(" ")[0]))
        return found

    def env(self) -> dict[str, str]:
        """The env vars that point boto3 at this server (also remove UNSET_ENV_VARS)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def subprocess_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """A full environment for a subprocess: `base` (default os.environ) pointed at moto."""
        merged = dict(os.environ if base is None else base)
        for name in UNSET_ENV_VARS:
            merged.pop(name, None)
        merged.update(self.env())
        return merged

    def calls(self) -> dict[str, int]:
        """Calls served so far, by operation (`PollForActivityTask (empty)` apart)."""
        with urllib.request.urlopen(f"{self.endpoint_url}/_harness/calls", timeout=10) as answer:
            return json.loads(answer.read())

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux /proc)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reset(self) -> None:
        """Forget every domain, execution and bucket (moto's POST /moto-api/reset)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
