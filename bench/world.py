"""A generated world for the decision benchmark: catalogue, organisations, people, means, mandates, chain mandates.

The world is generated in memory (deterministically from a seed), bulk-inserted into the configured database, and
handed to the peers (PyCasbin, SpiceDB) as the very same data. It also carries a deliberately small reference
model (:meth:`World.expected`) that says which decisions must be allowed, so the run can show that every engine
answered every decision the same way.

Shape, per ``size`` mandates: a fixed catalogue of a few hundred providers and service definitions (some sharing a
ServiceUUID across providers), one organisation per 8 mandates, one person per 3 mandates (1 to 8 mandates each,
mostly from the person's own organisation), means at every level (a few suspended or revoked), scopes of every kind
(all / providers / services), some mandates expired, not yet valid or revoked, and one chain mandate per 1000
mandates from client organisations to a few intermediaries (accountants).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from django.core.management.color import no_style
from django.db import connection, models, transaction

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Means, MeansStatus, Person
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Mandate,
    MandateProvider,
    MandateService,
    ScopeKind,
)
from sleutelbos.organisations.models import Organisation

EMAIL_DOMAIN = "bench.invalid"
N_PROVIDERS = 250
LEVELS = (Level.EH2, Level.EH2_PLUS, Level.EH3, Level.EH4)
DAY = dt.timedelta(days=1)
YEAR = dt.timedelta(days=365)


class Service(NamedTuple):
    """One service instance with the facts of its definition."""

    instance_id: int
    definition_id: int
    provider_id: int
    index: int
    uuid: uuid.UUID
    level: int
    branch_ok: bool


class Grant(NamedTuple):
    """A mandate (subject = holder person id) or chain mandate (subject = intermediary organisation id)."""

    id: int
    subject: int
    organisation: int
    kind: str
    level: int
    valid_from: dt.datetime
    valid_until: dt.datetime
    revoked_at: dt.datetime | None
    providers: tuple[int, ...]
    services: tuple[uuid.UUID, ...]

    def serves(self, service: Service, at: dt.datetime) -> bool:
        """Whether this grant serves ``service`` at its catalogue level at moment ``at``."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        if not self.valid_from <= at < self.valid_until or self.level < service.level:
            return False
        if self.kind == ScopeKind.ALL:
            return True
        if self.kind == ScopeKind.PROVIDERS:
            return service.provider_id in self.providers
        return service.uuid in self.services


class Query(NamedTuple):
    """One decision to take: may ``person`` act for ``organisation`` (optionally via ``intermediary``)."""

    person: int
    organisation: int
    service: Service
    intermediary: int | None
    expected: bool


