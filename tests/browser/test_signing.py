"""Signing in a real Chromium: the link, the code from the mail, the signature; every step passes axe-core."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Page, expect

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance
from sleutelbos.requests.models import RequestState
from sleutelbos.requests.services import request_submit
from tests import factories as f
from tests.browser.conftest import ConsoleLog, assert_accessible
from tests.requests.signer_code import mailed_code
from tests.requests.test_services import World, applicant, joint_request, two_signers
from tests.requests.test_signing import link_in_mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def page_errors(console: ConsoleLog) -> list[str]:
    """Console errors other than the status of a page that refuses on purpose (400 for a wrong answer, 404, 410)."""
    return [error for error in console.errors if "the server responded with a status of 4" not in error]


def test_a_representative_signs_in_the_browser(live_server, page: Page, axe: Axe, console: ConsoleLog) -> None:
    organisation = f.organisation(name="Bakkerij De Gouden Korst B.V.")
    providers = [f.provider() for _ in range(3)]
    services: list[ServiceInstance] = [f.instance(f.definition(p, level=Level.EH3)) for p in providers]
    world = World(organisation=organisation, providers=providers, services=services)
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    links = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    signer = links[0].signer

    page.goto(live_server.url + link_in_mail(signer.email))
    expect(page).to_have_url(live_server.url + "/sign/")  # the token left the address bar
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Bakkerij De Gouden Korst B.V.")
    assert_accessible(axe, page)

    # Step 1: the form refuses empty answers, with the errors linked to the fields.
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator(".error-summary")).to_be_visible()
    expect(page.locator("#id_name")).to_have_attribute("aria-invalid", "true")
    assert_accessible(axe, page)

    page.locator("#id_name").fill(signer.functionary_name)
    page.locator("#id_date_of_birth").fill(signer.date_of_birth.isoformat())
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#id_code")).to_be_visible()
    assert_accessible(axe, page)

    page.locator("#id_code").fill("000000" if mailed_code(signer.email) != "000000" else "111111")
    page.locator("#id_code").press("Enter")
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page)

    page.locator("#id_code").fill(mailed_code(signer.email))
    page.locator("#id_code").press("Enter")
    expect(page.locator("#id_agree")).to_be_visible()
    assert_accessible(axe, page)

    page.locator("#id_agree").check()
    page.locator("form:has(#id_agree) button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/sign/done/")
    assert_accessible(axe, page)

    signer.refresh_from_db()
    assert signer.signed_at is not None
    assert signer.user_agent  # Chromium's
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert len(mail.outbox) >= 2
    assert page_errors(console) == []


def test_a_refused_link_page_is_accessible(live_server, page: Page, axe: Axe, console: ConsoleLog) -> None:
    page.goto(live_server.url + "/sign/" + "x" * 43 + "/")
    expect(page.locator("h1")).to_be_visible()
    assert_accessible(axe, page)
    assert page_errors(console) == []
