"""Logging in in a real Chromium: an authenticator app, and a security key through Chromium's virtual authenticator."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import Page, expect

from sleutelbos.catalogue.levels import Level
from tests.browser.conftest import ConsoleLog, assert_accessible
from tests.identity.test_login import PASSWORD, add_totp, next_code, person_with_password

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fill_password(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(url + "/account/login/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()


def virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


def test_login_with_an_authenticator_app(live_server, page: Page, axe: Axe, console: ConsoleLog):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)

    page.goto(live_server.url + "/account/login/")
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator("#id_email")).to_have_attribute("autocomplete", "username")
    assert_accessible(axe, page)
    fill_password(page, live_server.url, person.email)

    expect(page).to_have_url(live_server.url + "/account/login/factor/")
    code = page.locator("#id_totp-code")
    expect(code).to_have_attribute("autocomplete", "one-time-code")
    expect(code).to_have_attribute("inputmode", "numeric")
    assert_accessible(axe, page)
    code.fill(next_code(totp))
    code.press("Enter")

    expect(page).to_have_url(live_server.url + "/account/")
    expect(page.locator("[data-session-level]")).to_have_text("EH3")
    assert_accessible(axe, page)
    assert console.errors == []


def test_wrong_password_shows_an_accessible_error_summary(live_server, page: Page, axe: Axe):
    person = person_with_password(Level.EH2)

    fill_password(page, live_server.url, person.email, "niet-het-wachtwoord")

    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("link")).to_have_attribute("href", "#id_email")
    assert_accessible(axe, page)


def test_security_key_registration_and_login(live_server, page: Page, axe: Axe, console: ConsoleLog):
    person = person_with_password(Level.EH4)
    virtual_authenticator(page)

    # No key yet: the e-mailed code lets the person in (below EH4) to add one.
    fill_password(page, live_server.url, person.email)
    expect(page).to_have_url(live_server.url + "/account/login/factor/")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)
    page.locator("#id_email-code").fill(code)
    page.locator("#id_email-code").press("Enter")
    expect(page.locator("[data-session-level]")).to_have_text("EH2+")

    page.goto(live_server.url + "/account/factors/key/")
    page.locator("#id_name").fill("Blauwe sleutel")
    page.locator("form[data-webauthn] button[type=submit]").click()

    expect(page).to_have_url(live_server.url + "/account/recovery-codes/")
    credential = person.webauthn_credentials.get()
    assert credential.user_verified and credential.hardware_bound
    assert credential.attestation_format

    page.goto(live_server.url + "/account/")
    page.locator(".site-nav button[type=submit]").click()  # log out
    fill_password(page, live_server.url, person.email)
    expect(page).to_have_url(live_server.url + "/account/login/factor/")
    assert_accessible(axe, page)
    page.locator("form[data-webauthn] button[type=submit]").click()

    expect(page).to_have_url(live_server.url + "/account/")
    expect(page.locator("[data-session-level]")).to_have_text("EH4")
    assert console.errors == []
