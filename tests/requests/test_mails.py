"""The mails about a request: who gets them, in which language, what they say, and that their links work."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.urls import NoReverseMatch, reverse

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mail.services import mail_flush
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.models import Authority
from sleutelbos.requests.models import Request, RequestKind, RequestState, Signer
from sleutelbos.requests.services import (
    MandateWish,
    SignerWish,
    hash_token,
    request_approve,
    request_ask_information,
    request_create_draft,
    request_decline,
    request_reject,
    request_submit,
)
from tests import factories as f
from tests.mail.conftest import SmtpServer
from tests.requests.signer_code import confirm_identity
from tests.requests.test_services import (
    BORN,
    STAFF,
    World,
    applicant,
    extract_of,
    joint_request,
    sign,
    two_signers,
)

pytestmark = pytest.mark.django_db

ORGANISATION = "Bakkerij De Gouden Korst B.V."
# Submitted on 2 March 2026: the links are valid until 16 March; a 3-year mandate approved then runs until 2029.
SUBMITTED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# The dates as the pages write them ("j F Y"), in both languages.
LINK_VALID_UNTIL = {"nl": "16 maart 2026", "en": "16 March 2026"}
MANDATE_VALID_UNTIL = {"nl": "2 maart 2029", "en": "2 March 2029"}


@pytest.fixture
def world() -> World:
    organisation = f.organisation(name=ORGANISATION)
    providers = [f.provider() for _ in range(3)]
    services = [f.instance(f.definition(provider, level=Level.EH3)) for provider in providers]
    return World(organisation=organisation, providers=providers, services=services)


@pytest.fixture
def on_submission_day() -> Iterator[None]:
    with time_machine.travel(SUBMITTED, tick=False):
        yield


def in_language(request: Request, language: str) -> Request:
    Request.objects.filter(pk=request.pk).update(language=language)
    request.refresh_from_db()
    return request


def submitted(world: World, language: str = "en", *, wants_manager: bool = False) -> tuple[Request, list]:
    person = applicant("Eva Employee")
    request = in_language(joint_request(world, person, wants_manager=wants_manager), language)
    links = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    request.refresh_from_db()
    return request, links


def to(address: str) -> list[mail.EmailMessage]:
    return [message for message in mail.outbox if message.to == [address]]


def html_of(message: mail.EmailMultiAlternatives) -> str:
    [(html, kind)] = message.alternatives
    assert kind == "text/html"
    return html


def link_in(text: str) -> str:
    [url] = re.findall(r"http://127\.0\.0\.1:8000/sign/\S+/", text)
    return url


def signing_page_exists() -> bool:
    try:
        reverse("signing:sign", args=["token"])
    except NoReverseMatch:
        return False
    return True


def assert_link_opens_the_signing_page_of(url: str, signer: Signer, client: object) -> None:
    """The mailed link carries the signer's token (stored only as its hash) and opens their signing page."""
    token = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    assert hash_token(token) in {signer.token_hash, signer.reminder_token_hash}
    if signing_page_exists():
        page = client.get(urlsplit(url).path, follow=True)
        assert page.status_code == 200
        assert ORGANISATION in page.content.decode()


# --------------------------------------------------------------------------------------------------------------------
# Submission: the applicant's confirmation and each signer's link


@pytest.mark.parametrize("language", ["nl", "en"])
def test_submission_confirms_to_the_applicant_and_sends_each_signer_a_link(
    world: World, language: str, on_submission_day: None, client: object
) -> None:
    _request, links = submitted(world, language)

    [confirmation] = to("eva.employee@example.nl")
    assert ORGANISATION in confirmation.subject
    for text in (confirmation.body, html_of(confirmation)):
        assert "Anna Jansen" in text and "Bram Bakker" in text  # who must sign
        assert "Cor de Vries" not in text
        assert world.providers[0].name_nl in text and world.providers[1].name_nl in text  # what was asked
        assert world.providers[2].name_nl not in text
        assert "EH3" in text
    assert f'<html lang="{language}">' in html_of(confirmation)

    for link in links:
        [asked] = to(link.signer.email)
        assert ORGANISATION in asked.subject
        assert link.signer.functionary_name in asked.body and "Eva Employee" in asked.body
        assert LINK_VALID_UNTIL[language] in asked.body
        url = link_in(asked.body)
        assert f'href="{url}"' in html_of(asked)
        assert_link_opens_the_signing_page_of(url, link.signer, client)
    # Two signers, one applicant: no one else gets mail, every mail is recorded in the request's language.
    assert len(mail.outbox) == 3
    assert set(OutgoingMail.objects.values_list("language", flat=True)) == {language}


