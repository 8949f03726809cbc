"""Screenshots of the key pages, taken from the demo world in Chromium, in Dutch, at 1280×900 and of the full page.

Every page on the way is checked as a person would notice it: one ``<h1>`` and headings in order, no serious or
critical axe-core violation, no script or CSP error. The PNGs in ``docs/screenshots/`` (linked from the README) are
written only when ``SLEUTELBOS_SCREENSHOTS=1`` is set (``make screenshots``), so an ordinary run checks the pages and
leaves the committed images alone.

The people log in through the real login page with the factor the demo world gave them: Jan de Bakker (director of
the bakery, EH3, mandate manager) with his authenticator app, Fatima El Amrani (EH2+) with a code by e-mail, the
back office's administrator with a password.
"""

from __future__ import annotations

import io
import itertools
import os
import re
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from PIL import Image
from playwright.sync_api import Page, expect

from sleutelbos.catalogue.levels import Level
from sleutelbos.demo import world
from sleutelbos.organisations.models import Organisation
from sleutelbos.requests.models import Request, RequestState
from sleutelbos.saml.idp import SSO_PATH, idp_config
from tests.browser.conftest import ConsoleLog, blocking_violations
from tests.identity.test_login import next_code
from tests.requests.signer_code import mailed_code
from tests.requests.test_signing import link_in_mail
from tests.saml.test_sso import World as DvWorld
from tests.saml.test_sso import authn_request, redirect_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WRITE = os.environ.get("SLEUTELBOS_SCREENSHOTS") == "1"
#: The demo people's password and the administrator's, for this test only (they pass the password rules).
PASSWORD = "zuurdesem-krentenbol-ovenwarm-7"
JAN = "jan.debakker@example.nl"
FATIMA = "fatima.elamrani@example.nl"
BAKERY_KVK = "91234567"
#: The order of heading levels on a page, visible ones only.
HEADINGS = """() => Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
    .filter((h) => h.getClientRects().length > 0)
    .map((h) => Number(h.tagName.substring(1)))"""


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(monkeypatch) -> world.Summary:
    """The demo world, with known passwords; the summary holds the secret of Jan's authenticator app."""
    monkeypatch.setenv(world.PEOPLE_PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(world.ADMIN_PASSWORD_ENV, PASSWORD)
    summary = world.load()
    assert summary.app is not None and summary.app.email == JAN
    return summary


class Camera:
    """Checks the page a person looks at, then (with ``SLEUTELBOS_SCREENSHOTS=1``) saves it as a PNG."""

    def __init__(self, page: Page, axe: Axe, console: ConsoleLog) -> None:
        self.page = page
        self.axe = axe
        self.console = console

    def shoot(self, name: str, *, heading: str | re.Pattern[str]) -> None:
        page = self.page
        expect(page.locator("html")).to_have_attribute("lang", "nl")
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        page.wait_for_load_state("networkidle")
        levels = page.evaluate(HEADINGS)
        assert levels[:1] == [1] and levels.count(1) == 1, f"{name}: one <h1> first, not {levels}"
        skipped = [(a, b) for a, b in itertools.pairwise(levels) if b > a + 1]
        assert skipped == [], f"{name}: headings skip a level: {levels}"
        seen = len(self.console.errors)
        violations, report = blocking_violations(self.axe, page)
        assert violations == [], f"{name}: {report}"
        # axe-core copies the style sheets into <style> elements of its own, which the CSP blocks: not the page's doing.
        self.console.errors[seen:] = [e for e in self.console.errors[seen:] if "Applying inline style" not in e]
        errors = [e for e in self.console.errors if "the server responded with a status of 4" not in e]
        assert errors == [], f"{name}: {errors}"
        if WRITE:
            save_png(page.screenshot(full_page=True, animations="disabled"), SCREENSHOTS / f"{name}.png")


def save_png(screenshot: bytes, path: Path) -> None:
    """The screenshot in 256 colours, undithered: a page's flat colours and text stay sharp, the file small."""
    image = Image.open(io.BytesIO(screenshot)).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


@pytest.fixture
def camera(page: Page, axe: Axe, console: ConsoleLog) -> Camera:
    return Camera(page, axe, console)


def log_in_with_app(page: Page, url: str, email: str, secret: str, camera: Camera | None = None) -> None:
    """Password, then the code the authenticator app shows: a session at EH3."""
    page.goto(url + "/account/login/")
    if camera:
        camera.shoot("login", heading=re.compile(".+"))
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(url + "/account/login/factor/")
    code = page.locator("#id_totp-code")
    code.fill(next_code(pyotp.TOTP(secret)))
    if camera:
        camera.shoot("login-factor", heading=re.compile(".+"))
    code.press("Enter")
    expect(page.locator("[data-session-level]")).to_have_text("EH3")


def log_in_with_mailed_code(page: Page, url: str, email: str) -> None:
    """Password, then the code from the mail: a session at EH2+."""
    page.goto(url + "/account/login/")
    page.locator("#id_email").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(url + "/account/login/factor/")
    code = re.search(r"\b(\d{6})\b", [m for m in mail.outbox if email in m.to][-1].body).group(1)
    page.locator("#id_email-code").fill(code)
    page.locator("#id_email-code").press("Enter")
    expect(page.locator("[data-session-level]")).to_have_text("EH2+")


def log_out(page: Page) -> None:
    page.locator(".site-nav button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/account/login/"))
    page.context.clear_cookies()


