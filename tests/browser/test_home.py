"""The front page, the language switch, keyboard use, the error page and the API docs in a real Chromium."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sleutelbos.catalogue.levels import Level
from tests import factories
from tests.browser.conftest import ConsoleLog, blocking_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def catalogue() -> None:
    tax = factories.provider(name="Belastingdienst")
    factories.definition(tax, name="Btw-aangifte", level=Level.EH3)
    factories.definition(tax, name="Loonaangifte", level=Level.EH2_PLUS)
    land = factories.provider(name="Kadaster")
    factories.definition(land, name="Akten inzien", level=Level.EH4)


def test_front_page_renders_in_dutch_with_its_stylesheet(live_server, page: Page, console: ConsoleLog, catalogue):
    response = page.goto(live_server.url + "/")

    assert response is not None and response.status == 200
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("banner")).to_contain_text("Sleutelbos")
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("contentinfo")).to_be_visible()
    expect(page.get_by_role("heading", name="Belastingdienst")).to_be_visible()
    expect(page.get_by_role("row", name="Akten inzien EH4")).to_be_visible()
    # The stylesheet arrived and applies: the header has the site's dark green, not the browser's default.
    expect(page.locator(".site-header")).to_have_css("background-color", "rgb(11, 61, 42)")
    assert console.errors == []


def test_language_switch_to_english_and_back(live_server, page: Page, console: ConsoleLog):
    page.goto(live_server.url + "/")
    dutch_title = page.title()

    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    # The choice sticks: a new visit is still in English.
    page.goto(live_server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.get_by_role("button", name="Nederlands").click()

    expect(page.locator("html")).to_have_attribute("lang", "nl")
    assert page.title() == dutch_title
    assert console.errors == []


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(live_server, page: Page):
    page.goto(live_server.url + "/")
    skip_link = page.locator(".skip-link")
    expect(skip_link).not_to_be_in_viewport()

    page.keyboard.press("Tab")

    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()
    assert skip_link.evaluate("element => getComputedStyle(element).outlineStyle") != "none"

    page.keyboard.press("Enter")

    expect(page.get_by_role("main")).to_be_focused()
    expect(page).to_have_url(re.compile(r"#content$"))
    # The next Tab continues inside the main content, not back in the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_front_page_fits_a_phone_screen(live_server, page: Page, catalogue):
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(live_server.url + "/")

    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_front_page_has_no_serious_accessibility_violations(live_server, page: Page, axe: Axe, catalogue):
    page.goto(live_server.url + "/")

    violations, report = blocking_violations(axe, page)

    assert violations == [], report


def test_english_front_page_has_no_serious_accessibility_violations(live_server, page: Page, axe: Axe, catalogue):
    page.goto(live_server.url + "/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")

    violations, report = blocking_violations(axe, page)

    assert violations == [], report


def test_unknown_page_is_an_accessible_dutch_404(live_server, page: Page, axe: Axe, console: ConsoleLog):
    response = page.goto(live_server.url + "/bestaat-niet/")

    assert response is not None and response.status == 404
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("main").get_by_role("heading", level=1)).to_be_visible()
    violations, report = blocking_violations(axe, page)
    assert violations == [], report
    # The only console error is the browser noting the 404 status itself.
    assert [error for error in console.errors if "404" not in error] == []


def test_api_documentation_runs_under_the_csp_and_is_accessible(live_server, page: Page, axe: Axe, console: ConsoleLog):
    response = page.goto(live_server.url + "/api/v1/docs/")

    assert response is not None and response.status == 200
    # Swagger UI rendered the schema: its scripts were allowed to run by the Content-Security-Policy.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Sleutelbos API")
    page.locator(".swagger-ui .opblock").first.wait_for()
    assert console.errors == [], "blocked by the CSP or failing: " + "\n".join(console.errors)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    violations, report = blocking_violations(axe, page)
    assert violations == [], report
