"""A request from start to finish in a real Chromium, with every mail over real SMTP through the outbox and the worker.

Willem Hoekstra is jointly authorized for Bouwbedrijf Hoekstra & Zonen B.V. per the KvK register. He logs in with his
authenticator app (EH3), asks for a mandate for two service providers at EH3 and names Esther and Bram Hoekstra, his
fellow directors, to sign. Each of them opens the link from their mail in a browser of their own, confirms who they
are with the code from a second mail, and signs. A verifier approves the request in the back office, the approval
mail reaches Willem, and from then on the one decision lets him log in for the company at both providers (and at no
third one). Second: Linda de Graaf, alone authorized for her hair salon, becomes mandate manager automatically and
signs her own request.

Mail is delivered as in production: written to the outbox, queued as a task of django-tasks' database backend, and
sent by ``sleutelbos worker`` (run here in batch mode between the steps) to an aiosmtpd server on a local port. The
pages are in English, so that the locators (roles and labels) do not depend on the Dutch translation.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterator
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance
from sleutelbos.identity.models import Person
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.models import Mandate
from sleutelbos.organisations.models import Organisation
from sleutelbos.requests.models import Request, RequestState
from tests import factories as f
from tests.browser.conftest import blocking_violations
from tests.identity.test_login import PASSWORD, add_totp, next_code, person_with_password
from tests.mail.conftest import SmtpServer
from tests.requests.signer_code import CODE_LINE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The signing link in a mail: the address the live server answers on, then /sign/<token>/.
SIGNING_LINK = re.compile(r"(https?://[^\s<>\"]+/sign/[A-Za-z0-9_-]{20,}/)")
#: How long a mail may take to arrive after the worker ran.
MAIL_TIMEOUT = 15.0

HOEKSTRA = {
    "kvk": "95678901",
    "name": "Bouwbedrijf Hoekstra & Zonen B.V.",
    "rsin": "896663747",
    "legal_form": "bv",
    "branches": [{"number": "000049012341", "name": "Hoekstra & Zonen Bouw", "city": "Sleutelstad"}],
    "functionaries": [
        {"name": "Willem Hoekstra", "date_of_birth": "1963-05-02", "role": "Bestuurder", "authority": "joint"},
        {"name": "Esther Hoekstra", "date_of_birth": "1966-11-18", "role": "Bestuurder", "authority": "joint"},
        {"name": "Bram Hoekstra", "date_of_birth": "1992-08-07", "role": "Bestuurder", "authority": "joint"},
    ],
}
KNIP_EN_KRUL = {
    "kvk": "97890123",
    "name": "Kapsalon Knip & Krul",
    "rsin": "",
    "legal_form": "eenmanszaak",
    "branches": [{"number": "000051234561", "name": "Kapsalon Knip & Krul", "city": "Sleutelstad"}],
    "functionaries": [
        {"name": "Linda de Graaf", "date_of_birth": "1984-09-30", "role": "Eigenaar", "authority": "alone"},
    ],
}


# --------------------------------------------------------------------------------------------------------------------
# The world: a KvK register file, an SMTP server, mail through the database task backend and the worker


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _register(tmp_path: Path, settings) -> Path:
    """The operator's KvK register file with both organisations, extracted today (fresh enough to approve on)."""
    today = dt.date.today().isoformat()
    path = tmp_path / "kvk-register.json"
    organisations = [{**entry, "extract_date": today} for entry in (HOEKSTRA, KNIP_EN_KRUL)]
    path.write_text(json.dumps({"organisations": organisations}), encoding="utf-8")
    settings.SLEUTELBOS_KVK_SOURCE = "file"
    settings.SLEUTELBOS_KVK_FILE = str(path)
    return path


