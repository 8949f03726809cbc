"""Warnings before mandates expire: the holder and the organisation's managers hear of it 60 and 14 days ahead.

The worker runs :func:`expiry_warn` on the schedule in ``sleutelbos.mail.periodic``. Each mandate that crosses a
threshold is recorded as an ``ExpiryNotice`` for that threshold and end date, in the same transaction as the mails,
so no warning goes out twice for the same threshold, however often the task runs; a renewed mandate (a later end) is
warned about again before its new end. A mandate found past both thresholds at once (granted for a short time, or
the worker was down) gets one mail, the most urgent. Each person gets one mail per run: their own mandates that
expire, with a link to request renewal, and the mandates they manage, each with a link that renews it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from sleutelbos.audit.services import SYSTEM, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.language import person_language
from sleutelbos.identity.models import Person
from sleutelbos.mail.services import absolute_url, mail_queue
from sleutelbos.mandates.describe import days_until, describe_grants, describe_validity
from sleutelbos.mandates.models import ExpiryNotice, Mandate, ScopeKind
from sleutelbos.organisations.models import Membership

#: Days before the end of a mandate at which its holder and managers are warned: calendar days in the local time
#: zone, counted as the mandate's validity counts them on the pages (:func:`~sleutelbos.mandates.describe.days_until`).
THRESHOLDS = (60, 14)


@dataclass
class Warning:
    """One expiring mandate in a mail: what it is for, when it ends (a sentence), and the link to act on it."""

    mandate: Mandate
    scope: str
    when: str
    url: str


@dataclass
class Digest:
    """What one person is told in this run: their own expiring mandates and those they manage."""

    person: Person
    own: list[Warning] = field(default_factory=list)
    managed: list[Warning] = field(default_factory=list)


def renew_url(mandate: Mandate) -> str:
    """Where a manager renews ``mandate``."""
    return absolute_url(
        reverse("manage_mandate_renew", kwargs={"organisation": mandate.organisation_id, "mandate": mandate.pk})
    )


def request_renewal_url(mandate: Mandate) -> str:
    """Where the holder asks for ``mandate`` again: the request wizard, for the organisation, for exactly its scope.

    ``level``, and ``provider`` or ``service`` when the mandate names exactly one, are what a refusal page sends
    the wizard's start. The whole scope follows in the names of the wizard's mandate form: ``scope``, ``providers``
    (OINs), ``services`` (ServiceUUIDs) and ``branch_number``. A mandate for several providers or services sends no
    ``provider`` or ``service``: a wizard that reads only those must not ask for less than the mandate covered.
    """
    query: list[tuple[str, str]] = [("kvk", mandate.organisation.kvk), ("level", Level(mandate.level).label)]
    oins = sorted(link.provider.oin for link in mandate.provider_links.select_related("provider"))
    uuids = sorted(str(uuid) for uuid in mandate.service_links.values_list("service_uuid", flat=True))
    if mandate.scope_kind == ScopeKind.PROVIDERS and len(oins) == 1:
        query.append(("provider", oins[0]))
    if mandate.scope_kind == ScopeKind.SERVICES and len(uuids) == 1:
        query.append(("service", uuids[0]))
    query.append(("scope", str(mandate.scope_kind)))
    if mandate.scope_kind == ScopeKind.PROVIDERS:
        query.extend(("providers", oin) for oin in oins)
    if mandate.scope_kind == ScopeKind.SERVICES:
        query.extend(("services", uuid) for uuid in uuids)
    if mandate.branch is not None:
        query.append(("branch_number", mandate.branch.number))
    return absolute_url(f"{reverse('requests:new')}?{urlencode(query)}")


def _due(now: dt.datetime) -> list[tuple[Mandate, list[int]]]:
    """Current, unrevoked mandates within the widest threshold, each with the thresholds not yet warned about."""
    # The start of the first day past the widest threshold, in the local time zone.
    horizon = timezone.make_aware(
        dt.datetime.combine(timezone.localdate(now) + dt.timedelta(days=max(THRESHOLDS) + 1), dt.time.min)
    )
    candidates = list(
        Mandate.objects.filter(
            revoked_at__isnull=True,
            valid_from__lte=now,
            valid_until__gt=now,
            valid_until__lt=horizon,
        )
        .select_related("holder", "organisation", "branch")
        .order_by("valid_until", "pk")
    )
    sent = set(
        ExpiryNotice.objects.filter(mandate__in=candidates).values_list("mandate_id", "days_before", "valid_until")
    )
    due = []
    for mandate in candidates:
        left = days_until(mandate.valid_until, now)
        crossed = [days for days in THRESHOLDS if left <= days and (mandate.pk, days, mandate.valid_until) not in sent]
        if crossed:
            due.append((mandate, crossed))
    return due


def _managers(mandates: list[Mandate]) -> dict[int, list[Person]]:
    """Per organisation, its active managers by manager level (a manager hears of what they may renew)."""
    found: dict[int, list[tuple[int, Person]]] = defaultdict(list)
    memberships = Membership.objects.filter(
        organisation_id__in={m.organisation_id for m in mandates}, manager_level__isnull=False, person__is_active=True
    ).select_related("person")
    for membership in memberships:
        found[membership.organisation_id].append((membership.manager_level, membership.person))
    return found


@transaction.atomic
def expiry_warn(*, now: dt.datetime | None = None) -> list[ExpiryNotice]:
    """Warn holders and managers of the mandates that crossed 60 or 14 days before their end; returns the notices."""
    now = now or timezone.now()
    due = _due(now)
    if not due:
        return []
    mandates = [mandate for mandate, _crossed in due]
    managers = _managers(mandates)
    # Each person reads the mail in their own language: the phrases and dates in every language offered.
    phrases: dict[str, dict[int, str]] = {}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            phrases[language] = describe_grants(mandates)
    digests: dict[int, Digest] = {}
    notices: list[ExpiryNotice] = []
    for mandate, crossed in due:
        try:
            with transaction.atomic():
                created = [
                    ExpiryNotice.objects.create(
                        mandate=mandate, days_before=days, valid_until=mandate.valid_until, sent_at=now
                    )
                    for days in crossed
                ]
        except IntegrityError:  # another run warned about it just now
            continue
        when = {}
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                when[language] = describe_validity(mandate, now).sentence
        # A holder who may renew the mandate themselves is told so, as one of its managers.
        renewers = [manager for level, manager in managers.get(mandate.organisation_id, []) if level >= mandate.level]
        for manager in renewers:
            digest = digests.setdefault(manager.pk, Digest(manager))
            language = person_language(manager)
            digest.managed.append(Warning(mandate, phrases[language][mandate.pk], when[language], renew_url(mandate)))
        recipients = len(renewers)
        if mandate.holder.is_active and all(manager.pk != mandate.holder_id for manager in renewers):
            digest = digests.setdefault(mandate.holder_id, Digest(mandate.holder))
            language = person_language(mandate.holder)
            digest.own.append(
                Warning(mandate, phrases[language][mandate.pk], when[language], request_renewal_url(mandate))
            )
            recipients += 1
        for notice in created:
            notice.recipients = recipients
            notice.save(update_fields=["recipients"])
        notices.extend(created)
        audit_record(
            actor=SYSTEM,
            action="mandate:expiry_warned",
            subject=mandate,
            organisation=mandate.organisation,
            data={"days_before": min(crossed), "valid_until": mandate.valid_until, "recipients": recipients},
        )
    for digest in digests.values():
        mail_queue(
            to=digest.person.email,
            template="mandates/mail/expiring",
            context={
                "person": digest.person,
                "own": digest.own,
                "managed": digest.managed,
                "count": len(digest.own) + len(digest.managed),
            },
            purpose="mandate_expiry",
            language=person_language(digest.person),
        )
    return notices
