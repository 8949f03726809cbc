"""A request in plain words: what the signing page and the request PDF show, in the active language.

One summary serves both, so the page a signer reads and the PDF they can keep never say different things.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.organisations.models import Authority, LegalForm
from sleutelbos.requests.models import Request, RequestedChainMandate, RequestedMandate, RequestKind, Signer
from sleutelbos.requests.signatures import (
    SignaturesNotOnline,
    applicant_identity,
    representatives,
    request_level,
    signatures_required,
)


@dataclass(frozen=True)
class Grant:
    """One requested mandate or chain mandate in words."""

    title: str
    scope: str
    items: list[str]
    level: str
    duration: str
    branch: str = ""


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
    mandates: list[Grant] = field(default_factory=list)
    chain_mandates: list[Grant] = field(default_factory=list)
    manager: str = ""
    signers: list[SignerLine] = field(default_factory=list)
    signatures_needed: str = ""
    document_hash: str = ""
    submitted_at: dt.datetime | None = None


def _providers(oins: list[str]) -> list[str]:
    names = {provider.oin: provider.name for provider in ServiceProvider.objects.filter(oin__in=oins)}
    return [
        f"{names[oin]} (OIN {oin})" if oin in names else _("unknown provider (OIN %(oin)s)") % {"oin": oin}
        for oin in oins
    ]


def _services(uuids: list[str]) -> list[str]:
    wanted = {UUID(value) for value in uuids}
    definitions = ServiceDefinition.objects.filter(uuid__in=wanted).select_related("provider")
    found: dict[str, list[str]] = {}
    for definition in definitions:
        found.setdefault(str(definition.uuid), []).append(f"{definition.name} ({definition.provider.name})")
    lines = []
    for value in uuids:
        lines.extend(found.get(str(UUID(value)), [_("unknown service (%(uuid)s)") % {"uuid": value}]))
    return lines


def _duration(years: int) -> str:
    return ngettext("%(years)d year from approval", "%(years)d years from approval", years) % {"years": years}


def _scope(item: RequestedMandate | RequestedChainMandate) -> tuple[str, list[str]]:
    if item.scope_kind == ScopeKind.ALL:
        return _("All services of all service providers."), []
    if item.scope_kind == ScopeKind.PROVIDERS:
        return _("All services of these service providers:"), _providers(list(item.providers))
    return _("These services:"), _services(list(item.services))


def _branch_name(request: Request, number: str) -> str:
    for branch in request.kvk_extract.get("branches", []):
        if branch["number"] == number:
            name = f"{branch['name']}, {branch['city']}" if branch.get("city") else branch["name"]
            return _("branch %(number)s (%(name)s)") % {"number": number, "name": name}
    return _("branch %(number)s") % {"number": number}


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
        organisation=extract.get("name", ""),
        kvk=request.kvk,
        rsin=extract.get("rsin", ""),
        legal_form=str(LegalForm(legal_form).label) if legal_form in LegalForm.values else legal_form,
        extract_date=request.extract_date,
        branches=[
            ", ".join(part for part in (branch["number"], branch["name"], branch.get("city", "")) if part)
            for branch in extract.get("branches", [])
        ],
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
    for number, mandate in enumerate(request.mandates.all(), start=1):
        scope, items = _scope(mandate)
        summary.mandates.append(
            Grant(
                title=_("Mandate %(number)d") % {"number": number},
                scope=scope,
                items=items,
                level=Level(mandate.level).label,
                duration=_duration(mandate.years),
                branch=_branch_name(request, mandate.branch_number) if mandate.branch_number else "",
            )
        )
    for number, chain in enumerate(request.chain_mandates.all(), start=1):
        scope, items = _scope(chain)
        summary.chain_mandates.append(
            Grant(
                title=_("Chain mandate %(number)d for intermediary KvK %(kvk)s")
                % {"number": number, "kvk": chain.intermediary_kvk},
                scope=scope,
                items=items,
                level=Level(chain.level).label,
                duration=_duration(chain.years),
            )
        )
    if request.wants_manager and request.manager_level:
        summary.manager = _("The applicant becomes mandate manager of the organisation, up to level %(level)s.") % {
            "level": Level(request.manager_level).label
        }
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
