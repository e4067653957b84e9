"""`replayflow worker.start`: run activities from an SWF task list until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from ..activity import Activity, ActivityRegistry
from ..backends.swf import SwfBackend
from ..errors import UserError
from ..loader import ensure_cwd_on_path
from ..middleware import LogDuration, load_middleware
from ..worker import DEFAULT_GRACE_PERIOD, DEFAULT_HEARTBEAT, Worker
from .app import cli, handle_errors
from .workflow import simulation_options

log = logging.getLogger(__name__)


def import_activity_modules(modules: tuple[str, ...],
                            backend: SwfBackend | None) -> ActivityRegistry:
    """Load each module into the worker's allowlist; register the activity types it declares
    (idempotent). One-line errors for a module that is missing or crashes on import."""
    registry = ActivityRegistry()
    for name in modules:
        try:
            module = registry.load(name)
        except ModuleNotFoundError as exc:
            raise UserError(f"--module {name}: no module named {exc.name!r}; is it on "
                            "PYTHONPATH or in the current directory?") from None
        except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
            raise UserError(f"--module {name}: importing it failed: "
                            f"{type(exc).__name__}: {exc}") from None
        for value in list(vars(module).values()):
            if isinstance(value, Activity) and backend is not None:
                backend.register_activity_type(value.name, value.version, value.task_list)
    return registry


@cli.command("worker.start")
@click.option("--domain", envvar="SWF_DOMAIN", required=True, help="SWF domain [env: SWF_DOMAIN].")
@click.option("--task-list", required=True, help="Activity task list to poll.")
@click.option("--processes", "-N", type=click.IntRange(min=1), default=1, show_default=True,
              help="Activities run at the same time (one warm child process each, reused "
                   "from task to task and replaced if it dies).")
@click.option("--heartbeat", type=click.FloatRange(min=0.5), default=DEFAULT_HEARTBEAT,
              show_default=True, metavar="SECONDS",
              help="Heartbeat interval (at most a third of an activity's heartbeat timeout).")
@click.option("--grace-period", type=click.FloatRange(min=0), default=DEFAULT_GRACE_PERIOD,
              show_default=True, metavar="SECONDS",
              help="On SIGTERM/Ctrl-C, how long running activities may take to finish.")
@click.option("--module", "-m", "modules", multiple=True, metavar="MODULE",
              help="Load MODULE: the activities it declares (and, for plain functions, only "
                   "its own) are the ones this worker runs; repeatable. A task of any other "
                   "type fails without running or importing anything.")
@click.option("--middleware", "middlewares", multiple=True, metavar="MODULE.CLASS",
              help="An ActivityMiddleware class run around every activity (repeatable).")
@click.option("--identity", help="Poller identity recorded by SWF (default: host:pid).")
@handle_errors
def worker_start(domain: str, task_list: str, processes: int, heartbeat: float,
                 grace_period: float, modules: tuple[str, ...], middlewares: tuple[str, ...],
                 identity: str | None) -> None:
    """Poll TASK_LIST and run each activity in a supervised child process.

    \b
    SIGTERM or Ctrl-C stops polling; running activities get --grace-period seconds to finish,
    after which they are killed and reported failed. A second signal kills them at once.
    """
    # Signals first: a SIGTERM/Ctrl-C during start-up must also end in a clean exit 0.
    stop = threading.Event()
    workers: list[Worker] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            log.warning("second %s: killing running activities", name)
            for worker in workers:
                worker.kill_now()
        else:
            # A stop request is routine (a deploy, `standalone` finishing): say it at INFO; the
            # worker warns by itself if activities are still running.
            log.info("%s: stopping (grace period %g s)", name, grace_period)
            stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ensure_cwd_on_path()
    backend = SwfBackend(domain)
    backend.check_domain()
    registry = import_activity_modules(modules, backend)
    if not modules:
        log.warning("no --module given: this worker runs no activity (give it the modules "
                    "that declare them: worker.start --module MODULE)")
    extra = [load_middleware(path) for path in middlewares]
    workers.append(Worker(backend, task_list, processes=processes, heartbeat=heartbeat,
                          identity=identity, grace_period=grace_period,
                          middlewares=[LogDuration(), *extra], registry=registry))
    workers[0].run(stop)


@cli.command("simulate")
@click.option("--domain", envvar="SWF_DOMAIN", required=True, help="SWF domain [env: SWF_DOMAIN].")
@click.option("--task-list", "task_lists", multiple=True, required=True,
              help="Activity task list to answer (repeatable).")
@simulation_options
@click.option("--pollers", type=click.IntRange(min=1, max=64), default=4, show_default=True,
              help="Tasks answered at the same time, per task list.")
@handle_errors
def simulate(domain: str, task_lists: tuple[str, ...], delay: str | None, fail_rate: float,
             timeout_rate: float, results: str | None, seed: int | None, pollers: int) -> None:
    """Answer every activity task on the task lists as a simulator, running no activity code.

    \b
    Try a workflow's shape before its activities exist (or watch its console graph): each task
    takes a random --delay, then completes with its canned result (--results) or null; a
    --fail-rate fraction fails, a --timeout-rate fraction is left to time out.
      replayflow simulate --domain D --task-list quickstart --delay 0.1-2 --fail-rate 0.1
    Locally: `replayflow workflow.start --local --simulate MODULE.CLASS`. Until SIGTERM/Ctrl-C.
    """
    from ..simulate import SimulatedWorker, simulation_from_options

    simulation = simulation_from_options(delay, fail_rate, timeout_rate, results, seed)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    backend = SwfBackend(domain)
    backend.check_domain()
    SimulatedWorker(backend, task_lists, simulation, pollers=pollers).run(stop)
