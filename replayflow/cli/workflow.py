"""`replayflow workflow.start`: start a workflow, locally (`--local`) or on SWF."""

from __future__ import annotations

import json
import sys

import click

from .. import encoding
from ..errors import InvalidInput, UserError
from ..history import write_history_file
from ..loader import check_arguments, load_workflow
from .app import CliError, cli, handle_errors

INPUT_HELP = """JSON input of run(). A list is positional arguments; {"args": [...], "kwargs":
{...}} is both; any other object is keyword arguments; a scalar is one positional argument."""


def read_input(input_json: str | None, input_file: str | None) -> tuple[list, dict]:
    """Apply the input convention to --input or --input-file (never both)."""
    if input_json is not None and input_file is not None:
        raise InvalidInput("give --input or --input-file, not both")
    if input_file is not None:
        try:
            text = sys.stdin.read() if input_file == "-" else open(input_file).read()
        except OSError as exc:
            raise InvalidInput(f"cannot read --input-file {input_file}: {exc.strerror}") from None
        return encoding.parse_input_convention(text, f"--input-file {input_file}")
    if input_json is None:
        return [], {}
    return encoding.parse_input_convention(input_json, "--input")


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
@click.option("--wait", is_flag=True, help="On SWF: wait for the end, print the result JSON.")
@click.pass_context
@handle_errors
def workflow_start(ctx: click.Context, workflow: str, input_json: str | None,
                   input_file: str | None, local: bool, max_workers: int,
                   history_file: str | None, domain: str | None, workflow_id: str | None,
                   task_list: str | None, execution_timeout: int | None, tags: tuple[str, ...],
                   wait: bool) -> None:
    """Start WORKFLOW (MODULE.CLASS, e.g. examples.basic.BasicWorkflow).

    \b
    With --local it runs here and now, prints the result as JSON on stdout and exits 0, or
    prints the failure on stderr and exits 1:
      replayflow workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'
    On SWF it prints "<workflow_id> <run_id>" (or, with --wait, the result):
      replayflow workflow.start --domain D examples.basic.BasicWorkflow --input '[1]'

    Exit codes: 0 success, 1 the workflow failed, 2 bad usage or input.
    """
    cls = load_workflow(workflow)
    args, kwargs = read_input(input_json, input_file)
    check_arguments(cls, args, kwargs)
    if len(tags) > 5:
        raise InvalidInput("SWF allows at most 5 tags")
    if local:
        _start_local(cls, args, kwargs, max_workers, history_file, workflow_id)
        return
    if history_file:
        raise UserError("--history-file only applies to --local runs")
    from ..client import start_on_swf  # imported late: boto3 is slow to import

    start_on_swf(cls, args, kwargs, domain=domain, workflow_id=workflow_id,
                 task_list=task_list, execution_timeout=execution_timeout, tags=list(tags),
                 wait=wait)


def _start_local(cls: type, args: list, kwargs: dict, max_workers: int,
                 history_file: str | None, workflow_id: str | None) -> None:
    from ..backends.memory import StuckWorkflow
    from ..local import run_local

    try:
        result = run_local(cls, *args, max_workers=max_workers, workflow_id=workflow_id,
                           **kwargs)
    except StuckWorkflow as exc:
        raise CliError(f"workflow is stuck: {exc}", 1) from None
    if history_file:
        write_history_file(history_file, result.execution.history())
    if result.ok:
        click.echo(json.dumps(result.result))
        return
    from ..client import one_line

    message = f"workflow {result.status.lower()}: {one_line(result.reason)}"
    raise CliError(message, 1)