class Mailbox:
    """The aiosmtpd server's inbox, filled by ``sleutelbos worker``: every wait runs the worker once more."""

    def __init__(self, server: SmtpServer, settle: Callable[[], None]) -> None:
        self.server = server
        self.settle = settle
        self.taken: set[int] = set()

    @property
    def messages(self) -> list[Message]:
        return self.server.inbox.messages

    def wait_for(self, to: str, subject: str, *, timeout: float = MAIL_TIMEOUT) -> Message:
        """The first mail to ``to`` whose subject holds ``subject``, not taken before; the worker delivers it."""
        deadline = time.monotonic() + timeout
        self.settle()
        while True:
            call_command("worker", batch=True, no_startup_delay=True, interval=0, verbosity=0)
            for index, message in enumerate(self.messages):
                if index not in self.taken and to in message["To"] and subject in subject_of(message):
                    self.taken.add(index)
                    return message
            if time.monotonic() > deadline:
                received = [(m["To"], subject_of(m)) for m in self.messages]
                raise AssertionError(f"no mail to {to} about {subject!r} arrived; received: {received}")


@pytest.fixture
def mailbox(settings, live_server, browsers: Browsers) -> Iterator[Mailbox]:
    """A real SMTP server on a free port; mail is queued in the database and sent by the worker."""
    server = SmtpServer()
    server.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 5
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.SLEUTELBOS_BASE_URL = live_server.url
    yield Mailbox(server, browsers.settle)
    server.stop()


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def text_of(message: Message) -> str:
    """The plain text part of a mail."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"mail {message['Subject']!r} has no plain text part")


def html_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"mail {message['Subject']!r} has no HTML part")


def signing_link(message: Message) -> str:
    found = SIGNING_LINK.search(text_of(message))
    assert found, f"no signing link in {message['Subject']!r}"
    return found.group(1)


def mailed_code(message: Message) -> str:
    found = CODE_LINE.search(text_of(message))
    assert found, f"no code in {message['Subject']!r}"
    return found.group(1)


# --------------------------------------------------------------------------------------------------------------------
# Browsers: one context per person, in English; axe-core on every page the test visits


class Visitor:
    """One person's own browser (a fresh context, in English), with axe-core at hand."""

    def __init__(self, browser: Browser, axe: Axe, base_url: str) -> None:
        self.context: BrowserContext = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page: Page = self.context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(self._at(message.text)))
        self.page.on("pageerror", lambda error: self.errors.append(self._at(str(error))))
        self.axe = axe
        self.base_url = base_url

    def _at(self, text: str) -> str:
        return f"{self.page.url}: {text}"

    def goto(self, path_or_url: str) -> None:
        self.page.goto(path_or_url if path_or_url.startswith("http") else self.base_url + path_or_url)

    def check_accessible(self) -> None:
        """No serious or critical axe-core violation on the page (the back office's included)."""
        seen = len(self.errors)
        violations, report = blocking_violations(self.axe, self.page)
        # axe-core copies the page's style sheets into <style> elements of its own, which the CSP blocks: not the page's
        # doing.
        self.errors[seen:] = [error for error in self.errors[seen:] if "Applying inline style violates" not in error]
        assert violations == [], f"{self.page.url}\n{report}"

    def settle(self) -> None:
        """Wait until the page loads nothing more (a favicon, say), before the test itself uses the database.

        The live server shares the test's in-memory SQLite connection: the test thread must not use it while the
        server answers the browser.
        """
        self.page.wait_for_load_state("networkidle")

    def script_errors(self) -> list[str]:
        """Console errors other than the status of a page that refuses on purpose (a form with errors answers 400)."""
        return [error for error in self.errors if "the server responded with a status of 4" not in error]


class Browsers:
    """Everyone's browsers: a fresh context for each person; all are checked for script errors at the end."""

    def __init__(self, browser: Browser, axe: Axe, base_url: str) -> None:
        self.browser = browser
        self.axe = axe
        self.base_url = base_url
        self.opened: list[Visitor] = []

    def open(self) -> Visitor:
        self.opened.append(Visitor(self.browser, self.axe, self.base_url))
        return self.opened[-1]

    def settle(self) -> None:
        for person in self.opened:
            person.settle()


@pytest.fixture
def browsers(browser: Browser, axe: Axe, live_server) -> Iterator[Browsers]:
    opened = Browsers(browser, axe, live_server.url)
    yield opened
    errors = [error for person in opened.opened for error in person.script_errors()]
    for person in opened.opened:
        person.context.close()
    assert errors == []


def log_in_at_eh3(user: Visitor, person: Person, totp: pyotp.TOTP) -> None:
    """Password, then the code of the authenticator app: a session at EH3."""
    page = user.page
    user.goto("/account/login/")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    code = page.get_by_label("Code from your authenticator app")
    code.fill(next_code(totp))
    code.press("Enter")
    expect(page).to_have_url(user.base_url + "/account/")
    expect(page.locator("[data-session-level]")).to_have_text("EH3")


