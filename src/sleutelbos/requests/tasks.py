"""Background tasks of requests, run by ``sleutelbos worker`` on the schedule in ``sleutelbos.mail.periodic``."""

from __future__ import annotations

from django_tasks import task

from sleutelbos.mail.tasks import flush_mail
from sleutelbos.requests.services import request_expire, request_remind

__all__ = ["expire_requests", "flush_mail", "remind_signers"]


@task()
def expire_requests() -> int:
    """Expire the requests whose signatures were not complete within 14 days, and mail their applicants."""
    return len(request_expire())


@task()
def remind_signers() -> int:
    """Send each signer who has not answered 5 days after their link one reminder with a second link."""
    return len(request_remind())
