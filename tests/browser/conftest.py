"""Browser tests: Playwright for Python driving Debian's Chromium (``/usr/bin/chromium``, or
``LANTERN_CHROMIUM``); nothing ever downloads a browser. In CI a missing browser fails the run;
elsewhere the tests say how to install it and skip."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.browser.server import LiveConsole, serve

pytestmark = pytest.mark.browser


def chromium_path() -> str:
    path = os.environ.get("LANTERN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        message = "Chromium is missing: apt-get install -y chromium (or set LANTERN_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
    yield browser
    browser.close()


@pytest.fixture
def live(committed_db: str, tmp_path: Path) -> Iterator[LiveConsole]:
    with serve(committed_db, tmp_path) as console:
        yield console


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()
