"""The decision engine: may this person act for this organisation at this service? (AS "Vaststellen bevoegdheid")

This module holds the **only** decision in Sleutelbos. The SAML and OIDC flows, the API, the portal and the "why was
I refused" page all call :func:`decide`, :func:`organisations_for` or :func:`services_for`, which load the facts from
the database and hand them to :func:`evaluate`, a pure function. They can therefore never disagree.

The rules (Afsprakenstelsel, "Vaststellen bevoegdheid"):

* the level asked is the service's catalogue level, unless a lower one is asked; a higher one is refused;
* the person's means is active and at least at that level;
* a mandate from the organisation covers the service's ServiceUUID (directly, through its provider, or through an
  "all services" scope), is valid at that moment, not revoked, and at least at that level;
* with an intermediary (chain mandate, G > A > B): the mandate is from the intermediary A, and a chain mandate from
  the client B to A covers the service under the same conditions;
* a branch-restricted mandate only serves a service that accepts branch restrictions; the decision then carries the
  branch.

On refusal the decision carries every reason that applies, not only the first.
"""

from __future__ import annotations

import datetime as dt
import functools
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection
from django.db.models import Model
from django.utils import formats, timezone
from django.utils.translation import gettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Means, MeansStatus
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Mandate,
    MandateProvider,
    MandateService,
    ScopeKind,
)
from sleutelbos.organisations.models import Branch, Organisation

# --------------------------------------------------------------------------------------------------------------------
# Reasons


def _date(value: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATE_FORMAT")


def _level(value: int) -> str:
    return Level(value).label


# code -> function(params) -> sentence in the active language. The codes are a stable public contract.
_MESSAGES: dict[str, Any] = {
    "no_mandate": lambda p: (
        gettext(
            "You have no mandate from your own organisation, through which you act for this client, that covers "
            "this service."
        )
        if p.get("through_intermediary")
        else gettext("You have no mandate from this organisation that covers this service.")
    ),
    "mandate_level_too_low": lambda p: (
        gettext("Your mandate is for level %(mandate_level)s, but this service asks for %(level)s.")
        % {"mandate_level": _level(p["mandate_level"]), "level": _level(p["level"])}
    ),
    "means_level_too_low": lambda p: (
        gettext("Your eHerkenning means has level %(means_level)s, but this service asks for %(level)s.")
        % {"means_level": _level(p["means_level"]), "level": _level(p["level"])}
    ),
    "means_inactive": lambda p: (
        gettext("Your eHerkenning means is not active (%(status)s).")
        % {"status": MeansStatus(p["status"]).label if p.get("status") else gettext("none issued")}
    ),
    "mandate_expired": lambda p: gettext("Your mandate expired on %(date)s.") % {"date": _date(p["date"])},
    "mandate_not_yet_valid": lambda p: gettext("Your mandate is valid from %(date)s.") % {"date": _date(p["date"])},
    "mandate_revoked": lambda p: gettext("Your mandate was revoked on %(date)s.") % {"date": _date(p["date"])},
    "chain_mandate_missing": lambda p: gettext(
        "The organisation has not authorized your organisation (chain mandate) for this service."
    ),
    "chain_mandate_level_too_low": lambda p: (
        gettext("The chain mandate is for level %(mandate_level)s, but this service asks for %(level)s.")
        % {"mandate_level": _level(p["mandate_level"]), "level": _level(p["level"])}
    ),
    "chain_mandate_expired": lambda p: gettext("The chain mandate expired on %(date)s.") % {"date": _date(p["date"])},
    "chain_mandate_not_yet_valid": lambda p: (
        gettext("The chain mandate is valid from %(date)s.") % {"date": _date(p["date"])}
    ),
    "chain_mandate_revoked": lambda p: (
        gettext("The chain mandate was revoked on %(date)s.") % {"date": _date(p["date"])}
    ),
    "branch_not_accepted": lambda p: (
        gettext(
            "Your mandate is restricted to branch %(branch)s, and this service does not accept branch restrictions."
        )
        % {"branch": p["branch"]}
    ),
    "branch_other": lambda p: (
        gettext("Your mandate is restricted to branch %(branch)s, not to branch %(asked)s.")
        % {"branch": p["branch"], "asked": p["asked"]}
    ),
    "branch_in_chain": lambda p: (
        gettext("Your mandate is restricted to branch %(branch)s and cannot be used on behalf of another organisation.")
        % {"branch": p["branch"]}
    ),
    "branch_unknown": lambda p: (
        gettext("Branch %(asked)s does not belong to this organisation.") % {"asked": p["asked"]}
    ),
    "level_above_catalogue": lambda p: (
        gettext(
            "Level %(level)s was asked, but this service needs at most %(catalogue_level)s: a login may not ask "
            "more than the catalogue."
        )
        % {"level": _level(p["level"]), "catalogue_level": _level(p["catalogue_level"])}
    ),
}
REASON_CODES: tuple[str, ...] = tuple(_MESSAGES)


@dataclass(frozen=True)
class Reason:
    """Why a decision was refused: a stable ``code``, the values behind it, and the grant it is about."""

    code: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)
    mandate: int | None = None
    chain_mandate: int | None = None

    @property
    def message(self) -> str:
        """The reason as a sentence in the active language."""
        return _MESSAGES[self.code](self.params)


