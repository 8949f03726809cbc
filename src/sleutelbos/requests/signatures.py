"""Who must sign a request, how many signatures it needs, and the document a signature is about.

The table (supplier practice; domain notes, "Who signs"):

=====================================  ==========  ================================  ==============================
authority per KvK                      EH2 / EH2+  EH3                               EH4
=====================================  ==========  ================================  ==============================
alone / independently authorized       1           1                                 in person
jointly or restricted authorized       2           a majority of the representatives in person; restricted refused
=====================================  ==========  ================================  ==============================

A signature is about one exact document: the SHA-256 of a canonical JSON of everything the request asks. A request
changed after a signature no longer has the hash that was signed, so that signature no longer counts. The date of the
KvK extract is not part of it: an extract looked up again with the same data leaves the signatures valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from sleutelbos.catalogue.levels import Level
from sleutelbos.organisations.kvk import KvkExtract
from sleutelbos.organisations.models import Authority, Membership
from sleutelbos.requests.models import Request, Signer


class SignaturesNotOnline(ValidationError):
    """The request cannot be signed online (EH4), or not by these representatives at all."""


def signatures_required(authorities: Iterable[Authority | str], level: Level | int, *, representatives: int) -> int:
    """How many signatures a request at ``level`` needs from signers with these KvK ``authorities``.

    ``representatives`` is the number of representatives the KvK extract lists for the organisation; at EH3 a jointly
    or restricted authorized request needs a majority of them. At EH4 signatures are not collected online
    (``SignaturesNotOnline``), and restricted authority is not allowed at all.
    """
    authorities = [Authority(authority) for authority in authorities]
    level = Level(level)
    if level >= Level.EH4:
        if Authority.RESTRICTED in authorities:
            raise SignaturesNotOnline(
                _("At EH4 a representative with restricted authority cannot sign a request."), code="eh4_restricted"
            )
        raise SignaturesNotOnline(
            _("At EH4 the representatives sign in person at the supplier, not online."), code="eh4_in_person"
        )
    if Authority.ALONE in authorities:
        return 1
    if level >= Level.EH3:
        return max(representatives, 1) // 2 + 1
    return 2


def extract_to_json(extract: KvkExtract) -> dict[str, Any]:
    """The KvK extract as the snapshot a request keeps."""
    return {
        "kvk": extract.kvk,
        "name": extract.name,
        "rsin": extract.rsin,
        "legal_form": str(extract.legal_form),
        "extract_date": extract.extract_date.isoformat(),
        "branches": [{"number": b.number, "name": b.name, "city": b.city} for b in extract.branches],
        "functionaries": [
            {
                "name": f.name,
                "date_of_birth": f.date_of_birth.isoformat(),
                "role": f.role,
                "authority": str(f.authority),
            }
            for f in extract.functionaries
        ],
    }


@dataclass(frozen=True)
class Representative:
    """A functionary of the request's KvK extract."""

    name: str
    date_of_birth: dt.date
    role: str
    authority: Authority


def same_name(a: str, b: str) -> bool:
    """Names compare without regard to case or surrounding and repeated spaces."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def representatives(request: Request) -> list[Representative]:
    """The functionaries of the request's KvK extract."""
    return [
        Representative(
            name=item["name"],
            date_of_birth=dt.date.fromisoformat(item["date_of_birth"]),
            role=item.get("role", ""),
            authority=Authority(item["authority"]),
        )
        for item in request.kvk_extract.get("functionaries", [])
    ]


def find_representative(request: Request, *, name: str, date_of_birth: dt.date | None) -> Representative | None:
    """The functionary of the extract with this name (any case) and exactly this date of birth."""
    if date_of_birth is None:
        return None
    for representative in representatives(request):
        if representative.date_of_birth == date_of_birth and same_name(representative.name, name):
            return representative
    return None


def managers_may_sign() -> bool:
    """Whether a mandate manager of the organisation may sign instead of a representative (a supplier's choice)."""
    return bool(getattr(settings, "SLEUTELBOS_MANAGERS_MAY_SIGN", False))


