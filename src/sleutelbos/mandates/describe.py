"""Mandates and chain mandates in plain words: what a scope covers, and where a grant stands in its validity.

This is the one place that puts a scope into a sentence ("all services of all service providers at level EH3,
including new service providers"), so that the personal overview, the "where can I log in?" page and the request
wizard's review page say the same thing about the same mandate. The sentences are in the active language.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from django.db.models import Model
from django.utils import formats, timezone
from django.utils.text import capfirst, get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Grant,
    MandateProvider,
    MandateService,
    ScopeKind,
)

#: From this many days before its end, a mandate is shown with a warning that it expires soon.
EXPIRY_WARNING_DAYS = 60


def _list(items: Iterable[str]) -> str:
    """ "A, B and C" in the active language."""
    return get_text_list(list(items), _("and"))


def _level(level: Level | int | str) -> str:
    return Level.parse(level).label


# --------------------------------------------------------------------------------------------------------------------
# Scopes


def service_labels(uuids: Iterable[UUID | str]) -> dict[UUID, str]:
    """How to name each ServiceUUID: the service's name and the providers that publish it (one query).

    A ServiceUUID that two providers publish is named once, with both providers. A ServiceUUID no longer in the
    catalogue is named as such, so a mandate for it still reads as a sentence.
    """
    wanted = {UUID(str(uuid)) for uuid in uuids}
    if not wanted:
        return {}
    found: dict[UUID, list[ServiceDefinition]] = defaultdict(list)
    for definition in ServiceDefinition.objects.filter(uuid__in=wanted).select_related("provider"):
        found[definition.uuid].append(definition)
    labels: dict[UUID, str] = {}
    for uuid in wanted:
        definitions = found.get(uuid)
        if not definitions:
            labels[uuid] = _("service %(uuid)s (no longer in the catalogue)") % {"uuid": uuid}
            continue
        names = sorted({definition.name for definition in definitions}, key=str.casefold)
        providers = sorted({definition.provider.name for definition in definitions}, key=str.casefold)
        labels[uuid] = _("%(service)s of %(providers)s") % {"service": " / ".join(names), "providers": _list(providers)}
    return labels


def describe_scope(
    kind: ScopeKind | str,
    *,
    level: Level | int | str | None = None,
    providers: Sequence[str] = (),
    services: Sequence[str] = (),
) -> str:
    """A scope as a phrase: ``providers`` are provider names, ``services`` service labels (see :func:`service_labels`).

    With ``level``, the phrase says at which level. The phrase starts in lower case, to follow "A mandate for".
    """
    providers = sorted(providers, key=str.casefold)
    services = sorted(services, key=str.casefold)
    values = {"level": _level(level) if level is not None else "", "providers": _list(providers)}
    if kind == ScopeKind.ALL:
        if level is None:
            return _("all services of all service providers, including new service providers")
        return _("all services of all service providers at level %(level)s, including new service providers") % values
    if kind == ScopeKind.PROVIDERS:
        if level is None:
            return _("all services of %(providers)s, including new services") % values
        return _("all services of %(providers)s at level %(level)s, including new services") % values
    values["services"] = _list(services)
    if level is None:
        return ngettext("only the service %(services)s", "only the services %(services)s", len(services)) % values
    return (
        ngettext(
            "only the service %(services)s at level %(level)s",
            "only the services %(services)s at level %(level)s",
            len(services),
        )
        % values
    )


def describe_scope_of(
    kind: ScopeKind | str,
    *,
    level: Level | int | str | None = None,
    providers: Iterable[ServiceProvider] = (),
    services: Iterable[UUID | str] = (),
) -> str:
    """A scope as a phrase, from provider objects and ServiceUUIDs (as a request or ``mandates.services.Scope``)."""
    labels = service_labels(services)
    return describe_scope(
        kind, level=level, providers=[provider.name for provider in providers], services=list(labels.values())
    )


def describe_grants(grants: Sequence[Grant]) -> dict[int, str]:
    """The scope phrase of each mandate or chain mandate (all of one model), by id, in at most three queries."""
    if not grants:
        return {}
    chain = isinstance(grants[0], ChainMandate)
    if chain:
        provider_link, service_link, fk = ChainMandateProvider, ChainMandateService, "chain_mandate_id"
    else:
        provider_link, service_link, fk = MandateProvider, MandateService, "mandate_id"
    by_kind: dict[str, list[int]] = defaultdict(list)
    for grant in grants:
        by_kind[grant.scope_kind].append(grant.pk)
    providers: dict[int, list[str]] = defaultdict(list)
    if by_kind[ScopeKind.PROVIDERS]:
        links = provider_link.objects.filter(**{f"{fk}__in": by_kind[ScopeKind.PROVIDERS]}).select_related("provider")
        for link in links:
            providers[getattr(link, fk)].append(link.provider.name)
    uuids: dict[int, list[UUID]] = defaultdict(list)
    if by_kind[ScopeKind.SERVICES]:
        for grant_id, uuid in service_link.objects.filter(**{f"{fk}__in": by_kind[ScopeKind.SERVICES]}).values_list(
            fk, "service_uuid"
        ):
            uuids[grant_id].append(uuid)
    labels = service_labels(uuid for found in uuids.values() for uuid in found)
    return {
        grant.pk: describe_scope(
            grant.scope_kind,
            level=grant.level,
            providers=providers.get(grant.pk, []),
            services=[labels[uuid] for uuid in uuids.get(grant.pk, [])],
        )
        for grant in grants
    }


# --------------------------------------------------------------------------------------------------------------------
# Validity


class ValidityState(StrEnum):
    """Where a grant stands at a moment; ``EXPIRING`` is valid, but ends within :data:`EXPIRY_WARNING_DAYS`."""

    VALID = "valid"
    EXPIRING = "expiring"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class Validity:
    """A grant's validity at a moment: its state, in words, and the days left while it is valid.

    ``clause`` starts in lower case and has no full stop, to follow a sentence of its own ("The mandate of Joost is
    renewed: valid until 29 November 2027."); ``sentence`` stands alone.
    """

    state: ValidityState
    clause: str
    days_left: int | None = None

    @property
    def sentence(self) -> str:
        return f"{capfirst(self.clause)}."

    @property
    def warning(self) -> bool:
        """Whether the holder should act: the grant ends within :data:`EXPIRY_WARNING_DAYS`."""
        return self.state == ValidityState.EXPIRING

    @property
    def current(self) -> bool:
        """Whether the grant serves logins at this moment (as far as its validity goes)."""
        return self.state in (ValidityState.VALID, ValidityState.EXPIRING)


def _date(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "j F Y")  # as every page writes dates


def days_until(end: dt.datetime, at: dt.datetime) -> int:
    """Calendar days from the day of ``at`` to the day of ``end``, as a person counts them on a calendar.

    In the local time zone (``TIME_ZONE``), the one the dates are shown in: an end tomorrow is 1 day away, however
    many hours are left, and an end later today is 0 days away.
    """
    return (timezone.localdate(end) - timezone.localdate(at)).days


def describe_validity(grant: Model, at: dt.datetime | None = None) -> Validity:
    """Where ``grant`` (a mandate or chain mandate) stands at ``at`` (now), in words.

    The validity is ``[valid_from, valid_until)``: on ``valid_until`` the grant no longer serves. Revocation wins
    over everything else, as it does in the decision. A grant expires soon from :data:`EXPIRY_WARNING_DAYS`
    calendar days before the day it ends.
    """
    at = at or timezone.now()
    until = {"date": _date(grant.valid_until)}
    if grant.revoked_at is not None and grant.revoked_at <= at:
        return Validity(ValidityState.REVOKED, _("revoked on %(date)s") % {"date": _date(grant.revoked_at)})
    if at >= grant.valid_until:
        return Validity(ValidityState.EXPIRED, _("expired on %(date)s") % until)
    if at < grant.valid_from:
        return Validity(
            ValidityState.NOT_YET_VALID,
            _("valid from %(start)s until %(date)s") % {"start": _date(grant.valid_from), **until},
        )
    days = days_until(grant.valid_until, at)
    if days > EXPIRY_WARNING_DAYS:
        return Validity(ValidityState.VALID, _("valid until %(date)s") % until, days)
    if days == 0:
        clause = _("expires today, on %(date)s") % until
    elif days == 1:
        clause = _("expires tomorrow, on %(date)s") % until
    else:
        clause = ngettext("expires in %(days)d day, on %(date)s", "expires in %(days)d days, on %(date)s", days) % {
            "days": days,
            **until,
        }
    return Validity(ValidityState.EXPIRING, clause, days)
