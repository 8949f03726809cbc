"""What the personal pages show a person, and only about that person: "Mijn Sleutelbos" and "Where can I log in?".

Every query here starts from the person, so nobody sees another person's mandates or an organisation they do not
belong to. "Where can I log in?" loads the person's facts once and hands them, with every service of the catalogue,
to :func:`sleutelbos.mandates.decisions.evaluate`: the same facts and the same evaluation as
:func:`~sleutelbos.mandates.decisions.decide`, in a fixed number of queries however large the catalogue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import reduce
from operator import and_, or_

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition
from sleutelbos.identity.models import Means, Person, TotpDevice, WebAuthnCredential
from sleutelbos.mandates.decisions import (
    Decision,
    chain_mandate_facts,
    evaluate,
    mandate_facts,
    means_facts,
    service_facts,
)
from sleutelbos.mandates.describe import Validity, ValidityState, describe_grants, describe_validity
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.organisations.models import Membership, Organisation

# --------------------------------------------------------------------------------------------------------------------
# The overview


@dataclass(frozen=True)
class GrantLine:
    """A mandate or chain mandate as the overview shows it."""

    grant: Mandate | ChainMandate
    scope: str
    validity: Validity


@dataclass
class OrganisationOverview:
    """One of my organisations: whether I manage its mandates, my mandates from it, and the clients it acts for."""

    organisation: Organisation
    manager_level: Level | None = None
    mandates: list[GrantLine] = field(default_factory=list)
    chain_mandates: list[GrantLine] = field(default_factory=list)

    @property
    def warnings(self) -> int:
        return sum(line.validity.warning for line in self.mandates)


@dataclass
class Overview:
    means: Means | None
    totp_devices: list[TotpDevice]
    security_keys: list[WebAuthnCredential]
    recovery_codes_left: int
    organisations: list[OrganisationOverview]


# Current grants first, then those still to come, then the ended ones.
_STATE_ORDER = {
    ValidityState.EXPIRING: 0,
    ValidityState.VALID: 0,
    ValidityState.NOT_YET_VALID: 1,
    ValidityState.EXPIRED: 2,
    ValidityState.REVOKED: 3,
}


def _lines(grants: list[Mandate] | list[ChainMandate], at: dt.datetime) -> list[GrantLine]:
    """The grants with their phrase and validity: current ones first, then by client (chain mandates) and end."""
    scopes = describe_grants(grants)
    lines = [GrantLine(grant, scopes[grant.pk], describe_validity(grant, at)) for grant in grants]
    lines.sort(
        key=lambda line: (
            _STATE_ORDER[line.validity.state],
            line.grant.client.name.casefold() if isinstance(line.grant, ChainMandate) else "",
            line.grant.valid_until,
        )
    )
    return lines


def overview_for(person: Person, *, at: dt.datetime | None = None) -> Overview:
    """My means and factors, my organisations, my mandates per organisation and the chain mandates I act under."""
    at = at or timezone.now()
    organisations: dict[int, OrganisationOverview] = {}
    for membership in Membership.objects.filter(person=person).select_related("organisation"):
        organisations[membership.organisation_id] = OrganisationOverview(
            membership.organisation,
            Level(membership.manager_level) if membership.manager_level is not None else None,
        )
    mandates = list(Mandate.objects.filter(holder=person).select_related("organisation", "branch"))
    for mandate in mandates:
        organisations.setdefault(mandate.organisation_id, OrganisationOverview(mandate.organisation))
    for line in _lines(mandates, at):
        organisations[line.grant.organisation_id].mandates.append(line)
    # A chain mandate serves me only through my own mandate from the intermediary, so only those are shown.
    chains = list(
        ChainMandate.objects.filter(
            intermediary_id__in={mandate.organisation_id for mandate in mandates}
        ).select_related("client")
    )
    for line in _lines(chains, at):
        organisations[line.grant.intermediary_id].chain_mandates.append(line)
    means = Means.objects.filter(person=person).first()
    return Overview(
        means=means,
        totp_devices=list(person.totp_devices.filter(confirmed_at__isnull=False)),
        security_keys=list(person.webauthn_credentials.all()),
        recovery_codes_left=person.recovery_codes.filter(used_at__isnull=True).count(),
        organisations=sorted(organisations.values(), key=lambda o: (o.organisation.name.casefold(), o.organisation.pk)),
    )


# --------------------------------------------------------------------------------------------------------------------
# Where can I log in?


@dataclass(frozen=True)
class Choice:
    """An organisation I can check: one of mine, or a client of one of mine that I would act for as intermediary."""

    organisation: Organisation
    intermediary: Organisation | None = None

    @property
    def key(self) -> str:
        """The value in the page's address: the KvK number, or ``<client KvK>-via-<intermediary KvK>``."""
        if self.intermediary is None:
            return self.organisation.kvk
        return f"{self.organisation.kvk}-via-{self.intermediary.kvk}"

    @property
    def label(self) -> str:
        if self.intermediary is None:
            return _("%(name)s (KvK %(kvk)s)") % {"name": self.organisation.name, "kvk": self.organisation.kvk}
        return _("%(name)s (KvK %(kvk)s), on behalf of %(intermediary)s") % {
            "name": self.organisation.name,
            "kvk": self.organisation.kvk,
            "intermediary": self.intermediary.name,
        }


