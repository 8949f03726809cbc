"""Signers who have not answered get one reminder after 5 days; a request not signed within 14 days expires."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied

from sleutelbos.audit.services import Actor
from sleutelbos.requests.models import Request, RequestState, Signer
from sleutelbos.requests.services import IssuedLink, hash_token, request_remind, request_submit
from sleutelbos.requests.tasks import expire_requests, remind_signers
from tests.requests.test_mails import ORGANISATION, in_language, to
from tests.requests.test_mails import world as world  # the fixture
from tests.requests.test_services import World, applicant, joint_request, sign, two_signers

pytestmark = pytest.mark.django_db

SUBMITTED = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def submit(world: World) -> tuple[Request, list[IssuedLink]]:
    person = applicant("Eva Employee")
    request = in_language(joint_request(world, person), "en")
    links = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    request.refresh_from_db()
    return request, links


def reminder_token(address: str) -> str:
    [reminder] = [m for m in to(address) if m.subject.startswith("Reminder")]
    [token] = re.findall(r"http://127\.0\.0\.1:8000/sign/([\w-]+)/", reminder.body)
    return token


def test_signers_who_have_not_answered_are_reminded_once_after_five_days(world: World) -> None:
    with time_machine.travel(SUBMITTED, tick=False) as traveller:
        request, links = submit(world)
        sign(links[0])  # Anna signs at once; Bram does not answer
        mail.outbox.clear()

        traveller.shift(dt.timedelta(days=4, hours=23))
        assert remind_signers.enqueue().return_value == 0
        assert mail.outbox == []

        traveller.shift(dt.timedelta(hours=1))
        assert remind_signers.enqueue().return_value == 1
        [reminder] = mail.outbox
        assert reminder.to == [links[1].signer.email]
        assert (
            reminder.subject
            == f"Reminder: please sign the eHerkenning request for {ORGANISATION} (request {request.pk})"
        )
        assert "the link in the first e-mail works as well" in reminder.body
        assert "16 March 2026" in reminder.body  # the first link's end date: the reminder does not extend it

        # Once: later runs remind no one again.
        traveller.shift(dt.timedelta(days=1))
        assert request_remind() == []
        assert len(mail.outbox) == 1

        # The reminder carries a second link of its own; Bram signs with it (the first link would work as well).
        token = reminder_token(links[1].signer.email)
        bram = Signer.objects.get(pk=links[1].signer.pk)
        assert token != links[1].token and hash_token(token) == bram.reminder_token_hash
        assert bram.reminded_at == SUBMITTED + dt.timedelta(days=5)
        sign(IssuedLink(signer=bram, token=token))
        request.refresh_from_db()
        assert request.state == RequestState.READY_FOR_VERIFICATION
        # Used once: neither link works any more.
        with pytest.raises(PermissionDenied):
            sign(links[1])


def test_the_first_link_stays_valid_after_the_reminder(world: World) -> None:
    with time_machine.travel(SUBMITTED, tick=False) as traveller:
        request, links = submit(world)
        traveller.shift(dt.timedelta(days=6))
        assert {signer.pk for signer in request_remind()} == {link.signer.pk for link in links}
        for link in links:
            sign(link)
        request.refresh_from_db()
        assert request.state == RequestState.READY_FOR_VERIFICATION


def test_no_reminder_for_a_request_no_longer_waiting_for_signatures(world: World) -> None:
    from sleutelbos.requests.services import request_withdraw

    with time_machine.travel(SUBMITTED, tick=False) as traveller:
        request, _links = submit(world)
        request_withdraw(actor=Actor.for_person(request.applicant), request=request)
        traveller.shift(dt.timedelta(days=6))
        assert request_remind() == []


def test_a_request_not_signed_within_fourteen_days_expires_and_the_applicant_hears_it(world: World) -> None:
    with time_machine.travel(SUBMITTED, tick=False) as traveller:
        request, links = submit(world)
        sign(links[0])
        mail.outbox.clear()

        traveller.shift(dt.timedelta(days=13, hours=23))
        assert expire_requests.enqueue().return_value == 0
        request.refresh_from_db()
        assert request.state == RequestState.AWAITING_SIGNATURES

        traveller.shift(dt.timedelta(hours=1))
        assert expire_requests.enqueue().return_value == 1
        request.refresh_from_db()
        assert request.state == RequestState.EXPIRED
        expired = [m for m in mail.outbox if "expired" in m.subject]
        assert [m.to for m in expired] == [["eva.employee@example.nl"]]
        assert expired[0].subject == f"Your request for {ORGANISATION} has expired (request {request.pk})"
        assert "were not complete within 14 days" in expired[0].body
        # Expired once: a later run neither expires nor mails again.
        traveller.shift(dt.timedelta(minutes=15))
        mail.outbox.clear()
        assert expire_requests.enqueue().return_value == 0
        assert mail.outbox == []
        with pytest.raises(PermissionDenied):
            sign(links[1])
