"""The outbox: mail commits with the change, survives an SMTP outage, and is delivered once the server is back."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from sleutelbos.audit.services import SYSTEM
from sleutelbos.identity.activation import activation_send
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mail.services import mail_flush
from tests import factories

pytestmark = pytest.mark.django_db


def _activation(person: object) -> OutgoingMail:
    activation_send(actor=SYSTEM, person=person, base_url="https://sleutelbos.example")
    return OutgoingMail.objects.get(to=person.email)


def test_a_queued_mail_is_delivered_and_its_body_is_cleared():
    person = factories.person(email="anna@example.nl")
    outgoing = _activation(person)
    outgoing.refresh_from_db()
    assert [m.to for m in mail.outbox] == [["anna@example.nl"]]
    assert "activate" in mail.outbox[0].body or "activeren" in mail.outbox[0].body
    assert outgoing.sent_at is not None and outgoing.attempts == 1
    # The body held a one-time link: it is not kept once delivered.
    assert outgoing.text == "" and outgoing.html == ""


def test_mail_written_in_a_transaction_that_fails_is_never_sent():
    from django.db import transaction

    person = factories.person(email="bert@example.nl")
    with pytest.raises(RuntimeError), transaction.atomic():
        activation_send(actor=SYSTEM, person=person, base_url="https://sleutelbos.example")
        raise RuntimeError("the change fails")
    assert not OutgoingMail.objects.filter(to="bert@example.nl").exists()


def test_smtp_outage_keeps_the_mail_until_the_server_is_back(smtp):
    person = factories.person(email="carla@example.nl")
    outgoing = _activation(person)  # the server is not started: the delivery fails
    outgoing.refresh_from_db()
    assert outgoing.sent_at is None
    assert outgoing.attempts == 1
    assert "Connection refused" in outgoing.last_error or "Errno" in outgoing.last_error
    assert outgoing.text  # the mail is still whole, waiting
    # Not due yet: a flush right away does not hammer the server.
    assert mail_flush() == 0

    smtp.start()
    later = timezone.now() + dt.timedelta(minutes=2)
    assert mail_flush(now=later) == 1
    outgoing.refresh_from_db()
    assert outgoing.sent_at is not None
    assert len(smtp.inbox.messages) == 1
    received = smtp.inbox.messages[0]
    assert received["To"] == "carla@example.nl"
    assert received.is_multipart()  # text and HTML
    # Delivered once: another flush sends nothing more.
    assert mail_flush(now=later + dt.timedelta(hours=1)) == 0
    assert len(smtp.inbox.messages) == 1


def test_retries_pause_longer_each_time_up_to_an_hour(smtp):
    person = factories.person(email="dirk@example.nl")
    outgoing = _activation(person)
    pauses = []
    for _ in range(8):
        outgoing.refresh_from_db()
        pauses.append(outgoing.next_attempt_at)
        mail_flush(now=outgoing.next_attempt_at)
    outgoing.refresh_from_db()
    gaps = [round((b - a).total_seconds() / 60) for a, b in itertools.pairwise(pauses)]
    assert gaps[:4] == [2, 4, 8, 16]
    assert max(gaps) <= 60
    assert outgoing.attempts == 9 and outgoing.sent_at is None


@pytest.mark.django_db(transaction=True)
def test_the_database_task_worker_delivers_queued_mail(settings, smtp):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    smtp.start()
    person = factories.person(email="eva@example.nl")
    outgoing = _activation(person)
    assert outgoing.sent_at is None and smtp.inbox.messages == []  # queued, not yet sent
    call_command("db_worker", batch=True, no_startup_delay=True, interval=0)
    outgoing.refresh_from_db()
    assert outgoing.sent_at is not None
    assert [m["To"] for m in smtp.inbox.messages] == ["eva@example.nl"]