@dataclass(frozen=True)
class Decision:
    """The outcome of :func:`decide`.

    ``mandates`` lists the mandates that allow this (the preferred first: unrestricted, highest level, longest
    valid); ``chain_mandate`` the chain mandate used; ``branch`` the branch the login is restricted to.
    """

    allowed: bool
    level: Level
    mandates: tuple[int, ...] = ()
    chain_mandate: int | None = None
    branch: str | None = None
    reasons: tuple[Reason, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def codes(self) -> list[str]:
        return [reason.code for reason in self.reasons]


# --------------------------------------------------------------------------------------------------------------------
# Facts: what the evaluation needs, loaded in a few queries


@dataclass(frozen=True)
class ServiceFacts:
    provider_id: int
    uuid: UUID
    level: Level
    branch_restriction_allowed: bool


@dataclass(frozen=True)
class MeansFacts:
    level: Level
    status: str


@dataclass(frozen=True)
class GrantFacts:
    """One mandate or chain mandate, as the evaluation sees it."""

    id: int
    scope_kind: str
    level: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None = None
    providers: frozenset[int] = frozenset()
    services: frozenset[UUID] = frozenset()
    branch: str | None = None

    def covers(self, service: ServiceFacts) -> bool:
        if self.scope_kind == ScopeKind.ALL:
            return True
        if self.scope_kind == ScopeKind.PROVIDERS:
            return service.provider_id in self.providers
        return service.uuid in self.services

    def problems(self, *, level: Level, at: dt.datetime, chain: bool) -> list[Reason]:
        """Why this grant does not serve at ``level`` at moment ``at`` (empty when it does)."""
        prefix = "chain_mandate" if chain else "mandate"
        ref = {"chain_mandate": self.id} if chain else {"mandate": self.id}
        found: list[Reason] = []
        if self.revoked_at is not None and self.revoked_at <= at:
            found.append(Reason(f"{prefix}_revoked", {"date": self.revoked_at}, **ref))
        if at < self.valid_from:
            found.append(Reason(f"{prefix}_not_yet_valid", {"date": self.valid_from}, **ref))
        if at >= self.valid_until:
            found.append(Reason(f"{prefix}_expired", {"date": self.valid_until}, **ref))
        if self.level < level:
            found.append(Reason(f"{prefix}_level_too_low", {"mandate_level": self.level, "level": level}, **ref))
        return found


# --------------------------------------------------------------------------------------------------------------------
# The evaluation (pure)


def _preference(grant: GrantFacts) -> tuple[bool, int, float, int]:
    return (grant.branch is not None, -grant.level, -grant.valid_until.timestamp(), grant.id)


def evaluate(
    *,
    service: ServiceFacts,
    means: MeansFacts | None,
    mandates: Sequence[GrantFacts],
    chain_mandates: Sequence[GrantFacts] | None = None,
    level: Level | None = None,
    at: dt.datetime,
    branch: str | None = None,
    organisation_branches: frozenset[str] | None = None,
) -> Decision:
    """Decide from loaded facts. ``chain_mandates`` is None for a direct login, a sequence with an intermediary.

    ``mandates`` are the person's mandates from the organisation (direct) or from the intermediary (chain).
    ``organisation_branches``, when given, are the branch numbers of the represented organisation.
    """
    reasons: list[Reason] = []
    asked = service.level if level is None else Level(level)
    if asked > service.level:
        reasons.append(Reason("level_above_catalogue", {"level": asked, "catalogue_level": service.level}))

    if means is None or means.status != MeansStatus.ACTIVE:
        reasons.append(Reason("means_inactive", {"status": means.status if means else None}))
    if means is not None and means.level < asked:
        reasons.append(Reason("means_level_too_low", {"means_level": means.level, "level": asked}))

    if branch is not None and organisation_branches is not None and branch not in organisation_branches:
        reasons.append(Reason("branch_unknown", {"asked": branch}))
    if branch is not None and not service.branch_restriction_allowed:
        reasons.append(Reason("branch_not_accepted", {"branch": branch}))

    in_chain = chain_mandates is not None
    usable: list[GrantFacts] = []
    covering = [grant for grant in mandates if grant.covers(service)]
    if not covering:
        # Acting for a client, the mandate needed is one from the intermediary, the person's own organisation.
        reasons.append(Reason("no_mandate", {"through_intermediary": True} if in_chain else {}))
    for grant in covering:
        problems = grant.problems(level=asked, at=at, chain=False)
        if grant.branch is not None:
            ref = {"mandate": grant.id, "params": {"branch": grant.branch, "asked": branch}}
            if in_chain:
                problems.append(Reason("branch_in_chain", **ref))
            elif not service.branch_restriction_allowed:
                problems.append(Reason("branch_not_accepted", **ref))
            elif branch is not None and branch != grant.branch:
                problems.append(Reason("branch_other", **ref))
        if problems:
            reasons.extend(problems)
        else:
            usable.append(grant)

    usable_chain: list[GrantFacts] = []
    if in_chain:
        covering_chain = [grant for grant in chain_mandates or () if grant.covers(service)]
        if not covering_chain:
            reasons.append(Reason("chain_mandate_missing"))
        for grant in covering_chain:
            problems = grant.problems(level=asked, at=at, chain=True)
            if problems:
                reasons.extend(problems)
            else:
                usable_chain.append(grant)

    allowed = (
        bool(usable)
        and (not in_chain or bool(usable_chain))
        and not any(
            reason.mandate is None and reason.chain_mandate is None and reason.code != "no_mandate"
            for reason in reasons
        )
    )
    if not allowed:
        return Decision(allowed=False, level=asked, reasons=tuple(reasons))

    usable.sort(key=_preference)
    chosen = usable[0]
    chain = min(usable_chain, key=_preference) if usable_chain else None
    return Decision(
        allowed=True,
        level=asked,
        mandates=tuple(grant.id for grant in usable),
        chain_mandate=chain.id if chain else None,
        branch=chosen.branch or branch,
    )


# --------------------------------------------------------------------------------------------------------------------
# Loading facts


def _pk(value: Model | int) -> int:
    return value if isinstance(value, int) else value.pk


def service_facts(service: ServiceInstance | ServiceDefinition) -> ServiceFacts:
    """The facts of a service instance's definition, or of a definition."""
    definition = service.definition if isinstance(service, ServiceInstance) else service
    return ServiceFacts(
        provider_id=definition.provider_id,
        uuid=definition.uuid,
        level=Level(definition.level),
        branch_restriction_allowed=definition.branch_restriction_allowed,
    )


def means_facts(person: Model | int) -> MeansFacts | None:
    """The person's means (level and status), or None when none was issued."""
    if not isinstance(person, int):
        cached = person._state.fields_cache.get("means")
        if isinstance(cached, Means):
            return MeansFacts(level=Level(cached.level), status=cached.status)
    row = Means.objects.filter(person_id=_pk(person)).values_list("level", "status").first()
    return MeansFacts(level=Level(row[0]), status=row[1]) if row else None


_GRANT_FIELDS = ("id", "scope_kind", "level", "valid_from", "valid_until", "revoked_at")


def _attach_scopes(
    rows: list[tuple[Any, ...]],
    link_provider: type[Model],
    link_service: type[Model],
    fk: str,
) -> dict[int, tuple[frozenset[int], frozenset[UUID]]]:
    """Load the providers and ServiceUUIDs of the given grant rows (only for the scope kinds that have them)."""
    provider_ids = [row[0] for row in rows if row[1] == ScopeKind.PROVIDERS]
    service_ids = [row[0] for row in rows if row[1] == ScopeKind.SERVICES]
    providers: dict[int, set[int]] = defaultdict(set)
    services: dict[int, set[UUID]] = defaultdict(set)
    if provider_ids:
        for grant_id, provider_id in link_provider.objects.filter(**{f"{fk}__in": provider_ids}).values_list(
            fk, "provider_id"
        ):
            providers[grant_id].add(provider_id)
    if service_ids:
        for grant_id, uuid in link_service.objects.filter(**{f"{fk}__in": service_ids}).values_list(fk, "service_uuid"):
            services[grant_id].add(uuid)
    return {row[0]: (frozenset(providers.get(row[0], ())), frozenset(services.get(row[0], ()))) for row in rows}


def mandate_facts(
    *, holders: Iterable[Model | int] | None = None, organisations: Iterable[Model | int]
) -> dict[tuple[int, int], list[GrantFacts]]:
    """Mandates per (holder id, organisation id) for the given organisations; optionally of some holders only."""
    query = Mandate.objects.filter(organisation_id__in=[_pk(org) for org in organisations])
    if holders is not None:
        query = query.filter(holder_id__in=[_pk(holder) for holder in holders])
    rows = list(query.values_list(*_GRANT_FIELDS, "holder_id", "organisation_id", "branch__number"))
    scopes = _attach_scopes(rows, MandateProvider, MandateService, "mandate_id")
    result: dict[tuple[int, int], list[GrantFacts]] = defaultdict(list)
    for row in rows:
        providers, services = scopes[row[0]]
        result[(row[6], row[7])].append(GrantFacts(*row[:6], providers=providers, services=services, branch=row[8]))
    return result


def _grants_for(
    person: Model | int, organisation: Model | int, intermediary: Model | int | None
) -> tuple[MeansFacts | None, list[GrantFacts], list[GrantFacts] | None]:
    """The person's means, mandates and, with an intermediary, the chain mandates from the client to it.

    This is the hot path of every login, so it is one round trip: a UNION ALL of the means, the mandates, the chain
    mandates and their scope links, in SQL built once from the models' tables (all lookups use indexes).
    """
    person_id, org_id = _pk(person), _pk(organisation)
    if intermediary is None:
        sql, params = _decision_sql(chain=False), [person_id, person_id, org_id, person_id, org_id, person_id, org_id]
    else:
        inter_id = _pk(intermediary)
        sql = _decision_sql(chain=True)
        params = [person_id, person_id, inter_id, person_id, inter_id, person_id, inter_id]
        params += [org_id, inter_id] * 3
    rows = _fetch(sql, params)
    means: MeansFacts | None = None
    providers: dict[tuple[int, int], set[int]] = defaultdict(set)
    services: dict[tuple[int, int], set[UUID]] = defaultdict(set)
    grant_rows = []
    for row in rows:
        kind = row[0]
        if kind == _MEANS:
            means = MeansFacts(level=Level(row[3]), status=row[2])
        elif kind in (_MANDATE, _CHAIN):
            grant_rows.append(row)
        elif kind in (_MANDATE_PROVIDER, _CHAIN_PROVIDER):
            providers[(kind - 1, row[1])].add(row[8])
        else:
            uuid = row[9]
            services[(kind - 2, row[1])].add(uuid if isinstance(uuid, UUID) else UUID(uuid))
    mandates: list[GrantFacts] = []
    chains: list[GrantFacts] | None = None if intermediary is None else []
    for kind, grant_id, scope_kind, level, valid_from, valid_until, revoked_at, branch, _, _ in grant_rows:
        key = (kind, grant_id)
        grant = GrantFacts(
            grant_id,
            scope_kind,
            level,
            _as_datetime(valid_from),
            _as_datetime(valid_until),
            _as_datetime(revoked_at),
            frozenset(providers[key]) if key in providers else frozenset(),
            frozenset(services[key]) if key in services else frozenset(),
            branch,
        )
        (mandates if kind == _MANDATE else chains).append(grant)  # type: ignore[union-attr]
    return means, mandates, chains


def _fetch(sql: str, params: list[int]) -> list[tuple[Any, ...]]:
    """Run the decision query the cheapest way the database allows, unless somebody records queries.

    On SQLite, Django's cursor wrapper and placeholder rewriting cost more than the query: it runs on the driver's
    own cursor. On PostgreSQL, planning costs more than executing: the statement is prepared once per connection.
    With query logging on (DEBUG, or a test counting queries) the query goes through Django as usual.
    """
    connection.ensure_connection()
    if connection.queries_logged or connection.execute_wrappers:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    if connection.vendor == "sqlite":
        return connection.connection.execute(_qmark(sql), params).fetchall()
    if connection.vendor == "postgresql" and settings.SLEUTELBOS_PREPARED_DECISIONS:
        name = _prepare(sql, len(params))
        with connection.cursor() as cursor:
            cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# Raw PostgreSQL connection -> names of the statements prepared on it (PREPARE lasts as long as the connection).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _prepare(sql: str, arity: int) -> str:
    name = f"sleutelbos_decision_{arity}"
    done = _prepared.setdefault(connection.connection, set())
    if name not in done:
        numbered = sql
        for number in range(1, arity + 1):
            numbered = numbered.replace("%s", f"${number}", 1)
        with connection.cursor() as cursor:
            cursor.execute(f"PREPARE {name}({', '.join(['bigint'] * arity)}) AS {numbered}")
        done.add(name)
    return name


@functools.cache
def _qmark(sql: str) -> str:
    return sql.replace("%s", "?")


_MEANS, _MANDATE, _MANDATE_PROVIDER, _MANDATE_SERVICE, _CHAIN, _CHAIN_PROVIDER, _CHAIN_SERVICE = range(7)


def _as_datetime(value: dt.datetime | str | None) -> dt.datetime | None:
    """Raw SQLite rows carry datetimes as UTC text; PostgreSQL gives aware datetimes."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


@functools.cache
def _decision_sql(*, chain: bool) -> str:
    q = connection.ops.quote_name

    def table(model: type[Model]) -> str:
        return q(model._meta.db_table)

    def null(model: type[Model], name: str) -> str:
        return f"CAST(NULL AS {model._meta.get_field(name).db_type(connection)})"

    grant_columns = "{a}.id, {a}.scope_kind, {a}.level, {a}.valid_from, {a}.valid_until, {a}.revoked_at"
    nothing = "NULL, NULL, NULL, NULL, NULL, NULL"
    parts = [
        # The first SELECT names every column's type: PostgreSQL resolves a UNION's NULL columns from it.
        f"SELECT {_MEANS}, {null(Mandate, 'id')}, status, level, {null(Mandate, 'valid_from')}, "
        f"{null(Mandate, 'valid_until')}, {null(Mandate, 'revoked_at')}, {null(Branch, 'number')}, "
        f"{null(MandateProvider, 'provider')}, {null(MandateService, 'service_uuid')} FROM {table(Means)} "
        "WHERE person_id = %s",
        f"SELECT {_MANDATE}, {grant_columns.format(a='m')}, b.number, NULL, NULL FROM {table(Mandate)} m "
        f"LEFT JOIN {table(Branch)} b ON b.id = m.branch_id WHERE m.holder_id = %s AND m.organisation_id = %s",
        f"SELECT {_MANDATE_PROVIDER}, l.mandate_id, {nothing}, l.provider_id, NULL FROM {table(MandateProvider)} l "
        f"JOIN {table(Mandate)} m ON m.id = l.mandate_id WHERE m.holder_id = %s AND m.organisation_id = %s",
        f"SELECT {_MANDATE_SERVICE}, l.mandate_id, {nothing}, NULL, l.service_uuid FROM {table(MandateService)} l "
        f"JOIN {table(Mandate)} m ON m.id = l.mandate_id WHERE m.holder_id = %s AND m.organisation_id = %s",
    ]
    if chain:
        parts += [
            f"SELECT {_CHAIN}, {grant_columns.format(a='c')}, NULL, NULL, NULL FROM {table(ChainMandate)} c "
            "WHERE c.client_id = %s AND c.intermediary_id = %s",
            f"SELECT {_CHAIN_PROVIDER}, l.chain_mandate_id, {nothing}, l.provider_id, NULL "
            f"FROM {table(ChainMandateProvider)} l JOIN {table(ChainMandate)} c ON c.id = l.chain_mandate_id "
            "WHERE c.client_id = %s AND c.intermediary_id = %s",
            f"SELECT {_CHAIN_SERVICE}, l.chain_mandate_id, {nothing}, NULL, l.service_uuid "
            f"FROM {table(ChainMandateService)} l JOIN {table(ChainMandate)} c ON c.id = l.chain_mandate_id "
            "WHERE c.client_id = %s AND c.intermediary_id = %s",
        ]
    # Only table names and integer constants are formatted into the SQL; every value is a bound parameter.
    return " UNION ALL ".join(parts)


def chain_mandate_facts(
    *, intermediaries: Iterable[Model | int], client: Model | int | None = None
) -> dict[tuple[int, int], list[GrantFacts]]:
    """Chain mandates given to the intermediaries, per (client id, intermediary id); optionally of one client."""
    query = ChainMandate.objects.filter(intermediary_id__in=[_pk(i) for i in intermediaries])
    if client is not None:
        query = query.filter(client_id=_pk(client))
    rows = list(query.values_list(*_GRANT_FIELDS, "client_id", "intermediary_id"))
    scopes = _attach_scopes(rows, ChainMandateProvider, ChainMandateService, "chain_mandate_id")
    result: dict[tuple[int, int], list[GrantFacts]] = defaultdict(list)
    for row in rows:
        providers, services = scopes[row[0]]
        result[(row[6], row[7])].append(GrantFacts(*row[:6], providers=providers, services=services))
    return result


def _branch_number(branch: Branch | str | None) -> str | None:
    return branch.number if isinstance(branch, Branch) else branch


def _organisation_branches(organisation: Model | int) -> frozenset[str]:
    return frozenset(Branch.objects.filter(organisation_id=_pk(organisation)).values_list("number", flat=True))


# --------------------------------------------------------------------------------------------------------------------
# The public questions


def decide(
    person: Model | int,
    organisation: Organisation | int,
    service: ServiceInstance | ServiceDefinition,
    *,
    level: Level | None = None,
    at: dt.datetime | None = None,
    intermediary: Organisation | int | None = None,
    branch: Branch | str | None = None,
) -> Decision:
    """May ``person`` act for ``organisation`` at ``service`` (at ``level``, at moment ``at``)?

    With ``intermediary``, the person acts as an employee of the intermediary on behalf of ``organisation``, the
    client, through a chain mandate.
    """
    branch_number = _branch_number(branch)
    means, mandates, chains = _grants_for(person, organisation, intermediary)
    return evaluate(
        service=service_facts(service),
        means=means,
        mandates=mandates,
        chain_mandates=chains,
        level=level,
        at=at or timezone.now(),
        branch=branch_number,
        organisation_branches=_organisation_branches(organisation) if branch_number else None,
    )


@dataclass(frozen=True)
class Representation:
    """An organisation the person may represent at a service: directly, or for a client as intermediary."""

    organisation: Organisation
    decision: Decision
    intermediary: Organisation | None = None
    branches: tuple[str, ...] = ()

    @property
    def restricted_to_branch(self) -> bool:
        return self.decision.branch is not None and not self.branches


def organisations_for(
    person: Model | int,
    service: ServiceInstance | ServiceDefinition,
    level: Level | None = None,
    *,
    at: dt.datetime | None = None,
) -> list[Representation]:
    """Whom may this person represent at this service: every organisation, directly or as intermediary.

    ``branches`` lists the branches the person may choose to restrict the login to (empty when the service accepts
    no branch restriction); a decision with a branch and no choice means the mandate is branch-restricted.
    """
    at = at or timezone.now()
    facts = service_facts(service)
    means = means_facts(person)
    org_ids = set(Mandate.objects.filter(holder_id=_pk(person)).values_list("organisation_id", flat=True).distinct())
    if not org_ids:
        return []
    mandates = {org: grants for (_, org), grants in mandate_facts(holders=[person], organisations=org_ids).items()}
    chains = chain_mandate_facts(intermediaries=org_ids)
    options: list[tuple[int, int | None, Decision]] = []
    for org_id in org_ids:
        decision = evaluate(service=facts, means=means, mandates=mandates.get(org_id, []), level=level, at=at)
        if decision.allowed:
            options.append((org_id, None, decision))
    for (client_id, intermediary_id), chain_grants in chains.items():
        decision = evaluate(
            service=facts,
            means=means,
            mandates=mandates.get(intermediary_id, []),
            chain_mandates=chain_grants,
            level=level,
            at=at,
        )
        if decision.allowed:
            options.append((client_id, intermediary_id, decision))
    if not options:
        return []
    organisations = Organisation.objects.in_bulk({o for o, _, _ in options} | {i for _, i, _ in options if i})
    branch_numbers: dict[int, list[str]] = defaultdict(list)
    if facts.branch_restriction_allowed:
        for org_id, number in Branch.objects.filter(
            organisation_id__in=[o for o, i, d in options if i is None and d.branch is None]
        ).values_list("organisation_id", "number"):
            branch_numbers[org_id].append(number)
    result = [
        Representation(
            organisation=organisations[org_id],
            decision=decision,
            intermediary=organisations[intermediary_id] if intermediary_id else None,
            branches=tuple(sorted(branch_numbers.get(org_id, ()))) if intermediary_id is None else (),
        )
        for org_id, intermediary_id, decision in options
    ]
    result.sort(key=lambda r: (r.organisation.name, r.intermediary.name if r.intermediary else ""))
    return result


def services_for(
    person: Model | int,
    organisation: Organisation | int,
    provider: ServiceProvider | int | None = None,
    level: Level | None = None,
    *,
    at: dt.datetime | None = None,
    intermediary: Organisation | int | None = None,
) -> list[ServiceInstance]:
    """Every service instance (of ``provider``, or of all providers) the person may use for ``organisation``.

    This answers the portal request (AttributeConsumingServiceIndex 0): each service is decided at its catalogue
    level; with ``level`` (the level the login reached), services that need more are left out.
    """
    at = at or timezone.now()
    instances = ServiceInstance.objects.select_related("definition", "provider").order_by("provider__name_nl", "index")
    if provider is not None:
        instances = instances.filter(provider_id=_pk(provider))
    if level is not None:
        instances = instances.filter(definition__level__lte=Level(level))
    means, mandates, chains = _grants_for(person, organisation, intermediary)
    return [
        instance
        for instance in instances
        if evaluate(
            service=service_facts(instance), means=means, mandates=mandates, chain_mandates=chains, at=at
        ).allowed
    ]


@dataclass(frozen=True)
class Holder:
    """A person who may use a service for an organisation: directly, or as employee of an intermediary."""

    person: Any
    decision: Decision
    intermediary: Organisation | None = None


def holders_for(
    organisation: Organisation | int,
    service: ServiceInstance | ServiceDefinition,
    level: Level | None = None,
    *,
    at: dt.datetime | None = None,
) -> list[Holder]:
    """Who may use ``service`` for ``organisation``: its mandate holders and intermediaries' employees."""
    from django.contrib.auth import get_user_model

    at = at or timezone.now()
    facts = service_facts(service)
    org_id = _pk(organisation)
    chains = {
        intermediary_id: grants
        for (_, intermediary_id), grants in chain_mandate_facts(
            intermediaries=ChainMandate.objects.filter(client_id=org_id).values_list("intermediary_id", flat=True),
            client=org_id,
        ).items()
    }
    grants = mandate_facts(organisations=[org_id, *chains])
    holder_ids = {holder_id for holder_id, _ in grants}
    means = {
        person_id: MeansFacts(level=Level(lvl), status=status)
        for person_id, lvl, status in Means.objects.filter(person_id__in=holder_ids).values_list(
            "person_id", "level", "status"
        )
    }
    found: list[tuple[int, int | None, Decision]] = []
    for (holder_id, grant_org_id), mandates in grants.items():
        via = None if grant_org_id == org_id else grant_org_id
        decision = evaluate(
            service=facts,
            means=means.get(holder_id),
            mandates=mandates,
            chain_mandates=chains[grant_org_id] if via else None,
            level=level,
            at=at,
        )
        if decision.allowed:
            found.append((holder_id, via, decision))
    people = get_user_model().objects.in_bulk({holder_id for holder_id, _, _ in found})
    intermediaries = Organisation.objects.in_bulk({via for _, via, _ in found if via})
    result = [
        Holder(person=people[holder_id], decision=decision, intermediary=intermediaries.get(via) if via else None)
        for holder_id, via, decision in found
    ]
    result.sort(key=lambda h: (h.intermediary is not None, h.person.name, h.person.pk))
    return result
