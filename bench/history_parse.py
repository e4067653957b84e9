"""The cost of parsing one history response, per view: what a decider's cache miss pays before
the replay starts, and what an operator command pays per page.

A chain history of K completed activities (6 events per step plus 3 to start; K = 1000 gives
6,003 events, 1.1 MB of compact JSON) is parsed the way SwfBackend parses a response of the
direct caller (swf.py `_parse_direct`, then swf_history.parse_response), in the engine's view
and in the full view (datetimes). No server, no HTTP.

Reproduce:  .venv/bin/python bench/history_parse.py [--steps K] [--runs N]
Measured on the 2-core shared box (K = 1000, fastest of 40 runs; medians vary with the load):
engine view 3.5 ms, full view 6.0-6.4 ms; before the view became an argument (a thread-local
read by a botocore hook), 3.5-3.7 ms and 6.2-6.6 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from replay import chain_history, poll_model, wire_body  # noqa: E402

from replayflow.backends.swf import _parse_direct  # noqa: E402
from replayflow.backends.swf_history import HistoryView, parse_response  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    events = chain_history(args.steps)
    raw = wire_body(events)
    model = poll_model()
    print(f"{len(events)} events, {len(raw)} bytes")
    for view in (HistoryView.ENGINE, HistoryView.FULL):
        def parse(view: HistoryView = view) -> list[dict]:
            return parse_response(_parse_direct(model, raw), model, view)["events"]

        assert len(parse()) == len(events)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            parse()
            times.append(time.perf_counter() - start)
        print(f"{view.value}_view_ms median={statistics.median(times) * 1e3:.2f} "
              f"min={min(times) * 1e3:.2f}")


if __name__ == "__main__":
    main()