def test_the_english_subjects_say_what_the_mail_is_about_and_which_request(world: World) -> None:
    request, links = submitted(world, "en")
    assert (
        to("eva.employee@example.nl")[0].subject
        == f"We received your request for {ORGANISATION} (request {request.pk})"
    )
    assert (
        to(links[0].signer.email)[0].subject
        == f"Please sign the eHerkenning request for {ORGANISATION} (request {request.pk})"
    )


def test_an_alone_authorized_applicant_gets_the_confirmation_and_their_own_link() -> None:
    organisation = f.organisation(name=ORGANISATION)
    f.provider()
    request = request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name="Jan de Bakker",
        applicant_email="jan@bakker.nl",
        applicant_date_of_birth=BORN,
        extract=extract_of(organisation, ("Jan de Bakker", BORN, Authority.ALONE)),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3, years=5)],
    )
    in_language(request, "en")
    [link] = request_submit(actor=SYSTEM, request=request)
    confirmation, asked = to("jan@bakker.nl")
    assert "Dear Jan de Bakker" in confirmation.body
    assert "All services of all service providers at level EH3, including new service providers, valid for 5 years" in (
        confirmation.body
    )
    assert "mandate manager of" in confirmation.body  # alone authorized: manager automatically
    assert hash_token(urlsplit(link_in(asked.body)).path.split("/")[-2]) == link.signer.token_hash


# --------------------------------------------------------------------------------------------------------------------
# After signing, and the supplier's answers


