"""Background tasks of mandates, run by ``sleutelbos worker`` on the schedule in ``sleutelbos.mail.periodic``."""

from __future__ import annotations

from django_tasks import task

from sleutelbos.mandates.expiry import expiry_warn


@task()
def warn_expiring_mandates() -> int:
    """Mail holders and managers of mandates that end within 60 or 14 days, once per threshold."""
    return len(expiry_warn())
