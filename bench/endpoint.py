"""Benchmark endpoint failures: how long until a command says it cannot reach SWF.

Reproduce (from the repository root, nothing else needed; it starts its own moto server):

    .venv/bin/python bench/endpoint.py          # one line of figures
    .venv/bin/python bench/endpoint.py --json   # the same figures as one JSON object

What it measures, with `replayflow workflow.list` run as a user runs it (a subprocess, so
interpreter start-up and imports are included, about a second):

- hung: the endpoint accepts TCP connections and never answers (tests/support/tcp_proxy.py in
  "hung" mode): seconds until the one-line "Cannot reach" error;
- refused: nothing listens on the port: the same;
- normal: the same command against the live moto server, for comparison.

One run each (the hung case is bounded by timeouts, not by noise). Never used as assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.moto_server import MotoServer  # noqa: E402
from support.tcp_proxy import TcpProxy  # noqa: E402


def seconds_to_answer(env: dict[str, str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "replayflow", "workflow.list", "--domain",
                           "bench"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    return time.perf_counter() - start, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with MotoServer() as server:
        env = server.subprocess_env(dict(os.environ, LOG_LEVEL="ERROR"))
        import boto3

        boto3.client("swf", endpoint_url=server.endpoint_url, region_name="us-east-1",
                     aws_access_key_id="t", aws_secret_access_key="t").register_domain(
            name="bench", workflowExecutionRetentionPeriodInDays="1")
        figures: dict[str, float] = {}
        figures["normal_s"], _ = seconds_to_answer(env)
        with TcpProxy(server.port) as proxy:
            proxy.hang()
            figures["hung_s"], code = seconds_to_answer({**env,
                                                         "AWS_ENDPOINT_URL": proxy.endpoint_url})
            assert code == 2, code
            proxy.down()
            figures["refused_s"], code = seconds_to_answer(
                {**env, "AWS_ENDPOINT_URL": proxy.endpoint_url})
            assert code == 2, code
    if args.json:
        print(json.dumps({key: round(value, 2) for key, value in figures.items()}))
    else:
        print(f"workflow.list: normal {figures['normal_s']:.1f} s, endpoint hung "
              f"{figures['hung_s']:.1f} s, connection refused {figures['refused_s']:.1f} s "
              "(until the one-line error)")


if __name__ == "__main__":
    main()
