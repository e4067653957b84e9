"""`replayflow decider.start`, `standalone` and `domain.register`: running workflows on SWF."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from ..errors import InvalidInput, UserError
from ..loader import check_arguments, load_workflow, load_workflows
from ..middleware import load_middleware
from ..progress import Summary
from .app import cli, handle_errors
from .progress import PROGRESS_OPTION, ProgressPrinter, progress_printer
from .workflow import INPUT_HELP, load_modules, read_input, report_outcome

DEFAULT_POLLERS = 3  # replayflow.decider.DEFAULT_POLLERS (not imported: the CLI starts light)

DOMAIN_HELP = "SWF domain [env: SWF_DOMAIN]."


@cli.command("domain.register")
@click.argument("domain")
@click.option("--retention-days", type=click.IntRange(min=0, max=90), default=1,
              show_default=True, help="Days SWF keeps closed executions' histories.")
@handle_errors
def domain_register(domain: str, retention_days: int) -> None:
    """Register the SWF domain DOMAIN (nothing changes if it already exists)."""
    from ..backends.swf import SwfBackend

    created = SwfBackend(domain).register_domain(retention_days=retention_days)
    if created:
        click.echo(f"registered domain {domain} (retention {retention_days} days)")
    else:
        click.echo(f"domain {domain} already registered")


@cli.command("decider.start")
@click.argument("workflows", nargs=-1, required=True, metavar="MODULE.CLASS...")
@click.option("--domain", envvar="SWF_DOMAIN", help=DOMAIN_HELP)
@click.option("--task-list", help="Decision task list (default: the classes' task_list).")
@click.option("--cache-size", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Live executions kept in memory (0: replay every decision from scratch).")
@click.option("--pollers", type=click.IntRange(min=1, max=32), default=DEFAULT_POLLERS,
              show_default=True,
              help="Concurrent polls on the shared task list.")
@click.option("--activity-task-list", metavar="TASK_LIST",
              help="Send every activity to this task list instead of its declared one "
                   "(what `standalone` uses to keep a run to itself).")
@click.option("--exit-on-close", metavar="WORKFLOW_ID", hidden=True,
              help="Exit once this workflow id is closed (what `standalone` uses).")
@click.option("--identity", help="Poller identity recorded by SWF (default: host:pid).")
@handle_errors
def decider_start(workflows: tuple[str, ...], domain: str | None, task_list: str | None,
                  cache_size: int, pollers: int, activity_task_list: str | None,
                  exit_on_close: str | None, identity: str | None) -> None:
    """Decide executions of the given workflow classes until SIGTERM (or Ctrl-C).

    \b
      replayflow decider.start --domain D examples.basic.BasicWorkflow
    On SIGTERM the decision task in hand is answered, then the decider exits 0.
    """
    from ..backends.swf import SwfBackend
    from ..client import resolve_domain
    from ..decider import Decider

    classes = load_workflows(list(workflows))
    if task_list is None:
        lists = sorted({cls.task_list for cls in classes.values()})
        if len(lists) > 1:
            raise UserError(f"these workflows use different task lists ({', '.join(lists)}): "
                            "pass --task-list, or start one decider per task list")
        task_list = lists[0]
    decider = Decider(SwfBackend(resolve_domain(domain)), classes, task_list,
                      cache_size=cache_size, activity_task_list=activity_task_list,
                      pollers=pollers, exit_on_close=exit_on_close, identity=identity)
    decider.register()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            sys.exit(128 + signum)  # a second signal: do not wait any longer
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    decider.run(stop)


@cli.command("standalone")
@click.argument("workflow")
@click.option("--input", "-i", "input_json", metavar="JSON", help=INPUT_HELP)
@click.option("--input-file", metavar="FILE|-", help="Read the JSON input from a file (- = stdin).")
@click.option("--domain", envvar="SWF_DOMAIN", help=DOMAIN_HELP)
@click.option("--workflow-id", help="Workflow id (default: the type name plus a unique suffix).")
@click.option("--execution-timeout", type=click.IntRange(min=1), metavar="SECONDS",
              help="Execution timeout (default: the class's execution_timeout).")
@click.option("--tag", "tags", multiple=True, help="SWF tag (repeatable, at most 5).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Activity worker processes to start.")
@click.option("--processes", type=click.IntRange(min=1),
              help="Activities each worker runs at once [default: 4].")
@click.option("--module", "-m", "modules", multiple=True, metavar="MODULE",
              help="Also load MODULE's activities in the worker (the workflow's own module is "
                   "always loaded); repeatable.")
@click.option("--middleware", "middlewares", multiple=True, metavar="MODULE.CLASS",
              help="An ActivityMiddleware class the worker runs around every activity "
                   "(repeatable).")
@click.option("--repair", "repair_run_id", metavar="RUN_ID",
              help="Run the failed (terminated, timed-out, cancelled) run RUN_ID of WORKFLOW "
                   "again, with its workflow id, input and tags, reusing the results of the "
                   "activities it finished (same task id and input). --workflow-id narrows "
                   "the search for RUN_ID.")
@click.option("--cache-size", type=click.IntRange(min=0), metavar="N",
              help="Executions the decider keeps in memory (decider.start's --cache-size; 0 "
                   "replays the whole history at every decision) [default: 1000].")
@PROGRESS_OPTION
@handle_errors
def standalone(workflow: str, input_json: str | None, input_file: str | None,
               domain: str | None, workflow_id: str | None, execution_timeout: int | None,
               tags: tuple[str, ...], workers: int, processes: int | None,
               modules: tuple[str, ...], middlewares: tuple[str, ...],
               repair_run_id: str | None, cache_size: int | None, progress: str) -> None:
    """Run WORKFLOW on SWF with its own decider and worker(s), print the result, clean up.

    \b
      replayflow standalone --domain D examples.basic.BasicWorkflow --input '[1]'
      replayflow standalone --domain D examples.repair.ReportWorkflow --repair RUN_ID
    Decisions and activities go to a task list unique to this run. "<workflow_id> <run_id>"
    and the progress go to stderr, the result JSON to stdout. Ctrl-C terminates the run.
    Exit codes: 0 the workflow completed, 1 it did not (its failure is on stderr), 2 bad
    usage or input, 3 lost contact with SWF for longer than REPLAYFLOW_WAIT_OUTAGE, 130
    interrupted.
    """
    from ..backends.swf import SwfBackend
    from ..client import resolve_domain
    from ..standalone import run_standalone

    cls = load_workflow(workflow)
    if repair_run_id is not None and (input_json is not None or input_file is not None):
        raise InvalidInput("--repair reuses the repaired run's input: drop --input/--input-file")
    args, kwargs = read_input(input_json, input_file)
    if repair_run_id is None:
        check_arguments(cls, args, kwargs)
    if len(tags) > 5:
        raise InvalidInput("SWF allows at most 5 tags")

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # unwinds through run_standalone's cleanup

    signal.signal(signal.SIGTERM, on_sigterm)
    load_modules(modules)
    for path in middlewares:
        load_middleware(path)  # a bad one is reported here, once, not by the worker
    printer: ProgressPrinter | None = None

    def on_start(started_id: str, run_id: str) -> None:
        nonlocal printer
        click.echo(f"{started_id} {run_id}", err=True)
        printer = progress_printer(progress)  # from here on: the ids stay above the status line

    def on_progress(summary: Summary) -> None:
        if printer is not None:
            printer.update(summary)

    options = {"execution_timeout": execution_timeout, "tags": list(tags), "workers": workers,
               "processes": processes, "modules": modules, "middlewares": middlewares,
               "cache_size": cache_size, "on_start": on_start, "on_progress": on_progress}
    try:
        if repair_run_id is not None:
            from ..repair import repair_standalone

            outcome = repair_standalone(cls, repair_run_id, domain=domain,
                                        workflow_id=workflow_id, **options)
        else:
            outcome = run_standalone(cls, args, kwargs, domain=domain, workflow_id=workflow_id,
                                     **options)
    finally:
        if printer is not None:
            printer.close()
    domain = resolve_domain(domain)
    backend = None if outcome.ok else SwfBackend(domain)  # to read a missing traceback
    report_outcome(outcome, ["--domain", domain, outcome.workflow_id], backend)
