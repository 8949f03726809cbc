"""Writes to mandates and chain mandates: grant and revoke. Every invariant of a mandate is checked here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.identity.models import Means, Person
from sleutelbos.mandates.describe import service_labels
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Grant,
    Mandate,
    MandateProvider,
    MandateService,
    ScopeKind,
)
from sleutelbos.organisations.models import Branch, Membership, Organisation
from sleutelbos.organisations.services import membership_ensure
from sleutelbos.validation import fail

MAX_YEARS = 5
#: How long a mandate is granted, renewed or re-activated for, in years.
RENEWAL_YEARS = (1, 3, 5)


@dataclass(frozen=True)
class Scope:
    """What a mandate covers: all services of all providers, all services of some providers, or some services."""

    kind: ScopeKind
    providers: tuple[ServiceProvider, ...] = ()
    services: tuple[UUID, ...] = field(default=())

    @classmethod
    def all(cls) -> Scope:
        return cls(ScopeKind.ALL)

    @classmethod
    def of_providers(cls, *providers: ServiceProvider) -> Scope:
        return cls(ScopeKind.PROVIDERS, providers=tuple(providers))

    @classmethod
    def of_services(cls, *services: UUID | str) -> Scope:
        return cls(ScopeKind.SERVICES, services=tuple(UUID(str(s)) for s in services))

    def validate(self) -> None:
        """The scope names what its kind needs, and every ServiceUUID is in the catalogue."""
        if self.kind == ScopeKind.PROVIDERS and not self.providers:
            raise fail("scope", _("Choose at least one service provider."), code="empty")
        if self.kind == ScopeKind.SERVICES:
            if not self.services:
                raise fail("scope", _("Choose at least one service."), code="empty")
            known = set(ServiceDefinition.objects.filter(uuid__in=self.services).values_list("uuid", flat=True))
            unknown = [str(uuid) for uuid in self.services if uuid not in known]
            if unknown:
                raise fail(
                    "scope",
                    _("These services are not in the catalogue: %(uuids)s.") % {"uuids": ", ".join(unknown)},
                    code="unknown_service",
                )
        if self.kind != ScopeKind.PROVIDERS and self.providers:
            raise fail("scope", _("Only a scope of all services of chosen providers names providers."))
        if self.kind != ScopeKind.SERVICES and self.services:
            raise fail("scope", _("Only a scope of chosen services names services."))

    def describe(self) -> dict[str, Any]:
        """The scope as plain data, for the audit log and the API."""
        data: dict[str, Any] = {"kind": str(self.kind)}
        if self.kind == ScopeKind.PROVIDERS:
            data["providers"] = sorted(provider.oin for provider in self.providers)
        if self.kind == ScopeKind.SERVICES:
            data["services"] = sorted(str(uuid) for uuid in self.services)
        return data


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    """The same moment ``years`` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def _validity(valid_from: dt.datetime | None, valid_until: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    now = timezone.now()
    start = valid_from or now
    end = valid_until or add_years(start, 1)
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise fail("valid_from", _("Give the validity with a time zone."), code="naive")
    if end <= start:
        raise fail("valid_until", _("The end of the validity must lie after its start."), code="before_start")
    if end > add_years(start, MAX_YEARS):
        raise fail("valid_until", _("A mandate is valid for at most 5 years."), code="too_long")
    if end <= now:
        raise fail("valid_until", _("The end of the validity lies in the past."), code="in_past")
    return start, end


def _save_scope(grant: Grant, scope: Scope, provider_link: type, service_link: type, fk: str) -> None:
    provider_link.objects.bulk_create([provider_link(**{fk: grant}, provider=p) for p in set(scope.providers)])
    service_link.objects.bulk_create([service_link(**{fk: grant}, service_uuid=u) for u in set(scope.services)])


def _check_manager(actor: Actor, organisation: Organisation, level: Level, *, message: str = "") -> None:
    """A manager may grant (renew, revoke) at most their own manager level (staff and integrations act for the
    supplier). ``message`` says what is refused, with ``%(manager)s`` and ``%(level)s``."""
    if actor.is_staff:
        return
    manager_level = (
        Membership.objects.filter(person=actor.person, organisation=organisation)
        .values_list("manager_level", flat=True)
        .first()
    )
    if manager_level is None:
        raise ValidationError(_("You are not a mandate manager of this organisation."), code="not_manager")
    if level > manager_level:
        raise fail(
            "level",
            (message or _("You manage mandates up to level %(manager)s and cannot grant %(level)s."))
            % {"manager": Level(manager_level).label, "level": level.label},
            code="above_manager_level",
        )


def _check_holder(holder: Person, level: Level) -> None:
    """The holder has a means, at least at ``level``."""
    means = Means.objects.filter(person=holder).first()
    if means is None:
        raise fail("holder", _("This person has no eHerkenning means yet."), code="no_means")
    if level > means.level:
        raise fail(
            "level",
            _("A mandate cannot exceed the level of the holder's means (%(means)s).")
            % {"means": Level(means.level).label},
            code="above_means_level",
        )


def branch_not_accepted(services: Iterable[UUID | str]) -> ValidationError | None:
    """The error for a branch restriction on chosen services of which some do not accept one, naming them; None
    when all accept it. A restricted mandate serves no service that refuses a branch (AS "Vaststellen
    bevoegdheid", ``mandates.decisions``); a ServiceUUID two providers publish must be accepted by both. Only chosen
    services are checked: a provider's later services may still accept a branch."""
    refusing = set(
        ServiceDefinition.objects.filter(uuid__in=list(services), branch_restriction_allowed=False).values_list(
            "uuid", flat=True
        )
    )
    if not refusing:
        return None
    names = sorted(service_labels(refusing).values(), key=str.casefold)
    return ValidationError(
        ngettext(
            "%(services)s does not accept a branch restriction: leave the branch empty, or leave this "
            "service out of the mandate.",
            "%(services)s do not accept a branch restriction: leave the branch empty, or leave these "
            "services out of the mandate.",
            len(names),
        )
        % {"services": get_text_list(names, _("and"))},
        code="branch_not_accepted",
    )


@transaction.atomic
def mandate_grant(
    *,
    actor: Actor,
    holder: Person,
    organisation: Organisation,
    scope: Scope,
    level: Level | str,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    branch: Branch | None = None,
) -> Mandate:
    """Grant ``holder`` a mandate from ``organisation`` (default validity: one year from now)."""
    level = Level.parse(level)
    scope.validate()
    start, end = _validity(valid_from, valid_until)
    _check_holder(holder, level)
    if branch is not None and branch.organisation_id != organisation.pk:
        raise fail("branch", _("This branch belongs to another organisation."), code="other_organisation")
    if branch is not None and scope.kind == ScopeKind.SERVICES:
        refused = branch_not_accepted(scope.services)
        if refused is not None:
            raise ValidationError({"branch": refused})
    _check_manager(actor, organisation, level)
    membership_ensure(actor=actor, person=holder, organisation=organisation)
    mandate = Mandate.objects.create(
        holder=holder,
        organisation=organisation,
        scope_kind=scope.kind,
        level=level,
        valid_from=start,
        valid_until=end,
        branch=branch,
        granted_by=actor.label,
    )
    _save_scope(mandate, scope, MandateProvider, MandateService, "mandate")
    audit_record(
        actor=actor,
        action="mandate:granted",
        subject=mandate,
        organisation=organisation,
        data={
            "holder": holder.pk,
            "scope": scope.describe(),
            "level": level.label,
            "valid_from": start,
            "valid_until": end,
            "branch": branch.number if branch else None,
        },
    )
    return mandate


def _revoke(grant: Grant, actor: Actor) -> None:
    if grant.revoked_at is not None:
        raise fail("revoked_at", _("This was already revoked; revocation is final."), code="already_revoked")
    grant.revoked_at = timezone.now()
    grant.revoked_by = actor.label
    grant.save(update_fields=["revoked_at", "revoked_by"])


@transaction.atomic
def mandate_revoke(*, actor: Actor, mandate: Mandate, reason: str = "") -> Mandate:
    """Revoke a mandate, at once and for good."""
    mandate = Mandate.objects.select_for_update().get(pk=mandate.pk)
    _check_manager(
        actor,
        mandate.organisation,
        Level(mandate.level),
        message=_("You manage mandates up to level %(manager)s and cannot revoke a mandate at %(level)s."),
    )
    _revoke(mandate, actor)
    audit_record(
        actor=actor,
        action="mandate:revoked",
        subject=mandate,
        organisation=mandate.organisation,
        data={"holder": mandate.holder_id, "reason": reason},
    )
    return mandate


def _check_years(years: int) -> None:
    if years not in RENEWAL_YEARS:
        raise fail("years", _("Choose how long the mandate is valid: 1, 3 or 5 years."), code="invalid_years")


def _locked_mandate(mandate: Mandate) -> Mandate:
    return (
        Mandate.objects.select_for_update(of=("self",))
        .select_related("holder", "organisation", "branch")
        .get(pk=mandate.pk)
    )


@transaction.atomic
def mandate_renew(*, actor: Actor, mandate: Mandate, years: int, now: dt.datetime | None = None) -> Mandate:
    """Extend a mandate that has not ended to ``years`` (1, 3 or 5) from today, never shortening it.

    The same checks as a grant apply at the mandate's level: the manager's level and the holder's means. A mandate
    is never valid for more than 5 years ahead; its start stays as it was (the history stays true: it served
    without a gap). An expired mandate is re-activated instead (:func:`mandate_reactivate`).
    """
    now = now or timezone.now()
    mandate = _locked_mandate(mandate)
    if mandate.revoked_at is not None:
        raise fail("mandate", _("This mandate was revoked; revocation is final. Grant a new one."), code="revoked")
    if mandate.valid_until <= now:
        raise fail("mandate", _("This mandate has expired: re-activate it instead."), code="expired")
    _check_years(years)
    level = Level(mandate.level)
    _check_manager(
        actor,
        mandate.organisation,
        level,
        message=_("You manage mandates up to level %(manager)s and cannot renew a mandate at %(level)s."),
    )
    _check_holder(mandate.holder, level)
    previous_until = mandate.valid_until
    until = add_years(now, years)
    if until <= previous_until:
        raise fail(
            "years",
            ngettext(
                "This mandate is already valid until %(date)s: renewing it for %(years)d year would not extend it.",
                "This mandate is already valid until %(date)s: renewing it for %(years)d years would not extend it.",
                years,
            )
            % {"date": formats.date_format(timezone.localtime(previous_until), "DATE_FORMAT"), "years": years},
            code="not_longer",
        )
    mandate.valid_until = until
    mandate.save(update_fields=["valid_until"])
    audit_record(
        actor=actor,
        action="mandate:renewed",
        subject=mandate,
        organisation=mandate.organisation,
        data={
            "holder": mandate.holder_id,
            "years": years,
            "previous_valid_until": previous_until,
            "valid_until": until,
        },
    )
    return mandate


def scope_of(mandate: Mandate) -> Scope:
    """The scope of a stored mandate, as a grant takes it."""
    return Scope(
        ScopeKind(mandate.scope_kind),
        providers=tuple(link.provider for link in mandate.provider_links.select_related("provider")),
        services=tuple(mandate.service_links.values_list("service_uuid", flat=True)),
    )


@transaction.atomic
def mandate_reactivate(*, actor: Actor, mandate: Mandate, years: int, now: dt.datetime | None = None) -> Mandate:
    """Grant an expired mandate again, the same in scope, level and branch, from now for ``years`` (1, 3 or 5).

    The expired mandate stays as it was (it did not serve between its end and now); the new one names it as
    ``previous``, and an expired mandate is re-activated once. All checks of a grant apply.
    """
    now = now or timezone.now()
    old = _locked_mandate(mandate)
    if old.revoked_at is not None:
        raise fail("mandate", _("This mandate was revoked; revocation is final. Grant a new one."), code="revoked")
    if old.valid_until > now:
        raise fail("mandate", _("This mandate has not expired: renew it instead."), code="not_expired")
    if Mandate.objects.filter(previous=old).exists():
        raise fail("mandate", _("This mandate was already re-activated."), code="already_reactivated")
    _check_years(years)
    new = mandate_grant(
        actor=actor,
        holder=old.holder,
        organisation=old.organisation,
        scope=scope_of(old),
        level=Level(old.level),
        valid_from=now,
        valid_until=add_years(now, years),
        branch=old.branch,
    )
    new.previous = old
    new.save(update_fields=["previous"])
    audit_record(
        actor=actor,
        action="mandate:reactivated",
        subject=new,
        organisation=old.organisation,
        data={"holder": old.holder_id, "previous": old.pk, "years": years, "valid_until": new.valid_until},
    )
    return new


@transaction.atomic
def chain_mandate_grant(
    *,
    actor: Actor,
    client: Organisation,
    intermediary: Organisation,
    scope: Scope,
    level: Level | str,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> ChainMandate:
    """The client organisation authorizes an intermediary organisation (one link: G > A > B, never longer)."""
    level = Level.parse(level)
    if client.pk == intermediary.pk:
        raise fail("intermediary", _("An organisation cannot be its own intermediary."), code="same_organisation")
    scope.validate()
    start, end = _validity(valid_from, valid_until)
    _check_manager(actor, client, level)
    chain = ChainMandate.objects.create(
        client=client,
        intermediary=intermediary,
        scope_kind=scope.kind,
        level=level,
        valid_from=start,
        valid_until=end,
        granted_by=actor.label,
    )
    _save_scope(chain, scope, ChainMandateProvider, ChainMandateService, "chain_mandate")
    data = {
        "client": client.kvk,
        "intermediary": intermediary.kvk,
        "scope": scope.describe(),
        "level": level.label,
        "valid_from": start,
        "valid_until": end,
    }
    audit_record(actor=actor, action="chain_mandate:granted", subject=chain, organisation=client, data=data)
    return chain


@transaction.atomic
def chain_mandate_revoke(*, actor: Actor, chain_mandate: ChainMandate, reason: str = "") -> ChainMandate:
    """Revoke a chain mandate, at once and for good."""
    chain = ChainMandate.objects.select_for_update().get(pk=chain_mandate.pk)
    _check_manager(actor, chain.client, Level.EH2)
    _revoke(chain, actor)
    audit_record(
        actor=actor,
        action="chain_mandate:revoked",
        subject=chain,
        organisation=chain.client,
        data={"intermediary": chain.intermediary.kvk, "reason": reason},
    )
    return chain