def possible_signers(request: Request) -> list[Representative]:
    """Who may sign the request: the extract's functionaries and, where the supplier allows it, the organisation's
    mandate managers at or above the request's level (not the applicant; a manager needs a date of birth on file,
    to confirm who they are when signing). A manager's signature counts as a jointly authorized one.
    """
    signers = representatives(request)
    if not managers_may_sign() or request.organisation_id is None:
        return signers
    level = request_level(request)
    managers = (
        Membership.objects.filter(
            organisation_id=request.organisation_id,
            manager_level__gte=level,
            person__is_active=True,
            person__date_of_birth__isnull=False,
        )
        .exclude(person_id=request.applicant_id)
        .select_related("person")
        .order_by("person__name", "person_id")
    )
    for membership in managers:
        person = membership.person
        if any(same_name(s.name, person.name) and s.date_of_birth == person.date_of_birth for s in signers):
            continue
        signers.append(
            Representative(
                name=person.name,
                date_of_birth=person.date_of_birth,
                role=_("mandate manager"),
                authority=Authority.JOINT,
            )
        )
    return signers


def find_signer(request: Request, *, name: str, date_of_birth: dt.date | None) -> Representative | None:
    """The possible signer (see :func:`possible_signers`) with this name (any case) and date of birth."""
    if date_of_birth is None:
        return None
    for signer in possible_signers(request):
        if signer.date_of_birth == date_of_birth and same_name(signer.name, name):
            return signer
    return None


def applicant_identity(request: Request) -> tuple[str, dt.date | None]:
    """The applicant's name and date of birth: from their account, or as given with a first application."""
    if request.applicant is not None:
        return request.applicant.name, request.applicant.date_of_birth
    return request.applicant_name, request.applicant_date_of_birth


def applicant_representative(request: Request) -> Representative | None:
    """The applicant as a functionary of the extract, if they are one."""
    name, date_of_birth = applicant_identity(request)
    return find_representative(request, name=name, date_of_birth=date_of_birth)


def applicant_alone_authorized(request: Request) -> bool:
    """Whether the applicant is, per the KvK extract, alone/independently authorized for the organisation.

    Such an applicant becomes mandate manager automatically and signs the request themselves.
    """
    representative = applicant_representative(request)
    return representative is not None and representative.authority == Authority.ALONE


def request_level(request: Request) -> Level:
    """The highest level the request asks for: of its mandates, chain mandates and manager role."""
    levels = [m.level for m in request.mandates.all()] + [c.level for c in request.chain_mandates.all()]
    if request.wants_manager and request.manager_level:
        levels.append(request.manager_level)
    return Level(max(levels, default=Level.EH2))


def _grant(item: Any) -> dict[str, Any]:
    return {
        "scope": item.scope_kind,
        "providers": sorted(item.providers),
        "services": sorted(str(uuid).lower() for uuid in item.services),
        "level": Level(item.level).label,
        "years": item.years,
    }


def document(request: Request) -> dict[str, Any]:
    """Everything the request asks, as plain data: what the signers see and sign."""
    name, date_of_birth = applicant_identity(request)
    mandates = [{**_grant(m), "branch": m.branch_number} for m in request.mandates.all()]
    chains = [{**_grant(c), "intermediary": c.intermediary_kvk} for c in request.chain_mandates.all()]
    return {
        "kind": request.kind,
        "kvk": request.kvk,
        # The organisation's data as the register gave them; not the day it was looked up, so that staff can look
        # it up again before approval without voiding signatures on unchanged data.
        "extract": {key: value for key, value in request.kvk_extract.items() if key != "extract_date"},
        "applicant": {
            "account": request.applicant_id,
            "name": name,
            "email": request.applicant.email if request.applicant is not None else request.applicant_email,
            "date_of_birth": date_of_birth.isoformat() if date_of_birth else None,
        },
        "manager": Level(request.manager_level).label if request.wants_manager and request.manager_level else None,
        "mandates": sorted(mandates, key=lambda item: json.dumps(item, sort_keys=True)),
        "chain_mandates": sorted(chains, key=lambda item: json.dumps(item, sort_keys=True)),
    }


def document_hash(request: Request) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`document`."""
    canonical = json.dumps(document(request), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def signature_valid(signer: Signer, current_hash: str) -> bool:
    """A signature counts when it is current and was given on the document as it is now."""
    return (
        signer.superseded_at is None
        and signer.signed_at is not None
        and bool(signer.signed_document_hash)
        and signer.signed_document_hash == current_hash
    )


def signatures_complete(request: Request) -> bool:
    """Whether the valid signatures on the request as it is now are enough."""
    current = document_hash(request)
    if current != request.document_hash:
        return False
    valid = [signer for signer in request.signers.all() if signature_valid(signer, current)]
    if not valid:
        return False
    if any(signer.authority == Authority.ALONE for signer in valid):
        return True
    needed = signatures_required(
        [signer.authority for signer in valid], request_level(request), representatives=len(representatives(request))
    )
    return len(valid) >= needed
