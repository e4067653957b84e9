"""Command-line interface: `replayflow ...` and `python -m replayflow ...`."""

from __future__ import annotations

import importlib
import sys

from .app import cli

# Each module registers its commands on `cli` when imported. A module that is not there yet (or
# fails to import for a missing optional dependency) must not take the whole CLI down.
_COMMAND_MODULES = ("workflow", "swf", "worker", "operator")


def _load_commands() -> None:
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


def main(argv: list[str] | None = None) -> None:
    _load_commands()
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="replayflow")


__all__ = ["cli", "main"]