def sign_from_mail(user: Visitor, mailbox: Mailbox, *, email: str, name: str, born: str) -> None:
    """A representative opens the link in their mail, confirms who they are with the mailed code, and signs."""
    page = user.page
    user.goto(signing_link(mailbox.wait_for(email, "Please sign the eHerkenning request")))
    expect(page).to_have_url(user.base_url + "/sign/")  # the token left the address bar
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign the eHerkenning request")
    user.check_accessible()

    page.get_by_label("Your full name").fill(name)
    page.get_by_label("Your date of birth").fill(born)
    page.get_by_role("button", name="Send me a code").click()
    code = page.get_by_label("Code from the e-mail")
    expect(code).to_be_visible()
    user.check_accessible()

    code.fill(mailed_code(mailbox.wait_for(email, "Your code to sign")))
    page.get_by_role("button", name="Confirm", exact=True).click()
    agree = page.get_by_label("I have read the request and sign it")
    expect(agree).to_be_visible()
    user.check_accessible()

    agree.check()
    page.get_by_role("button", name="Sign the request").click()
    expect(page).to_have_url(user.base_url + "/sign/done/")
    user.check_accessible()


def catalogue() -> list[ServiceInstance]:
    """Three service providers, Belastingdienst, RVO and UWV, each with one service at EH3."""
    providers = [f.provider(name=name) for name in ("Belastingdienst", "RVO", "UWV")]
    return [f.instance(f.definition(provider, level=Level.EH3)) for provider in providers]


def assert_every_mail_went_through_the_worker() -> None:
    assert not OutgoingMail.objects.filter(sent_at__isnull=True).exists()
    delivered = DBTaskResult.objects.successful().filter(task_path="sleutelbos.mail.tasks.deliver_mail")
    assert delivered.count() >= OutgoingMail.objects.count()
    assert not DBTaskResult.objects.failed().exists()


# --------------------------------------------------------------------------------------------------------------------
# The tests


