"""Shell commands as activities: argv in, a bounded `ShellResult` out, and the command's whole
process group killed when its task is cancelled, times out, or its worker shuts down.

    @shell.command(task_list="build", start_to_close_timeout=600)
    def compile(src, out):
        return ["cc", src, "-o", out]            # argv; a shell only with shell=True

    r = self.submit(compile, "a.c", "a.out").result   # ShellResult(returncode, stdout, ...)

`shell.run(argv, ...)` runs a command the same way inside any activity. It exists because the
obvious ways go wrong in a worker: a non-zero exit that does not fail the task, a stdin never
closed, stdout and stderr read one after the other (a full pipe blocks the command), and a kill
that reaches the shell but not what it started. Here the command runs in its own session (its
own process group), stdin is written then closed, both pipes are drained together by one
select loop (so `on_line` runs on the caller's thread), output is bounded, and a stop kills
the group. The same code runs in `--local` (activity threads) and in the SWF worker's child,
which also tells its parent about the group (`ActivityContext.adopt_process_group`) so that the
worker's own kill (timeout, grace period) reaches the command too.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import selectors
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import activity as _activity
from .activity import Activity, ActivityContext
from .errors import CommandFailed, ReplayflowError

log = logging.getLogger(__name__)

#: Bytes of each stream kept in a result by default; more is cut from the middle (the start and
#: the end of a log say the most) and the result is flagged `truncated`.
DEFAULT_CAPTURE = 1 << 20
#: Lines of stderr a CommandFailed carries (and at most this many characters of them).
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2_000
#: The last output line goes out as heartbeat details at most this often (seconds): on SWF each
#: one costs the worker an API call, and the worker already heartbeats for liveness.
HEARTBEAT_EVERY = 2.0
#: From SIGTERM to SIGKILL when a command is stopped (cancel, timeout).
TERMINATE_GRACE = 2.0
#: How long the pipes are still read after the command exited and its group was killed: only a
#: process that left the group (setsid) can hold them open longer.
DRAIN_AFTER_EXIT = 2.0
#: How often a running command checks for cancellation and its timeout (seconds).
TICK = 0.1
_READ_SIZE = 1 << 16
_MAX_LINE = 1 << 16  # a longer "line" is cut into pieces of this size for on_line
_LAST_LINE_CHARS = 1_000
_RECENT = 8_192  # bytes of each stream always kept for a failure message, whatever `capture`

_FIELDS = ("returncode", "stdout", "stderr", "duration", "truncated")


class ShellResult(dict):
    """How a command ended: `returncode` (-N: killed by signal N), `stdout` and `stderr` (text,
    bounded by `capture`), `duration` in seconds, and `truncated` (some output was cut).

    A dict underneath, so it travels as JSON: return it from an activity, or pass its future to
    another task, and it arrives as a plain dict there; the workflow gets a ShellResult back from
    a `shell.command` future.
    """

    __slots__ = ()

    def __init__(self, returncode: int, stdout: str = "", stderr: str = "",
                 duration: float = 0.0, truncated: bool = False) -> None:
        super().__init__(returncode=returncode, stdout=stdout, stderr=stderr,
                         duration=duration, truncated=truncated)

    @property
    def returncode(self) -> int:
        return self["returncode"]

    @property
    def stdout(self) -> str:
        return self["stdout"]

    @property
    def stderr(self) -> str:
        return self["stderr"]

    @property
    def duration(self) -> float:
        return self["duration"]

    @property
    def truncated(self) -> bool:
        return self["truncated"]

    @property
    def ok(self) -> bool:
        return self["returncode"] == 0

    def __repr__(self) -> str:
        return ("ShellResult(" + ", ".join(f"{k}={self.get(k)!r}" for k in _FIELDS) + ")")

    @classmethod
    def from_json(cls, value: Any) -> Any:
        """A recorded result back as a ShellResult; anything else is returned as it is (the
        history is data, so only the known keys are read)."""
        if not (isinstance(value, dict) and "returncode" in value):
            return value
        result = cls(value["returncode"])
        for key in _FIELDS[1:]:
            if key in value:
                result[key] = value[key]
        return result


@dataclass(frozen=True)
class Invocation:
    """What a `shell.command` function may return instead of bare argv, to give this one call its
    own stdin, working directory or environment."""

    argv: Sequence[str] | str
    stdin: str | bytes | None = None
    cwd: str | os.PathLike | None = None
    env: Mapping[str, str | None] | None = None


def command(
    name: str | None = None,
    *,
    shell: bool = False,
    check: bool = True,
    capture: int | bool = DEFAULT_CAPTURE,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str | None] | None = None,
    timeout: float | None = None,
    on_line: Callable[[str, str], Any] | None = None,
    **attributes: Any,
) -> Callable[[Callable[..., Any]], Activity]:
    """Declare an activity whose function returns the command to run (argv, a string with
    `shell=True`, or an `Invocation`); the activity runs it with `shell.run` and returns its
    ShellResult. Other keywords are `activity.with_attributes`'s (task_list, timeouts, retry...).
    """
    if callable(name):  # used bare: @shell.command
        return command()(name)  # type: ignore[return-value]

    def decorate(func: Callable[..., Any]) -> Activity:
        if isinstance(func, Activity):
            func = func.func

        @functools.wraps(func)
        def run_command(*args: Any, **kwargs: Any) -> ShellResult:
            spec = func(*args, **kwargs)
            call = spec if isinstance(spec, Invocation) else Invocation(spec)
            merged_env = {**(env or {}), **(call.env or {})} if (env or call.env) else None
            return run(call.argv, cwd=call.cwd if call.cwd is not None else cwd, env=merged_env,
                       stdin=call.stdin, check=check, capture=capture, on_line=on_line,
                       shell=shell, timeout=timeout)

        act = _activity.with_attributes(name, **attributes)(run_command)
        act.load_result = ShellResult.from_json
        return act

    return decorate


def run(
    argv: Sequence[str | os.PathLike] | str,
    *,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str | None] | None = None,
    stdin: str | bytes | None = None,
    check: bool = True,
    capture: int | bool = DEFAULT_CAPTURE,
    on_line: Callable[[str, str], Any] | None = None,
    shell: bool = False,
    timeout: float | None = None,
    encoding: str = "utf-8",
) -> ShellResult:
    """Run a command to its end and return its ShellResult.

    - `argv` is a list (no shell); with `shell=True`, a string run by `/bin/sh -c`.
    - `env` is added to this process's environment (a None value removes a variable).
    - `stdin` (text or bytes) is written, then closed; without it the command reads /dev/null.
    - `capture` bounds the bytes kept of each stream (True: DEFAULT_CAPTURE; False: none kept);
      output is decoded with `encoding`, undecodable bytes replaced.
    - `on_line(stream, line)` is called, on this thread, for every line ("stdout" or "stderr").
    - A non-zero exit raises CommandFailed unless `check=False`. A stop always raises it: past
      `timeout` seconds, or, inside an activity, once it is cancelled or its task closed (timed
      out). A stop sends SIGTERM to the command's process group, SIGKILL after TERMINATE_GRACE.
    - When the command exits, anything it left running in its process group is killed (a daemon
      meant to outlive it must start its own session).
    """
    args = _argv(argv, shell)
    shown = _shown(args, shell)
    limit = DEFAULT_CAPTURE if capture is True else (0 if capture is False else int(capture))
    if limit < 0:
        raise ValueError("capture must be a number of bytes >= 0, True or False")
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds above 0, or None; got {timeout!r}")
    data = stdin.encode(encoding) if isinstance(stdin, str) else stdin
    try:
        ctx: ActivityContext | None = _activity.context()
    except RuntimeError:  # outside an activity: no heartbeat, no cancellation
        ctx = None
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            args, cwd=cwd, env=_environment(env), start_new_session=True,
            stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:  # not found, not executable, bad cwd
        raise CommandFailed(shown, None, f"could not start: {exc.strerror or exc}") from None
    group = _ProcessGroup(proc.pid, ctx)
    try:
        running = _RunningCommand(proc, group, ctx, data, limit, on_line, timeout, encoding,
                                  started)
        running.run()
    finally:
        if proc.returncode is None:  # an error escaped the loop (on_line raised): no leftovers
            group.kill(signal.SIGKILL)
            group.release()
            proc.wait()
        group.release()
    result = ShellResult(proc.returncode, running.out.text(encoding),
                         running.err.text(encoding), round(running.duration, 6),
                         running.out.cut > 0 or running.err.cut > 0)
    if running.stopped is not None:
        raise CommandFailed(shown, proc.returncode,
                            f"was stopped: {running.stopped}; its process group was killed",
                            running.err.tail_lines(encoding))
    if check and proc.returncode != 0:
        raise CommandFailed(shown, proc.returncode, _how(proc.returncode),
                            running.err.tail_lines(encoding), result)
    return result


def _argv(argv: Any, shell: bool) -> list[str]:
    if shell:
        if not isinstance(argv, str):
            raise TypeError("with shell=True, the command is one string for /bin/sh -c")
        return ["/bin/sh", "-c", argv]
    if isinstance(argv, str | bytes):
        raise TypeError(f"a command is a list of arguments, not the string {argv!r}: write "
                        "[prog, arg, ...], or pass shell=True to have /bin/sh parse it")
    args = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in argv]
    if not args or not all(isinstance(a, str) for a in args):
        raise TypeError(f"a command is a non-empty list of strings, not {argv!r}")
    return args


def _shown(args: list[str], shell: bool) -> str:
    """How a message names the command: its shell form, cut to a readable length."""
    text = args[2] if shell else shlex.join(args)
    return f"`{text if len(text) <= 200 else text[:199] + '…'}`"


def _how(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "a signal"
        return f"was killed by {name} (signal {-returncode})"
    return f"exited with code {returncode}"


def _environment(env: Mapping[str, str | None] | None) -> dict[str, str] | None:
    if env is None:
        return None
    merged = dict(os.environ)
    for key, value in env.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


# -- process groups -------------------------------------------------------------------------------

#: Groups of commands running in this process: killed at interpreter exit (a local run that ends
#: while an activity thread still runs a command must not leave the command behind).
_live_groups: set[int] = set()
_live_lock = threading.Lock()


@atexit.register
def _kill_live_groups() -> None:
    with _live_lock:
        groups = list(_live_groups)
    for pgid in groups:
        _killpg(pgid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class _ProcessGroup:
    """A command's process group (its pgid is its pid: start_new_session), known to this process
    and to the activity's supervisor until the command has exited and its stragglers are dead.

    It is released before the command is reaped: an unreaped leader keeps its pid, so the pgid
    cannot name another group while anyone may still kill it.
    """

    def __init__(self, pgid: int, ctx: ActivityContext | None) -> None:
        self.pgid = pgid
        self.ctx = ctx
        self.held = True
        with _live_lock:
            _live_groups.add(pgid)
        if ctx is not None:
            ctx.adopt_process_group(pgid)

    def kill(self, sig: int) -> None:
        if self.held:
            _killpg(self.pgid, sig)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        with _live_lock:
            _live_groups.discard(self.pgid)
        if self.ctx is not None:
            self.ctx.release_process_group(self.pgid)


# -- output ---------------------------------------------------------------------------------------


class _Capture:
    """One stream's output: at most `limit` bytes kept (the first half and the last half when
    there is more), plus the line splitting for on_line and the last line seen."""

    def __init__(self, name: str, limit: int) -> None:
        self.name = name
        self.limit = limit
        self.head_limit = limit - limit // 2
        self.tail_limit = limit // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.partial = bytearray()  # an unfinished line
        self.last_line: bytes | None = None
        self.recent = bytearray()  # the last _RECENT bytes at least

    @property
    def cut(self) -> int:
        """Bytes left out of the result (none when nothing was to be kept: capture=False)."""
        if not self.limit:
            return 0
        return self.total - len(self.head) - min(len(self.tail), self.tail_limit)

    def add(self, chunk: bytes, lines: list[tuple[str, bytes]] | None) -> None:
        self.total += len(chunk)
        self.recent += chunk
        if len(self.recent) > 2 * _RECENT:
            del self.recent[:-_RECENT]
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            rest = chunk[room:]
        else:
            rest = chunk
        if rest and self.tail_limit:
            self.tail += rest
            if len(self.tail) > 2 * self.tail_limit:  # trimmed now and then, not on every read
                del self.tail[:-self.tail_limit]
        self._split(chunk, lines)

    def _split(self, chunk: bytes, lines: list[tuple[str, bytes]] | None) -> None:
        data = self.partial + chunk if self.partial else chunk
        end = data.rfind(b"\n")
        if end < 0:
            self.partial = bytearray(data)
            if len(self.partial) >= _MAX_LINE:
                self._emit(bytes(self.partial), lines)
                self.partial = bytearray()
            return
        complete, self.partial = data[:end], bytearray(data[end + 1:])
        if lines is not None:
            for line in complete.split(b"\n"):
                self._emit(line, lines)
        else:  # only the last non-empty line matters
            for line in reversed(complete.split(b"\n") if len(complete) < 4096
                                 else complete[-4096:].split(b"\n")):
                if line.strip():
                    self.last_line = line
                    break

    def _emit(self, line: bytes, lines: list[tuple[str, bytes]] | None) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if lines is not None:
            lines.append((self.name, line))
        if line.strip():
            self.last_line = line

    def finish(self, lines: list[tuple[str, bytes]] | None) -> None:
        if self.partial:
            self._emit(bytes(self.partial), lines)
            self.partial = bytearray()

    def text(self, encoding: str) -> str:
        tail = self.tail[-self.tail_limit:] if self.tail_limit else b""
        cut = self.cut
        if cut <= 0:
            return (bytes(self.head) + bytes(tail)).decode(encoding, "replace")
        return (self.head.decode(encoding, "replace") + f"\n[… {cut} bytes cut …]\n"
                + bytes(tail).decode(encoding, "replace"))

    def tail_lines(self, encoding: str) -> str:
        """The last lines of the stream, for a failure message (kept even with capture=False)."""
        text = bytes(self.recent[-_RECENT:]).decode(encoding, "replace")
        lines = text.rstrip("\n").splitlines()[-STDERR_TAIL_LINES:]
        joined = "\n".join(lines)
        return joined if len(joined) <= STDERR_TAIL_CHARS else "…" + joined[-STDERR_TAIL_CHARS:]


# -- the loop -------------------------------------------------------------------------------------


class _RunningCommand:
    """One command from start to reaped: feeds stdin, drains both pipes, watches the clock,
    cancellation and the exit, in a single select loop on the caller's thread."""

    def __init__(self, proc: subprocess.Popen, group: _ProcessGroup, ctx: ActivityContext | None,
                 data: bytes | None, limit: int, on_line: Callable[[str, str], Any] | None,
                 timeout: float | None, encoding: str, started: float) -> None:
        self.proc = proc
        self.group = group
        self.ctx = ctx
        self.data = memoryview(data) if data is not None else None
        self.on_line = on_line
        self.encoding = encoding
        self.out = _Capture("stdout", limit)
        self.err = _Capture("stderr", limit)
        self.started = started
        self.deadline = self.started + timeout if timeout is not None else None
        self.timeout = timeout
        self.duration = 0.0
        self.stopped: str | None = None  # why the command was stopped, if it was
        self.kill_at: float | None = None
        self.exited_at: float | None = None
        self.last_beat = self.started  # a command done within HEARTBEAT_EVERY never heartbeats
        self.last_line: bytes | None = None  # the last non-blank line of either stream
        self.beat_line: bytes | None = None  # the line the last heartbeat sent

    def run(self) -> None:
        proc = self.proc
        selector = selectors.DefaultSelector()
        captures = {}
        assert proc.stdout is not None and proc.stderr is not None
        for stream, capture in ((proc.stdout, self.out), (proc.stderr, self.err)):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ)
            captures[stream.fileno()] = capture
        stdin_fd = -1
        if proc.stdin is not None:
            stdin_fd = proc.stdin.fileno()
            os.set_blocking(stdin_fd, False)
            selector.register(stdin_fd, selectors.EVENT_WRITE)
        pidfd = _pidfd(proc.pid)
        if pidfd >= 0:
            selector.register(pidfd, selectors.EVENT_READ)
        lines: list[tuple[str, bytes]] | None = [] if self.on_line is not None else None
        try:
            while True:
                open_pipes = len(captures) + (stdin_fd >= 0)
                if self.exited_at is not None and (
                        not open_pipes or time.monotonic() >= self.exited_at + DRAIN_AFTER_EXIT):
                    break
                tick = TICK if open_pipes or pidfd >= 0 else 0.01
                for key, _events in selector.select(tick):
                    fd = key.fd
                    if fd == pidfd:
                        selector.unregister(pidfd)
                        os.close(pidfd)
                        pidfd = -1
                    elif fd == stdin_fd:
                        if not self._feed(stdin_fd):
                            selector.unregister(stdin_fd)
                            self._close(proc.stdin)
                            stdin_fd = -1
                    else:
                        try:
                            chunk = os.read(fd, _READ_SIZE)
                        except BlockingIOError:
                            continue
                        capture = captures[fd]
                        before = capture.last_line
                        if chunk:
                            capture.add(chunk, lines)
                        else:  # EOF
                            capture.finish(lines)
                            selector.unregister(fd)
                            del captures[fd]
                        if capture.last_line is not before:
                            self.last_line = capture.last_line
                if lines:
                    self._deliver(lines)
                if self.exited_at is None and _exited(proc):
                    self._exited()
                if self.exited_at is None:
                    self._watch()
        finally:
            if pidfd >= 0:
                os.close(pidfd)
            selector.close()
            for capture in (self.out, self.err):
                capture.finish(lines)
            if lines:
                self._deliver(lines)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                self._close(stream)
        if self.exited_at is None:  # pragma: no cover - the loop only ends after the exit
            self._exited()

    def _feed(self, fd: int) -> bool:
        """Write what the pipe takes of stdin; False once all is written (or nobody reads)."""
        data = self.data
        if data is None or not len(data):
            return False
        try:
            written = os.write(fd, data[:_READ_SIZE])
        except BlockingIOError:
            return True
        except (BrokenPipeError, OSError):  # the command does not read its stdin: fine
            return False
        self.data = data[written:]
        return bool(len(self.data))

    def _deliver(self, lines: list[tuple[str, bytes]]) -> None:
        on_line = self.on_line
        assert on_line is not None
        batch, lines[:] = list(lines), []
        for stream, line in batch:
            on_line(stream, line.decode(self.encoding, "replace"))

    def _exited(self) -> None:
        """The leader has exited (not reaped yet): kill what it left in its group, release the
        group, reap."""
        self.exited_at = time.monotonic()
        self.duration = self.exited_at - self.started
        self.group.kill(signal.SIGKILL)
        self.group.release()
        self.proc.wait()

    def _watch(self) -> None:
        """Timeout, cancellation, the kill after TERMINATE_GRACE, and heartbeats."""
        now = time.monotonic()
        if self.stopped is not None:
            if self.kill_at is not None and now >= self.kill_at:
                self.group.kill(signal.SIGKILL)
                self.kill_at = None
            return
        if self.deadline is not None and now >= self.deadline:
            return self._stop(f"it ran past its timeout of {self.timeout:g} s")
        ctx = self.ctx
        if ctx is None:
            return
        if ctx.cancel_requested:
            return self._stop("its activity was cancelled (or its task closed)")
        line = self.last_line
        if line is not None and line is not self.beat_line and \
                now >= self.last_beat + HEARTBEAT_EVERY:
            self.last_beat = now
            self.beat_line = line
            try:
                if ctx.heartbeat(line[-_LAST_LINE_CHARS:].decode(self.encoding, "replace")):
                    return self._stop("its activity was cancelled")
            except ReplayflowError as exc:
                from .backends.base import error_code

                if error_code(exc) == "UnknownResourceFault":  # timed out, or its run closed
                    return self._stop("its activity task is closed (timed out, or its "
                                      "workflow closed)")
                log.warning("heartbeat of %s failed: %s", ctx.activity_id, exc)

    def _stop(self, why: str) -> None:
        log.info("stopping %s: %s", self.proc.args, why)
        self.stopped = why
        self.group.kill(signal.SIGTERM)
        self.kill_at = time.monotonic() + TERMINATE_GRACE

    @staticmethod
    def _close(stream: Any) -> None:
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def _pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` exits (Linux 5.3+), or -1."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        return -1
    try:
        return pidfd_open(pid)
    except OSError:
        return -1


def _exited(proc: subprocess.Popen) -> bool:
    """Has the command exited? Without reaping it (WNOWAIT), so its pid, and so its group id,
    stay reserved until its stragglers are killed."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # pragma: no cover - not Linux: poll reaps, a tiny pid-reuse window
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True


__all__ = ["DEFAULT_CAPTURE", "Invocation", "ShellResult", "command", "run"]