def test_when_all_signatures_are_in_the_applicant_hears_the_supplier_now_verifies(world: World) -> None:
    request, links = submitted(world, "en")
    mail.outbox.clear()
    sign(links[0])
    assert to("eva.employee@example.nl") == []  # one signature of two: nothing to tell the applicant yet
    sign(links[1])
    [ready] = to("eva.employee@example.nl")
    assert ready.to == ["eva.employee@example.nl"]
    assert ready.subject == f"All signatures are in for your request for {ORGANISATION} (request {request.pk})"
    assert "We now verify the request" in ready.body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_approval_mail_says_what_is_now_active_and_until_when(world: World, language: str) -> None:
    with time_machine.travel(SUBMITTED, tick=False):
        request, links = submitted(world, language, wants_manager=True)
        for link in links:
            sign(link)
        mail.outbox.clear()
        request_approve(actor=STAFF, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    approved = [m for m in to("eva.employee@example.nl") if ORGANISATION in m.subject]
    assert len(approved) == 1
    [message] = approved
    for text in (message.body, html_of(message)):
        assert MANDATE_VALID_UNTIL[language] in text
        assert world.providers[0].name_nl in text and world.providers[1].name_nl in text
        assert "EH3" in text
    assert f'<html lang="{language}">' in html_of(message)
    if language == "en":
        assert message.subject == f"Your request for {ORGANISATION} is approved (request {request.pk})"
        assert "You are Mandate manager" not in message.body
        assert "mandate manager of Bakkerij De Gouden Korst B.V., up to level EH3" in message.body
        assert f"valid until {MANDATE_VALID_UNTIL['en']}" in message.body


@pytest.mark.parametrize("language", ["nl", "en"])
def test_rejection_mail_gives_the_reason(world: World, language: str) -> None:
    request, links = submitted(world, language)
    for link in links:
        sign(link)
    mail.outbox.clear()
    request_reject(actor=STAFF, request=request, reason="The KvK extract names another director.")
    [rejected] = mail.outbox
    assert rejected.to == ["eva.employee@example.nl"]
    assert ORGANISATION in rejected.subject
    assert "The KvK extract names another director." in rejected.body
    assert "The KvK extract names another director." in html_of(rejected)
    assert f'<html lang="{language}">' in html_of(rejected)
    if language == "en":
        assert rejected.subject == f"Your request for {ORGANISATION} is rejected (request {request.pk})"


def test_a_question_is_mailed_with_a_link_to_the_request(world: World, client: object) -> None:
    request, links = submitted(world, "en")
    for link in links:
        sign(link)
    mail.outbox.clear()
    request_ask_information(actor=STAFF, request=request, question="Which branch is this for?")
    [asked] = mail.outbox
    assert asked.to == ["eva.employee@example.nl"]
    assert asked.subject == f"We need more information about your request for {ORGANISATION} (request {request.pk})"
    assert "Which branch is this for?" in asked.body
    [url] = re.findall(r"http://127\.0\.0\.1:8000/requests/\S+/", asked.body)
    assert f'href="{url}"' in html_of(asked)
    client.force_login(request.applicant)
    page = client.get(urlsplit(url).path)
    assert page.status_code in (200, 404)  # the request page belongs to the wizard; when it exists it opens
    if page.status_code == 200:
        assert ORGANISATION in page.content.decode()


DECLINED_AT = {"nl": "2 maart 2026, 10:00", "en": "2 March 2026, 10:00"}  # 09:00 UTC, in Amsterdam


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_decline_is_mailed_to_the_applicant_with_who_when_and_why(world: World, language: str) -> None:
    with time_machine.travel(SUBMITTED, tick=False):
        request, links = submitted(world, language)
        confirm_identity(links[1])
        mail.outbox.clear()
        request_decline(token=links[1].token, reason="Eva does not work here & never did.")
    [told] = mail.outbox
    assert told.to == ["eva.employee@example.nl"]
    assert "Bram Bakker" in told.subject and ORGANISATION in told.subject and str(request.pk) in told.subject
    for text in (told.body, html_of(told)):
        assert "Bram Bakker" in text
        assert DECLINED_AT[language] in text
    assert "Eva does not work here & never did." in told.body
    assert "Eva does not work here &amp; never did." in html_of(told)
    assert f'<html lang="{language}">' in html_of(told)
    if language == "en":
        assert told.subject == f"Bram Bakker declined to sign your request for {ORGANISATION} (request {request.pk})"
        # Anna alone cannot make the two signatures needed: the request is back with Eva to change.
        assert "Choose other representatives or change what you ask, and submit the request again." in told.body
        [url] = re.findall(r"http://127\.0\.0\.1:8000/requests/\S+/", told.body)
        assert urlsplit(url).path == f"/requests/{request.pk}/"


def test_a_decline_that_leaves_enough_representatives_says_the_request_still_waits(world: World) -> None:
    person = applicant("Eva Employee")
    request = in_language(joint_request(world, person), "en")
    three = [*two_signers(), SignerWish(name="Cor de Vries", date_of_birth=dt.date(1964, 3, 3), email="c@example.nl")]
    links = request_submit(actor=Actor.for_person(person), request=request, signers=three)
    confirm_identity(links[0])
    mail.outbox.clear()
    request_decline(token=links[0].token, reason="On leave.")
    [told] = mail.outbox
    assert "Anna Jansen declined to sign your request" in told.subject
    assert "The other representatives can still sign: your request waits for their signatures." in told.body
    assert "Choose other representatives" not in told.body


def test_an_unchanged_answer_is_confirmed_in_one_mail_that_asks_no_one_to_sign(world: World) -> None:
    request, links = submitted(world, "en")
    for link in links:
        sign(link)
    request_ask_information(actor=STAFF, request=request, question="Is Eva employed by you?")
    mail.outbox.clear()
    assert request_submit(actor=Actor.for_person(request.applicant), request=request, signers=two_signers()) == []
    [confirmed] = mail.outbox  # no representative is mailed, and the applicant gets one mail, not two
    assert confirmed.to == ["eva.employee@example.nl"]
    assert confirmed.subject == f"All signatures are in for your request for {ORGANISATION} (request {request.pk})"
    for text in (confirmed.body, html_of(confirmed)):
        assert "no representative needs to sign again" in text
        assert "personal link" not in text


def test_links_in_mails_start_at_the_configured_base_url(world: World, settings: object) -> None:
    settings.SLEUTELBOS_BASE_URL = "https://sleutelbos.example/"
    _request, links = submitted(world, "en")
    [asked] = to(links[0].signer.email)
    assert re.search(r"https://sleutelbos\.example/sign/[\w-]+/", asked.body)


# --------------------------------------------------------------------------------------------------------------------
# The SMTP server down at submission


@pytest.fixture
def smtp(settings: object) -> Iterator[SmtpServer]:
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


def test_the_signers_links_arrive_after_an_smtp_outage(world: World, smtp: SmtpServer, client: object) -> None:
    request, links = submitted(world, "en")  # the SMTP server is down
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES  # the submission itself succeeded
    waiting = OutgoingMail.objects.filter(sent_at__isnull=True)
    assert waiting.count() == 3 and smtp.inbox.messages == []

    smtp.start()
    later = dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=2)
    assert mail_flush(now=later) == 3
    received = {message["To"]: message for message in smtp.inbox.messages}
    assert set(received) == {"eva.employee@example.nl", "0@example.nl", "1@example.nl"}
    for link in links:
        message = received[link.signer.email]
        text = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        url = link_in(text.get_payload(decode=True).decode())
        assert_link_opens_the_signing_page_of(url, link.signer, client)