def test_a_jointly_authorized_request_signed_by_two_representatives_and_approved(
    live_server, browsers: Browsers, mailbox: Mailbox
) -> None:
    started = time.monotonic()
    at_belastingdienst, at_rvo, at_uwv = catalogue()
    willem = person_with_password(Level.EH3, name="Willem Hoekstra", email="willem@hoekstra-bouw.nl")
    willem.date_of_birth = dt.date(1963, 5, 2)
    willem.save()
    totp = add_totp(willem)
    Person.objects.create_superuser("vera@leverancier.example", "Vera Verifier", PASSWORD)

    # 1. Willem logs in at EH3 and opens the wizard from his account page.
    applicant = browsers.open()
    page = applicant.page
    log_in_at_eh3(applicant, willem, totp)
    page.get_by_role("link", name="Request an extra organisation or mandate").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request an extra organisation or mandate")
    applicant.check_accessible()

    page.get_by_label("KvK number").fill(HOEKSTRA["kvk"])
    page.get_by_role("button", name="Look up the organisation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the organisation")
    expect(page.get_by_role("main")).to_contain_text("Bouwbedrijf Hoekstra & Zonen B.V.")
    expect(page.get_by_role("main")).to_contain_text("more representatives sign your request")
    applicant.check_accessible()
    page.get_by_role("link", name="Yes, this is the organisation: continue").click()

    # 2. The mandate: all services of two chosen providers, at EH3, for three years.
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose the mandates")
    applicant.check_accessible()
    page.get_by_label("All services of the service providers I choose, also services they add later").check()
    page.get_by_label("Belastingdienst", exact=True).check()
    page.get_by_label("RVO", exact=True).check()
    page.get_by_label("Level of assurance").select_option(label="EH3")
    page.get_by_label("3 years").check()
    page.get_by_role("button", name="Add this mandate").click()
    rows = page.locator("section[aria-labelledby=rows-title] li")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Belastingdienst and RVO")
    applicant.check_accessible()
    page.get_by_role("link", name="Next step").click()

    # 3. Not alone authorized: the manager role is an opt-in, which Willem leaves.
    expect(page.get_by_role("heading", level=1)).to_have_text("Mandate manager")
    expect(page.get_by_label("I also want to become mandate manager of this organisation")).not_to_be_checked()
    applicant.check_accessible()
    page.get_by_role("button", name="Save and go to the next step").click()

    # 4. Two of the three directors sign: a majority, as EH3 asks.
    expect(page.get_by_role("heading", level=1)).to_have_text("Who signs")
    expect(page.get_by_role("main")).to_contain_text("a majority of the 3 representatives signs: 2 signatures")
    applicant.check_accessible()
    page.get_by_label("Esther Hoekstra signs").check()
    page.get_by_label("E-mail address of Esther Hoekstra").fill("esther@hoekstra-bouw.nl")
    page.get_by_label("Bram Hoekstra signs").check()
    page.get_by_label("E-mail address of Bram Hoekstra").fill("bram@hoekstra-bouw.nl")
    page.get_by_role("button", name="Save and go to the next step").click()

    # 5. Review and submit.
    expect(page.get_by_role("heading", level=1)).to_have_text("Review and submit")
    main = page.get_by_role("main")
    expect(main).to_contain_text("services of Belastingdienst and RVO")
    expect(main).to_contain_text("Esther Hoekstra, at esther@hoekstra-bouw.nl")
    expect(main).to_contain_text("Bram Hoekstra, at bram@hoekstra-bouw.nl")
    applicant.check_accessible()
    page.get_by_role("button", name="Submit the request").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    expect(page.get_by_role("main")).to_contain_text("We sent a signing link by e-mail to")
    applicant.check_accessible()
    browsers.settle()
    request = Request.objects.get()
    assert page.url == f"{live_server.url}/requests/{request.pk}/"
    # Submitted, and the mails wait in the outbox: nothing reached the SMTP server before the worker ran.
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert mailbox.messages == []
    assert OutgoingMail.objects.filter(sent_at__isnull=True).count() == 3  # the confirmation and two signing links
    submitted = mailbox.wait_for(willem.email, "We received your request for Bouwbedrijf Hoekstra")
    assert "Belastingdienst" in text_of(submitted) and "Esther Hoekstra" in text_of(submitted)

    # 6. Each representative signs in a browser of their own.
    for email, name, born in (
        ("esther@hoekstra-bouw.nl", "Esther Hoekstra", "1966-11-18"),
        ("bram@hoekstra-bouw.nl", "Bram Hoekstra", "1992-08-07"),
    ):
        representative = browsers.open()
        sign_from_mail(representative, mailbox, email=email, name=name, born=born)
    browsers.settle()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert sorted(s.functionary_name for s in request.signers.filter(signed_at__isnull=False)) == [
        "Bram Hoekstra",
        "Esther Hoekstra",
    ]
    assert all(s.user_agent and s.address for s in request.signers.all())
    assert not Mandate.objects.filter(holder=willem).exists()  # nothing is active before the supplier approves

    # 7. The verifier logs into the back office, opens the queue and the request, and approves after confirming.
    verifier = browsers.open()
    staff = verifier.page
    verifier.goto("/admin/")
    staff.get_by_label("E-mail address").fill("vera@leverancier.example")
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Log in").click()
    expect(staff).to_have_url(live_server.url + "/admin/")
    verifier.check_accessible()
    staff.get_by_role("rowheader", name="Requests", exact=True).get_by_role("link").click()
    expect(staff).to_have_url(re.compile(r"/admin/requests/request/"))
    verifier.check_accessible()
    staff.get_by_role("link", name=HOEKSTRA["kvk"]).click()
    expect(staff).to_have_url(re.compile(rf"/admin/requests/request/{request.pk}/change/"))
    expect(staff.get_by_role("main")).to_contain_text("Esther Hoekstra")
    verifier.check_accessible()
    staff.get_by_role("button", name="Approve…").click()
    expect(staff).to_have_url(re.compile(rf"/admin/requests/request/{request.pk}/decide/approve/"))
    verifier.check_accessible()
    staff.get_by_role("button", name="Yes, approve").click()
    expect(staff).to_have_url(re.compile(r"/admin/requests/request/$"))
    expect(staff.get_by_text("The request was approved: what it asks for is now active.")).to_be_visible()
    verifier.check_accessible()
    browsers.settle()
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED

    # 8. The approval mail reaches Willem and names what is now active.
    approved = mailbox.wait_for(willem.email, "Your request for Bouwbedrijf Hoekstra & Zonen B.V. is approved")
    text = text_of(approved)
    assert "Bouwbedrijf Hoekstra & Zonen B.V." in text
    assert "services of Belastingdienst and RVO" in text, text
    assert "EH3" in text and "valid until" in text, text
    assert "Belastingdienst" in html_of(approved) and "RVO" in html_of(approved)
    assert_every_mail_went_through_the_worker()

    # 9. The one decision: Willem may now act for the company at both providers at EH3, and not at the third.
    company = Organisation.objects.get(kvk=HOEKSTRA["kvk"])
    for service in (at_belastingdienst, at_rvo):
        decision = decide(willem, company, service, level=Level.EH3)
        assert decision.allowed, decision.reasons
        assert decision.level == Level.EH3
    refused = decide(willem, company, at_uwv, level=Level.EH3)
    assert not refused.allowed
    assert [reason.code for reason in refused.reasons] == ["no_mandate"]
    print(f"\njoint request end to end: {time.monotonic() - started:.1f} s")


