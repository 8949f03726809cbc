"""Activation of an account from an e-mailed one-time link, and setting a password.

The link carries a token that expires after ``SLEUTELBOS_ACTIVATION_DAYS`` days (default 7) and works once: its
hash covers the password and ``activated_at``, and both change when the person sets their password.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.identity.language import person_language
from sleutelbos.identity.models import Person
from sleutelbos.mail.services import mail_queue


def activation_days() -> int:
    return int(getattr(settings, "SLEUTELBOS_ACTIVATION_DAYS", 7))


class ActivationTokenGenerator(PasswordResetTokenGenerator):
    """Tokens for the activation link: expire after the configured days, and are used up by setting a password."""

    key_salt = "sleutelbos.identity.activation.ActivationTokenGenerator"

    def _make_hash_value(self, user: Person, timestamp: int) -> str:  # type: ignore[override]
        activated = "" if user.activated_at is None else user.activated_at.replace(microsecond=0, tzinfo=None)
        return f"{user.pk}{user.password}{activated}{timestamp}{user.email}"

    def check_token(self, user: Person | None, token: str | None) -> bool:  # type: ignore[override]
        """Like Django's, with the activation lifetime instead of PASSWORD_RESET_TIMEOUT."""
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token):
                break
        else:
            return False
        return (self._num_seconds(self._now()) - timestamp) <= activation_days() * 24 * 3600


activation_tokens = ActivationTokenGenerator()


def activation_path(person: Person) -> str:
    """The path of a fresh activation link for the person."""
    uid = urlsafe_base64_encode(force_bytes(person.pk))
    return reverse("identity:activate", kwargs={"uidb64": uid, "token": activation_tokens.make_token(person)})


@transaction.atomic
def activation_send(*, actor: Actor, person: Person, base_url: str, language: str | None = None) -> None:
    """Mail the person a link to activate their account (in ``language``, Dutch by default) through the outbox."""
    url = base_url.rstrip("/") + activation_path(person)
    context = {"person": person, "url": url, "days": activation_days()}
    mail_queue(
        to=person.email,
        template="identity/mail/activation",
        context=context,
        purpose="person:activation",
        language=language or person_language(person),
    )
    audit_record(actor=actor, action="person:activation_sent", subject=person, data={"email": person.email})


@transaction.atomic
def password_set(*, actor: Actor, person: Person, password: str) -> Person:
    """Give the person a new password (checked against the password rules); their other sessions end."""
    validate_password(password, user=person)
    person.set_password(password)
    person.save(update_fields=["password"])
    audit_record(actor=actor, action="password:changed", subject=person)
    return person


@transaction.atomic
def activation_complete(*, person: Person, password: str) -> Person:
    """Activate the account from its link: set the first password. The link is used up by this."""
    validate_password(password, user=person)
    person.set_password(password)
    person.activated_at = timezone.now()
    person.save(update_fields=["password", "activated_at"])
    audit_record(actor=Actor.for_person(person), action="person:activated", subject=person)
    return person
