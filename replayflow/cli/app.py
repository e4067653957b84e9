"""The `replayflow` click group, shared options, and the one-line error convention.

Command modules (`cli/*.py`) register themselves on `cli`. They only parse, call the library and
format; logic found in a command is logic the Python API lacks.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..__about__ import __version__
from ..errors import ReplayflowError, RunInterrupted, UserError

log = logging.getLogger("replayflow")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def setup_logging() -> None:
    """Logs go to stderr; LOG_LEVEL (DEBUG, INFO, WARNING, ERROR) sets verbosity."""
    level_name = os.environ.get("LOG_LEVEL", "WARNING").upper()
    level = getattr(logging, level_name, None)
    if not isinstance(level, int):
        level = logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore is chatty at DEBUG; keep it one notch quieter than ours unless asked for.
    if level <= logging.DEBUG and os.environ.get("LOG_LEVEL_BOTO", "") == "":
        logging.getLogger("botocore").setLevel(logging.INFO)


class OutputOptions:
    """Global `--format` and `--header` settings, read by formatting helpers."""

    def __init__(self, fmt: str = "table", header: bool = False) -> None:
        self.format = fmt
        self.header = header


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="replayflow")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True, help="Output format of the operator commands.")
@click.option("--header/--no-header", default=False,
              help="Header rows: on by default for tables, off for csv.")
@click.pass_context
def cli(ctx: click.Context, fmt: str, header: bool) -> None:
    """replayflow: durable workflows on Amazon SWF, written as plain Python.

    \b
    Run a workflow on this machine, with no AWS at all:
      replayflow workflow.start --local examples.basic.BasicWorkflow --input '[1, 0]'

    \b
    Run it on SWF (or a moto server): start a decider and a worker, then the workflow:
      replayflow decider.start --domain D examples.basic.BasicWorkflow
      replayflow worker.start --domain D --task-list quickstart
      replayflow workflow.start --domain D examples.basic.BasicWorkflow --input '[1]' --wait
    or all three at once:
      replayflow standalone --domain D examples.basic.BasicWorkflow --input '[1]'

    Logs go to stderr (LOG_LEVEL=DEBUG|INFO|WARNING|ERROR); results go to stdout.
    """
    setup_logging()
    ctx.obj = OutputOptions(fmt, header)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one `Error: ...` line and the right exit code, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            raise CliError(str(exc), exc.exit_code) from None
        except ReplayflowError as exc:
            raise CliError(str(exc), getattr(exc, "exit_code", 1)) from None
        except KeyboardInterrupt as exc:
            # One line: what became of the run we were waiting on, if there was one.
            click.echo(str(exc) if isinstance(exc, RunInterrupted) else "Interrupted.", err=True)
            sys.exit(130)

    return wrapper


class CliError(click.ClickException):
    """One `Error: ...` line on stderr, with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message.splitlines()[0] if message else "unknown error")
        self.exit_code = exit_code