def test_an_alone_authorized_applicant_becomes_manager_and_signs_her_own_request(
    live_server, browsers: Browsers, mailbox: Mailbox
) -> None:
    started = time.monotonic()
    catalogue()
    linda = person_with_password(Level.EH3, name="Linda de Graaf", email="linda@knipenkrul.nl")
    linda.date_of_birth = dt.date(1984, 9, 30)
    linda.save()
    totp = add_totp(linda)

    applicant = browsers.open()
    page = applicant.page
    log_in_at_eh3(applicant, linda, totp)
    page.get_by_role("link", name="Request an extra organisation or mandate").click()
    page.get_by_label("KvK number").fill(KNIP_EN_KRUL["kvk"])
    page.get_by_role("button", name="Look up the organisation").click()
    expect(page.get_by_role("main")).to_contain_text("alone/independently authorized")
    page.get_by_role("link", name="Yes, this is the organisation: continue").click()

    page.get_by_label("All services of all service providers, also service providers that join later").check()
    page.get_by_label("Level of assurance").select_option(label="EH3")
    page.get_by_label("1 year", exact=True).check()
    page.get_by_role("button", name="Add this mandate").click()
    page.get_by_role("link", name="Next step").click()

    # The manager role is stated, not asked; there is no step for representatives.
    expect(page.get_by_role("heading", level=1)).to_have_text("Mandate manager")
    expect(page.get_by_role("main")).to_contain_text("You therefore become its mandate manager automatically")
    expect(page.get_by_label("I also want to become mandate manager of this organisation")).to_have_count(0)
    expect(page.get_by_role("navigation").get_by_text("Representatives")).to_have_count(0)
    page.get_by_role("button", name="Next step").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Review and submit")
    expect(page.get_by_role("main")).to_contain_text("You become mandate manager automatically, at level EH3.")
    expect(page.get_by_role("main")).to_contain_text("You sign the request yourself")
    applicant.check_accessible()
    page.get_by_role("button", name="Submit the request").click()
    expect(page).to_have_url(re.compile(r"/requests/\d+/$"))
    applicant.check_accessible()
    browsers.settle()
    request = Request.objects.get()
    assert page.url == f"{live_server.url}/requests/{request.pk}/"
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert request.wants_manager and request.manager_level == Level.EH3
    assert [s.email for s in request.signers.all()] == [linda.email]

    # Linda signs her own link, from the mail, in a fresh browser.
    own = browsers.open()
    sign_from_mail(own, mailbox, email=linda.email, name="Linda de Graaf", born="1984-09-30")
    browsers.settle()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert request.signers.get().signed_at is not None
    mailbox.wait_for(linda.email, "We received your request for Kapsalon Knip & Krul")
    mailbox.wait_for(linda.email, "All signatures are in for your request for Kapsalon Knip & Krul")
    assert_every_mail_went_through_the_worker()
    print(f"\nalone request end to end: {time.monotonic() - started:.1f} s")
