"""The signing pages, as a representative uses them: the link from the mail, the code from the next mail, a signature.

Every refusal has its own page; the code is limited in time, in tries and in how often it is mailed.
"""

# ruff: noqa: F811 (the ``world`` fixture comes from test_services and is used by name)

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.requests.models import Request, RequestState, Signer
from sleutelbos.requests.services import IssuedLink, request_submit, request_withdraw
from sleutelbos.requests.signing import CODES_PER_HOUR
from tests.requests.signer_code import mailed_code
from tests.requests.test_services import JOINT, World, applicant, joint_request, two_signers, world  # noqa: F401

pytestmark = pytest.mark.django_db

LINK = re.compile(r"https?://[^/\s]+(/sign/[A-Za-z0-9_-]{20,}/)")
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Sleutelbos-test"


@pytest.fixture(autouse=True)
def _english(settings) -> None:
    """The pages are checked in English, the language of the messages in the code (Dutch is translated later)."""
    settings.LANGUAGE_CODE = "en"


def browser() -> Client:
    return Client(HTTP_USER_AGENT=BROWSER, HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="198.51.100.23")


def submitted(world: World) -> tuple[Request, list[IssuedLink]]:
    person = applicant("Eva Employee")
    request = joint_request(world, person, level=Level.EH3)
    mail.outbox.clear()
    links = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    request.refresh_from_db()
    return request, links


def link_in_mail(email: str) -> str:
    """The signing link in the signature request mail to ``email``."""
    for message in mail.outbox:
        if email in message.to:
            found = LINK.search(message.body)
            if found:
                return found.group(1)
    raise AssertionError(f"no signing link mailed to {email}")


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def open_link(client: Client, path: str):
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == "/sign/"  # the token does not stay in the address bar
    return client.get("/sign/")


def confirm(client: Client, signer: Signer, *, name: str | None = None, born: dt.date | None = None, code: str = ""):
    return client.post(
        "/sign/",
        {
            "action": "confirm",
            "name": name if name is not None else signer.functionary_name,
            "date_of_birth": (born or signer.date_of_birth).isoformat(),
            "code": code or mailed_code(signer.email),
        },
    )


def ask_code(client: Client, signer: Signer):
    return client.post(
        "/sign/",
        {"action": "send_code", "name": signer.functionary_name, "date_of_birth": signer.date_of_birth.isoformat()},
    )


# --------------------------------------------------------------------------------------------------------------------
# The whole signature


def test_two_representatives_sign_from_the_links_and_codes_they_were_mailed(world: World) -> None:
    request, links = submitted(world)
    for number, link in enumerate(links, start=1):
        signer = link.signer
        client = browser()
        page = open_link(client, link_in_mail(signer.email))
        assert page.status_code == 200
        text = page_text(page)
        assert "Bakkerij De Gouden Korst B.V." in text  # the whole request in words
        assert world.providers[0].name in text and world.providers[1].name in text
        assert "EH3" in text and "3 years from approval" in text
        assert request.document_hash in text
        assert "Step 1 of 2: confirm who you are" in text
        assert "Step 2 of 2" not in text
        assert client.get("/sign/pdf/")["Content-Type"] == "application/pdf"

        # Signing before the identity is confirmed does nothing.
        assert client.post("/sign/", {"action": "sign", "agree": "on"}).status_code == 302
        signer.refresh_from_db()
        assert signer.signed_at is None

        sent = ask_code(client, signer)
        assert sent.status_code == 302
        code_mail = mail.outbox[-1]
        assert code_mail.to == [signer.email]
        assert "code" in code_mail.subject.lower()
        page = client.get("/sign/")
        assert "We sent a code to" in page_text(page)
        assert mailed_code(signer.email) not in page.content.decode()  # the code is only in the mail

        assert confirm(client, signer).status_code == 302
        page = client.get("/sign/")
        assert "Step 2 of 2: sign or decline" in page_text(page)

        unticked = client.post("/sign/", {"action": "sign"})
        assert unticked.status_code == 400
        assert "Tick the box" in page_text(unticked)

        done = client.post("/sign/", {"action": "sign", "agree": "on"})
        assert done.status_code == 302 and done.url == "/sign/done/"
        assert "You have signed the request" in page_text(client.get("/sign/done/"))

        signer.refresh_from_db()
        assert signer.signed_at is not None
        assert signer.identity_confirmed_at is not None
        assert (signer.address, signer.user_agent) == ("198.51.100.23", BROWSER)
        assert signer.signed_document_hash == request.document_hash
        request.refresh_from_db()
        expected = RequestState.READY_FOR_VERIFICATION if number == 2 else RequestState.AWAITING_SIGNATURES
        assert request.state == expected
    actions = set(AuditEvent.objects.filter(subject_type="requests.signer").values_list("action", flat=True))
    assert {"signer:code_sent", "signer:identity_confirmed"} <= actions


