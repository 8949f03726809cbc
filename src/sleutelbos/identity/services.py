"""Writes to people, the verification of their identity, and their means.

A means is issued at a level only on recorded evidence of an identity verification that supports that level (AS,
table of levels: EH2 name and date of birth; EH2+ a copy of an identity document checked; EH3 the original document
seen in person or remotely; EH4 in person). ``EVIDENCE_LEVEL`` says what each kind of evidence supports.

The life of a means::

    issue (evidence ≥ level)  →  active  ⇄  suspended          (reactivate: from suspended only)
    active | suspended        →  revoked                       (final)
    upgrade: new evidence for the new level;  downgrade: none

Suspending and revoking end every session of the person at once by raising ``Person.session_version`` (it is part
of the session's auth hash), and the decision engine refuses an inactive means with ``means_inactive``.

A person has one means record. When an employee whose means was revoked comes back, :func:`means_issue` gives them
a new means on that record ("reissued"), only on evidence verified after the revocation; the history of the earlier
means stays in its MeansEvent rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import (
    EVIDENCE_LEVEL,
    EvidenceKind,
    IdentityEvidence,
    Means,
    MeansEvent,
    MeansStatus,
    Person,
)
from sleutelbos.validation import fail, full_clean

#: Kinds of evidence that rest on an identity document, which must be named.
DOCUMENT_KINDS = frozenset({EvidenceKind.DOCUMENT_COPY, EvidenceKind.DOCUMENT_ORIGINAL})

#: Data minimisation: of a document number only this many last characters are kept.
DOCUMENT_NUMBER_SUFFIX_LENGTH = 4


def evidence_kind_for(level: Level | str) -> EvidenceKind:
    """The least intrusive kind of identity verification that supports ``level``."""
    parsed = Level.parse(level)
    enough = [EvidenceKind(kind) for kind, supported in EVIDENCE_LEVEL.items() if supported >= parsed]
    return min(enough, key=EVIDENCE_LEVEL.__getitem__)


def _needed(level: Level) -> str:
    """The kinds of evidence that support ``level``, as a phrase: "original … or identity checked in person"."""
    labels = [str(EvidenceKind(kind).label) for kind in EvidenceKind if EVIDENCE_LEVEL[kind] >= level]
    return str(get_text_list(labels, _("or")))


@dataclass(frozen=True)
class EvidenceDetails:
    """What was checked to verify a person's identity: the input of :func:`evidence_record`.

    ``document_number_suffix`` is at most the last four characters of the document number; the full number is never
    stored. ``asserted`` marks an integration's assertion that it verified the identity (the API without details of
    the check): document details may then be missing.
    """

    kind: str
    document_type: str = ""
    document_number_suffix: str = ""
    document_valid_until: dt.date | None = None
    remote: bool = False
    notes: str = ""
    asserted: bool = False

    @classmethod
    def asserted_for(cls, level: Level | str) -> EvidenceDetails:
        """An integration's assertion that it verified the identity for ``level``: the least kind for it."""
        return cls(kind=evidence_kind_for(level), asserted=True)


@transaction.atomic
def evidence_record(*, actor: Actor, person: Person, evidence: EvidenceDetails) -> IdentityEvidence:
    """Record how a person's identity was verified, by the actor, now. The record is never changed afterwards."""
    try:
        kind = EvidenceKind(evidence.kind)
    except ValueError:
        raise fail(
            "kind",
            _("“%(kind)s” is not a kind of identity verification; use one of: %(kinds)s.")
            % {"kind": evidence.kind, "kinds": ", ".join(EvidenceKind.values)},
        ) from None
    now = timezone.now()
    suffix = "".join(evidence.document_number_suffix.split()).upper()
    document_given = bool(evidence.document_type or suffix or evidence.document_valid_until)
    errors: dict[str, ValidationError] = {}
    if kind == EvidenceKind.NAME_AND_BIRTH_DATE and document_given:
        errors["document_type"] = ValidationError(
            _("A check of name and date of birth involves no identity document; leave the document details empty."),
            code="no_document",
        )
    if kind in DOCUMENT_KINDS and not evidence.document_type and not evidence.asserted:
        errors["document_type"] = ValidationError(
            _("Say which identity document was checked (passport, identity card, driving licence, residence permit)."),
            code="required",
        )
    if len(suffix) > DOCUMENT_NUMBER_SUFFIX_LENGTH:
        errors["document_number_suffix"] = ValidationError(
            _("Give only the last %(count)d characters of the document number: the full number is not stored.")
            % {"count": DOCUMENT_NUMBER_SUFFIX_LENGTH},
            code="too_long",
        )
    today = timezone.localdate(now)
    if evidence.document_valid_until is not None and evidence.document_valid_until < today:
        errors["document_valid_until"] = ValidationError(
            _("The document expired on %(date)s; an expired document does not verify an identity.")
            % {"date": evidence.document_valid_until.isoformat()},
            code="expired",
        )
    if kind == EvidenceKind.IN_PERSON and evidence.remote:
        errors["remote"] = ValidationError(
            _("An identity checked in person was not checked remotely."), code="contradiction"
        )
    if errors:
        raise ValidationError(errors)
    notes = evidence.notes.strip()
    if evidence.asserted and not notes:
        notes = _("Asserted by the integration; it gave no details of the check.")
    record = IdentityEvidence(
        person=person,
        kind=kind,
        level=EVIDENCE_LEVEL[kind],
        document_type=evidence.document_type,
        document_number_suffix=suffix,
        document_valid_until=evidence.document_valid_until,
        remote=evidence.remote,
        verified_by=actor.label,
        verified_at=now,
        notes=notes,
    )
    full_clean(record)
    record.save()
    audit_record(
        actor=actor,
        action="evidence:recorded",
        subject=record,
        data={
            "person": person.pk,
            "kind": str(kind),
            "supports": Level(record.level).label,
            "document_type": record.document_type,
            "remote": record.remote,
            "asserted": evidence.asserted,
        },
    )
    return record


