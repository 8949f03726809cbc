"""A request in plain words: the one place that says what a request asks, in the active language.

The wizard's pages, the mails about a request, the signing page and the request PDF all say it with these words, so
that the applicant, the signers and staff never read different things. What a requested (chain) mandate covers is
phrased by :mod:`sleutelbos.mandates.describe`, as the portal phrases real mandates ("all services of Kadaster,
including new services"); this module adds what only a request has: the branch, the duration from approval, the
intermediary and the manager role asked for. The names of providers, services and intermediaries are read once per
request, not per mandate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceProvider
from sleutelbos.mandates.describe import describe_scope, service_labels
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.organisations.models import Authority, LegalForm, Organisation
from sleutelbos.requests.models import Request, RequestedChainMandate, RequestedMandate, RequestKind, Signer
from sleutelbos.requests.signatures import (
    SignaturesNotOnline,
    applicant_identity,
    representatives,
    request_level,
    signatures_required,
)

# --------------------------------------------------------------------------------------------------------------------
# Words for the parts of a request


def listed(items: Iterable[str]) -> str:
    """ "A, B and C" in the active language."""
    return get_text_list(list(items), _("and"))


def organisation_name(request: Request) -> str:
    """The organisation's name as the KvK extract gives it (or as registered)."""
    name = (request.kvk_extract or {}).get("name")
    if name:
        return str(name)
    if request.organisation_id is not None:
        return request.organisation.name
    return request.kvk


def branch_label(request: Request, number: str) -> str:
    """A branch of the request's extract: "De Gouden Korst Noord, Sleutelstad (000045678902)"; else its number."""
    for branch in (request.kvk_extract or {}).get("branches", []):
        if branch.get("number") == number:
            name = f"{branch['name']}, {branch['city']}" if branch.get("city") else branch["name"]
            return f"{name} ({number})"
    return number


def years_words(years: int) -> str:
    """ "3 years"."""
    return ngettext("%(years)d year", "%(years)d years", years) % {"years": years}


def duration_words(years: int) -> str:
    """How long a requested mandate runs: "3 years from approval"."""
    return ngettext("%(years)d year from approval", "%(years)d years from approval", years) % {"years": years}


def manager_role(request: Request) -> str:
    """The manager role the request asks for: "mandate manager of X, up to level EH3"; empty when it asks for none."""
    if not request.wants_manager or request.manager_level is None:
        return ""
    return _("mandate manager of %(organisation)s, up to level %(level)s") % {
        "organisation": organisation_name(request),
        "level": Level(request.manager_level).label,
    }


@dataclass(frozen=True)
class GrantWords:
    """One requested mandate or chain mandate in words.

    ``scope`` is the phrase of what it covers, without level; ``scope_at_level`` the same with its level.
    ``identifiers`` name each provider with its OIN and each service with its ServiceUUID, for the record.
    """

    item: RequestedMandate | RequestedChainMandate
    number: int
    scope: str
    scope_at_level: str
    identifiers: list[str]
    level: str
    years: str
    duration: str
    branch: str = ""
    intermediary_kvk: str = ""
    intermediary: str = ""

    @property
    def chain(self) -> bool:
        return isinstance(self.item, RequestedChainMandate)

    @property
    def title(self) -> str:
        """ "Mandate 1", or "Chain mandate 1 for Accountants B.V. (KvK 92345678)"."""
        if self.chain:
            return _("Chain mandate %(number)d for %(intermediary)s") % {
                "number": self.number,
                "intermediary": self.intermediary,
            }
        return _("Mandate %(number)d") % {"number": self.number}


def requested_grants(request: Request, *, chain: bool | None = None) -> list[GrantWords]:
    """The request's mandates, then its chain mandates, in words (only one of both with ``chain``).

    The names of all providers, services and intermediaries are read at once: a query each, whatever the number of
    mandates.
    """
    items: list[RequestedMandate | RequestedChainMandate] = []
    if chain is not True:
        items += list(request.mandates.all())
    if chain is not False:
        items += list(request.chain_mandates.all())
    oins = {oin for item in items if item.scope_kind == ScopeKind.PROVIDERS for oin in item.providers}
    uuids = {UUID(str(value)) for item in items if item.scope_kind == ScopeKind.SERVICES for value in item.services}
    kvks = {item.intermediary_kvk for item in items if isinstance(item, RequestedChainMandate)}
    providers = {p.oin: p.name for p in ServiceProvider.objects.filter(oin__in=oins)} if oins else {}
    services = service_labels(uuids)
    intermediaries = dict(Organisation.objects.filter(kvk__in=kvks).values_list("kvk", "name")) if kvks else {}
    numbers = {False: 0, True: 0}
    words = []
    for item in items:
        is_chain = isinstance(item, RequestedChainMandate)
        numbers[is_chain] += 1
        provider_names = [
            providers.get(oin, _("unknown service provider %(oin)s") % {"oin": oin}) for oin in item.providers
        ]
        service_names = [services[UUID(str(value))] for value in item.services]
        if item.scope_kind == ScopeKind.PROVIDERS:
            identifiers = [f"{name} (OIN {oin})" for name, oin in zip(provider_names, item.providers, strict=True)]
        elif item.scope_kind == ScopeKind.SERVICES:
            identifiers = [
                f"{name} (ServiceUUID {value})" for name, value in zip(service_names, item.services, strict=True)
            ]
        else:
            identifiers = []
        kind = ScopeKind(item.scope_kind)
        branch = getattr(item, "branch_number", "")
        words.append(
            GrantWords(
                item=item,
                number=numbers[is_chain],
                scope=describe_scope(kind, providers=provider_names, services=service_names),
                scope_at_level=describe_scope(kind, level=item.level, providers=provider_names, services=service_names),
                identifiers=identifiers,
                level=Level(item.level).label,
                years=years_words(item.years),
                duration=duration_words(item.years),
                branch=branch_label(request, branch) if branch else "",
                intermediary_kvk=item.intermediary_kvk if is_chain else "",
                intermediary=_intermediary(item.intermediary_kvk, intermediaries) if is_chain else "",
            )
        )
    return words


