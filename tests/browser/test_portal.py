"""Mijn Sleutelbos and "Where can I log in?" in a real Chromium: keyboard and mouse, no JavaScript needed, axe-core."""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import parse_qs, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import membership_ensure
from tests import factories
from tests.browser.conftest import ConsoleLog, assert_accessible, give_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world() -> dict:
    """An employee of a bakery with a mandate for the Kadaster that ends in 30 days, and an accountant's chain."""
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="45678901")
    accountants = factories.organisation(name="Van Dijk & Partners", kvk="46789012")
    person = factories.person(level=Level.EH3, name="Fatima El Amrani")
    kadaster = factories.provider(name="Kadaster", oin="00000009900000002000")
    tax = factories.provider(name="Belastingdienst", oin="00000009900000001000")
    services = {
        "map": factories.definition(kadaster, name="Kadastrale kaart inzien", level=Level.EH2),
        "vat": factories.definition(tax, name="Aangifte omzetbelasting", level=Level.EH3),
        "vatid": factories.definition(tax, name="Btw-identificatienummer opvragen", level=Level.EH2_PLUS),
    }
    factories.mandate(
        person,
        bakery,
        scope=Scope.of_providers(kadaster),
        valid_until=factories.years_from_now(0) + dt.timedelta(days=30),
    )
    factories.mandate(person, accountants, scope=Scope.all(), level=Level.EH3)
    factories.chain_mandate(bakery, accountants, scope=Scope.of_services(services["vat"].uuid))
    membership_ensure(actor=SYSTEM, person=person, organisation=bakery)
    return {"person": person, **services}


def test_the_overview_from_the_header(live_server, page: Page, axe: Axe, console: ConsoleLog, world):
    give_session(page, live_server, world["person"])
    page.goto(live_server.url + "/")

    page.locator(".site-nav a[href='/my/']").click()

    expect(page).to_have_url(live_server.url + "/my/")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("heading", name="Bakkerij De Gouden Korst B.V.")).to_be_visible()
    # The mandate that ends in 30 days carries its warning in words.
    expect(page.locator("[data-expiry-warning]")).to_have_count(1)
    expect(page.locator("[data-expiry-warning]")).to_be_visible()
    expect(page.locator("[data-chain-mandate]")).to_contain_text("Bakkerij De Gouden Korst B.V.")
    assert_accessible(axe, page)
    assert console.errors == []


def test_where_can_i_log_in_with_the_keyboard_and_without_javascript(
    live_server, page: Page, axe: Axe, console: ConsoleLog, world
):
    give_session(page, live_server, world["person"])
    page.goto(live_server.url + "/my/")
    page.locator("main a[href='/my/login-check/']").first.click()
    expect(page).to_have_url(live_server.url + "/my/login-check/")
    assert_accessible(axe, page)

    page.locator("#id_organisation").select_option("45678901")
    page.locator("#id_q").fill("belastingdienst")
    page.locator("#id_q").press("Enter")

    expect(page).to_have_url(live_server.url + "/my/login-check/?organisation=45678901&q=belastingdienst")
    table = page.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(2)
    vat = table.locator(f"tr[data-service='{world['vat'].uuid}']")
    expect(vat).to_have_attribute("data-allowed", "no")
    expect(vat.locator("[data-reason='no_mandate']")).to_be_visible()
    link = vat.get_by_role("link", name="Aangifte omzetbelasting")
    href = html.unescape(link.get_attribute("href"))
    url = urlsplit(href)
    assert url.path == "/requests/new/"
    assert parse_qs(url.query) == {
        "kvk": ["45678901"],
        "provider": ["00000009900000001000"],
        "service": [str(world["vat"].uuid)],
        "level": ["EH3"],
    }
    assert_accessible(axe, page)
    assert console.errors == []


def test_the_check_for_a_client_and_in_english(live_server, page: Page, axe: Axe, world):
    give_session(page, live_server, world["person"])
    page.goto(live_server.url + "/my/login-check/?organisation=45678901-via-46789012")
    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    vat = page.locator(f"tr[data-service='{world['vat'].uuid}']")
    expect(vat).to_have_attribute("data-allowed", "yes")
    expect(vat).to_contain_text("Yes, you can log in")
    expect(
        page.locator(f"tr[data-service='{world['map'].uuid}'] [data-reason='chain_mandate_missing']")
    ).to_be_visible()
    assert_accessible(axe, page)


def test_the_check_fits_a_phone_screen(live_server, page: Page, world):
    give_session(page, live_server, world["person"])
    page.set_viewport_size({"width": 360, "height": 740})

    for path in ("/my/", "/my/login-check/"):
        page.goto(live_server.url + path)
        # The table may scroll inside its own box; the page itself does not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), path
