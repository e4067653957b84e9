"""Console page load for a run of 1,000 tasks, in the distribution's headless Chromium.

The run is `examples.fanout.FanoutWorkflow` with 999 squares summed by one task (1,000 tasks,
999 edges), run locally and written as a history file; `replayflow console --history-file` serves
it. Each sample opens the run page in a fresh browser context (empty HTTP cache) and measures,
with the page's own clock, the time from navigation start until the page is ready (info, grouped
graph, timeline and the 1,000-row tasks table all drawn). It also times the API calls behind it,
the first (folding the history) and the next (memoized), and the expansion of the group into
1,000 nodes laid out by dagre.

Reproduce:  .venv/bin/python bench/console.py           # one line of figures
            .venv/bin/python bench/console.py --json    # one JSON object
Needs Chromium (`apt-get install chromium`, or REPLAYFLOW_CHROMIUM=/path/to/chromium).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.console import ConsoleProcess  # noqa: E402

from examples.fanout import FanoutWorkflow  # noqa: E402
from replayflow.history import write_history_file  # noqa: E402
from replayflow.local import run_local  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def timed_get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    executable = os.environ.get("REPLAYFLOW_CHROMIUM") or shutil.which("chromium")
    if not executable:
        sys.exit("bench/console.py needs Chromium: apt-get install chromium")

    result = run_local(FanoutWorkflow, [options.tasks - 1])
    history = result.history()
    workflow_id = history.workflow_execution["workflowId"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fanout.json")
        write_history_file(path, history)
        size = os.path.getsize(path)
        with ConsoleProcess("--history-file", path) as console:
            api = f"{console.url}/api/executions/{workflow_id}/latest"
            first = {name: timed_get(f"{api}/{name}") for name in ("graph", "tasks", "profile")}
            again = {name: timed_get(f"{api}/{name}") for name in ("graph", "tasks", "profile")}
            from playwright.sync_api import expect, sync_playwright

            loads: list[float] = []
            expands: list[float] = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable,
                                                     args=CHROMIUM_ARGS)
                for _ in range(options.samples):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    page = context.new_page()
                    page.goto(f"{console.url}/#/run/{workflow_id}/latest")
                    page.wait_for_selector('#main[data-state="ready"]', state="attached",
                                           timeout=60_000)
                    expect(page.locator("#tasks tr.task-row")).to_have_count(options.tasks)
                    loads.append(float(page.get_attribute("#main", "data-ready-at")))
                    start = page.evaluate("performance.now()")
                    page.click("#graph .node.group")
                    expect(page.locator("#graph .node")).to_have_count(options.tasks,
                                                                       timeout=60_000)
                    expands.append(page.evaluate("performance.now()") - start)
                    context.close()
                browser.close()
    figures = {
        "tasks": options.tasks, "history_bytes": size, "events": len(history.events),
        "page_ready_ms_median": round(statistics.median(loads), 1),
        "page_ready_ms_max": round(max(loads), 1),
        "expand_1000_nodes_ms_median": round(statistics.median(expands), 1),
        "api_first_ms": {k: round(v, 1) for k, v in first.items()},
        "api_cached_ms": {k: round(v, 1) for k, v in again.items()},
        "samples": options.samples,
    }
    if options.json:
        print(json.dumps(figures))
        return
    print(f"{options.tasks} tasks ({figures['events']} events, {size // 1024} KiB): page ready "
          f"in {figures['page_ready_ms_median']} ms median ({figures['page_ready_ms_max']} max, "
          f"{options.samples} cold loads); expand to {options.tasks} nodes "
          f"{figures['expand_1000_nodes_ms_median']} ms; API first/cached: graph "
          f"{first['graph']:.0f}/{again['graph']:.0f} ms, tasks {first['tasks']:.0f}/"
          f"{again['tasks']:.0f} ms, profile {first['profile']:.0f}/{again['profile']:.0f} ms")


if __name__ == "__main__":
    main()
