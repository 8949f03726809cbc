"""Tasks the worker enqueues at an interval, once across all workers.

Each periodic task has a row (``PeriodicTask``) with the moment it was last enqueued. A worker claims a due task with
one conditional UPDATE ("set last_enqueued_at to now where it is still older than now minus the interval"); only the
worker whose UPDATE changed the row enqueues it, in the same transaction, so several workers never enqueue it twice.
Add a task to ``PERIODIC_TASKS`` to have it run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from sleutelbos.mail.models import PeriodicTask

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A task (by import path of its ``@task()`` function) and how often it runs."""

    name: str
    task: str
    every: dt.timedelta


#: Everything the worker runs on a schedule.
PERIODIC_TASKS: tuple[Periodic, ...] = (
    Periodic("mail:flush", "sleutelbos.mail.tasks.flush_mail", dt.timedelta(minutes=1)),
    Periodic("requests:remind", "sleutelbos.requests.tasks.remind_signers", dt.timedelta(minutes=15)),
    Periodic("requests:expire", "sleutelbos.requests.tasks.expire_requests", dt.timedelta(minutes=15)),
    Periodic("mandates:expiry", "sleutelbos.mandates.tasks.warn_expiring_mandates", dt.timedelta(hours=1)),
)


def _ensure_row(name: str) -> None:
    if PeriodicTask.objects.filter(name=name).exists():
        return
    try:
        with transaction.atomic():
            PeriodicTask.objects.create(name=name)
    except IntegrityError:  # another worker created it just now
        pass


def periodic_enqueue_due(*, now: dt.datetime | None = None, tasks: tuple[Periodic, ...] = PERIODIC_TASKS) -> list[str]:
    """Enqueue each periodic task that is due and that no other worker claimed first; returns their names."""
    now = now or timezone.now()
    enqueued = []
    for periodic in tasks:
        _ensure_row(periodic.name)
        with transaction.atomic():
            due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - periodic.every)
            claimed = PeriodicTask.objects.filter(due, name=periodic.name).update(last_enqueued_at=now)
            if claimed:
                import_string(periodic.task).enqueue()
                enqueued.append(periodic.name)
    if enqueued:
        logger.info("enqueued periodic tasks: %s", ", ".join(enqueued))
    return enqueued