def test_the_front_page_login_and_mijn_sleutelbos(live_server, page: Page, camera: Camera, demo: world.Summary):
    page.goto(live_server.url + "/")
    camera.shoot("home", heading=re.compile(".+"))

    log_in_with_app(page, live_server.url, JAN, demo.app.secret, camera)

    page.goto(live_server.url + "/my/")
    main = page.get_by_role("main")
    expect(main).to_contain_text("Bakkerij De Gouden Korst B.V.")
    camera.shoot("my-overview", heading=re.compile(".+"))

    # The tax authority's services at the bakery: Jan's mandate covers all up to EH3, not the EH4 customs service.
    page.goto(f"{live_server.url}/my/login-check/?organisation={BAKERY_KVK}&q=belastingdienst")
    rows = page.get_by_role("table").locator("tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator("tr[data-allowed=yes]").first).to_be_visible()
    expect(page.locator("tr[data-allowed=no]").first).to_be_visible()
    camera.shoot("my-login-check", heading=re.compile(".+"))


def test_a_request_from_wizard_to_signature_to_the_back_office(
    live_server, page: Page, camera: Camera, demo: world.Summary
):
    # Fatima, with restricted authority, asks for the Kadaster's services for the bakery; Jan has to sign.
    log_in_with_mailed_code(page, live_server.url, FATIMA)
    page.goto(live_server.url + "/requests/new/")
    page.locator("#id_kvk").fill(BAKERY_KVK)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/organisation/$"))
    expect(page.get_by_role("main")).to_contain_text("Bakkerij De Gouden Korst B.V.")
    page.locator("main a.button").first.click()

    expect(page).to_have_url(re.compile(r"/requests/\d+/mandates/$"))
    page.locator("#id_scope_1").check()
    page.locator("#provider-00000009900000002000").check()
    page.locator("#id_level").select_option(str(int(Level.EH2_PLUS)))
    page.locator("#id_years_1").check()
    page.locator("#mandate-form button[type=submit]").click()
    expect(page.locator(".grant")).to_have_count(1)
    expect(page.locator(".grant")).to_contain_text("Kadaster")
    camera.shoot("request-mandates", heading=re.compile(".+"))
    page.locator("section[aria-labelledby=rows-title] a.button").click()

    # Not alone authorized: she stays without the manager role, and Jan de Bakker signs.
    expect(page).to_have_url(re.compile(r"/requests/\d+/manager/$"))
    page.locator("main form button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/representatives/$"))
    page.get_by_label("Jan de Bakker", exact=False).first.check()
    page.locator("input[type=email]").first.fill(JAN)
    page.locator("main form button[type=submit]").first.click()

    expect(page).to_have_url(re.compile(r"/requests/\d+/review/$"))
    expect(page.get_by_role("main")).to_contain_text("Jan de Bakker")
    camera.shoot("request-review", heading=re.compile(".+"))
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    page.wait_for_load_state("networkidle")
    log_out(page)

    # Jan opens the link from his mail, confirms who he is with the mailed code and reads what he signs.
    page.goto(live_server.url + link_in_mail(JAN))
    expect(page).to_have_url(live_server.url + "/sign/")
    page.locator("#id_name").fill("Jan de Bakker")
    page.locator("#id_date_of_birth").fill("1971-03-14")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#id_code")).to_be_visible()
    page.locator("#id_code").fill(mailed_code(JAN))
    page.locator("#id_code").press("Enter")
    expect(page.locator("#id_agree")).to_be_visible()
    camera.shoot("signing", heading=re.compile(".+"))
    page.locator("#id_agree").check()
    page.locator("form:has(#id_agree) button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/sign/done/")
    page.wait_for_load_state("networkidle")
    request = Request.objects.get()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    page.context.clear_cookies()

    # The supplier's verifier: the queue, then the request.
    page.goto(live_server.url + "/admin/")
    page.locator("#id_username").fill(world.ADMIN_EMAIL)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    expect(page).to_have_url(live_server.url + "/admin/")
    page.goto(live_server.url + "/admin/requests/request/")
    expect(page.get_by_role("main")).to_contain_text(BAKERY_KVK)
    camera.shoot("admin-verification-queue", heading=re.compile(".+"))
    page.goto(f"{live_server.url}/admin/requests/request/{request.pk}/change/")
    expect(page.get_by_role("main")).to_contain_text("Jan de Bakker")
    camera.shoot("admin-request", heading=re.compile(".+"))


