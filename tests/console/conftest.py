"""Console test fixtures: a real headless Chromium (the distribution's, never a download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

#: What Chromium needs to run headless as root here, and to stay off the network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """REPLAYFLOW_CHROMIUM, or the distribution's chromium on PATH."""
    configured = os.environ.get("REPLAYFLOW_CHROMIUM")
    if configured:
        return configured
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        message = ("no Chromium: install the distribution's (apt-get install chromium) or set "
                   "REPLAYFLOW_CHROMIUM to a Chromium binary")
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it (script/test): a missing browser is a bug
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()
    assert errors == [], errors  # an uncaught exception in the page fails the test


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where browser tests leave screenshots (REPLAYFLOW_ARTIFACTS, default build/)."""
    default = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
    path = Path(os.environ.get("REPLAYFLOW_ARTIFACTS") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path
