"""Browser tests: Playwright drives Debian's chromium against a served CKAN.

Fixtures:
  site             the CKAN site under test, with harvest workers (session; see site.py)
  browser          chromium, headless (session)
  page             a fresh browser context and page per test
  logged_in_page   ``page``, logged in as the site's sysadmin through /user/login

Page helpers (``login``, ``wait_for_ckan_js``) are in ui.py.

Tests talk to the site over HTTP only (pages, or ``site.action``), never through
CKAN's in-process fixtures. A failing test leaves a full-page screenshot and the
page's HTML in $HARVESTPLUS_TEST_ARTIFACTS (default .test-artifacts/browser/).
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser import site as browser_site
from tests.browser.ui import login

CHROMIUM = os.environ.get("HARVESTPLUS_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous for a loaded 2-core machine, yet a stuck step fails in seconds, not minutes.
ACTION_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 30_000
ARTIFACTS = Path(
    os.environ.get("HARVESTPLUS_TEST_ARTIFACTS")
    or Path(__file__).resolve().parents[2] / ".test-artifacts" / "browser"
)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[browser_site.Site]:
    served = browser_site.start(tmp_path_factory.mktemp("browser-site"))
    yield served
    dead = served.dead()  # before stop(), which ends them all
    served.stop()
    if dead:
        pytest.fail(f"browser site processes died during the tests: {dead}\n{served.log_tails()}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} missing: the browser tests need Debian's chromium (make browser)")
    expect.set_options(timeout=ACTION_TIMEOUT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, site: browser_site.Site) -> Iterator[Page]:
    context = browser.new_context(base_url=site.url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    yield context.new_page()
    context.close()
    site.check_alive()


@pytest.fixture
def logged_in_page(page: Page, site: browser_site.Site) -> Page:
    login(page, site)
    return page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure: a full-page screenshot, the page's HTML and the site's log tails."""
    report = yield
    if not report.failed or report.when == "teardown":
        return report
    funcargs = getattr(item, "funcargs", {})
    if (page := funcargs.get("page")) is not None and not page.is_closed():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        stem = ARTIFACTS / re.sub(r"[^\w.-]+", "_", item.name)
        try:
            page.screenshot(path=f"{stem}.png", full_page=True)
            Path(f"{stem}.html").write_text(page.content())
            report.sections.append(("browser artefacts", f"{stem}.png\n{stem}.html"))
        except Exception as e:  # a broken page must not hide the test's own failure
            report.sections.append(("browser artefacts", f"could not save: {e}"))
    if (served := funcargs.get("site")) is not None:
        report.sections.append(("browser site logs", served.log_tails(chars=2000)))
    return report
