"""Queue and deliver mail.

``mail_queue`` renders a mail in the recipient's language and writes it to the outbox inside the caller's
transaction, and enqueues its delivery as a task (with the database task backend the task row is part of the same
transaction: the change and its mail commit together or not at all). ``mail_deliver`` hands one mail to the SMTP
server; when that fails the mail stays in the outbox and is tried again later with a growing pause, so an SMTP
outage delays mail but loses none. ``mail_flush`` delivers everything that is due (the worker runs it every minute).
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation

from sleutelbos.mail.models import OutgoingMail
from sleutelbos.typography import single_full_stops

logger = logging.getLogger(__name__)

#: Pauses between attempts: 1, 2, 4, ... minutes, at most an hour.
FIRST_RETRY = dt.timedelta(minutes=1)
LONGEST_RETRY = dt.timedelta(hours=1)


def absolute_url(path: str) -> str:
    """``path`` on the address Sleutelbos is reached at from outside (``SLEUTELBOS_BASE_URL``), for links in mails."""
    base = str(getattr(settings, "SLEUTELBOS_BASE_URL", "") or "http://127.0.0.1:8000")
    return base.rstrip("/") + "/" + path.lstrip("/")


def render_mail(template: str, context: Mapping[str, Any], language: str) -> tuple[str, str, str]:
    """Subject, text and HTML of ``<template>_subject.txt``, ``<template>.txt`` and ``<template>.html``.

    The subject is plain text, never HTML: it is rendered without autoescaping ("Knip & Krul", not "Knip &amp; Krul").
    """
    with translation.override(language):
        subject_template = get_template(f"{template}_subject.txt").template
        subject = " ".join(subject_template.render(Context(dict(context), autoescape=False)).split())
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
    return single_full_stops(subject), single_full_stops(text), single_full_stops(html)


@transaction.atomic
def mail_queue(
    *, to: str, template: str, context: Mapping[str, Any], purpose: str, language: str | None = None
) -> OutgoingMail:
    """Render the mail in ``language`` (Dutch by default) into the outbox and enqueue its delivery."""
    language = language or settings.LANGUAGE_CODE
    subject, text, html = render_mail(template, context, language)
    mail = OutgoingMail.objects.create(to=to, subject=subject, text=text, html=html, purpose=purpose, language=language)
    _enqueue(mail)
    return mail


def _enqueue(mail: OutgoingMail, *, at: dt.datetime | None = None) -> None:
    from sleutelbos.mail.tasks import deliver_mail  # tasks import this module

    if at is not None and deliver_mail.get_backend().supports_defer:
        deliver_mail.using(run_after=at).enqueue(mail.pk)
    elif at is None:
        deliver_mail.enqueue(mail.pk)
    # A backend that cannot defer leaves a failed mail for the next mail_flush.


def _retry_pause(attempts: int) -> dt.timedelta:
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def mail_deliver(*, mail_id: int, now: dt.datetime | None = None) -> bool:
    """Hand one mail to the mail server; True when it is (or already was) delivered.

    The row is locked while sending, so two workers never send the same mail twice.
    """
    with transaction.atomic():
        mail = OutgoingMail.objects.select_for_update(skip_locked=True).filter(pk=mail_id).first()
        if mail is None or mail.sent_at is not None:
            return mail is not None
        message = EmailMultiAlternatives(subject=mail.subject, body=mail.text, to=[mail.to])
        if mail.html:
            message.attach_alternative(mail.html, "text/html")
        try:
            get_connection(fail_silently=False).send_messages([message])
        except (smtplib.SMTPException, OSError) as error:
            mail.attempts += 1
            mail.last_error = f"{type(error).__name__}: {error}"[:2000]
            mail.next_attempt_at = (now or timezone.now()) + _retry_pause(mail.attempts)
            mail.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            logger.warning("mail %s to %s not delivered (attempt %d): %s", mail.pk, mail.to, mail.attempts, error)
            failed_at = mail.next_attempt_at
        else:
            mail.attempts += 1
            mail.sent_at = timezone.now()
            mail.last_error = ""
            mail.text = ""
            mail.html = ""
            mail.save(update_fields=["attempts", "sent_at", "last_error", "text", "html"])
            return True
    _enqueue(mail, at=failed_at)
    return False


def mail_flush(*, now: dt.datetime | None = None) -> int:
    """Deliver every mail that is due; returns how many were delivered."""
    now = now or timezone.now()
    due = OutgoingMail.objects.filter(sent_at__isnull=True, next_attempt_at__lte=now)
    pks = due.order_by("next_attempt_at", "id").values_list("pk", flat=True)
    return sum(mail_deliver(mail_id=pk, now=now) for pk in pks)