def _intermediary(kvk: str, names: dict[str, str]) -> str:
    if kvk in names:
        return f"{names[kvk]} (KvK {kvk})"
    return _("the organisation with KvK number %(kvk)s") % {"kvk": kvk}


# --------------------------------------------------------------------------------------------------------------------
# The whole request, for the signing page and the PDF


@dataclass(frozen=True)
class SignerLine:
    """A signer: who, and what happened with their signature."""

    name: str
    authority: str
    signed_at: dt.datetime | None
    declined_at: dt.datetime | None
    decline_reason: str
    address: str
    user_agent: str
    signed_document_hash: str


@dataclass
class Summary:
    """Everything a request asks, who must sign it, and the signatures so far."""

    kind: str
    organisation: str
    kvk: str
    rsin: str
    legal_form: str
    extract_date: dt.date | None
    branches: list[str]
    functionaries: list[str]
    applicant_name: str
    applicant_email: str
    applicant_date_of_birth: dt.date | None
    mandates: list[GrantWords] = field(default_factory=list)
    chain_mandates: list[GrantWords] = field(default_factory=list)
    manager: str = ""
    signers: list[SignerLine] = field(default_factory=list)
    signatures_needed: str = ""
    document_hash: str = ""
    submitted_at: dt.datetime | None = None


def _signatures_needed(request: Request, signers: list[Signer]) -> str:
    if not signers:
        return ""
    try:
        needed = signatures_required(
            [signer.authority for signer in signers],
            request_level(request),
            representatives=len(representatives(request)),
        )
    except SignaturesNotOnline as refusal:
        return " ".join(refusal.messages)
    return ngettext("This request needs %(count)d signature.", "This request needs %(count)d signatures.", needed) % {
        "count": needed
    }


def summarise(request: Request) -> Summary:
    """The request in words, in the language active now."""
    extract = request.kvk_extract or {}
    name, born = applicant_identity(request)
    legal_form = extract.get("legal_form", "")
    signers = list(request.signers.filter(superseded_at__isnull=True))
    summary = Summary(
        kind=RequestKind(request.kind).label,
        organisation=organisation_name(request),
        kvk=request.kvk,
        rsin=extract.get("rsin", ""),
        legal_form=str(LegalForm(legal_form).label) if legal_form in LegalForm.values else legal_form,
        extract_date=request.extract_date,
        branches=[branch_label(request, branch["number"]) for branch in extract.get("branches", [])],
        functionaries=[
            f"{rep.name} ({rep.role}, {Authority(rep.authority).label})"
            if rep.role
            else f"{rep.name} ({Authority(rep.authority).label})"
            for rep in representatives(request)
        ],
        applicant_name=name,
        applicant_email=request.applicant.email if request.applicant is not None else request.applicant_email,
        applicant_date_of_birth=born,
        document_hash=request.document_hash,
        submitted_at=request.submitted_at,
    )
    for grant in requested_grants(request):
        (summary.chain_mandates if grant.chain else summary.mandates).append(grant)
    role = manager_role(request)
    if role:
        summary.manager = _("The applicant becomes %(role)s.") % {"role": role}
    summary.signers = [
        SignerLine(
            name=signer.functionary_name,
            authority=Authority(signer.authority).label,
            signed_at=signer.signed_at,
            declined_at=signer.declined_at,
            decline_reason=signer.decline_reason,
            address=signer.address or "",
            user_agent=signer.user_agent,
            signed_document_hash=signer.signed_document_hash,
        )
        for signer in signers
    ]
    summary.signatures_needed = _signatures_needed(request, signers)
    return summary
