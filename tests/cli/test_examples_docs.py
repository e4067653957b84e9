"""Every `replayflow ...` command quoted in an example's docstring parses as written.

The commands are parsed by the real click command tree, not run: a documented option that does
not exist, or an argument in the wrong place (a signal input given without --input), fails here
instead of in a newcomer's terminal.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import click
import pytest

import replayflow.cli as cli_package

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def documented_commands() -> list[tuple[str, str]]:
    """(example file, command line) for each `replayflow ...` line of the module docstrings."""
    found = []
    for path in sorted(EXAMPLES.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        joined = re.sub(r"\\\n\s*", " ", doc)  # backslash continuations
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("replayflow "):
                found.append((path.name, line.split("  #", 1)[0].split(" # ", 1)[0]))
    return found


COMMANDS = documented_commands()


def subcommand_args(ctx: click.Context) -> list[str]:
    """The group's leftover arguments (click 8.2 renamed where it keeps the command name)."""
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:
        protected = ctx.protected_args
    return [*protected, *ctx.args]


def test_the_examples_document_commands() -> None:
    files = {name for name, _ in COMMANDS}
    assert len(files) >= 10 and "signals.py" in files


@pytest.mark.parametrize(("example", "line"), COMMANDS, ids=[
    f"{name}:{line.split()[1]}" for name, line in COMMANDS])
def test_documented_command_parses(example: str, line: str) -> None:
    cli_package._load_commands()
    group = cli_package.cli
    args = shlex.split(re.sub(r"<[\w-]+>", "PLACEHOLDER", line))[1:]
    with group.make_context("replayflow", list(args), resilient_parsing=False) as ctx:
        name, command, rest = group.resolve_command(ctx, subcommand_args(ctx))
        assert command is not None, f"{example}: unknown command {name!r}"
        try:
            command.make_context(name, rest, parent=ctx)
        except click.UsageError as exc:
            pytest.fail(f"{example} documents `{line}`, which does not parse: {exc}")


def test_a_positional_signal_input_would_be_caught() -> None:
    """The check itself can fail: the form examples/signals.py used to show."""
    cli_package._load_commands()
    group = cli_package.cli
    args = ["workflow.signal", "--domain", "D", "wf", "approval", '{"order": "o-1"}']
    with group.make_context("replayflow", args) as ctx:
        name, command, rest = group.resolve_command(ctx, subcommand_args(ctx))
        with pytest.raises(click.UsageError, match="unexpected extra argument"):
            command.make_context(name, rest, parent=ctx)