def test_wrong_name_date_of_birth_or_code_are_refused_and_counted(world: World) -> None:
    _request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    ask_code(client, signer)
    code = mailed_code(signer.email)
    wrong_code = f"{(int(code) + 1) % 10**6:06d}"

    wrong_name = confirm(client, signer, name="Anna Janssen", code=code)
    assert wrong_name.status_code == 400
    assert "do not match the representative" in page_text(wrong_name)
    assert "You can try 4 more times." in page_text(wrong_name)
    wrong_date = confirm(client, signer, born=dt.date(1999, 9, 9), code=code)
    assert "do not match the representative" in page_text(wrong_date)
    wrong = confirm(client, signer, code=wrong_code)
    assert "That code is not correct" in page_text(wrong)
    assert "You can try 2 more times." in page_text(wrong)
    # The errors are linked to the fields.
    html = wrong.content.decode()
    assert re.search(r'<input[^>]*name="code"[^>]*aria-describedby="[^"]*id_code_error', html)
    assert re.search(r'<input[^>]*name="code"[^>]*aria-invalid="true"', html)
    confirm(client, signer, code=wrong_code)
    void = confirm(client, signer, code=wrong_code)
    assert "too many times" in page_text(void)
    # Now even the right code is refused: the code is void.
    assert "too many times" in page_text(confirm(client, signer, code=code))
    signer.refresh_from_db()
    assert signer.identity_confirmed_at is None
    assert signer.code_attempts == 5
    assert AuditEvent.objects.filter(action="signer:identity_refused", subject_id=str(signer.pk)).count() == 5

    # A new code works again; the name may be written in another case.
    assert client.post("/sign/", {"action": "send_code"}).status_code == 302  # "send me a new code"
    assert confirm(client, signer, name=signer.functionary_name.upper()).status_code == 302
    signer.refresh_from_db()
    assert signer.identity_confirmed_at is not None


def test_a_code_works_ten_minutes(world: World) -> None:
    _request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        ask_code(client, signer)
        traveller.shift(dt.timedelta(minutes=10, seconds=1))
        late = confirm(client, signer)
        assert late.status_code == 400
        assert "That code has expired" in page_text(late)
        ask_code(client, signer)
        traveller.shift(dt.timedelta(minutes=9))
        assert confirm(client, signer).status_code == 302
    signer.refresh_from_db()
    assert signer.identity_confirmed_at is not None


def test_at_most_five_codes_an_hour_are_mailed(world: World) -> None:
    _request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(CODES_PER_HOUR):
            assert ask_code(client, signer).status_code == 302
        mails = len(mail.outbox)
        refused = client.post("/sign/", {"action": "send_code"})
        assert refused.status_code == 400
        assert "too many codes" in page_text(refused)
        assert len(mail.outbox) == mails
        traveller.shift(dt.timedelta(hours=1, seconds=1))
        assert ask_code(client, signer).status_code == 302
        assert len(mail.outbox) == mails + 1


def test_a_representative_declines_with_a_reason(world: World) -> None:
    request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    ask_code(client, signer)
    confirm(client, signer)
    empty = client.post("/sign/", {"action": "decline", "reason": "  "})
    assert empty.status_code == 400
    assert "Say why you decline to sign." in page_text(empty)
    done = client.post("/sign/", {"action": "decline", "reason": "I do not know Eva."})
    assert done.url == "/sign/done/"
    assert "You have declined the request" in page_text(client.get("/sign/done/"))
    signer.refresh_from_db()
    assert (signer.decline_reason, signer.signed_at) == ("I do not know Eva.", None)
    assert signer.declined_at is not None
    # Two of three must sign and only one is left: the request goes back to Eva, who is told who declined and why.
    request.refresh_from_db()
    assert request.state == RequestState.DRAFT
    [told] = [message for message in mail.outbox if message.to == [request.applicant.email]][-1:]
    assert f"{signer.functionary_name} declined to sign your request" in told.subject
    assert "I do not know Eva." in told.body
    # The link is used: opening it again says so; the other representative's link no longer asks to sign.
    again = browser().get(link_in_mail(signer.email))
    assert again.status_code == 410
    assert "You have declined this request already" in page_text(again)
    other = browser().get(link_in_mail(links[1].signer.email))
    assert other.status_code == 409
    assert "it went back to the applicant to be changed" in page_text(other)


def test_two_code_mails_for_two_requests_of_one_organisation_name_their_request(world: World) -> None:
    first, first_links = submitted(world)
    me = Actor.for_person(first.applicant)
    second = joint_request(world, first.applicant, level=Level.EH3)
    second_links = request_submit(actor=me, request=second, signers=two_signers())
    subjects = []
    for links in (first_links, second_links):
        client = browser()
        open_link(client, f"/sign/{links[0].token}/")
        ask_code(client, links[0].signer)
        subjects.append(mail.outbox[-1].subject)
    assert subjects == [
        f"Your code to sign the eHerkenning request for Bakkerij De Gouden Korst B.V. (request {first.pk})",
        f"Your code to sign the eHerkenning request for Bakkerij De Gouden Korst B.V. (request {second.pk})",
    ]


