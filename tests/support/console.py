"""`replayflow console` as a real process on a free port, for API, CLI and browser tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from support.cli import ROOT


class ConsoleProcess:
    """Start `replayflow console ARGS --port 0`, read the address it prints, stop it by PID."""

    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 startup_timeout: float = 30.0) -> None:
        self.args = args
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault("LOG_LEVEL", "WARNING")
        self.startup_timeout = startup_timeout
        self.url = ""
        self.token: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    def start(self) -> ConsoleProcess:
        self._stderr = tempfile.TemporaryFile("w+", prefix="console-stderr-")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "replayflow", "console", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL, text=True,
            env=self.env, cwd=str(ROOT), start_new_session=True)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        line = ""
        while time.monotonic() < deadline and not line:
            line = self._proc.stdout.readline()
            if not line and self._proc.poll() is not None:
                break
        if not line.startswith("replayflow console: "):
            self.stop()
            raise RuntimeError(f"the console did not start: {line!r}\n{self.stderr()}")
        address = line.split(": ", 1)[1].strip()
        self.url, _, fragment = address.partition("#")
        self.url = self.url.rstrip("/")
        if fragment.startswith("token="):
            self.token = fragment.removeprefix("token=")
        return self

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def __enter__(self) -> ConsoleProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()

    # -- HTTP ----------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None,
                token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, _json_or_text(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _json_or_text(exc.read())

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


HISTORIES = Path(__file__).resolve().parent.parent / "histories"
