"""Reads of the SAML login: which service and endpoint a request names, whom a person may represent there, and why
not.

Every answer about mandates comes from :mod:`sleutelbos.mandates.decisions`; this module only gathers the
candidates the login page offers and the decisions the refusal page explains.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Model, Prefetch

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Person
from sleutelbos.mandates.decisions import Decision, decide, organisations_for, services_for
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.organisations.models import Branch, Organisation
from sleutelbos.saml.models import AssertionConsumerService, CertificateUse, ServiceProviderEntity, SpCertificate

#: The registered entities as last read, by entity ID, in this process: an entity with its certificates and
#: endpoints is read in full only when it changed (its ``updated_at``, which every registration moves).
_entities: dict[str, tuple[tuple[Any, ...], ServiceProviderEntity]] = {}
_entities_lock = threading.Lock()
_ENTITIES_KEPT = 256
# The version check runs on every SAML request: plain SQL, without the ORM's work of building the query.
_ENTITY_VERSION_SQL = (
    'SELECT "id", "updated_at" FROM "saml_serviceproviderentity" WHERE "entity_id" = %s'  # SQLite and PostgreSQL
)


def entity_by_issuer(issuer: str, *, with_acs: bool = True) -> ServiceProviderEntity | None:
    """The registered service provider entity with this entity ID, or None, with its certificates and its
    AssertionConsumerServices (by index) loaded, so that a request reads the entity once.

    Every call asks the database whether the entity is registered and when it last changed (one small query); only
    a changed or new entity is read in full, so a removed entity or a withdrawn certificate counts at once. The
    entity returned may be shared between requests: read it, never change it. (``with_acs`` is accepted for
    callers that ask for the endpoints; they are always loaded.)
    """
    with connection.cursor() as cursor:
        cursor.execute(_ENTITY_VERSION_SQL, [issuer])
        current = cursor.fetchone()
    if current is None:
        return None
    known = _entities.get(issuer)
    if known is not None and known[0] == current:
        return known[1]
    entity = (
        ServiceProviderEntity.objects.defer("metadata_xml")
        .prefetch_related(
            Prefetch("certificates", queryset=SpCertificate.objects.order_by("use", "not_after")),
            Prefetch("assertion_consumer_services", queryset=AssertionConsumerService.objects.order_by("index")),
        )
        .filter(pk=current[0])
        .first()
    )
    if entity is not None:
        with _entities_lock:
            if len(_entities) >= _ENTITIES_KEPT:
                _entities.clear()
            _entities[issuer] = (current, entity)
    return entity


def entity_forget(entity_id: str | None = None) -> None:
    """Drop this process's copy of an entity (all of them without ``entity_id``); the next read is a full one."""
    with _entities_lock:
        if entity_id is None:
            _entities.clear()
        else:
            _entities.pop(entity_id, None)


def entity_exists(entity: ServiceProviderEntity) -> bool:
    """Whether the entity is still registered (not removed since it was read)."""
    return ServiceProviderEntity.objects.filter(pk=entity.pk).exists()


def signing_certificates(entity: ServiceProviderEntity) -> list[bytes]:
    """The entity's registered signing certificates (PEM); two during a key rollover."""
    return [
        certificate.pem.encode("ascii")
        for certificate in entity.certificates.all()
        if certificate.use == CertificateUse.SIGNING
    ]


def encryption_certificate(entity: ServiceProviderEntity) -> bytes | None:
    """The certificate to encrypt the entity's identifiers for: the one from its metadata valid longest; when the
    metadata has none, the ServiceCertificate from the catalogue that the provider's service instances give, the one
    valid now and longest (an expired or not yet valid certificate is never used)."""
    candidates = [c for c in entity.certificates.all() if c.use == CertificateUse.ENCRYPTION]
    pem = max(candidates, key=lambda c: c.not_after).pem if candidates else None
    if pem is None and entity.provider_id is not None:
        from django.utils import timezone

        from sleutelbos.catalogue.models import ServiceCertificate

        now = timezone.now()
        catalogue = (
            ServiceCertificate.objects.filter(
                instance__provider_id=entity.provider_id, not_before__lte=now, not_after__gt=now
            )
            .order_by("-not_after", "pk")
            .first()
        )
        pem = catalogue.pem if catalogue is not None else None
    return pem.encode("ascii") if pem else None


def acs_by_index(entity: ServiceProviderEntity) -> list[AssertionConsumerService]:
    """The entity's AssertionConsumerServices in index order."""
    return sorted(entity.assertion_consumer_services.all(), key=lambda acs: acs.index)


