"""Property-based tests of the decision engine against a deliberately naive reference model written here.

The reference reads the rules of "Vaststellen bevoegdheid" as plainly as possible, over plain Python values. Random
small worlds (providers, definitions sharing ServiceUUIDs, a person's means, mandates of every scope kind with validity
windows around a random moment, revocations, branches, intermediaries and chain mandates) are generated; the real
engine must agree with the reference on whether the login is allowed and on the set of reasons it gives.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuid_module
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Means, MeansStatus, Person
from sleutelbos.mandates.decisions import GrantFacts, MeansFacts, ServiceFacts, decide, evaluate
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Mandate,
    MandateProvider,
    MandateService,
)
from sleutelbos.organisations.models import Branch, Organisation

LEVELS = [20, 25, 30, 40]  # EH2, EH2+, EH3, EH4 as stored
AT = dt.datetime(2031, 6, 1, 12, 0, tzinfo=dt.UTC)
# Offsets (minutes) from the moment of the decision; 0 sits exactly on an edge of a half-open validity window.
OFFSETS = [-100_000, -60, -1, 0, 1, 60, 100_000]
UUIDS = [uuid_module.UUID(int=n + 1) for n in range(3)]  # a small pool, so providers share ServiceUUIDs
PROVIDERS = 3
BRANCHES = ["000000000001", "000000000002"]  # of the client organisation
FOREIGN_BRANCH = "000000000009"  # of the intermediary


# --------------------------------------------------------------------------------------------------------------------
# The world, as plain values


@dataclass(frozen=True)
class Service:
    provider: int
    uuid: int  # index into UUIDS
    level: int
    branches_ok: bool


@dataclass(frozen=True)
class Grant:
    """A mandate (from "client" or "intermediary") or a chain mandate (client to intermediary)."""

    source: str  # "client", "intermediary" or "other" (an unrelated organisation)
    kind: str  # "all", "providers", "services"
    providers: frozenset[int]
    uuids: frozenset[int]
    level: int
    start: int  # minutes relative to the decision
    end: int
    revoked: int | None
    branch: str | None = None
    holder_is_me: bool = True


@dataclass(frozen=True)
class World:
    service: Service
    other_definitions: tuple[Service, ...]
    means: tuple[int, str] | None
    mandates: tuple[Grant, ...]
    chains: tuple[Grant, ...]
    asked_level: int | None
    via_intermediary: bool
    asked_branch: str | None
    ids: dict[str, list[int]] = field(default_factory=dict, compare=False)


# --------------------------------------------------------------------------------------------------------------------
# The reference model: the rules, naively


def naive_decision(world: World) -> tuple[bool, set[str], set[int], set[int], set[str | None]]:
    """(allowed, reason codes, usable mandate indexes, usable chain indexes, branches the login may carry)."""
    service = world.service
    asked = service.level if world.asked_level is None else world.asked_level
    reasons: set[str] = set()
    blocking = False

    def moment_problems(grant: Grant, prefix: str) -> list[str]:
        found = []
        if grant.revoked is not None and grant.revoked <= 0:
            found.append(prefix + "_revoked")
        if grant.start > 0:
            found.append(prefix + "_not_yet_valid")
        if grant.end <= 0:
            found.append(prefix + "_expired")
        if grant.level < asked:
            found.append(prefix + "_level_too_low")
        return found

    def covers(grant: Grant) -> bool:
        if grant.kind == "all":
            return True
        if grant.kind == "providers":
            return service.provider in grant.providers
        return service.uuid in grant.uuids

    if asked > service.level:
        reasons.add("level_above_catalogue")
        blocking = True
    if world.means is None or world.means[1] != "active":
        reasons.add("means_inactive")
        blocking = True
    if world.means is not None and world.means[0] < asked:
        reasons.add("means_level_too_low")
        blocking = True
    if world.asked_branch is not None:
        if world.asked_branch not in BRANCHES:
            reasons.add("branch_unknown")
            blocking = True
        if not service.branches_ok:
            reasons.add("branch_not_accepted")
            blocking = True

    source = "intermediary" if world.via_intermediary else "client"
    usable = set()
    mine = [(i, g) for i, g in enumerate(world.mandates) if g.holder_is_me and g.source == source and covers(g)]
    if not mine:
        reasons.add("no_mandate")
    for i, grant in mine:
        problems = moment_problems(grant, "mandate")
        if grant.branch is not None:
            if world.via_intermediary:
                problems.append("branch_in_chain")
            elif not service.branches_ok:
                problems.append("branch_not_accepted")
            elif world.asked_branch is not None and world.asked_branch != grant.branch:
                problems.append("branch_other")
        reasons.update(problems)
        if not problems:
            usable.add(i)

    usable_chains = set()
    if world.via_intermediary:
        chains = [(i, g) for i, g in enumerate(world.chains) if g.source == "client" and covers(g)]
        if not chains:
            reasons.add("chain_mandate_missing")
        for i, grant in chains:
            problems = moment_problems(grant, "chain_mandate")
            reasons.update(problems)
            if not problems:
                usable_chains.add(i)

    allowed = bool(usable) and (bool(usable_chains) or not world.via_intermediary) and not blocking
    if not allowed:
        return False, reasons, set(), set(), set()
    if any(world.mandates[i].branch is None for i in usable):
        branches = {world.asked_branch}
    else:
        branches = {world.mandates[i].branch for i in usable}
    return True, set(), usable, usable_chains, branches


# --------------------------------------------------------------------------------------------------------------------
# Strategies

# Lists with repeats weigh the draws towards worlds where a login can succeed, so both outcomes are well explored.
levels = st.sampled_from(LEVELS)
strong_levels = st.sampled_from([40, 30, 40, *LEVELS])
offsets = st.sampled_from(OFFSETS)
starts = st.sampled_from([-100_000, -100_000, -100_000, *OFFSETS])
ends = st.sampled_from([100_000, 100_000, 100_000, *OFFSETS])


def mostly_none(values: st.SearchStrategy, *, none: int = 2) -> st.SearchStrategy:
    """None in about ``none`` of ``none + 1`` draws."""
    return st.sampled_from([True] * none + [False]).flatmap(lambda empty: st.none() if empty else values)


@st.composite
def services(draw: st.DrawFn) -> Service:
    return Service(
        provider=draw(st.integers(0, PROVIDERS - 1)),
        uuid=draw(st.integers(0, len(UUIDS) - 1)),
        level=draw(levels),
        branches_ok=draw(st.booleans()),
    )


@st.composite
def grants(draw: st.DrawFn, *, sources: list[str], branches: bool, other_holders: bool) -> Grant:
    kind = draw(st.sampled_from(["all", "providers", "all", "services"]))
    start = draw(starts)
    end = draw(ends.filter(lambda end: end > start))
    return Grant(
        source=draw(st.sampled_from([sources[0], sources[0], *sources])),
        kind=kind,
        providers=draw(st.frozensets(st.integers(0, PROVIDERS - 1), min_size=1))
        if kind == "providers"
        else frozenset(),
        uuids=draw(st.frozensets(st.integers(0, len(UUIDS) - 1), min_size=1)) if kind == "services" else frozenset(),
        level=draw(strong_levels),
        start=start,
        end=end,
        revoked=draw(mostly_none(offsets)),
        branch=draw(mostly_none(st.sampled_from(BRANCHES))) if branches else None,
        holder_is_me=draw(st.sampled_from([True, True, False])) if other_holders else True,
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    via_intermediary = draw(st.booleans())
    relevant = ["intermediary", "client"] if via_intermediary else ["client", "intermediary"]
    service = draw(services())
    others = tuple(
        definition
        for definition in draw(st.lists(services(), max_size=3))
        if (definition.provider, definition.uuid) != (service.provider, service.uuid)
    )
    # A branch restriction names a branch of the organisation that granted the mandate.
    own_branch = {"client": lambda b: b, "intermediary": lambda b: b and FOREIGN_BRANCH, "other": lambda b: None}
    mandates = tuple(
        Grant(**{**grant.__dict__, "branch": own_branch[grant.source](grant.branch)})
        for grant in draw(
            st.lists(grants(sources=[*relevant, "other"], branches=True, other_holders=True), min_size=1, max_size=5)
        )
    )
    return World(
        service=service,
        other_definitions=others,
        means=draw(st.tuples(strong_levels, st.sampled_from(["active"] * 6 + ["suspended", "revoked"])))
        if draw(st.sampled_from([True] * 9 + [False]))
        else None,
        mandates=mandates,
        chains=tuple(
            draw(
                st.lists(
                    grants(sources=["client", "other"], branches=False, other_holders=False), min_size=1, max_size=3
                )
            )
        ),
        asked_level=draw(mostly_none(levels)),
        via_intermediary=via_intermediary,
        asked_branch=draw(mostly_none(st.sampled_from([*BRANCHES, FOREIGN_BRANCH]))),
    )


# --------------------------------------------------------------------------------------------------------------------
# The pure evaluation against the reference


def facts(grant: Grant, index: int) -> GrantFacts:
    return GrantFacts(
        id=index,
        scope_kind=grant.kind,
        level=grant.level,
        valid_from=AT + dt.timedelta(minutes=grant.start),
        valid_until=AT + dt.timedelta(minutes=grant.end),
        revoked_at=None if grant.revoked is None else AT + dt.timedelta(minutes=grant.revoked),
        providers=grant.providers,
        services=frozenset(UUIDS[u] for u in grant.uuids),
        branch=grant.branch,
    )


@settings(max_examples=1500, deadline=None)
@given(worlds())
def test_evaluate_agrees_with_the_naive_reference(world: World) -> None:
    source = "intermediary" if world.via_intermediary else "client"
    mandates = [facts(g, i) for i, g in enumerate(world.mandates) if g.holder_is_me and g.source == source]
    chains = [facts(g, i) for i, g in enumerate(world.chains) if g.source == "client"]
    service = world.service
    decision = evaluate(
        service=ServiceFacts(
            provider_id=service.provider,
            uuid=UUIDS[service.uuid],
            level=Level(service.level),
            branch_restriction_allowed=service.branches_ok,
        ),
        means=MeansFacts(level=Level(world.means[0]), status=world.means[1]) if world.means else None,
        mandates=mandates,
        chain_mandates=chains if world.via_intermediary else None,
        level=None if world.asked_level is None else Level(world.asked_level),
        at=AT,
        branch=world.asked_branch,
        organisation_branches=frozenset(BRANCHES) if world.asked_branch else None,
    )
    allowed, reasons, usable, usable_chains, branches = naive_decision(world)

    assert decision.allowed == allowed
    assert set(decision.codes) == reasons
    assert decision.level == (world.asked_level or service.level)
    assert set(decision.mandates) == usable
    if allowed:
        assert (decision.chain_mandate in usable_chains) if world.via_intermediary else decision.chain_mandate is None
        assert decision.branch in branches


# --------------------------------------------------------------------------------------------------------------------
# The whole engine, through the database


class DecideAgainstTheReference(TestCase):
    """Each example builds its world in a transaction that hypothesis rolls back afterwards."""

    def build(self, world: World) -> tuple[Person, Organisation, Organisation, ServiceInstance, dict[int, int]]:
        providers = [
            ServiceProvider.objects.create(oin=f"{n + 1:020d}", name_nl=f"Dienstverlener {n}") for n in range(PROVIDERS)
        ]
        service = world.service
        definition = ServiceDefinition.objects.create(
            provider=providers[service.provider],
            uuid=UUIDS[service.uuid],
            name_nl="Dienst",
            level=service.level,
            branch_restriction_allowed=service.branches_ok,
        )
        instance = ServiceInstance.objects.create(provider=providers[service.provider], definition=definition, index=1)
        for n, other in enumerate(world.other_definitions):
            ServiceDefinition.objects.get_or_create(
                provider=providers[other.provider],
                uuid=UUIDS[other.uuid],
                defaults={"name_nl": f"Andere dienst {n}", "level": other.level},
            )
        orgs = {
            name: Organisation.objects.create(kvk=f"{10_000_001 + n:08d}", name=name)
            for n, name in enumerate(["client", "intermediary", "other"])
        }
        branches = {number: Branch.objects.create(organisation=orgs["client"], number=number) for number in BRANCHES}
        branches[FOREIGN_BRANCH] = Branch.objects.create(organisation=orgs["intermediary"], number=FOREIGN_BRANCH)
        me = Person.objects.create(email="ik@example.nl", name="Ik")
        someone = Person.objects.create(email="iemand@example.nl", name="Iemand")
        if world.means is not None:
            Means.objects.create(person=me, level=world.means[0], status=MeansStatus(world.means[1]))
        Means.objects.create(person=someone, level=40)

        def moment(offset: int | None) -> dt.datetime | None:
            return None if offset is None else AT + dt.timedelta(minutes=offset)

        def common(grant: Grant) -> dict:
            return {
                "scope_kind": grant.kind,
                "level": grant.level,
                "valid_from": moment(grant.start),
                "valid_until": moment(grant.end),
                "revoked_at": moment(grant.revoked),
                "revoked_by": "system" if grant.revoked is not None else "",
                "granted_by": "system",
            }

        ids: dict[int, int] = {}
        for index, grant in enumerate(world.mandates):
            row = Mandate.objects.create(
                holder=me if grant.holder_is_me else someone,
                organisation=orgs[grant.source],
                branch=branches[grant.branch] if grant.branch else None,
                **common(grant),
            )
            ids[row.pk] = index
            MandateProvider.objects.bulk_create(
                MandateProvider(mandate=row, provider=providers[p]) for p in grant.providers
            )
            MandateService.objects.bulk_create(MandateService(mandate=row, service_uuid=UUIDS[u]) for u in grant.uuids)
        for index, grant in enumerate(world.chains):
            row = ChainMandate.objects.create(
                client=orgs[grant.source], intermediary=orgs["intermediary"], **common(grant)
            )
            ids[-row.pk] = index
            ChainMandateProvider.objects.bulk_create(
                ChainMandateProvider(chain_mandate=row, provider=providers[p]) for p in grant.providers
            )
            ChainMandateService.objects.bulk_create(
                ChainMandateService(chain_mandate=row, service_uuid=UUIDS[u]) for u in grant.uuids
            )
        return me, orgs["client"], orgs["intermediary"], instance, ids

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(worlds())
    def test_decide_agrees_with_the_naive_reference(self, world: World) -> None:
        me, client, intermediary, instance, ids = self.build(world)

        decision = decide(
            me,
            client,
            instance,
            level=None if world.asked_level is None else Level(world.asked_level),
            at=AT,
            intermediary=intermediary if world.via_intermediary else None,
            branch=world.asked_branch,
        )
        allowed, reasons, usable, usable_chains, branches = naive_decision(world)

        assert decision.allowed == allowed
        assert set(decision.codes) == reasons
        assert {ids[pk] for pk in decision.mandates} == usable
        if allowed:
            assert decision.branch in branches
            if world.via_intermediary:
                assert ids[-decision.chain_mandate] in usable_chains
