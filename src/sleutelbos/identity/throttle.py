"""Throttling of failed logins per account and per client address (ASVS 2.2.1).

Every failed password or second-factor attempt is a :class:`LoginFailure` row. Once an account (the e-mail address as
typed) or a client address has reached its limit within the last hour, further attempts are refused without checking
the password, and with the same sentence whether the account exists or not. Refused attempts are not recorded, so
the window slides: at most ``SLEUTELBOS_LOGIN_FAILURES_PER_ACCOUNT`` failures per account per hour can be tried.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.services import SYSTEM, audit_record
from sleutelbos.identity.models import LoginFailure

WINDOW = dt.timedelta(hours=1)

TOO_MANY_ATTEMPTS = _("Too many failed attempts. Try again in an hour.")


def account_key(email: str) -> str:
    """The account a failure counts against: the e-mail address as typed, trimmed and in lower case."""
    return email.strip().lower()[:254]


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the server sees it (a proxy in front must set REMOTE_ADDR, not only a header)."""
    return request.META.get("REMOTE_ADDR") or None


def per_account_limit() -> int:
    return int(getattr(settings, "SLEUTELBOS_LOGIN_FAILURES_PER_ACCOUNT", 100))


def per_address_limit() -> int:
    return int(getattr(settings, "SLEUTELBOS_LOGIN_FAILURES_PER_ADDRESS", 300))


def is_throttled(*, account: str, address: str | None) -> bool:
    """Whether this account or this address has used up its failed attempts of the last hour."""
    since = timezone.now() - WINDOW
    recent = LoginFailure.objects.filter(at__gt=since)
    if recent.filter(account=account_key(account)).count() >= per_account_limit():
        return True
    return address is not None and recent.filter(address=address).count() >= per_address_limit()


@transaction.atomic
def login_failure_record(*, account: str, address: str | None, reason: str) -> LoginFailure:
    """Count one failed attempt (wrong password, wrong code) against the account and the address."""
    failure = LoginFailure.objects.create(account=account_key(account), address=address)
    audit_record(
        actor=SYSTEM,
        action="login:failed",
        subject=failure,
        data={"account": failure.account, "address": address, "reason": reason},
    )
    return failure
