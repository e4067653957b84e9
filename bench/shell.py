"""Benchmark shell commands: what `shell.run` costs over `subprocess.run`, and its throughput.

Reproduce (from the repository root, nothing else needed):

    .venv/bin/python bench/shell.py          # one line of figures
    .venv/bin/python bench/shell.py --json   # the same figures as one JSON object

What it measures (medians of several runs; never used as assertions in tests):

- start: a `true` command through `shell.run` and through `subprocess.run(capture_output=True)`
  (fork, exec, wait: the floor any runner pays), and the difference;
- throughput: 100 MB of stdout drained (with capture=1 MB, so memory stays bounded) in MB/s,
  against `subprocess.run` keeping all of it;
- stdin: 20 MB through `cat` (written while stdout is drained), in MB/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from replayflow import shell  # noqa: E402

MB = 1_000_000
BIG = ["sh", "-c", f"head -c {100 * MB} /dev/zero"]


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args()
    ours = median_seconds(lambda: shell.run(["true"]), 50)
    plain = median_seconds(lambda: subprocess.run(["true"], capture_output=True), 50)
    drained = median_seconds(lambda: shell.run(BIG, capture=MB), 3)
    kept = median_seconds(lambda: subprocess.run(BIG, capture_output=True), 3)
    data = b"x" * (20 * MB)
    piped = median_seconds(lambda: shell.run(["cat"], stdin=data, capture=MB), 3)
    figures = {
        "start_ms": round(ours * 1000, 2),
        "subprocess_start_ms": round(plain * 1000, 2),
        "overhead_ms": round((ours - plain) * 1000, 2),
        "stdout_mb_s": round(100 / drained),
        "subprocess_stdout_mb_s": round(100 / kept),
        "stdin_mb_s": round(20 / piped),
    }
    if options.json:
        print(json.dumps(figures))
    else:
        print(" ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
