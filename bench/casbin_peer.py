"""The PyCasbin peer: the same rules as an RBAC-with-domains model in a ``casbin.FastEnforcer``.

Policies ``p = sub, dom, obj, act, valid_from, valid_until``: one per (mandate, scope object) with sub = the person,
dom = the organisation, obj = ``svc:<ServiceUUID>``, ``prov:<provider id>`` or ``*`` (all services), act = the
mandate's level; chain mandates are policies with sub = ``org:<intermediary>``, dom = the client. The active means
is a role: ``g, <person>, means:<level>``, with the roles ``means:EH4 > EH3 > EH2+ > EH2`` so that a higher means
has every lower one. (Not a role in a domain: pycasbin's domain role manager builds each domain with a quadratic
matching pass, so one "means" domain with 100 000s of people does not finish loading.) Levels are two-digit strings
and moments 11-digit epoch seconds, so the matcher's string comparisons order them correctly. The FastEnforcer
filters the policies on (sub, dom) first.

What Casbin does not express, and how the peer stands in for it:

* revocation: a revoked mandate is a removed policy (correct here because every revocation in the world is past);
* chain mandates: two ``enforce`` calls (the person for the intermediary, the intermediary for the client) that
  the caller combines; Casbin evaluates one policy at a time and cannot join two;
* refusal reasons: Casbin answers allow/deny only, Sleutelbos names every reason;
* branch restrictions and "a lower level than the catalogue's" are not part of the benchmark world.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import casbin
from casbin.model import FastModel

from sleutelbos.identity.models import MeansStatus
from sleutelbos.mandates.models import ScopeKind
from world import Grant, Query, World

NOT_EXPRESSED = (
    "refusal reasons (allow/deny only)",
    "chain mandates (two enforce calls combined by the caller)",
    "revocation (a removed policy)",
)

MODEL = """
[request_definition]
r = sub, dom, obj, prov, act, now, means

[policy_definition]
p = sub, dom, obj, act, valid_from, valid_until

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.sub == p.sub && r.dom == p.dom && (p.obj == "*" || p.obj == r.obj || p.obj == r.prov) \
&& p.act >= r.act && p.valid_from <= r.now && r.now < p.valid_until \
&& (r.means == "" || g(r.sub, r.means))
"""

LEVEL_ROLES = (("means:40", "means:30"), ("means:30", "means:25"), ("means:25", "means:20"))


def _moment(value: dt.datetime) -> str:
    return f"{int(value.timestamp()):011d}"


def _objects(grant: Grant) -> Iterator[str]:
    if grant.kind == ScopeKind.ALL:
        yield "*"
    elif grant.kind == ScopeKind.PROVIDERS:
        yield from (f"prov:{p}" for p in grant.providers)
    else:
        yield from (f"svc:{u}" for u in grant.services)


def _policies(grants: list[Grant], subject: Callable[[int], str], at: dt.datetime) -> Iterator[list[str]]:
    for grant in grants:
        if grant.revoked_at is not None and grant.revoked_at <= at:
            continue
        for obj in _objects(grant):
            yield [
                subject(grant.subject),
                f"o{grant.organisation}",
                obj,
                f"{grant.level:02d}",
                _moment(grant.valid_from),
                _moment(grant.valid_until),
            ]


class CasbinPeer:
    """A FastEnforcer loaded with the world's mandates, chain mandates and means."""

    name = "PyCasbin"

    def __init__(self, world: World) -> None:
        model = FastModel([0, 1])
        model.load_model_from_text(MODEL)
        self.enforcer = casbin.FastEnforcer(model, cache_key_order=[0, 1])
        self.now = _moment(world.now)
        policies = [
            *_policies(world.mandates, lambda person: f"p{person}", world.now),
            *_policies(world.chains, lambda organisation: f"org:{organisation}", world.now),
        ]
        # Straight into the FastPolicy: pycasbin 2.8's add_policies is quadratic with it (FastPolicy.__len__ walks
        # every policy, and add_policy asks for the length once per rule).
        store = self.enforcer.get_model().model["p"]["p"].policy
        for policy in policies:
            store.append(policy)
        means = [
            [f"p{person}", f"means:{level}"]
            for person, (level, status) in enumerate(world.means)
            if person and status == MeansStatus.ACTIVE
        ]
        # Likewise straight into the model, then one build of the role links: add_grouping_policies checks every
        # new link against a plain list of all links, which is quadratic too.
        self.enforcer.get_model().model["g"]["g"].policy.extend([list(link) for link in LEVEL_ROLES] + means)
        self.enforcer.build_role_links()
        self.policy_count = len(policies) + len(means)

    def prepare(self, query: Query) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
        """The enforce arguments for a decision (a second set for the chain mandate)."""
        service = query.service
        obj, prov, act = f"svc:{service.uuid}", f"prov:{service.provider_id}", f"{service.level:02d}"
        dom = f"o{query.intermediary or query.organisation}"
        person = (f"p{query.person}", dom, obj, prov, act, self.now, f"means:{service.level}")
        if query.intermediary is None:
            return person, None
        return person, (f"org:{query.intermediary}", f"o{query.organisation}", obj, prov, act, self.now, "")

    def decide(self, prepared: tuple[tuple[str, ...], tuple[str, ...] | None]) -> bool:
        """One decision: the person's mandate (and, with an intermediary, the chain mandate)."""
        enforce = self.enforcer.enforce
        direct, chain = prepared
        return enforce(*direct) and (chain is None or enforce(*chain))