def choices_for(person: Person) -> list[Choice]:
    """The organisations I belong to or hold a mandate from, then the clients those act for by chain mandate."""
    memberships = Membership.objects.filter(person=person).select_related("organisation")
    mine = {membership.organisation_id: membership.organisation for membership in memberships}
    for mandate in Mandate.objects.filter(holder=person).select_related("organisation"):
        mine.setdefault(mandate.organisation_id, mandate.organisation)
    with_mandate = Mandate.objects.filter(holder=person).values("organisation_id")
    clients = {
        (chain.client_id, chain.intermediary_id): Choice(chain.client, chain.intermediary)
        for chain in ChainMandate.objects.filter(intermediary_id__in=with_mandate).select_related(
            "client", "intermediary"
        )
    }
    direct = sorted((Choice(org) for org in mine.values()), key=lambda c: (c.organisation.name.casefold(), c.key))
    chained = sorted(
        clients.values(), key=lambda c: (c.organisation.name.casefold(), c.intermediary.name.casefold(), c.key)
    )
    return direct + chained


#: The reasons a new mandate cannot cure: the means itself must change first.
MEANS_REASONS = frozenset({"means_inactive", "means_level_too_low"})


@dataclass(frozen=True)
class MissingMandate:
    """The mandate that would let me in: from which organisation, for which service, at which level."""

    kvk: str
    provider_oin: str
    service_uuid: str
    level: Level


@dataclass(frozen=True)
class ServiceCheck:
    """One service of the catalogue: whether I can log in there for the chosen organisation, and why (not)."""

    definition: ServiceDefinition
    decision: Decision
    mandate_scope: str = ""
    chain_scope: str = ""
    missing: MissingMandate | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed


_WORDS = re.compile(r"\S+")


def catalogue_search(query: str) -> list[ServiceDefinition]:
    """The service definitions whose provider or service name (Dutch or English) holds every word of ``query``."""
    definitions = ServiceDefinition.objects.select_related("provider")
    words = _WORDS.findall(query)
    if words:
        definitions = definitions.filter(
            reduce(
                and_,
                (
                    reduce(
                        or_,
                        (
                            Q(**{f"{name}__icontains": word})
                            for name in ("name_nl", "name_en", "provider__name_nl", "provider__name_en")
                        ),
                    )
                    for word in words
                ),
            )
        )
    found = list(definitions)
    # Names are shown in the active language, so sort on what the reader sees.
    found.sort(key=lambda d: (d.provider.name.casefold(), d.name.casefold(), d.pk))
    return found


def login_check(
    person: Person, choice: Choice, definitions: list[ServiceDefinition], *, at: dt.datetime | None = None
) -> list[ServiceCheck]:
    """Decide every service of ``definitions`` for me and the chosen organisation, at its catalogue level.

    A refused service names the mandate to request when a mandate is what is missing: from the organisation (from
    the intermediary when acting for a client), for exactly that provider's service, at the service's level. When
    the means is what stands in the way, or only the client's chain mandate is missing, no request of mine helps.
    """
    at = at or timezone.now()
    grantor = choice.intermediary or choice.organisation
    means = means_facts(person)
    mandates = mandate_facts(holders=[person], organisations=[grantor]).get((person.pk, grantor.pk), [])
    chains = None
    chain_scopes: dict[int, str] = {}
    if choice.intermediary is not None:
        chains = chain_mandate_facts(intermediaries=[choice.intermediary], client=choice.organisation).get(
            (choice.organisation.pk, choice.intermediary.pk), []
        )
        chain_scopes = describe_grants(
            list(ChainMandate.objects.filter(client=choice.organisation, intermediary=choice.intermediary))
        )
    mandate_scopes = describe_grants(list(Mandate.objects.filter(holder=person, organisation=grantor)))
    checks = []
    for definition in definitions:
        facts = service_facts(definition)
        decision = evaluate(service=facts, means=means, mandates=mandates, chain_mandates=chains, at=at)
        if decision.allowed:
            checks.append(
                ServiceCheck(
                    definition,
                    decision,
                    mandate_scope=mandate_scopes.get(decision.mandates[0], ""),
                    chain_scope=chain_scopes.get(decision.chain_mandate, "") if decision.chain_mandate else "",
                )
            )
            continue
        codes = set(decision.codes)
        mandate_missing = "no_mandate" in codes or any(reason.mandate is not None for reason in decision.reasons)
        missing = None
        if mandate_missing and not codes & MEANS_REASONS:
            missing = MissingMandate(
                kvk=grantor.kvk,
                provider_oin=definition.provider.oin,
                service_uuid=str(definition.uuid),
                level=Level(definition.level),
            )
        checks.append(ServiceCheck(definition, decision, missing=missing))
    return checks