def default_acs(entity: ServiceProviderEntity) -> AssertionConsumerService | None:
    """The ACS marked default in the metadata, else the one with the lowest index (SAML metadata 2.2.3)."""
    services = acs_by_index(entity)
    return next((acs for acs in services if acs.is_default), services[0] if services else None)


#: Service instances as last read, by (provider ID, index), in this process, with the facts a login depends on.
_services: dict[tuple[int, int], tuple[tuple[Any, ...], ServiceInstance]] = {}
_services_lock = threading.Lock()
_SERVICES_KEPT = 1024


#: The organisation's fields :func:`single_option_for_service` reads with the candidates: what the answer names.
CANDIDATE_FIELDS = ("id", "kvk", "rsin", "name")


@functools.cache
def _sql(vendor: str) -> dict[str, str]:
    """The plain-SQL reads of the login's hot path (SQLite and PostgreSQL share the syntax). Only table and column
    names from the models' metadata are put into the text; every value is a parameter."""
    quote = connection.ops.quote_name

    def table(model: type[Model]) -> str:
        return quote(model._meta.db_table)

    def column(alias: str, model: type[Model], name: str) -> str:
        return f"{alias}.{quote(model._meta.get_field(name).column)}"

    i, d, p = ServiceInstance, ServiceDefinition, ServiceProvider
    m, c, b, o = Mandate, ChainMandate, Branch, Organisation
    facts = ", ".join(
        [column("i", i, "id"), column("i", i, "definition"), column("p", p, "oin")]
        + [column("d", d, name) for name in ("provider", "uuid", "level", "branch_restriction_allowed")]
    )
    return {
        "service": (
            f"SELECT {facts} FROM {table(i)} i "  # noqa: S608 (names only)
            f"JOIN {table(d)} d ON {column('d', d, 'id')} = {column('i', i, 'definition')} "
            f"JOIN {table(p)} p ON {column('p', p, 'id')} = {column('i', i, 'provider')} "
            f"WHERE {column('i', i, 'provider')} = %s AND {column('i', i, 'index')} = %s"
        ),
        "candidates": (
            f"SELECT DISTINCT {', '.join(column('o', o, name) for name in CANDIDATE_FIELDS)}, "  # noqa: S608 (names)
            f"EXISTS (SELECT 1 FROM {table(c)} c WHERE {column('c', c, 'intermediary')} = {column('o', o, 'id')}), "
            f"EXISTS (SELECT 1 FROM {table(b)} b WHERE {column('b', b, 'organisation')} = {column('o', o, 'id')}) "
            f"FROM {table(m)} m JOIN {table(o)} o ON {column('o', o, 'id')} = {column('m', m, 'organisation')} "
            f"WHERE {column('m', m, 'holder')} = %s"
        ),
    }


def service_instance(provider: ServiceProvider | int, index: int, *, shared: bool = False) -> ServiceInstance | None:
    """The provider's service instance with this AttributeConsumingServiceIndex (1 and up), or None.

    With ``shared``, the instance may be this process's copy from an earlier request: one small query reads the
    facts a login depends on (the instance's definition, its level, branch rule and ServiceUUID, the provider's OIN
    that makes the ServiceID), and the copy is used only while they are unchanged. Its names and texts may be
    older: for the answer to the DV, not for pages. The instance returned may be shared: never change it.
    """
    provider_id = provider if isinstance(provider, int) else provider.pk
    if shared:
        with connection.cursor() as cursor:
            cursor.execute(_sql(connection.vendor)["service"], [provider_id, index])
            current = cursor.fetchone()
        if current is None:
            return None
        known = _services.get((provider_id, index))
        if known is not None and known[0] == current:
            return known[1]
    instances = ServiceInstance.objects.select_related("definition", "provider").order_by()  # (provider, index): unique
    instance = next(iter(instances.filter(provider_id=provider_id, index=index)[:1]), None)
    if shared and instance is not None:
        with _services_lock:
            if len(_services) >= _SERVICES_KEPT:
                _services.clear()
            _services[(provider_id, index)] = (current, instance)
    return instance


def portal_instances(provider: ServiceProvider | int) -> list[ServiceInstance]:
    """Every service instance of the provider: what its portal (index 0) may offer."""
    return list(ServiceInstance.objects.select_related("definition", "provider").filter(provider=provider))


def portal_level(provider: ServiceProvider | int) -> Level | None:
    """The lowest level among the provider's services: a portal login asks at least that much (None: no services)."""
    levels = [instance.definition.level for instance in portal_instances(provider)]
    return Level(min(levels)) if levels else None


