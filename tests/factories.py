"""Test data built through the write services, so that tests see what users would create."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from uuid import UUID

from django.utils import timezone

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.catalogue.services import service_definition_create, service_instance_create, service_provider_create
from sleutelbos.identity.models import DocumentType, Person
from sleutelbos.identity.services import DOCUMENT_KINDS, EvidenceDetails, evidence_kind_for, person_create
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.mandates.services import Scope, chain_mandate_grant, mandate_grant
from sleutelbos.organisations.models import Branch, Organisation
from sleutelbos.organisations.services import branch_create, organisation_create

_seq = itertools.count(1)


def valid_rsin(seed: int) -> str:
    """A 9-digit number passing the eleven-test, derived from ``seed``."""
    for candidate in itertools.count(seed * 100):
        text = f"{candidate % 10**9:09d}"
        weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
        if text != "000000000" and sum(int(d) * w for d, w in zip(text, weights, strict=True)) % 11 == 0:
            return text
    raise AssertionError  # pragma: no cover


def provider(*, name: str | None = None, oin: str | None = None) -> ServiceProvider:
    n = next(_seq)
    return service_provider_create(actor=SYSTEM, oin=oin or f"{n:020d}", name_nl=name or f"Dienstverlener {n}")


def definition(
    provider_: ServiceProvider | None = None,
    *,
    level: Level | str = Level.EH3,
    uuid: UUID | None = None,
    branch_restriction_allowed: bool = False,
    name: str | None = None,
) -> ServiceDefinition:
    return service_definition_create(
        actor=SYSTEM,
        provider=provider_ or provider(),
        name_nl=name or f"Dienst {next(_seq)}",
        level=level,
        uuid=uuid,
        branch_restriction_allowed=branch_restriction_allowed,
    )


def instance(
    definition_: ServiceDefinition | None = None, *, index: int | None = None, **kwargs: Any
) -> ServiceInstance:
    definition_ = definition_ or definition(**kwargs)
    if index is None:
        index = ServiceInstance.objects.filter(provider=definition_.provider).count() + 1
    return service_instance_create(actor=SYSTEM, definition=definition_, index=index)


def organisation(*, name: str | None = None, kvk: str | None = None) -> Organisation:
    n = next(_seq)
    return organisation_create(
        actor=SYSTEM, kvk=kvk or f"{10_000_000 + n:08d}", rsin=valid_rsin(n), name=name or f"Organisatie {n} B.V."
    )


def branch(organisation_: Organisation, *, number: str | None = None) -> Branch:
    n = next(_seq)
    return branch_create(actor=SYSTEM, organisation=organisation_, number=number or f"{n:012d}", name=f"Vestiging {n}")


def person(*, level: Level | str | None = Level.EH3, name: str | None = None, email: str | None = None) -> Person:
    """A person; with ``level``, an active means at it, on evidence of the least kind that supports it."""
    n = next(_seq)
    evidence = None
    if level is not None:
        kind = evidence_kind_for(level)
        evidence = EvidenceDetails(kind=kind, document_type=DocumentType.PASSPORT if kind in DOCUMENT_KINDS else "")
    return person_create(
        actor=SYSTEM,
        name=name or f"Persoon {n}",
        email=email or f"persoon{n}@example.nl",
        level=level,
        evidence=evidence,
    )


def years_from_now(years: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=365 * years)


def mandate(
    holder: Person,
    organisation_: Organisation,
    *,
    scope: Scope | None = None,
    level: Level | str = Level.EH3,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
    branch_: Branch | None = None,
) -> Mandate:
    return mandate_grant(
        actor=SYSTEM,
        holder=holder,
        organisation=organisation_,
        scope=scope or Scope.all(),
        level=level,
        valid_from=valid_from,
        valid_until=valid_until,
        branch=branch_,
    )


def chain_mandate(
    client: Organisation,
    intermediary: Organisation,
    *,
    scope: Scope | None = None,
    level: Level | str = Level.EH3,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> ChainMandate:
    return chain_mandate_grant(
        actor=SYSTEM,
        client=client,
        intermediary=intermediary,
        scope=scope or Scope.all(),
        level=level,
        valid_from=valid_from,
        valid_until=valid_until,
    )


_company_seq = itertools.count(1)


def unique_rsin() -> str:
    """An RSIN passing the eleven-test that no other call returns (one per 8-digit prefix, from 500000000 up).

    ``valid_rsin(n)`` and ``valid_rsin(n + 1)`` can return the same number (when prefix ``n`` has no valid check
    digit the search runs into the next prefix), so organisations made in bulk use this instead.
    """
    weights = (9, 8, 7, 6, 5, 4, 3, 2)
    while True:
        prefix = f"{50_000_000 + next(_company_seq):08d}"
        check = sum(int(d) * w for d, w in zip(prefix, weights, strict=True)) % 11
        if check < 10:
            return prefix + str(check)


def company(*, name: str | None = None, kvk: str | None = None) -> Organisation:
    """An organisation like :func:`organisation`, with an RSIN that never collides with another one."""
    n = next(_seq)
    return organisation_create(
        actor=SYSTEM, kvk=kvk or f"{10_000_000 + n:08d}", rsin=unique_rsin(), name=name or f"Organisatie {n} B.V."
    )
