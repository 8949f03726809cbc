"""Test steps for verification: requests that wait for staff, and a KvK register file the test controls."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import DocumentType, Person
from sleutelbos.identity.services import DOCUMENT_KINDS, EvidenceDetails, evidence_kind_for, person_create
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.kvk import KvkBranch, KvkExtract, KvkFunctionary
from sleutelbos.organisations.models import Authority, LegalForm
from sleutelbos.requests.models import Request, RequestKind, RequestState
from sleutelbos.requests.services import (
    IssuedLink,
    MandateWish,
    SignerWish,
    request_create_draft,
    request_sign,
    request_submit,
)
from tests.requests.signer_code import confirm_identity

JAN = ("Jan de Bakker", dt.date(1971, 3, 14), Authority.ALONE)
FATIMA = ("Fatima El Amrani", dt.date(1985, 9, 2), Authority.RESTRICTED)
PIETER = ("Pieter van Dijk", dt.date(1968, 1, 9), Authority.JOINT)
ANOUK = ("Anouk Meijer", dt.date(1974, 10, 23), Authority.JOINT)
BRANCH = KvkBranch(number="000045678901", name="De Gouden Korst Centrum", city="Sleutelstad")

_kvk = itertools.count(1)


def new_kvk() -> str:
    """A KvK number no other request or organisation of the test uses."""
    return f"{80_000_000 + next(_kvk):08d}"


def extract(
    *functionaries: tuple[str, dt.date, Authority],
    kvk: str | None = None,
    name: str = "Bakkerij De Gouden Korst B.V.",
    days_old: int = 0,
) -> KvkExtract:
    """An extract of an organisation with these functionaries, looked up ``days_old`` days ago."""
    return KvkExtract(
        kvk=kvk or new_kvk(),
        name=name,
        rsin="820246633",
        legal_form=LegalForm.BV,
        branches=(BRANCH,),
        functionaries=tuple(
            KvkFunctionary(name=who, date_of_birth=born, role="Bestuurder", authority=authority)
            for who, born, authority in functionaries
        ),
        extract_date=dt.date.today() - dt.timedelta(days=days_old),
    )


def write_register(directory: Path, settings: Any, *extracts: KvkExtract, name: str = "register") -> Path:
    """A KvK register file with these extracts (dated today), used for every lookup from now on."""
    path = directory / f"{name}.json"
    entries = [
        {
            "kvk": item.kvk,
            "name": item.name,
            "rsin": item.rsin,
            "legal_form": str(item.legal_form),
            "extract_date": dt.date.today().isoformat(),
            "branches": [{"number": b.number, "name": b.name, "city": b.city} for b in item.branches],
            "functionaries": [
                {
                    "name": f.name,
                    "date_of_birth": f.date_of_birth.isoformat(),
                    "role": f.role,
                    "authority": str(f.authority),
                }
                for f in item.functionaries
            ],
        }
        for item in extracts
    ]
    path.write_text(json.dumps({"organisations": entries}), encoding="utf-8")
    settings.SLEUTELBOS_KVK_SOURCE = "file"
    settings.SLEUTELBOS_KVK_FILE = str(path)
    return path


def applicant(name: str, *, level: Level = Level.EH3, born: dt.date | None = None) -> Person:
    """A person with an account and an active means at ``level``."""
    kind = evidence_kind_for(level)
    evidence = EvidenceDetails(kind=kind, document_type=DocumentType.PASSPORT if kind in DOCUMENT_KINDS else "")
    email = name.lower().replace(" ", ".") + "@example.nl"
    return person_create(actor=SYSTEM, name=name, email=email, level=level, date_of_birth=born, evidence=evidence)


def sign(link: IssuedLink, *, address: str = "192.0.2.7", user_agent: str = "Firefox/128.0") -> None:
    """The signer of ``link`` confirms who they are with the mailed code and signs."""
    confirm_identity(link)
    request_sign(
        token=link.token,
        name=link.signer.functionary_name,
        date_of_birth=link.signer.date_of_birth,
        address=address,
        user_agent=user_agent,
    )


def first_application(
    kvk_extract: KvkExtract,
    *,
    name: str = JAN[0],
    email: str = "jan@bakker.nl",
    born: dt.date = JAN[1],
    level: Level = Level.EH3,
    language: str = "nl",
) -> Request:
    """A first application without an account by an alone authorized applicant, signed and ready for verification.

    It asks for all services at ``level`` for five years, for one branch; the applicant becomes manager.
    """
    request = request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name=name,
        applicant_email=email,
        applicant_date_of_birth=born,
        extract=kvk_extract,
        mandates=[MandateWish(scope=Scope.all(), level=level, years=5, branch_number=BRANCH.number)],
    )
    Request.objects.filter(pk=request.pk).update(language=language)
    request.refresh_from_db()
    for link in request_submit(actor=SYSTEM, request=request):
        sign(link)
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    return request


def joint_request(
    person: Person, kvk_extract: KvkExtract, providers: list[Any], *, level: Level = Level.EH3
) -> Request:
    """An applicant with an account asks a jointly authorized organisation for two providers; both sign."""
    me = Actor.for_person(person)
    request = request_create_draft(
        actor=me,
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=kvk_extract,
        mandates=[MandateWish(scope=Scope.of_providers(*providers), level=level, years=3)],
    )
    representatives = [f for f in kvk_extract.functionaries if f.authority == Authority.JOINT]
    signers = [
        SignerWish(name=f.name, date_of_birth=f.date_of_birth, email=f"signer{i}@example.nl")
        for i, f in enumerate(representatives)
    ]
    for link in request_submit(actor=me, request=request, signers=signers):
        sign(link)
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    return request