@dataclass(frozen=True)
class Option:
    """One way to log in: for ``organisation``, possibly as ``intermediary`` for it, possibly for one branch."""

    organisation: Organisation
    intermediary: Organisation | None = None
    branch: str | None = None
    #: For a portal login: the services the person may use this way.
    services: tuple[ServiceInstance, ...] = ()
    #: The decision that offered this option, when it is the decision for exactly this option (not for a branch
    #: the person may choose under an unrestricted mandate, which is decided when chosen).
    decision: Decision | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        """The value the choice form posts for this option."""
        return f"{self.organisation.pk}:{self.intermediary.pk if self.intermediary else ''}:{self.branch or ''}"


def options_for_service(person: Person, service: ServiceInstance, level: Level) -> list[Option]:
    """The ways the person may log in at ``service``: each organisation (directly or as intermediary), and for a
    service that accepts a branch restriction each branch the person may choose as well."""
    options: list[Option] = []
    for representation in organisations_for(person, service, level):
        intermediary = representation.intermediary
        if representation.restricted_to_branch:
            options.append(
                Option(
                    representation.organisation,
                    intermediary,
                    representation.decision.branch,
                    decision=representation.decision,
                )
            )
            continue
        options.append(Option(representation.organisation, intermediary, decision=representation.decision))
        options.extend(Option(representation.organisation, intermediary, number) for number in representation.branches)
    return options


def single_option_for_service(person: Person, service: ServiceInstance, level: Level) -> Option | None:
    """The only way the person may log in at ``service``, when it is plain that there is just one; None when there
    may be more, or none (then :func:`options_for_service` lists them, or the refusal explains).

    Plain means: the person holds mandates from one organisation only, no client gave that organisation a chain
    mandate, and the service takes no branch restriction or the organisation has no branches (or the mandate is
    restricted to one). That one organisation is then decided by :func:`~sleutelbos.mandates.decisions.decide`,
    exactly as :func:`options_for_service` would: one round trip instead of one per kind of grant.
    """
    with connection.cursor() as cursor:
        cursor.execute(_sql(connection.vendor)["candidates"], [person.pk])
        candidates = cursor.fetchall()
    if len(candidates) != 1:
        return None
    *fields, has_clients, has_branches = candidates[0]
    if has_clients:
        return None
    # The organisation with the fields the answer names (the others are read if ever asked for).
    organisation = Organisation.from_db(connection.alias, list(CANDIDATE_FIELDS), fields)
    decision = decide(person, organisation, service, level=level)
    if not decision.allowed:
        return None
    if decision.branch is None and has_branches and service.definition.branch_restriction_allowed:
        return None  # the person may choose a branch
    return Option(organisation, None, decision.branch, decision=decision)


def options_for_portal(person: Person, provider: ServiceProvider | int, level: Level) -> list[Option]:
    """The organisations the person may represent at the provider's portal, each with the services it gives.

    A portal login is never branch-restricted; services needing more than ``level`` (the level the login reached)
    are left out.
    """
    seen: set[tuple[int, int | None]] = set()
    options: list[Option] = []
    for instance in portal_instances(provider):
        for representation in organisations_for(person, instance):
            intermediary = representation.intermediary
            pair = (representation.organisation.pk, intermediary.pk if intermediary else None)
            if pair in seen:
                continue
            seen.add(pair)
            services = services_for(
                person, representation.organisation, provider, level, intermediary=representation.intermediary
            )
            if services:
                options.append(
                    Option(representation.organisation, representation.intermediary, services=tuple(services))
                )
    options.sort(key=lambda o: (o.organisation.name, o.intermediary.name if o.intermediary else ""))
    return options


@dataclass(frozen=True)
class Refusal:
    """Why the person may not log in for one organisation they hold a mandate from (or act as intermediary for)."""

    organisation: Organisation | None
    intermediary: Organisation | None
    decision: Decision


def refusals(person: Person, service: ServiceInstance, level: Level) -> list[Refusal]:
    """The decisions for every organisation the person has a mandate from, and every client of those organisations
    with a chain mandate: what the refusal page explains. Without any mandate, one decision without organisation
    says so."""
    org_ids = set(Mandate.objects.filter(holder=person).values_list("organisation_id", flat=True))
    organisations = Organisation.objects.in_bulk(org_ids)
    result = [
        Refusal(organisation, None, decide(person, organisation, service, level=level))
        for organisation in sorted(organisations.values(), key=lambda o: o.name)
    ]
    chains = (
        ChainMandate.objects.filter(intermediary_id__in=org_ids)
        .select_related("client", "intermediary")
        .order_by("client__name")
    )
    seen: set[tuple[int, int]] = set()
    for chain in chains:
        if (chain.client_id, chain.intermediary_id) in seen:
            continue
        seen.add((chain.client_id, chain.intermediary_id))
        decision = decide(person, chain.client, service, level=level, intermediary=chain.intermediary)
        result.append(Refusal(chain.client, chain.intermediary, decision))
    return result
