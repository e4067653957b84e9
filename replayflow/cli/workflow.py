"""`replayflow workflow.start`: start a workflow, locally (`--local`) or on SWF."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any

import click

from .. import encoding
from ..errors import InvalidInput, RunInterrupted, UserError
from ..history import write_history_file
from ..loader import check_arguments, load_workflow
from .app import CliError, cli, handle_errors
from .formatting import one_line
from .progress import PROGRESS_OPTION, progress_printer

if TYPE_CHECKING:
    from ..client import WorkflowOutcome
    from ..local import LocalResult

log = logging.getLogger(__name__)

INPUT_HELP = """JSON input of run(). A list is positional arguments; {"args": [...], "kwargs":
{...}} is both; any other object is keyword arguments; a scalar is one positional argument."""


def read_input_file(input_file: str, option: str = "--input-file") -> str:
    """The text of FILE (or stdin for `-`), which must be UTF-8: one clear line otherwise."""
    try:
        if input_file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(input_file, "rb") as source:
                data = source.read()
    except OSError as exc:
        raise InvalidInput(f"cannot read {option} {input_file}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{option} {input_file} is not UTF-8 text (byte "
                           f"{data[exc.start]:#04x} at offset {exc.start})") from None


def read_input(input_json: str | None, input_file: str | None) -> tuple[list, dict]:
    """Apply the input convention to --input or --input-file (never both)."""
    if input_json is not None and input_file is not None:
        raise InvalidInput("give --input or --input-file, not both")
    if input_file is not None:
        text = read_input_file(input_file)
        return encoding.parse_input_convention(text, f"--input-file {input_file}")
    if input_json is None:
        return [], {}
    return encoding.parse_input_convention(input_json, "--input")


def simulation_options(fn):  # noqa: ANN001, ANN201 - a click decorator
    """The simulator's options, shared by `simulate` and `workflow.start --local --simulate`."""
    options = [
        click.option("--delay", metavar="MIN-MAX",
                     help="Seconds each simulated activity takes, drawn at random "
                          "[default: 0.1-2]."),
        click.option("--fail-rate", type=float, default=0.0, show_default=True,
                     help="Fraction of activities that fail (0-1)."),
        click.option("--timeout-rate", type=float, default=0.0, show_default=True,
                     help="Fraction left unanswered, to time out by their own timeouts (0-1)."),
        click.option("--results", type=click.Path(dir_okay=False), metavar="FILE",
                     help="JSON object of activity name (module.func or func) -> result; "
                          "others return null."),
        click.option("--seed", type=int, help="Random seed, for a repeatable simulation."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@cli.command("workflow.start")
@click.argument("workflow")
@click.option("--input", "-i", "input_json", metavar="JSON", help=INPUT_HELP)
@click.option("--input-file", metavar="FILE|-", help="Read the JSON input from a file (- = stdin).")
@click.option("--local", is_flag=True, help="Run in this process, with no AWS at all.")
@click.option("--max-workers", type=click.IntRange(min=1), default=32, show_default=True,
              help="--local: how many activities may run at the same time.")
@click.option("--history-file", type=click.Path(dir_okay=False, writable=True),
              help="--local: write the run's SWF-shaped history to this file (JSON).")
@click.option("--domain", envvar="SWF_DOMAIN", help="SWF domain [env: SWF_DOMAIN].")
@click.option("--workflow-id", help="Workflow id (default: the type name plus a unique suffix).")
@click.option("--task-list", help="Decision task list (default: the class's task_list).")
@click.option("--execution-timeout", type=click.IntRange(min=1), metavar="SECONDS",
              help="Execution timeout (default: the class's execution_timeout).")
@click.option("--tag", "tags", multiple=True, help="SWF tag (repeatable, at most 5).")
@click.option("--wait", is_flag=True,
              help="On SWF: wait for the end, print the result JSON (an outage of up to "
                   "REPLAYFLOW_WAIT_OUTAGE seconds is waited out).")
@click.option("--middleware", "middlewares", multiple=True, metavar="MODULE.CLASS",
              help="--local: an ActivityMiddleware class to run around every activity "
                   "(repeatable), as `worker.start --middleware` does on SWF.")
@click.option("--module", "-m", "modules", multiple=True, metavar="MODULE",
              help="--local: load MODULE's activities too, as `worker.start --module` does: "
                   "plain functions of modules other than the workflow's run only then.")
@click.option("--simulate", is_flag=True,
              help="--local: answer every activity with a simulator instead of running it "
                   "(see `replayflow simulate --help` for its options).")
@simulation_options
@PROGRESS_OPTION
@click.option("--force-steps", metavar="NAME,...",
              help="Run these `self.step(...)` names again even if an earlier run did them.")
@click.option("--repair", "repair_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="--local: run the failed run recorded in FILE (by --history-file) again, "
                   "with its workflow id and input, reusing the results of the activities it "
                   "finished (on SWF: `standalone --repair RUN_ID`).")
@click.pass_context
@handle_errors
def workflow_start(ctx: click.Context, workflow: str, input_json: str | None,
                   input_file: str | None, local: bool, max_workers: int,
                   history_file: str | None, domain: str | None, workflow_id: str | None,
                   task_list: str | None, execution_timeout: int | None, tags: tuple[str, ...],
                   wait: bool, middlewares: tuple[str, ...], modules: tuple[str, ...],
                   simulate: bool, delay: str | None, fail_rate: float, timeout_rate: float,
                   results: str | None, seed: int | None, progress: str,
                   force_steps: str | None, repair_file: str | None) -> None:
    """Start WORKFLOW (MODULE.CLASS, e.g. examples.basic.BasicWorkflow).

    \b
    With --local it runs here and now, prints the result as JSON on stdout and exits 0, or
    prints the failure (and its traceback) on stderr and exits 1:
      replayflow workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'
    A local run goes through the same decider and activity code as an SWF run, against an
    in-process SWF that keeps SWF's rules (timeouts, limits, events).
    On SWF it prints "<workflow_id> <run_id>" (or, with --wait, the result):
      replayflow workflow.start --domain D examples.basic.BasicWorkflow --input '[1]'

    Exit codes: 0 success, 1 the workflow failed, 2 bad usage or input, 3 --wait lost
    contact with SWF for longer than REPLAYFLOW_WAIT_OUTAGE (default 300 s) and stopped
    waiting; the run goes on, and the error line says how to follow it. 130 Ctrl-C: with
    --wait the run goes on too, and one line says how to follow it.
    """
    cls = load_workflow(workflow)
    args, kwargs = read_input(input_json, input_file)
    if repair_file is not None:
        args, kwargs, workflow_id, tags = _repair_of(cls, repair_file, local, input_json,
                                                     input_file, workflow_id, tags)
    else:
        check_arguments(cls, args, kwargs)
    if len(tags) > 5:
        raise InvalidInput("SWF allows at most 5 tags")
    kwargs = with_forced_steps(kwargs, force_steps)
    simulation = None
    if simulate:
        from ..simulate import simulation_from_options

        simulation = simulation_from_options(delay, fail_rate, timeout_rate, results, seed)
    elif delay or fail_rate or timeout_rate or results or seed is not None:
        raise InvalidInput("--delay, --fail-rate, --timeout-rate, --results and --seed go with "
                         "--simulate")
    if local:
        _start_local(cls, args, kwargs, max_workers=max_workers, history_file=history_file,
                     workflow_id=workflow_id, task_list=task_list,
                     execution_timeout=execution_timeout, tags=list(tags),
                     middlewares=load_middlewares(middlewares), modules=modules,
                     simulation=simulation, progress=progress)
        return
    for name, given in (("--history-file", history_file), ("--middleware", middlewares),
                        ("--module", modules), ("--simulate", simulate)):
        if given:
            raise UserError({
                "--history-file": "--history-file only applies to --local runs",
                "--simulate": "--simulate only applies to --local runs (on SWF, run "
                              "`replayflow simulate` in place of the workers)",
            }.get(name, f"{name} only applies to --local runs (on SWF, give it to "
                        "worker.start)"))
    _start_on_swf(cls, args, kwargs, domain=domain, workflow_id=workflow_id,
                  task_list=task_list, execution_timeout=execution_timeout, tags=list(tags),
                  wait=wait, progress=progress)


def _start_on_swf(cls: type, args: list, kwargs: dict, *, domain: str | None,
                  workflow_id: str | None, task_list: str | None,
                  execution_timeout: int | None, tags: list[str], wait: bool,
                  progress: str) -> None:
    """Print `<workflow_id> <run_id>`; with `wait`, that on stderr, progress while the run goes
    on, then its result (or its failure: exit 1). An outage longer than REPLAYFLOW_WAIT_OUTAGE
    raises WaitAbandoned (exit 3); Ctrl-C leaves the run going and says how to follow it."""
    # Imported late: boto3 is slow to import.
    from ..backends.swf import SwfBackend
    from ..client import resolve_domain, start_execution, wait_for_close, wait_outage_limit

    outage_limit = wait_outage_limit() if wait else None  # a bad value fails before the start
    domain = resolve_domain(domain)
    backend = SwfBackend(domain)
    workflow_id, run_id = start_execution(
        backend, cls, args, kwargs, workflow_id=workflow_id, task_list=task_list,
        execution_timeout=execution_timeout, tags=tags,
    )
    if not wait:
        click.echo(f"{workflow_id} {run_id}")
        return
    printer = None
    try:  # from the moment the run exists, Ctrl-C says how to follow it
        click.echo(f"{workflow_id} {run_id}", err=True)
        printer = progress_printer(progress)
        outcome = wait_for_close(backend, workflow_id, run_id, outage_limit=outage_limit,
                                 on_progress=printer.update if printer else None)
    except KeyboardInterrupt:
        raise RunInterrupted(
            f"interrupted: run {workflow_id} {run_id} goes on; follow it with `replayflow "
            f"workflow.info --domain {domain} {workflow_id}`", workflow_id, run_id) from None
    finally:
        if printer is not None:
            printer.close()
    report_outcome(outcome, ["--domain", domain, outcome.workflow_id], backend)


def report_outcome(outcome: WorkflowOutcome | LocalResult, where: list[str] | None,
                   backend: Any = None) -> None:
    """How a run ended, as `workflow.start` and `standalone` print it: the result JSON on
    stdout (exit 0), or the failure on stderr and one `Error:` line (exit 1). `backend`, if
    given, is asked for the failing task's traceback when the failure details lack it."""
    if outcome.ok:
        click.echo(json.dumps(outcome.result))
        return
    details = outcome.details
    run_id = getattr(outcome, "run_id", None)  # an SWF run's (a local one has its history)
    if backend is not None and run_id:
        details = with_task_traceback(backend, outcome.workflow_id, run_id, details)
    show_failure(outcome.reason, details, where)
    raise CliError(f"workflow {outcome.status.lower()}: {one_line(outcome.reason)}", 1)


def with_task_traceback(backend: Any, workflow_id: str, run_id: str, details: object) -> object:
    """The failure details, with the failing task's remote traceback read from the run's
    history when the details name the task but lost its traceback (cut to fit SWF's field
    limit, or a failure policy that kept only the error). Best effort: a history that cannot
    be read leaves the details as they are."""
    if not isinstance(details, dict) or not isinstance(details.get("task_id"), str):
        return details
    if _traceback_in(details):
        return details
    from ..operator import fetch_history, task_info

    try:
        task = task_info(fetch_history(backend, workflow_id, run_id), details["task_id"])
    except Exception as exc:  # noqa: BLE001 - the failure is still reported without it
        log.debug("no traceback for %s: %s", details["task_id"], exc)
        return details
    trace = task.get("traceback") or next(
        (a["traceback"] for a in reversed(task["attempt_list"]) if a.get("traceback")), None)
    return {**details, "traceback": trace} if trace else details


def _traceback_in(details: dict) -> bool:
    error = details.get("error")
    return bool(details.get("traceback")) or (
        isinstance(error, dict) and bool(error.get("traceback")))


def _repair_of(cls: type, path: str, local: bool, input_json: str | None,
               input_file: str | None, workflow_id: str | None,
               tags: tuple[str, ...]) -> tuple[list, dict, str, tuple[str, ...]]:
    """`--repair FILE`: the input, workflow id and tags of the recorded run, with its table."""
    if not local:
        raise UserError("--repair FILE only applies to --local runs (on SWF: replayflow "
                        "standalone --domain D WORKFLOW --repair RUN_ID)")
    if input_json is not None or input_file is not None:
        raise InvalidInput("--repair reuses the repaired run's input: drop --input/--input-file")
    from ..operator import read_history_file
    from ..repair import plan_repair

    plan = plan_repair(read_history_file(path), cls)
    if workflow_id and workflow_id != plan.workflow_id:
        raise InvalidInput(f"--repair keeps the run's workflow id ({plan.workflow_id}): drop "
                           "--workflow-id")
    return plan.args, plan.kwargs, plan.workflow_id, tags or tuple(plan.tags)


def with_forced_steps(kwargs: dict, force_steps: str | None) -> dict:
    """The run's input keywords plus `--force-steps` (carried in the input, where replays see
    it; the engine takes it out before run() is called)."""
    if not force_steps:
        return kwargs
    from ..steps import FORCE_STEPS_KEY

    names = [name.strip() for name in force_steps.split(",") if name.strip()]
    if not names:
        raise InvalidInput("--force-steps needs step names, comma-separated")
    return {**kwargs, FORCE_STEPS_KEY: names}


def load_middlewares(paths: tuple[str, ...]) -> list:
    """Instances of the ActivityMiddleware classes named MODULE.CLASS (one-line errors)."""
    from ..middleware import load_middleware

    return [load_middleware(path) for path in paths]


def _start_local(cls: type, args: list, kwargs: dict, *, max_workers: int,
                 history_file: str | None, workflow_id: str | None, task_list: str | None,
                 execution_timeout: int | None, tags: list[str], middlewares: list,
                 modules: tuple[str, ...], simulation: object = None,
                 progress: str = "auto") -> None:
    from ..errors import StuckWorkflow
    from ..local import LocalRunner, history_of

    runner = LocalRunner(max_workers, middlewares=middlewares, modules=load_modules(modules),
                         simulation=simulation)  # type: ignore[arg-type]
    result = None
    run = runner.start(cls, args, kwargs, workflow_id=workflow_id, task_list=task_list,
                       execution_timeout=execution_timeout, tags=tags)
    printer = progress_printer(progress)
    try:
        result = runner.run_until_closed(run, on_progress=printer.update if printer else None)
    except StuckWorkflow as exc:
        raise CliError(f"workflow is stuck: {exc}", 1) from None
    finally:
        if printer is not None:
            printer.close()
        if history_file:  # written whatever happened: a stuck or crashed run is worth reading
            chain = [run]
            while chain[-1].continued_as is not None:
                chain.append(chain[-1].continued_as)
            write_history_file(history_file, history_of(chain))
    report_outcome(result, ["--history-file", history_file] if history_file else None)


def load_modules(modules: tuple[str, ...]) -> list[str]:
    """Check that each --module imports, with a one-line error naming the problem."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise UserError(f"--module {name}: no module named {exc.name!r}; is it on "
                            "PYTHONPATH or in the current directory?") from None
        except Exception as exc:  # noqa: BLE001 - a user module that crashes on import
            raise UserError(f"--module {name}: importing it failed: "
                            f"{type(exc).__name__}: {exc}") from None
    return list(modules)


#: The most traceback lines shown on a terminal; the whole text stays in the failure details.
TRACEBACK_LINES = 40


def show_failure(reason: str | None, details: object,
                 where: list[str] | None = None) -> None:
    """Print what failed on stderr: the failing task's remote traceback, indented under a
    heading and cut to its last lines (the whole text stays in the failure details), then the
    commands that show more. `where` is how the operator commands find the run
    (`--domain D WORKFLOW_ID` or `--history-file F`); None for a local run with no file."""
    trace = task_id = None
    if isinstance(details, dict):
        trace = details.get("traceback")
        task_id = details.get("task_id")
        error = details.get("error")
        if not trace and isinstance(error, dict):
            trace = error.get("traceback")
    lines_out = []
    if isinstance(trace, str) and trace.strip():
        lines = trace.rstrip("\n").splitlines()
        heading = f"remote traceback of {task_id}:" if task_id else "remote traceback:"
        if len(lines) > TRACEBACK_LINES:
            heading += f" (last {TRACEBACK_LINES} of {len(lines)} lines)"
            lines = lines[-TRACEBACK_LINES:]
        lines_out += [heading] + [f"  {line}" for line in lines]
    if where is None:
        lines_out.append("to look further, run it again with --history-file FILE, then "
                         "`replayflow workflow.tasks --history-file FILE`")
    else:
        target = " ".join(where)
        lines_out.append(f"look further: replayflow workflow.tasks {target}")
        if task_id:
            lines_out.append(f"              replayflow task.info {target} {task_id}")
    click.echo("\n".join(lines_out), err=True)
