"""A mandate manager reads, filters and downloads the organisation's audit trail in Chromium, checked by axe-core."""

from __future__ import annotations

import csv
import io

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.services import mandate_revoke
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories
from tests.browser.conftest import ConsoleLog, assert_accessible, give_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world() -> dict:
    """A bakery whose manager revoked one of two mandates; a butcher next door with its own mandate."""
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.")
    butcher = factories.organisation(name="Slagerij Vlees")
    manager = factories.person(level=Level.EH3, name="Mila Manager")
    membership_ensure(actor=SYSTEM, person=manager, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=manager, organisation=bakery, level=Level.EH3)
    factories.mandate(factories.person(name="Henk Houder"), bakery)
    revoked = factories.mandate(factories.person(name="Ines Ingetrokken"), bakery)
    mandate_revoke(actor=Actor.for_person(manager), mandate=revoked, reason="Uit dienst")
    factories.mandate(factories.person(name="Vera Vleeskeurder"), butcher)
    return {"bakery": bakery, "manager": manager}


def test_a_manager_filters_and_downloads_the_audit_trail(live_server, page: Page, axe: Axe, console: ConsoleLog, world):
    bakery = world["bakery"]
    give_session(page, live_server, world["manager"])
    page.goto(f"{live_server.url}/my/organisations/{bakery.pk}/")
    page.locator(f"a[href='/my/organisations/{bakery.pk}/audit/']").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("Bakkerij De Gouden Korst B.V.")
    table = page.locator("table[data-audit]")
    expect(table).to_contain_text("Henk Houder")
    expect(table).to_contain_text("Ines Ingetrokken")
    expect(table).not_to_contain_text("Vera Vleeskeurder")
    assert_accessible(axe, page)

    # Only the revocations, chosen with the keyboard.
    page.locator("#id_action").focus()
    page.locator("#id_action").select_option("mandate:revoked")
    page.keyboard.press("Tab")
    page.locator("form[data-audit-filter] button[type=submit]").press("Enter")
    expect(page).to_have_url(
        f"{live_server.url}/my/organisations/{bakery.pk}/audit/?action=mandate%3Arevoked&person=&start=&end="
    )
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Ines Ingetrokken")
    expect(table).to_contain_text("Uit dienst")
    expect(table).to_contain_text("Mila Manager")

    # The download holds the same events.
    with page.expect_download() as download_info:
        page.locator("a[data-export]").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"audit-{bakery.kvk}-")
    with open(download.path(), encoding="utf-8-sig") as exported:
        rows = list(csv.reader(io.StringIO(exported.read()), delimiter=";"))  # as Dutch spreadsheets read it
    assert len(rows) == 2 and rows[1][6] == "mandate:revoked" and "Ines Ingetrokken" in rows[1][4]

    # An end before the start: the error is named, linked to its field, and the page stays accessible.
    page.locator("#id_start").fill("2025-05-01")
    page.locator("#id_end").fill("2025-04-01")
    page.locator("form[data-audit-filter] button[type=submit]").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    summary.locator("a").first.click()
    expect(page.locator("#id_end")).to_be_focused()
    expect(page.locator("#id_end")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)

    # The refused filter is answered 400 (Bad Request), which Chromium logs; nothing else may fail or be blocked.
    assert [error for error in console.errors if "status of 400" not in error] == []
