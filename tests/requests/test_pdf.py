"""The request PDF: every piece of data signers and staff need, the signatures once given, in its language."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zlib

import pytest
from django.utils import formats, translation

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.models import Authority
from sleutelbos.requests.models import Request, RequestKind
from sleutelbos.requests.pdf import font_dir, request_pdf
from sleutelbos.requests.services import (
    ChainMandateWish,
    MandateWish,
    SignerWish,
    request_create_draft,
    request_sign,
    request_submit,
)
from tests import factories as f
from tests.requests.pdf_text import pdf_text, squeezed
from tests.requests.signer_code import confirm_identity
from tests.requests.test_services import BORN, BRANCH, applicant, extract_of

pytestmark = pytest.mark.django_db

REPRESENTATIVES = [
    ("Gülşen Öztürk", dt.date(1970, 5, 6), Authority.JOINT),
    ("Ĳsbrand van der Meulen", dt.date(1968, 7, 8), Authority.JOINT),
    ("Chloë Dupré", dt.date(1975, 9, 10), Authority.JOINT),
]


def a_request(language: str = "nl", applicant_name: str = "Eva Employee") -> Request:
    organisation = f.organisation(name="Bakkerij Ĳzerman & Zoën B.V.")
    providers = [f.provider(name="Belastingdienst"), f.provider(name="Gemeente Ölst")]
    intermediary = f.organisation(name="Administratiekantoor Één")
    person = applicant(applicant_name)
    return request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=extract_of(organisation, *REPRESENTATIVES),
        mandates=[
            MandateWish(scope=Scope.of_providers(*providers), level=Level.EH3, years=3, branch_number=BRANCH),
        ],
        chain_mandates=[ChainMandateWish(intermediary_kvk=intermediary.kvk, scope=Scope.all(), level=Level.EH2)],
        wants_manager=True,
        manager_level=Level.EH2,
        language=language,
    )


def submitted(request: Request):
    signers = [
        SignerWish(name=name, date_of_birth=born, email=f"s{i}@example.nl")
        for i, (name, born, _) in enumerate(REPRESENTATIVES[:2])
    ]
    return request_submit(actor=Actor.for_person(request.applicant), request=request, signers=signers)


def test_the_system_font_is_found_so_every_name_can_be_set() -> None:
    assert font_dir() is not None


def test_the_pdf_holds_the_whole_request() -> None:
    request = a_request()
    submitted(request)
    request.refresh_from_db()
    pdf = request_pdf(request)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    flat = " ".join(text.split())

    # Organisation and the KvK extract, with its date (Dutch date format: the request is in Dutch).
    assert "Bakkerij Ĳzerman & Zoën B.V." in flat
    assert "B.V.." not in flat  # a sentence ending in the name ends in one full stop
    assert request.kvk in flat
    assert request.kvk_extract["rsin"] in flat
    with translation.override("nl"):
        assert formats.date_format(request.extract_date, "DATE_FORMAT") in flat
        assert formats.date_format(BORN, "DATE_FORMAT") in flat  # the applicant's date of birth
    assert "Hoofdvestiging" in flat  # the branch of the extract, and of the mandate
    for name, _born, _authority in REPRESENTATIVES:
        assert name in flat
    # The applicant.
    assert "Eva Employee" in flat
    assert request.applicant.email in flat
    # What is asked: both providers with their OINs, levels, durations, the chain mandate and the manager role.
    for provider_oin in request.mandates.get().providers:
        assert provider_oin in flat
    assert "Belastingdienst" in flat
    assert "Gemeente Ölst" in flat
    assert "EH3" in flat
    assert "EH2" in flat
    assert request.chain_mandates.get().intermediary_kvk in flat
    # The signers asked and the fingerprint of the document.
    assert request.document_hash in squeezed(text)


def test_a_signed_request_pdf_shows_who_signed_when_from_where_and_what() -> None:
    request = a_request()
    links = submitted(request)
    signed = []
    for link, address in zip(links, ["192.0.2.7", "2001:db8::5"], strict=True):
        confirm_identity(link)
        signed.append(
            request_sign(
                token=link.token,
                name=link.signer.functionary_name,
                date_of_birth=link.signer.date_of_birth,
                address=address,
                user_agent="Mozilla/5.0 (X11; Linux) Firefox/140.0",
            )
        )
    request.refresh_from_db()
    text = pdf_text(request_pdf(request))
    flat = " ".join(text.split())
    assert "192.0.2.7" in flat
    assert "2001:db8::5" in flat
    assert "Firefox/140.0" in flat
    assert squeezed(text).count(request.document_hash) == 3  # the document, and the hash each signer signed
    with translation.override("nl"):
        for signer in signed:
            assert formats.date_format(signer.signed_at.astimezone(), "DATETIME_FORMAT").split()[0] in flat


def test_the_pdf_is_in_the_request_language() -> None:
    dutch = request_pdf(a_request("nl"))
    english = request_pdf(a_request("en", "Emma English"))
    with translation.override("nl"):
        dutch_born = formats.date_format(BORN, "DATE_FORMAT")
    with translation.override("en"):
        english_born = formats.date_format(BORN, "DATE_FORMAT")
    assert dutch_born != english_born
    assert dutch_born in pdf_text(dutch)
    assert english_born in pdf_text(english)
    assert "What is requested" in pdf_text(english)
    assert b"/Lang (en)" in english
    assert b"/Lang (nl)" in dutch


def text_operators(pdf: bytes) -> bytes:
    """The page contents as the PDF draws them (streams inflated)."""
    streams = [match for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, flags=re.DOTALL)]
    drawn = b""
    for match in streams:
        data = match.group(1).rstrip(b"\r\n")
        with contextlib.suppress(zlib.error):
            data = zlib.decompress(data)
        if b"BT" in data:
            drawn += data
    return drawn


def test_the_kind_of_request_keeps_the_spelling_of_eherkenning() -> None:
    person = applicant("Eva Employee")
    first = request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name="Jan de Bakker",
        applicant_email="jan@bakker.nl",
        applicant_date_of_birth=BORN,
        extract=extract_of(f.organisation(name="Bakkerij De Gouden Korst B.V."), *REPRESENTATIVES),
        language="nl",
    )

    flat = " ".join(pdf_text(request_pdf(first)).split())

    assert "Eerste aanvraag voor eHerkenning voor Bakkerij De Gouden Korst B.V." in flat


def test_branches_and_representatives_are_a_list_under_their_label_without_the_none_dash() -> None:
    lines = [line.strip() for line in pdf_text(request_pdf(a_request())).splitlines() if line.strip()]

    for label in ("Vestigingen", "Vertegenwoordigers"):
        following = lines[lines.index(label) + 1]
        assert following.startswith("•"), (label, following)
    assert "Hoofdvestiging" in lines[lines.index("Vestigingen") + 1]
    assert lines[lines.index("Vertegenwoordigers") + 1].startswith("• Gülşen Öztürk")


def test_text_is_set_flush_left_so_a_wrapped_service_line_is_not_stretched() -> None:
    municipality = f.provider(name="Gemeente Sleutelstad")
    services = [
        f.definition(municipality, name="Omgevingsvergunning aanvragen voor bouwen, slopen en verbouwen"),
        f.definition(municipality, name="Melding activiteiten besluit milieubeheer voor bedrijven"),
    ]
    person = applicant("Eva Employee")
    request = request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=extract_of(f.organisation(), *REPRESENTATIVES),
        mandates=[MandateWish(scope=Scope.of_services(*(s.uuid for s in services)), level=Level.EH3)],
        language="nl",
    )

    pdf = request_pdf(request)

    text = pdf_text(pdf)
    assert "Omgevingsvergunning aanvragen voor bouwen, slopen en verbouwen" in " ".join(text.split())
    # fpdf2 justifies a wrapped line by spreading its words with a TJ array; flush-left lines are plain Tj strings.
    drawn = text_operators(pdf)
    assert b" Tj" in drawn
    assert b"] TJ" not in drawn
