"""The applicant's page of a request: opened from the mails without an account, and what a decline leaves there."""

# ruff: noqa: F811 (the ``world`` fixture comes from test_services and is used by name)

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core import signing as django_signing
from django.test import Client
from django.utils import timezone

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.models import Authority
from sleutelbos.requests.models import Request, RequestKind, RequestState
from sleutelbos.requests.services import (
    MandateWish,
    request_create_draft,
    request_decline,
    request_submit,
)
from tests import factories as f
from tests.requests.signer_code import confirm_identity
from tests.requests.test_services import (  # noqa: F401
    BORN,
    World,
    applicant,
    extract_of,
    joint_request,
    sign,
    two_signers,
    world,
)

pytestmark = pytest.mark.django_db

ORGANISATION = "Bakkerij De Gouden Korst B.V."
LINK = re.compile(r"http://127\.0\.0\.1:8000(/requests/\S+/)")


def english() -> Client:
    """A browser that never applied: no session, no login."""
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def first_application(email: str = "jan@bakker.nl") -> Request:
    """Jan de Bakker applies without an account, alone authorized, and submits: he signs it himself."""
    organisation = f.organisation(name=ORGANISATION)
    f.provider()
    request = request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name="Jan de Bakker",
        applicant_email=email,
        applicant_date_of_birth=BORN,
        extract=extract_of(organisation, ("Jan de Bakker", BORN, Authority.ALONE)),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3, years=1)],
    )
    request_submit(actor=SYSTEM, request=request)
    return request


def request_link_in_mail(address: str) -> str:
    """The link to the request in the latest mail to the applicant at ``address``."""
    for message in reversed(mail.outbox):
        if message.to == [address]:
            found = LINK.search(message.body)
            if found:
                return found.group(1)
    raise AssertionError(f"no link to a request mailed to {address}")


# --------------------------------------------------------------------------------------------------------------------
# Without an account: the link in the mail


def test_an_applicant_without_an_account_opens_the_request_from_the_mail_in_any_browser() -> None:
    request = first_application()
    path = request_link_in_mail("jan@bakker.nl")
    assert path != f"/requests/{request.pk}/"  # that page asks for a login Jan does not have

    browser = english()
    opened = browser.get(path)
    assert opened.status_code == 302 and opened["Location"] == f"/requests/{request.pk}/"
    page = browser.get(opened["Location"])
    assert page.status_code == 200
    assert f"Request {request.pk}: {ORGANISATION}" in text(page)
    assert "Withdraw the request" in text(page)

    withdrawn = browser.post(f"/requests/{request.pk}/withdraw/", {"note": "Applied twice."})
    assert withdrawn.status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.WITHDRAWN


def test_the_link_opens_that_request_and_no_other() -> None:
    request = first_application()
    other = first_application("piet@bakker.nl")
    path = request_link_in_mail("jan@bakker.nl")
    browser = english()
    browser.get(path)
    assert browser.get(f"/requests/{request.pk}/").status_code == 200

    # Another request in the same browser: still the login, nothing of it shown.
    elsewhere = browser.get(f"/requests/{other.pk}/")
    assert elsewhere.status_code == 302 and "/account/login/" in elsewhere["Location"]
    assert browser.get(f"/requests/{other.pk}/withdraw/").status_code == 302

    # A token changed to name the other request, or signed without the secret key, is not accepted.
    token = urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1]
    forged = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        django_signing.dumps({"request": other.pk}, salt="another salt"),
        django_signing.dumps({"request": other.pk}, key="not the secret key", salt="sleutelbos.requests"),
    ]
    for made_up in forged:
        refused = english().get(f"/requests/link/{made_up}/")
        assert refused.status_code == 404
        assert "This link to your request does not work" in text(refused)
        assert "piet@bakker.nl" not in refused.content.decode()


def test_the_link_works_thirty_days() -> None:
    first_application()
    path = request_link_in_mail("jan@bakker.nl")
    with time_machine.travel(timezone.now() + dt.timedelta(days=29)):
        assert english().get(path).status_code == 302
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        expired = english().get(path)
    assert expired.status_code == 404
    assert "The link has expired (it works 30 days)" in text(expired)


def test_an_applicant_with_an_account_is_sent_to_the_request_page(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    assert request_link_in_mail(person.email) == f"/requests/{request.pk}/"


# --------------------------------------------------------------------------------------------------------------------
# After a decline


def test_a_declined_request_comes_back_to_the_applicant_with_the_reason_in_its_history(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    anna, bram = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    sign(anna)
    confirm_identity(bram)
    request_decline(token=bram.token, reason="I do not know Eva.")

    browser = english()
    browser.force_login(person)
    page = text(browser.get(f"/requests/{request.pk}/"))
    assert "A representative declined to sign" in page
    assert "Choose other representatives or change what you ask, and submit the request again." in page
    assert "Bram Bakker declined to sign: “I do not know Eva.”" in page  # in the history
    assert "Continue the request" in page
    assert "can no longer be changed" not in page
    assert browser.get(f"/requests/{request.pk}/representatives/").status_code == 200
