"""Background tasks of the outbox (django-tasks; the database backend and ``sleutelbos worker`` in production)."""

from __future__ import annotations

from django_tasks import task

from sleutelbos.mail.services import mail_deliver, mail_flush


@task()
def deliver_mail(mail_id: int) -> bool:
    """Deliver one queued mail; a failure leaves it queued for a later attempt."""
    return mail_deliver(mail_id=mail_id)


@task()
def flush_mail() -> int:
    """Deliver every mail that is due (after an SMTP outage, or when a delivery task was lost)."""
    return mail_flush()