@transaction.atomic
def person_create(
    *,
    actor: Actor,
    name: str,
    email: str,
    level: Level | str | None = None,
    date_of_birth: dt.date | None = None,
    evidence: EvidenceDetails | None = None,
) -> Person:
    """Register a person; with ``evidence``, record how their identity was verified; with ``level``, issue their
    means at that level at once, on that evidence."""
    parsed = None if level is None else Level.parse(level)
    email = Person.objects.normalize_email(email.strip())
    if Person.objects.filter(email__iexact=email).exists():
        raise fail("email", _("A person with this e-mail address already exists."), code="unique")
    person = Person(name=name.strip(), email=email, date_of_birth=date_of_birth)
    person.set_unusable_password()
    full_clean(person, exclude=["password"])
    if parsed is not None and evidence is None:
        raise _no_evidence(parsed, field="kind")
    person.save()
    audit_record(actor=actor, action="person:created", subject=person, data={"name": person.name, "email": email})
    record = None if evidence is None else evidence_record(actor=actor, person=person, evidence=evidence)
    if parsed is not None:
        # The evidence was described together with the person: a shortfall is about its kind.
        _check_evidence(person, parsed, record, field="kind")
        means_issue(actor=actor, person=person, level=parsed, evidence=record)
    return person


def _no_evidence(level: Level, *, field: str) -> ValidationError:
    return fail(
        field,
        _("A means at %(level)s needs a recorded identity verification: %(needed)s.")
        % {"level": level.label, "needed": _needed(level)},
        code="required",
    )


def _check_evidence(
    person: Person,
    level: Level,
    evidence: IdentityEvidence | None,
    *,
    field: str = "evidence",
    after: dt.datetime | None = None,
) -> IdentityEvidence:
    """Refuse unless ``evidence`` is about ``person``, supports ``level`` and (with ``after``) is newer than that."""
    if evidence is None:
        raise _no_evidence(level, field=field)
    if evidence.person_id != person.pk:
        raise fail(field, _("This evidence is about another person."), code="other_person")
    supported = EVIDENCE_LEVEL[evidence.kind]
    if supported < level:
        raise fail(
            field,
            _(
                "A means at %(level)s needs stronger evidence: %(needed)s. "
                "The evidence given (%(kind)s) supports at most %(supported)s."
            )
            % {
                "level": level.label,
                "needed": _needed(level),
                "kind": EvidenceKind(evidence.kind).label,
                "supported": supported.label,
            },
            code="too_weak",
        )
    if after is not None and evidence.verified_at <= after:
        raise fail(
            field,
            _("This evidence was recorded before the means was revoked; verify the identity again for a new means."),
            code="stale",
        )
    return evidence


def _means_event(means: Means, action: str, reason: str = "", evidence: IdentityEvidence | None = None) -> None:
    MeansEvent.objects.create(
        means=means, action=action, level=means.level, status=means.status, reason=reason, evidence=evidence
    )


def _evidence_data(evidence: IdentityEvidence | None) -> dict[str, object]:
    if evidence is None:
        return {"evidence": None}
    return {"evidence": evidence.pk, "evidence_kind": evidence.kind}


def _end_sessions(person: Person) -> None:
    """End every session of the person: their session auth hash includes ``session_version``."""
    Person.objects.filter(pk=person.pk).update(session_version=F("session_version") + 1)
    person.refresh_from_db(fields=["session_version"])


