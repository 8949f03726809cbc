"""The request wizard in a real Chromium, with axe-core on every step: Jan de Bakker, alone authorized for his
bakery per the KvK register, requests a mandate for a service he finds by searching the catalogue."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from sleutelbos.catalogue.levels import Level
from sleutelbos.requests.models import Request, RequestState
from tests import factories as f
from tests.browser.conftest import ConsoleLog, assert_accessible
from tests.browser.test_login import fill_password
from tests.identity.test_login import person_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_wizard_from_organisation_to_submission(live_server, page: Page, axe: Axe, console: ConsoleLog):
    kadaster = f.provider(name="Kadaster")
    f.definition(kadaster, name="Mijn Kadaster", level=Level.EH2)
    jan = person_with_password(Level.EH2, name="Jan de Bakker")
    jan.date_of_birth = dt.date(1971, 3, 14)
    jan.save()
    fill_password(page, live_server.url, jan.email)
    expect(page.locator(".site-nav")).to_be_visible()

    page.goto(live_server.url + "/requests/new/")
    assert_accessible(axe, page)
    page.locator("#id_kvk").fill("1234")
    page.locator("main form button[type=submit]").click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#id_kvk")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)
    page.locator("#id_kvk").fill("91234567")
    page.locator("main form button[type=submit]").click()

    expect(page).to_have_url(f"{live_server.url}/requests/{Request.objects.get().pk}/organisation/")
    expect(page.locator("main")).to_contain_text("Bakkerij De Gouden Korst B.V.")
    expect(page.locator("[aria-current=step]")).to_be_visible()
    assert_accessible(axe, page)
    page.locator("main a.button").first.click()

    # Step 2: only the lists the chosen scope needs are shown; the search keeps the choice made before it.
    page.locator("#id_scope_2").check()
    expect(page.locator("#id_providers")).to_be_hidden()
    page.locator("#catalogue-q").fill("kadas")
    page.locator("form.search button[type=submit]").click()
    service = page.get_by_label("Mijn Kadaster")
    expect(service).to_be_visible()
    expect(page.locator("#id_scope_2")).to_be_checked()
    assert_accessible(axe, page)
    service.check()
    page.locator("#id_level").select_option(str(int(Level.EH2)))
    page.locator("#id_years_2").check()
    page.locator("#mandate-form button[type=submit]").click()
    expect(page.locator(".grant")).to_have_count(1)
    assert_accessible(axe, page)
    page.locator("section[aria-labelledby=rows-title] a.button").click()

    # Step 3: alone authorized, so the manager role is stated, not asked.
    expect(page.locator("[data-manager-automatic]")).to_be_visible()
    assert_accessible(axe, page)
    page.locator("main form button[type=submit]").click()

    # Step 5: review, then submit.
    expect(page.locator(".grant")).to_contain_text("Mijn Kadaster van Kadaster")
    assert_accessible(axe, page)
    page.locator("main form button[type=submit]").click()

    obj = Request.objects.get()
    expect(page).to_have_url(f"{live_server.url}/requests/{obj.pk}/")
    assert_accessible(axe, page)
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES
    # The page with the wrong KvK number answered 400, as every form with errors does; nothing else went wrong.
    assert [error for error in console.errors if "status of 400" not in error] == []


def test_the_first_application_page_is_accessible_with_its_errors(live_server, page: Page, axe: Axe):
    page.goto(live_server.url + "/requests/apply/")
    assert_accessible(axe, page)
    page.locator("main form button[type=submit]").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link").first).to_have_attribute("href", "#id_name")
    expect(page.locator("#id_email")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)
