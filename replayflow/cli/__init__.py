"""Command-line interface: `replayflow ...` and `python -m replayflow ...`."""

from __future__ import annotations

import sys

from .app import cli


def _load_commands() -> None:
    """Each module registers its commands on `cli` when imported."""
    from . import console, operator, swf, worker, workflow  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    try:
        _load_commands()
    except KeyboardInterrupt:  # Ctrl-C while starting up: as handle_errors says it, no traceback
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="replayflow")


__all__ = ["cli", "main"]
