"""A mandate manager's mandate pages in a real Chromium: grant, renew, revoke with confirmation; axe-core on each."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Page, expect

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.mandates.models import Mandate
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories
from tests.browser.conftest import ConsoleLog, assert_accessible, give_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world() -> dict:
    """A bakery with a manager (EH3), an employee whose Kadaster mandate ends in 20 days, and an accountant."""
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="45678901")
    accountants = factories.organisation(name="Van Dijk & Partners", kvk="46789012")
    manager = factories.person(level=Level.EH3, name="Mirjam Beheer")
    employee = factories.person(level=Level.EH3, name="Joost Medewerker")
    for person in (manager, employee):
        membership_ensure(actor=SYSTEM, person=person, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=manager, organisation=bakery, level=Level.EH3)
    kadaster = factories.provider(name="Kadaster", oin="00000009900000002000")
    factories.definition(kadaster, name="Kadastrale kaart inzien", level=Level.EH2)
    mandate = factories.mandate(
        employee, bakery, scope=Scope.of_providers(kadaster), valid_until=timezone.now() + dt.timedelta(days=20)
    )
    factories.chain_mandate(bakery, accountants)
    return {"bakery": bakery, "manager": manager, "employee": employee, "mandate": mandate}


def test_a_manager_renews_revokes_and_grants(live_server, page: Page, axe: Axe, console: ConsoleLog, world):
    bakery, mandate = world["bakery"], world["mandate"]
    base = f"{live_server.url}/my/organisations/{bakery.pk}/mandates/"
    give_session(page, live_server, world["manager"], sessions.means_level(world["manager"]))
    page.goto(base)
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    row = page.locator(f"tr[data-mandate='{mandate.pk}']")
    expect(row).to_have_attribute("data-state", "expiring")
    expect(page.locator("[data-expiring-count]")).to_be_visible()
    assert_accessible(axe, page)

    # Renew for three years, from the list.
    row.locator("[data-action=renew]").click()
    expect(page).to_have_url(f"{base}{mandate.pk}/renew/")
    assert_accessible(axe, page)
    page.locator("input[name=years][value='3']").check()
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(base)
    expect(row).to_have_attribute("data-state", "valid")
    assert Mandate.objects.get(pk=mandate.pk).valid_until > timezone.now() + dt.timedelta(days=3 * 365 - 1)

    # Revoke: a confirmation page first; nothing happens until it is confirmed.
    row.locator("[data-action=revoke]").click()
    expect(page).to_have_url(f"{base}{mandate.pk}/revoke/")
    assert_accessible(axe, page)
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None
    page.locator("#id_reason").fill("Uit dienst")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(base)
    expect(row).to_have_attribute("data-state", "revoked")

    # Grant a new mandate for all services, with the keyboard-reachable form.
    page.locator("[data-grant-link]").click()
    expect(page).to_have_url(f"{base}grant/")
    assert_accessible(axe, page)
    page.locator("#id_holder").select_option(str(world["employee"].pk))
    page.locator("#grant-form input[name=scope][value=all]").check()
    page.locator("#id_level").select_option(str(int(Level.EH3)))
    page.locator("#grant-form button[type=submit]").click()
    expect(page).to_have_url(base)
    expect(page.locator("tr[data-state=valid]")).to_have_count(1)
    assert_accessible(axe, page)

    # An empty grant says what is missing, linked to the fields.
    page.goto(f"{base}grant/")
    page.locator("#grant-form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page)

    page.goto(f"{base}chain/")
    expect(page.locator("[data-outgoing] [data-action=revoke]")).to_have_count(1)
    assert_accessible(axe, page)
    # The refused form answers 400, which Chromium reports; nothing else (no CSP violation, no script error).
    assert [error for error in console.errors if "status of 400" not in error] == []
