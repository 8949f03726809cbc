"""`sleutelbos worker`: runs the queued tasks and enqueues each periodic task once per interval, however many run."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult

from sleutelbos.audit.services import Actor
from sleutelbos.mail.models import OutgoingMail, PeriodicTask
from sleutelbos.mail.periodic import PERIODIC_TASKS, periodic_enqueue_due
from sleutelbos.requests.services import request_submit
from tests.requests.test_mails import in_language
from tests.requests.test_mails import world as world  # the fixture
from tests.requests.test_services import World, applicant, joint_request, two_signers

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
FLUSH = "sleutelbos.mail.tasks.flush_mail"
REMIND = "sleutelbos.requests.tasks.remind_signers"
EXPIRE = "sleutelbos.requests.tasks.expire_requests"
EXPIRY = "sleutelbos.mandates.tasks.warn_expiring_mandates"  # hourly: once in these 15 minutes


@pytest.fixture(autouse=True)
def _database_tasks(settings: object) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def worker() -> None:
    """One worker run: enqueue what is due, run every waiting task, stop."""
    call_command("worker", batch=True, no_startup_delay=True, interval=0, verbosity=0)


def runs() -> list[str]:
    return sorted(DBTaskResult.objects.successful().values_list("task_path", flat=True))


def test_each_periodic_task_is_enqueued_once_per_interval_with_two_workers() -> None:
    with time_machine.travel(START, tick=False) as traveller:
        worker()
        assert runs() == sorted([FLUSH, REMIND, EXPIRE, EXPIRY])
        worker()  # a second worker at the same moment: nothing is due any more
        assert runs() == sorted([FLUSH, REMIND, EXPIRE, EXPIRY])

        traveller.shift(dt.timedelta(minutes=1))
        worker()
        worker()
        assert runs() == sorted([FLUSH, FLUSH, REMIND, EXPIRE, EXPIRY])  # mail every minute, once

        traveller.shift(dt.timedelta(minutes=14))
        worker()
        worker()
        assert runs() == sorted([FLUSH] * 3 + [REMIND] * 2 + [EXPIRE] * 2 + [EXPIRY])
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == {p.name for p in PERIODIC_TASKS}
    assert DBTaskResult.objects.failed().count() == 0


def test_a_due_task_is_claimed_by_one_worker_only() -> None:
    # Two workers that read the same moment: the conditional UPDATE lets only the first enqueue.
    assert periodic_enqueue_due(now=START) == ["mail:flush", "requests:remind", "requests:expire", "mandates:expiry"]
    assert periodic_enqueue_due(now=START) == []
    assert periodic_enqueue_due(now=START + dt.timedelta(seconds=59)) == []
    assert periodic_enqueue_due(now=START + dt.timedelta(minutes=1)) == ["mail:flush"]
    assert DBTaskResult.objects.filter(task_path=FLUSH).count() == 2


def test_the_worker_delivers_the_submission_mails_and_later_the_reminders(world: World, smtp: object) -> None:
    smtp.start()
    with time_machine.travel(START, tick=False) as traveller:
        person = applicant("Eva Employee")
        request = in_language(joint_request(world, person), "en")
        request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
        assert smtp.inbox.messages == []  # queued with the submission, not sent by it
        worker()
        received = sorted(m["To"] for m in smtp.inbox.messages)
        assert received == ["0@example.nl", "1@example.nl", "eva.employee@example.nl"]

        traveller.shift(dt.timedelta(days=5))
        worker()
        reminders = [m for m in smtp.inbox.messages if m["Subject"].startswith("Reminder")]
        assert sorted(m["To"] for m in reminders) == ["0@example.nl", "1@example.nl"]
        traveller.shift(dt.timedelta(minutes=15))
        worker()
        assert len([m for m in smtp.inbox.messages if m["Subject"].startswith("Reminder")]) == 2  # once
    assert not OutgoingMail.objects.filter(sent_at__isnull=True).exists()
