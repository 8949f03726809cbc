"""``sleutelbos worker``: run the background tasks (mail delivery, reminders, expiry) and schedule the periodic ones.

It is django-tasks-db's ``db_worker`` (same options) with a scheduler thread next to it that enqueues every task in
``sleutelbos.mail.periodic.PERIODIC_TASKS`` at its interval. Several workers may run: each periodic task is claimed by
one of them per interval. With ``--batch`` the due periodic tasks are enqueued once, then every waiting task runs and
the worker stops.
"""

from __future__ import annotations

import logging
import os
import threading
from argparse import ArgumentParser
from typing import Any

from django.db import DatabaseError, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV
from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand

from sleutelbos.mail.periodic import periodic_enqueue_due

logger = logging.getLogger(__name__)


class Scheduler(threading.Thread):
    """Enqueue the due periodic tasks every ``tick`` seconds until stopped (a daemon: it ends with the worker)."""

    def __init__(self, tick: float) -> None:
        super().__init__(name="sleutelbos-periodic-tasks", daemon=True)
        self.tick = tick
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                periodic_enqueue_due()
            except DatabaseError:
                logger.exception("periodic tasks not enqueued; trying again in %s seconds", self.tick)
            finally:
                connections.close_all()
            self.stopped.wait(self.tick)


class Command(DbWorkerCommand):
    help = "Run background tasks (mail, reminders, expiry) and enqueue the periodic ones at their interval."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--schedule-tick",
            type=float,
            default=10.0,
            help="Seconds between checks for due periodic tasks (default: %(default)r).",
        )
        parser.add_argument(
            "--no-schedule",
            action="store_false",
            dest="schedule",
            help="Only run tasks; leave the periodic ones to other workers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = options.pop("schedule")
        tick = options.pop("schedule_tick")
        if schedule:
            if options["batch"]:
                periodic_enqueue_due()
            elif not options["reload"] or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                # With --reload only the reloaded child schedules, not the process watching the files.
                Scheduler(tick).start()
        super().handle(*args, **options)