class World:
    """Everything generated for one size, plus indexes for sampling decisions and the reference model."""

    def __init__(self, size: int, *, seed: int, now: dt.datetime) -> None:
        self.size = size
        self.now = now
        self.rng = random.Random(seed * 1_000_003 + size)
        self.providers: list[tuple[int, str]] = []
        self.services: list[Service] = []
        self.n_organisations = max(40, size // 8)
        self.n_people = 0
        self.means: list[tuple[int, str]] = [(0, "")]  # index = person id
        self.mandates: list[Grant] = []
        self.chains: list[Grant] = []
        self.intermediaries: list[int] = []
        self._generate()
        self.by_pair: dict[tuple[int, int], list[Grant]] = defaultdict(list)
        for grant in self.mandates:
            self.by_pair[(grant.subject, grant.organisation)].append(grant)
        self.chain_by_pair: dict[tuple[int, int], list[Grant]] = defaultdict(list)
        for grant in self.chains:
            self.chain_by_pair[(grant.organisation, grant.subject)].append(grant)
        self.services_by_provider: dict[int, list[Service]] = defaultdict(list)
        self.services_by_uuid: dict[uuid.UUID, list[Service]] = defaultdict(list)
        for service in self.services:
            self.services_by_provider[service.provider_id].append(service)
            self.services_by_uuid[service.uuid].append(service)

    # ----------------------------------------------------------------------------------------------------------------
    # Generation

    def _uuid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _generate(self) -> None:
        rng = self.rng
        for provider_id in range(1, N_PROVIDERS + 1):
            self.providers.append((provider_id, f"00000001{provider_id:012d}"))
        definition_id = 0
        for provider_id, _ in self.providers:
            for index in range(1, rng.choice((1, 1, 2, 2, 3)) + 1):
                definition_id += 1
                shared = self.services and rng.random() < 0.03
                service_uuid = rng.choice(self.services).uuid if shared else self._uuid()
                if shared and any(s.provider_id == provider_id and s.uuid == service_uuid for s in self.services):
                    service_uuid = self._uuid()
                level = rng.choices(LEVELS, weights=(15, 15, 55, 15))[0]
                self.services.append(
                    Service(definition_id, definition_id, provider_id, index, service_uuid, level, rng.random() < 0.3)
                )

        self.intermediaries = list(range(1, max(3, self.n_organisations // 100) + 1))
        mandate_id = 0
        person_id = 0
        while mandate_id < self.size:
            person_id += 1
            means_level = rng.choices(LEVELS, weights=(10, 15, 60, 15))[0]
            status = rng.choices((MeansStatus.ACTIVE, MeansStatus.SUSPENDED, MeansStatus.REVOKED), (96, 2, 2))[0]
            self.means.append((means_level, status))
            home = rng.choice(self.intermediaries) if rng.random() < 0.05 else rng.randint(1, self.n_organisations)
            count = rng.choices((1, 2, 3, 4, 5, 6, 7, 8), weights=(25, 25, 20, 15, 6, 4, 3, 2))[0]
            for _ in range(min(count, self.size - mandate_id)):
                mandate_id += 1
                organisation = home if rng.random() < 0.6 else rng.randint(1, self.n_organisations)
                self.mandates.append(self._grant(mandate_id, person_id, organisation, means_level))
        self.n_people = person_id

        for chain_id in range(1, max(5, self.size // 1000) + 1):
            intermediary = rng.choice(self.intermediaries)
            client = rng.randint(len(self.intermediaries) + 1, self.n_organisations)
            self.chains.append(self._grant(chain_id, intermediary, client, Level.EH4))

    def _grant(self, grant_id: int, subject: int, organisation: int, max_level: int) -> Grant:
        rng = self.rng
        now = self.now
        allowed = [level for level in LEVELS if level <= max_level]
        level = max_level if rng.random() < 0.65 else rng.choice(allowed)
        kind = rng.choices((ScopeKind.ALL, ScopeKind.PROVIDERS, ScopeKind.SERVICES), weights=(15, 30, 55))[0]
        providers: tuple[int, ...] = ()
        services: tuple[uuid.UUID, ...] = ()
        if kind == ScopeKind.PROVIDERS:
            providers = tuple(sorted(rng.sample(range(1, N_PROVIDERS + 1), rng.choice((1, 1, 2, 3)))))
        elif kind == ScopeKind.SERVICES:
            services = tuple({rng.choice(self.services).uuid for _ in range(rng.choice((1, 1, 2, 3, 4)))})
        state = rng.random()
        revoked_at = None
        if state < 0.07:  # expired
            valid_until = now - rng.uniform(1, 365) * DAY
            valid_from = valid_until - rng.uniform(30, 3 * 365) * DAY
        elif state < 0.09:  # not yet valid
            valid_from = now + rng.uniform(1, 90) * DAY
            valid_until = valid_from + rng.uniform(30, 3 * 365) * DAY
        else:
            valid_from = now - rng.uniform(101, 3 * 365) * DAY
            valid_until = valid_from + rng.uniform(0, 5 * 365 - 1) * DAY
            if valid_until <= now:
                valid_until = now + rng.uniform(1, 365) * DAY
            if state > 0.95:  # revoked
                revoked_at = now - rng.uniform(1, 100) * DAY
        return Grant(
            grant_id,
            subject,
            organisation,
            kind,
            level,
            _second(valid_from),
            _second(valid_until),
            _second(revoked_at) if revoked_at else None,
            providers,
            services,
        )

    # ----------------------------------------------------------------------------------------------------------------
    # The reference model and the decisions to take

    def expected(self, person: int, organisation: int, service: Service, intermediary: int | None = None) -> bool:
        """The naive reference: should this decision (at the catalogue level, at ``now``) be allowed?"""
        means_level, status = self.means[person]
        if status != MeansStatus.ACTIVE or means_level < service.level:
            return False
        grants = self.by_pair.get((person, intermediary or organisation), ())
        if not any(grant.serves(service, self.now) for grant in grants):
            return False
        if intermediary is None:
            return True
        return any(
            grant.serves(service, self.now) for grant in self.chain_by_pair.get((organisation, intermediary), ())
        )

    def _covered_service(self, grant: Grant) -> Service:
        if grant.kind == ScopeKind.ALL:
            return self.rng.choice(self.services)
        if grant.kind == ScopeKind.PROVIDERS:
            candidates = [s for p in grant.providers for s in self.services_by_provider[p]]
            return self.rng.choice(candidates) if candidates else self.rng.choice(self.services)
        return self.rng.choice([s for u in grant.services for s in self.services_by_uuid[u]])

    def queries(self, count: int, *, allowed_share: float = 0.7, chain_share: float = 0.02) -> list[Query]:
        """``count`` decisions, ``allowed_share`` of them allowed, a few through a chain mandate, in random order."""
        rng = self.rng
        want_allowed = round(count * allowed_share)
        want_refused = count - want_allowed
        allowed: list[Query] = []
        refused: list[Query] = []
        holders_of: dict[int, list[int]] = defaultdict(list)
        chain_organisations = set(self.intermediaries)
        for grant in self.mandates:
            if grant.organisation in chain_organisations:
                holders_of[grant.organisation].append(grant.subject)
        attempts = 0
        while len(allowed) < want_allowed or len(refused) < want_refused:
            attempts += 1
            if attempts > count * 200:
                raise RuntimeError("could not sample the asked mix of decisions from this world")
            draw = rng.random()
            intermediary = None
            if draw < chain_share:
                chain = rng.choice(self.chains)
                if not holders_of[chain.subject]:
                    continue
                intermediary, organisation = chain.subject, chain.organisation
                person = rng.choice(holders_of[intermediary])
                service = self._covered_service(chain) if rng.random() < 0.9 else rng.choice(self.services)
            elif draw < 0.9:
                grant = rng.choice(self.mandates)
                person, organisation = grant.subject, grant.organisation
                service = self._covered_service(grant) if rng.random() < 0.85 else rng.choice(self.services)
            else:
                person = rng.randint(1, self.n_people)
                organisation = rng.randint(1, self.n_organisations)
                service = rng.choice(self.services)
            ok = self.expected(person, organisation, service, intermediary)
            bucket, wanted = (allowed, want_allowed) if ok else (refused, want_refused)
            if len(bucket) < wanted:
                bucket.append(Query(person, organisation, service, intermediary, ok))
        result = allowed + refused
        rng.shuffle(result)
        return result


def _second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


# --------------------------------------------------------------------------------------------------------------------
# Writing the world into the configured database


BATCH = 20_000


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """How to turn a Python value into what the database driver takes (None: as is)."""
    if isinstance(field, models.DateTimeField | models.UUIDField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


def bulk_insert(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (values in the order of ``fields``, by attribute name) as fast as the database allows.

    PostgreSQL: COPY. Other databases: ``executemany`` in batches of 20 000. Returns the number of rows.
    """
    meta = model._meta
    # Every other column gets its model default, so a field added to the model later needs no change here.
    others = [f for f in meta.concrete_fields if f.attname not in fields and not f.primary_key]
    defaults = tuple(f.get_default() for f in others)
    given = [meta.get_field(name) for name in fields]
    columns = [f.column for f in (*given, *others)]
    converters = [_converter(f) for f in (*given, *others)]
    convert = any(converters)

    def prepared(row: Sequence[Any]) -> Sequence[Any]:
        row = (*row, *defaults) if defaults else row
        if not convert:
            return row
        return [c(v) if c else v for c, v in zip(converters, row, strict=True)]

    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    column_list = ", ".join(quote(c) for c in columns)
    written = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((*row, *defaults))
                    written += 1
            return written
        sql = f"INSERT INTO {table} ({column_list}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(prepared(row))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def write(world: World) -> dict[str, int]:
    """Write the world into the (empty) configured database, in one transaction; returns row counts per table.

    This bypasses the write services (and so the audit log) on purpose: it inserts millions of rows that the write
    services would insert one by one. The rows satisfy the same invariants (levels, validity, scopes).
    """
    now = world.now
    counts: dict[str, int] = {}
    with transaction.atomic():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA defer_foreign_keys = ON")
        ServiceProvider.objects.bulk_create(
            [
                ServiceProvider(id=pid, oin=oin, name_nl=f"Dienstverlener {pid}", name_en=f"Service provider {pid}")
                for pid, oin in world.providers
            ]
        )
        ServiceDefinition.objects.bulk_create(
            [
                ServiceDefinition(
                    id=s.definition_id,
                    provider_id=s.provider_id,
                    uuid=s.uuid,
                    name_nl=f"Dienst {s.definition_id}",
                    name_en=f"Service {s.definition_id}",
                    level=s.level,
                    entity_concerned_types=[["urn:etoegang:1.9:EntityConcernedID:KvKnr"]],
                    branch_restriction_allowed=s.branch_ok,
                )
                for s in world.services
            ]
        )
        ServiceInstance.objects.bulk_create(
            [
                ServiceInstance(
                    id=s.instance_id,
                    provider_id=s.provider_id,
                    definition_id=s.definition_id,
                    index=s.index,
                    uuid=uuid.UUID(int=s.instance_id, version=4),
                )
                for s in world.services
            ]
        )
        counts["service definitions"] = len(world.services)
        counts["organisations"] = bulk_insert(
            Organisation,
            ("id", "kvk", "rsin", "name", "legal_form", "created_at"),
            (
                (i, f"{10_000_000 + i:08d}", "", f"Organisatie {i} B.V.", "bv", now)
                for i in range(1, world.n_organisations + 1)
            ),
        )
        counts["people"] = bulk_insert(
            Person,
            ("id", "password", "is_superuser", "email", "name", "is_active", "is_staff", "created_at"),
            (
                (i, "!", False, f"person{i}@{EMAIL_DOMAIN}", f"Persoon {i}", True, False, now)
                for i in range(1, world.n_people + 1)
            ),
        )
        bulk_insert(
            Means,
            ("id", "person_id", "level", "status", "issued_at", "changed_at"),
            ((i, i, level, status, now, now) for i, (level, status) in enumerate(world.means) if i),
        )
        for model, provider_model, service_model, fk, grants, subject, organisation in (
            (Mandate, MandateProvider, MandateService, "mandate_id", world.mandates, "holder_id", "organisation_id"),
            (
                ChainMandate,
                ChainMandateProvider,
                ChainMandateService,
                "chain_mandate_id",
                world.chains,
                "intermediary_id",
                "client_id",
            ),
        ):
            counts[model.__name__] = bulk_insert(
                model,
                (
                    "id",
                    subject,
                    organisation,
                    "scope_kind",
                    "level",
                    "valid_from",
                    "valid_until",
                    "granted_at",
                    "granted_by",
                    "revoked_at",
                    "revoked_by",
                ),
                (
                    (
                        g.id,
                        g.subject,
                        g.organisation,
                        g.kind,
                        g.level,
                        g.valid_from,
                        g.valid_until,
                        g.valid_from,
                        "bench",
                        g.revoked_at,
                        "bench" if g.revoked_at else "",
                    )
                    for g in grants
                ),
            )
            counts[f"{model.__name__} provider links"] = bulk_insert(
                provider_model,
                (fk, "provider_id"),
                ((g.id, p) for g in grants for p in g.providers),
            )
            counts[f"{model.__name__} service links"] = bulk_insert(
                service_model,
                (fk, "service_uuid"),
                ((g.id, u) for g in grants for u in g.services),
            )
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(
                no_style(),
                [
                    ServiceProvider,
                    ServiceDefinition,
                    ServiceInstance,
                    Organisation,
                    Person,
                    Means,
                    Mandate,
                    ChainMandate,
                ],
            ):
                cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return counts
