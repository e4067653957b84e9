"""Run moto's server on 127.0.0.1, optionally with a shorter SWF empty-poll sleep.

moto 5.x has no long poll: when PollForDecisionTask / PollForActivityTask finds no task, the
backend calls `sleep(1)` (moto/swf/models/__init__.py, `from time import sleep`) so naive clients
do not spin. Tests poll often, so a whole second per empty poll makes them slow; `--poll-sleep S`
swaps that module-level `sleep` for one that waits S seconds instead. This patch is test support
only: the library never touches moto.

Usage: python tests/support/run_moto.py --port PORT [--poll-sleep SECONDS]
"""

from __future__ import annotations

import argparse
import sys
import time


def patch_swf_poll_sleep(seconds: float) -> None:
    """Make moto's SWF backend wait `seconds` (not 1 s) when a poll finds nothing."""
    import moto.swf.models as swf_models

    if not hasattr(swf_models, "sleep"):
        raise RuntimeError(
            "moto.swf.models has no module-level `sleep` any more; "
            "update tests/support/run_moto.py for this moto version"
        )
    real_sleep = time.sleep

    def short_sleep(_requested: float) -> None:
        real_sleep(seconds)

    swf_models.sleep = short_sleep


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, apply the optional patch, then serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--poll-sleep",
        type=float,
        default=None,
        help="seconds moto's SWF waits on an empty poll (moto's own default: 1)",
    )
    args = parser.parse_args(argv)
    if args.poll_sleep is not None:
        patch_swf_poll_sleep(args.poll_sleep)

    from moto.server import main as moto_main

    sys.stdout.flush()
    moto_main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