def test_the_mandate_managers_pages(live_server, page: Page, camera: Camera, demo: world.Summary):
    bakery = Organisation.objects.get(kvk=BAKERY_KVK)
    log_in_with_app(page, live_server.url, JAN, demo.app.secret)
    manage = f"{live_server.url}/my/organisations/{bakery.pk}"

    page.goto(manage + "/mandates/")
    main = page.get_by_role("main")
    for holder in ("Jan de Bakker", "Fatima El Amrani", "Sanne Visser"):
        expect(main).to_contain_text(holder)
    camera.shoot("manage-mandates", heading="Bakkerij De Gouden Korst B.V.")

    page.goto(manage + "/people/")
    expect(page.get_by_role("main")).to_contain_text("Kees Mulder")
    camera.shoot("manage-people", heading="Bakkerij De Gouden Korst B.V.")

    page.goto(manage + "/audit/")
    expect(page.locator("table[data-audit] tbody tr").first).to_be_visible()
    camera.shoot("manage-audit", heading="Bakkerij De Gouden Korst B.V.")


def test_the_refusal_when_a_service_provider_asks_for_a_login(
    live_server, page: Page, camera: Camera, demo: world.Summary, settings, tmp_path: Path
):
    """A municipality's parking permits ask Sleutelbos for a login by Henk Smit, who has no mandate for them."""
    settings.VAR_DIR = tmp_path / "var"
    settings.SAML_IDP_BASE_URL = live_server.url
    idp_config.cache_clear()
    try:
        DvWorld()
        henk = "henk.smit@example.org"
        page.goto(live_server.url + redirect_url(authn_request(destination=live_server.url + SSO_PATH)))
        expect(page).to_have_url(re.compile(r"/account/login/"))
        page.locator("#id_email").fill(henk)
        page.locator("#id_password").fill(PASSWORD)
        page.locator("main form button[type=submit]").click()
        if "/account/login/factor/" in page.url:
            code = re.search(r"\b(\d{6})\b", [m for m in mail.outbox if henk in m.to][-1].body).group(1)
            page.locator("#id_email-code").fill(code)
            page.locator("#id_email-code").press("Enter")
        main = page.get_by_role("main")
        expect(main).to_contain_text("Parkeervergunning")
        expect(main).to_contain_text("Stichting Buurthuis De Linde")
        camera.shoot("saml-refused", heading=re.compile(".+"))
    finally:
        idp_config.cache_clear()
