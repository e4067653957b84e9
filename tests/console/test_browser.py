"""The page in a real headless Chromium: list, graph, colours, timeline, live updates, actions.

Chromium is the distribution's (`script/test` installs it as root), driven by Playwright through
`executable_path`: no browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import support.swf_runs as hand
from playwright.sync_api import expect
from support.console import ConsoleProcess
from support.console_workflows import FanoutWorkflow

from replayflow.backends.swf import SwfBackend
from replayflow.history import write_history_file
from replayflow.local import run_local

DOCS = Path(__file__).resolve().parents[2] / "docs"
FILES = ["console_dataflow_failed", "console_dataflow_completed", "basic_completed", "failed",
         "open"]
# The colours style.css gives each phase, as the browser computes them.
FAILED_RED = "rgb(224, 49, 49)"
COMPLETED_GREEN = "rgb(39, 174, 96)"
SCHEDULED_GREY = "rgb(154, 165, 177)"
TIMEOUT = 20_000


@pytest.fixture(scope="module")
def files_console() -> Iterator[ConsoleProcess]:
    # Paths relative to the repository (the console's working directory), as a user types them.
    args = [a for name in FILES for a in ("--history-file", f"tests/histories/{name}.json")]
    with ConsoleProcess(*args) as console:
        yield console


def ready(page) -> None:
    page.wait_for_selector('#main[data-state="ready"]', state="attached", timeout=TIMEOUT)


def fill_of(page, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).fill")


def node(task_id: str) -> str:
    return f'#graph .node[data-id="{task_id}"]'


def test_the_list_shows_the_runs_with_their_status(page, files_console):
    page.goto(files_console.url + "/")
    ready(page)
    rows = page.locator("#runs tr.run-row")
    assert rows.count() == len(FILES)
    statuses = dict(zip(rows.evaluate_all("rs => rs.map(r => r.dataset.workflowId)"),
                        rows.evaluate_all("rs => rs.map(r => r.dataset.status)"), strict=True))
    assert statuses == {"dataflow-failed": "FAILED", "dataflow-ok": "COMPLETED",
                        "wf-basic_completed": "COMPLETED", "fanout-1": "FAILED",
                        "basic-open-1": "OPEN"}
    failed_chip = page.locator('tr[data-workflow-id="dataflow-failed"] .chip')
    assert failed_chip.evaluate("el => getComputedStyle(el).backgroundColor") == FAILED_RED

    page.select_option("#filters select[name=status]", "open")
    page.click("#filters button[type=submit]")
    expect(page.locator("#runs tr.run-row")).to_have_count(1, timeout=TIMEOUT)
    assert page.locator("#runs tr.run-row").get_attribute("data-workflow-id") == "basic-open-1"


def test_a_run_page_draws_each_task_its_colour_and_the_futures_passed(page, files_console,
                                                                       artifacts):
    page.goto(files_console.url + "/#/run/dataflow-failed/latest")
    ready(page)
    prefix = "activity-support.console_workflows."
    assert page.locator("#graph .node").count() == 6
    assert fill_of(page, node(prefix + "check-1") + " rect.box") == FAILED_RED
    assert fill_of(page, node(prefix + "total-1") + " rect.box") == COMPLETED_GREEN
    edges = page.locator("#graph .edge").evaluate_all(
        "es => es.map(e => [e.dataset.source, e.dataset.target])")
    short = {(s.removeprefix(prefix), t.removeprefix(prefix)) for s, t in edges}
    assert short == {("load-1", "square-1"), ("load-1", "square-2"), ("load-1", "square-3"),
                     ("square-1", "total-1"), ("square-2", "total-1"), ("square-3", "total-1"),
                     ("total-1", "check-1")}
    # Each edge is drawn from its source box to its target box (left to right).
    for source, target in edges:
        source_box = page.locator(node(source)).bounding_box()
        target_box = page.locator(node(target)).bounding_box()
        assert source_box["x"] + source_box["width"] <= target_box["x"] + 1

    # The timeline renders one row per task, with a bar inside the run's window.
    rows = page.locator("#timeline .timeline-row")
    assert rows.count() == 6
    assert page.locator("#timeline .timeline-row rect.bar").count() >= 6
    failed_bar = page.locator(f'#timeline .timeline-row[data-id="{prefix}check-1"] rect.bar')
    assert failed_bar.first.evaluate("el => getComputedStyle(el).fill") == FAILED_RED

    # Failed only, then the failure's decoded error and traceback.
    page.check("#failed-only")
    assert page.locator("#tasks tr.task-row").count() == 1
    page.click("#tasks tr.task-row")
    assert "total 14 is over 10" in page.inner_text("#detail-error")
    assert "raise ValueError" in page.inner_text("#detail-traceback")
    # A click on a graph node selects it too.
    page.uncheck("#failed-only")
    page.click(node(prefix + "load-1"))
    assert page.inner_text("#detail-result").split() == ["[", "1,", "2,", "3", "]"]
    page.click(node(prefix + "check-1"))
    assert "raise ValueError" in page.inner_text("#detail-traceback")

    # The artefact; REPLAYFLOW_UPDATE_DOCS=1 also refreshes the README's screenshot.
    page.screenshot(path=str(artifacts / "console-run.png"), full_page=True)
    if os.environ.get("REPLAYFLOW_UPDATE_DOCS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copy(artifacts / "console-run.png", DOCS / "console-run.png")

    # The history, and the raw download link that replays in tests.
    page.click("#history-section summary")
    page.wait_for_selector("#history tbody tr", timeout=TIMEOUT)
    assert page.locator("#history tbody tr").count() == 38
    assert page.get_attribute("#download-history", "href").endswith("/history?raw=true")


def test_a_run_of_a_thousand_tasks_is_grouped_then_expands(page, tmp_path):
    result = run_local(FanoutWorkflow, [1000])
    source = tmp_path / "fanout-1000.json"
    write_history_file(source, result.history())
    workflow_id = result.history().workflow_execution["workflowId"]
    with ConsoleProcess("--history-file", str(source)) as console:
        page.goto(f"{console.url}/#/run/{workflow_id}/latest")
        ready(page)
        assert page.locator("#graph .node").count() == 3  # load, 1000 squares, total
        group = page.locator("#graph .node.group")
        assert group.get_attribute("data-phase") == "completed"
        assert "×1000" in group.text_content()
        assert page.locator("#tasks tr.task-row").count() == 1002
        group.click()
        expect(page.locator("#graph .node")).to_have_count(1002, timeout=60_000)
        assert page.locator("#graph .edge").count() == 2000


def test_terminate_with_the_token(page, aws_env, swf_domain):
    run = hand.make_waiting(hand.HandDriver(SwfBackend(swf_domain)), "browser-terminate")
    with ConsoleProcess("--domain", swf_domain, env={**aws_env, "SWF_DOMAIN": ""}) as console:
        page.goto(f"{console.url}/#token={console.token}")
        ready(page)
        assert page.input_value("#token") == console.token
        page.goto(f"{console.url}/#/run/{run.workflow_id}/{run.run_id}")
        ready(page)
        page.on("dialog", lambda dialog: dialog.accept())
        page.fill("#terminate-reason", "stopped in the browser")
        page.click("#terminate")
        page.wait_for_selector('#main[data-status="TERMINATED"]', state="attached",
                               timeout=TIMEOUT)
        assert "terminate: done" in page.inner_text("#action-status") or \
            page.locator("#terminate").count() == 0
        info = SwfBackend(swf_domain).describe_workflow_execution(run.workflow_id, run.run_id)
        assert info["executionInfo"]["closeStatus"] == "TERMINATED"


def test_without_the_token_an_action_says_why(page, aws_env, swf_domain):
    run = hand.make_waiting(hand.HandDriver(SwfBackend(swf_domain)), "browser-no-token")
    with ConsoleProcess("--domain", swf_domain, env={**aws_env, "SWF_DOMAIN": ""}) as console:
        page.goto(f"{console.url}/#/run/{run.workflow_id}/{run.run_id}")
        ready(page)
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#terminate")
        expect(page.locator("#action-status")).to_contain_text("token", timeout=TIMEOUT)
        assert page.get_attribute("#main", "data-status") == "OPEN"


def test_a_run_that_finishes_while_the_page_is_open_changes_colour(page, aws_env, swf_domain):
    driver = hand.HandDriver(SwfBackend(swf_domain))
    run = hand.make_waiting(driver, "browser-live")
    env = {**aws_env, "SWF_DOMAIN": ""}
    with ConsoleProcess("--domain", swf_domain, "--poll-interval", "0.3", env=env) as console:
        page.goto(f"{console.url}/#/run/{run.workflow_id}/{run.run_id}")
        ready(page)
        increment = node(hand.INCREMENT)
        assert page.get_attribute(increment, "data-phase") == "scheduled"
        assert fill_of(page, increment + " rect.box") == SCHEDULED_GREY
        page.evaluate("window.__not_reloaded = true")
        expect(page.locator("#live")).to_have_text("live", timeout=TIMEOUT)

        driver.succeed(f"{hand.INCREMENT}#1", 10)
        driver.decide(run, hand.complete("10"))

        page.wait_for_selector('#main[data-status="COMPLETED"]', state="attached",
                               timeout=TIMEOUT)
        page.wait_for_selector(f'{increment}[data-phase="completed"]', timeout=TIMEOUT)
        assert fill_of(page, increment + " rect.box") == COMPLETED_GREEN
        assert page.evaluate("window.__not_reloaded") is True
        expect(page.locator("#live")).to_have_text("closed", timeout=TIMEOUT)
