"""Browser tests: Debian's Chromium driven by Playwright for Python against pytest-django's live server.

Playwright's browser download is never used: the tests drive the system Chromium (``/usr/bin/chromium``, Debian's
``chromium`` package; ``CHROMIUM`` overrides the path). Accessibility is checked with axe-core, which
axe-playwright-python ships as ``axe.min.js``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

# Playwright's sync API runs an asyncio event loop in the test thread; Django's ORM, used by the tests to set up
# data, would otherwise refuse to run there ("You cannot call this from an async context").
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core impacts that fail a page.
BLOCKING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class ConsoleLog:
    """Errors a page reported: console errors (CSP violations among them) and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(str(error))


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, console: ConsoleLog) -> Iterator[Page]:
    """A fresh page in a browser whose user prefers Dutch, as most of Sleutelbos's users do."""
    context = browser.new_context(locale="nl-NL", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    yield page
    context.close()


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


def blocking_violations(axe: Axe, page: Page) -> tuple[list[dict], str]:
    """The serious and critical axe-core violations on the page, and a readable report of them."""
    results = axe.run(page)
    violations = [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — {[node['target'] for node in v['nodes']]}" for v in violations
    )
    return violations, report


def assert_accessible(axe: Axe, page: Page) -> None:
    """No serious or critical axe-core violation on the page."""
    violations, report = blocking_violations(axe, page)
    assert violations == [], report


def give_session(page: Page, live_server, person, level=None) -> None:
    """Give the browser the session of ``person`` logged in (at ``level``, when given); the login itself has its
    own browser tests."""
    from django.conf import settings
    from django.test import Client

    from sleutelbos.identity import sessions

    client = Client()
    client.force_login(person)
    if level is not None:
        session = client.session
        session[sessions.AUTH_LEVEL] = int(level)
        session.save()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.session.session_key, "url": live_server.url}]
    )