@transaction.atomic
def means_issue(
    *, actor: Actor, person: Person, level: Level | str, evidence: IdentityEvidence | None, reason: str = ""
) -> Means:
    """Issue a means to a person at a level, on recorded evidence that supports the level (one means per person).

    A person whose means was revoked gets a new one on the same record, on evidence verified after the revocation.
    """
    parsed = Level.parse(level)
    existing = Means.objects.select_for_update().filter(person=person).first()
    if existing is not None and existing.status != MeansStatus.REVOKED:
        raise fail("level", _("This person already has a means; change its level instead."), code="exists")
    _check_evidence(person, parsed, evidence, after=existing.changed_at if existing is not None else None)
    now = timezone.now()
    if existing is None:
        means = Means.objects.create(
            person=person, level=parsed, status=MeansStatus.ACTIVE, issued_at=now, changed_at=now
        )
        action = "issued"
    else:
        means = existing
        means.level, means.status, means.issued_at, means.changed_at = parsed, MeansStatus.ACTIVE, now, now
        means.save(update_fields=["level", "status", "issued_at", "changed_at"])
        action = "reissued"
    _means_event(means, action, reason, evidence)
    audit_record(
        actor=actor,
        action=f"means:{action}",
        subject=means,
        data={"person": person.pk, "level": parsed.label, "reason": reason, **_evidence_data(evidence)},
    )
    return means


def _means_for_update(person: Person) -> Means:
    try:
        return Means.objects.select_for_update().get(person=person)
    except Means.DoesNotExist:
        raise fail("person", _("This person has no means.")) from None


@transaction.atomic
def means_change_level(
    *,
    actor: Actor,
    person: Person,
    level: Level | str,
    reason: str = "",
    evidence: IdentityEvidence | None = None,
) -> Means:
    """Upgrade a means on new evidence that supports the new level, or downgrade it (no evidence needed).

    Mandates above the new level stop serving (decisions say why).
    """
    means = _means_for_update(person)
    if means.status == MeansStatus.REVOKED:
        raise fail("level", _("A revoked means cannot be changed; issue a new one."), code="revoked")
    old = Level(means.level)
    new = Level.parse(level)
    if new == old:
        raise fail("level", _("The means already has level %(level)s.") % {"level": new.label}, code="unchanged")
    if new > old or evidence is not None:
        _check_evidence(person, new, evidence)
    means.level = new
    means.changed_at = timezone.now()
    means.save(update_fields=["level", "changed_at"])
    _means_event(means, "upgraded" if new > old else "downgraded", reason, evidence)
    audit_record(
        actor=actor,
        action="means:level_changed",
        subject=means,
        data={"person": person.pk, "from": old.label, "to": new.label, "reason": reason, **_evidence_data(evidence)},
    )
    return means


# The event of each status a means can be put in, and the statuses it can come from.
_STATUS_ACTION = {MeansStatus.ACTIVE: "reactivated", MeansStatus.SUSPENDED: "suspended", MeansStatus.REVOKED: "revoked"}
_STATUS_FROM = {
    MeansStatus.ACTIVE: {MeansStatus.SUSPENDED},
    MeansStatus.SUSPENDED: {MeansStatus.ACTIVE},
    MeansStatus.REVOKED: {MeansStatus.ACTIVE, MeansStatus.SUSPENDED},
}


@transaction.atomic
def means_set_status(*, actor: Actor, person: Person, status: MeansStatus | str, reason: str = "") -> Means:
    """Suspend an active means, reactivate a suspended one, or revoke either (final).

    Suspension and revocation end every session of the person at once.
    """
    means = _means_for_update(person)
    old = MeansStatus(means.status)
    new = MeansStatus(status)
    if old == MeansStatus.REVOKED:
        raise fail("status", _("This means is revoked; revocation is final."), code="revoked")
    if old not in _STATUS_FROM[new]:
        raise fail("status", _("The means is already %(status)s.") % {"status": new.label}, code="unchanged")
    means.status = new
    means.changed_at = timezone.now()
    means.save(update_fields=["status", "changed_at"])
    ends_sessions = new != MeansStatus.ACTIVE
    if ends_sessions:
        _end_sessions(person)
    action = _STATUS_ACTION[new]
    _means_event(means, action, reason)
    audit_record(
        actor=actor,
        action=f"means:{action}",
        subject=means,
        data={"person": person.pk, "from": str(old), "to": str(new), "reason": reason, "sessions_ended": ends_sessions},
    )
    return means


def means_revoke(*, actor: Actor, person: Person, reason: str = "") -> Means:
    """Revoke a person's means (an employee leaves): final; every session of theirs ends at once."""
    return means_set_status(actor=actor, person=person, status=MeansStatus.REVOKED, reason=reason)
