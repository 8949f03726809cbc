"""Writes to people and their means."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Means, MeansEvent, MeansStatus, Person
from sleutelbos.validation import fail, full_clean


@transaction.atomic
def person_create(
    *,
    actor: Actor,
    name: str,
    email: str,
    level: Level | str | None = None,
    date_of_birth: dt.date | None = None,
) -> Person:
    """Register a person; with ``level``, issue their means at that level at once."""
    email = Person.objects.normalize_email(email.strip())
    if Person.objects.filter(email__iexact=email).exists():
        raise fail("email", _("A person with this e-mail address already exists."), code="unique")
    person = Person(name=name.strip(), email=email, date_of_birth=date_of_birth)
    person.set_unusable_password()
    full_clean(person, exclude=["password"])
    person.save()
    audit_record(actor=actor, action="person:created", subject=person, data={"name": person.name, "email": email})
    if level is not None:
        means_issue(actor=actor, person=person, level=level)
    return person


def _means_event(means: Means, action: str, reason: str = "") -> None:
    MeansEvent.objects.create(means=means, action=action, level=means.level, status=means.status, reason=reason)


@transaction.atomic
def means_issue(*, actor: Actor, person: Person, level: Level | str) -> Means:
    """Issue a means to a person at a level (one per person)."""
    parsed = Level.parse(level)
    if Means.objects.filter(person=person).exists():
        raise fail("level", _("This person already has a means; change its level instead."), code="exists")
    now = timezone.now()
    means = Means.objects.create(person=person, level=parsed, status=MeansStatus.ACTIVE, issued_at=now, changed_at=now)
    _means_event(means, "issued")
    audit_record(actor=actor, action="means:issued", subject=means, data={"person": person.pk, "level": parsed.label})
    return means


def _means_for_update(person: Person) -> Means:
    try:
        return Means.objects.select_for_update().get(person=person)
    except Means.DoesNotExist:
        raise fail("person", _("This person has no means.")) from None


@transaction.atomic
def means_change_level(*, actor: Actor, person: Person, level: Level | str, reason: str = "") -> Means:
    """Upgrade or downgrade a means. Mandates above the new level stop serving (decisions say why)."""
    means = _means_for_update(person)
    if means.status == MeansStatus.REVOKED:
        raise fail("level", _("A revoked means cannot be changed; issue a new one."), code="revoked")
    old = Level(means.level)
    means.level = Level.parse(level)
    means.changed_at = timezone.now()
    means.save(update_fields=["level", "changed_at"])
    _means_event(means, "level_changed", reason)
    audit_record(
        actor=actor,
        action="means:level_changed",
        subject=means,
        data={"person": person.pk, "from": old.label, "to": Level(means.level).label, "reason": reason},
    )
    return means


@transaction.atomic
def means_set_status(*, actor: Actor, person: Person, status: MeansStatus, reason: str = "") -> Means:
    """Suspend, reactivate or revoke a means. Revocation is final."""
    means = _means_for_update(person)
    if means.status == MeansStatus.REVOKED:
        raise fail("status", _("This means is revoked; revocation is final."), code="revoked")
    old = means.status
    means.status = MeansStatus(status)
    means.changed_at = timezone.now()
    means.save(update_fields=["status", "changed_at"])
    _means_event(means, f"status_{means.status}", reason)
    audit_record(
        actor=actor,
        action={"active": "means:reactivated", "suspended": "means:suspended", "revoked": "means:revoked"}[
            means.status
        ],
        subject=means,
        data={"person": person.pk, "from": old, "to": means.status, "reason": reason},
    )
    return means