# --------------------------------------------------------------------------------------------------------------------
# Each refusal its own page


def test_an_expired_link_has_its_own_page(world: World) -> None:
    _request, links = submitted(world)
    path = link_in_mail(links[0].signer.email)
    with time_machine.travel(timezone.now() + dt.timedelta(days=14, seconds=1)):
        response = browser().get(path)
    assert response.status_code == 410
    assert "This signing link has expired" in page_text(response)
    assert "Ask the applicant to submit the request again" in page_text(response)


def test_a_used_link_has_its_own_page_and_cannot_sign_again(world: World) -> None:
    _request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    path = link_in_mail(signer.email)
    open_link(client, path)
    ask_code(client, signer)
    confirm(client, signer)
    client.post("/sign/", {"action": "sign", "agree": "on"})
    for response in (browser().get(path), client.get("/sign/"), client.get(path + "pdf/")):
        assert response.status_code == 410
        assert "You have signed this request already" in page_text(response)


def test_a_link_of_an_earlier_submission_has_its_own_page(world: World) -> None:
    _request, links = submitted(world)
    path = link_in_mail(links[0].signer.email)
    Signer.objects.filter(pk=links[0].signer.pk).update(superseded_at=timezone.now())
    response = browser().get(path)
    assert response.status_code == 410
    assert "This signing link has been replaced" in page_text(response)


def test_a_request_changed_after_submission_cannot_be_signed(world: World) -> None:
    request, links = submitted(world)
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    ask_code(client, signer)
    confirm(client, signer)
    request.mandates.update(years=5)  # tampered with behind the services, after submission
    response = client.post("/sign/", {"action": "sign", "agree": "on"})
    assert response.status_code == 409
    assert "This request was changed after it was submitted" in page_text(response)
    signer.refresh_from_db()
    assert signer.signed_at is None
    fresh = browser().get(link_in_mail(links[1].signer.email))
    assert fresh.status_code == 409


def test_a_request_no_longer_waiting_for_signatures_has_its_own_page(world: World) -> None:
    request, links = submitted(world)
    request_withdraw(actor=Actor.for_person(request.applicant), request=request)
    response = browser().get(link_in_mail(links[0].signer.email))
    assert response.status_code == 409
    assert "This request no longer waits for signatures" in page_text(response)


def test_an_unknown_link_or_no_link_at_all_is_explained() -> None:
    unknown = browser().get("/sign/" + "x" * 43 + "/")
    assert unknown.status_code == 404
    assert "This signing link does not work" in page_text(unknown)
    nothing = browser().get("/sign/")
    assert nothing.status_code == 400
    assert "Open your signing link" in page_text(nothing)
    assert browser().get("/sign/pdf/").status_code == 400


def test_the_code_mail_is_in_the_request_language(world: World) -> None:
    request, links = submitted(world)
    Request.objects.filter(pk=request.pk).update(language="nl")
    signer = links[0].signer
    client = browser()
    open_link(client, link_in_mail(signer.email))
    ask_code(client, signer)
    message = mail.outbox[-1]
    html = message.alternatives[0][0]
    assert '<html lang="nl">' in html
    assert mailed_code(signer.email) in html


# --------------------------------------------------------------------------------------------------------------------
# The PDF


def test_the_pdf_from_the_link_and_for_the_applicant_only(world: World, django_user_model) -> None:
    request, links = submitted(world)
    from_link = browser().get(link_in_mail(links[0].signer.email) + "pdf/")
    assert from_link.status_code == 200
    assert from_link["Content-Type"] == "application/pdf"
    assert from_link.content.startswith(b"%PDF-")

    path = f"/sign/request/{request.pk}/pdf/"
    anonymous = browser().get(path)
    assert anonymous.status_code == 302 and "/account/login/" in anonymous.url
    own = browser()
    own.force_login(request.applicant)
    mine = own.get(path)
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF-")
    stranger = browser()
    stranger.force_login(applicant("Sam Stranger"))
    assert stranger.get(path).status_code == 404
    assert own.get(f"/sign/request/{request.pk + 1000}/pdf/").status_code == 404


def test_the_signing_page_does_not_work_with_the_link_of_an_unsent_code(world: World) -> None:
    """A code asked through one link does not confirm the other signer of the same request."""
    _request, links = submitted(world)
    first, second = (link.signer for link in links)
    client = browser()
    open_link(client, link_in_mail(second.email))
    other = browser()
    open_link(other, link_in_mail(first.email))
    ask_code(other, first)
    response = client.post(
        "/sign/",
        {
            "action": "confirm",
            "name": second.functionary_name,
            "date_of_birth": second.date_of_birth.isoformat(),
            "code": mailed_code(first.email),
        },
    )
    assert response.status_code == 400
    assert "Ask for a code first" in page_text(response)
    second.refresh_from_db()
    assert second.identity_confirmed_at is None
    assert JOINT[1][0] == second.functionary_name
