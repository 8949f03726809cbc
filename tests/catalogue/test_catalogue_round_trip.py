"""A catalogue file survives import and export unchanged, and the export is signed by the broker."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from lxml import etree

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.catalogue_io import catalogue_export, catalogue_import
from sleutelbos.catalogue.models import (
    RequestedAttribute,
    ServiceCertificate,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
)
from sleutelbos.identity.models import Person
from sleutelbos.saml.idp import idp_config
from sleutelbos.saml.protocol import catalogue_xml as cx
from sleutelbos.saml.protocol.keys import generate_development_keypair
from sleutelbos.saml.protocol.signatures import verify
from sleutelbos.saml.protocol.xml import DS, ESC

pytestmark = pytest.mark.django_db

EVERY_ELEMENT = Path(__file__).parent / "fixtures" / "every-element.xml"
TWO_PROVIDERS = Path(__file__).parents[1] / "saml" / "fixtures" / "catalogue" / "two-providers.xml"
BROKER = "00000003273229750000"
HAVENSTAD = "00000001002000000000"


@pytest.fixture(autouse=True)
def _broker_oin(settings: Any) -> None:
    settings.SAML_IDP_OIN = BROKER


def canonical(data: bytes) -> bytes:
    """The catalogue as exclusive c14n, without what belongs to one publication rather than to the catalogue: the
    signature, ``ID`` and ``IssueInstant``. Indentation and comments do not count."""
    root = etree.fromstring(data, etree.XMLParser(remove_blank_text=True, remove_comments=True))
    for signature in root.findall(f"{{{DS}}}Signature"):
        root.remove(signature)
    for name in ("ID", f"{{{ESC}}}IssueInstant"):
        root.attrib.pop(name, None)
    return etree.tostring(root, method="c14n", exclusive=True)


def wipe() -> None:
    for model in (RequestedAttribute, ServiceCertificate, ServiceInstance, ServiceDefinition, ServiceProvider):
        model.objects.all().delete()


# --- Lossless ---------------------------------------------------------------------------------------------------------


def test_a_file_with_every_element_is_exported_exactly_as_it_was_imported() -> None:
    data = EVERY_ELEMENT.read_bytes()

    catalogue_import(actor=SYSTEM, data=data)
    exported = catalogue_export()

    assert canonical(exported) == canonical(data)


def test_export_import_export_is_identical() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    catalogue_import(actor=SYSTEM, data=TWO_PROVIDERS.read_bytes())
    first = catalogue_export()

    wipe()
    report = catalogue_import(actor=SYSTEM, data=first)
    second = catalogue_export()

    assert report.signature_verified
    assert canonical(second) == canonical(first)
    assert cx.parse_catalogue(second).providers == cx.parse_catalogue(first).providers


def test_importing_the_export_again_changes_nothing_and_records_nothing() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    events = AuditEvent.objects.count()

    report = catalogue_import(actor=SYSTEM, data=catalogue_export())

    assert (report.created, report.updated) == ([], [])
    assert AuditEvent.objects.count() == events


def test_the_import_stores_every_element() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())

    provider = ServiceProvider.objects.get(oin=HAVENSTAD)
    assert provider.other_languages == {"esc:OrganizationDisplayName": [["fy", "Gemeente Havenstêd"]]}
    assert not ServiceProvider.objects.get(oin="00000001005000000000").is_public
    mooring = provider.definitions.get(name_nl="Ligplaatsvergunning")
    assert mooring.description_urls == [
        ["nl", "https://www.havenstad.example/ligplaats"],
        ["en", "https://www.havenstad.example/en/mooring"],
    ]
    assert mooring.acting_subject_types == [["urn:etoegang:1.9:EntityConcernedID:Pseudo"]]
    assert (mooring.names_broker, mooring.broker_oin) == (True, "")
    company = mooring.requested_attributes.get(position=1)
    assert (company.friendly_name, company.values, company.is_required) == ("Bedrijfsnaam", ["handelsnaam"], True)
    assert company.other_languages == {
        "esc:PurposeStatement": [["de", "Die Genehmigung lautet auf den Namen des Unternehmens."]]
    }
    assert mooring.requested_attributes.get(position=2).is_required is None
    dues = provider.definitions.get(name_nl="Havengeld")
    assert (dues.is_public, dues.names_broker, dues.description_nl, dues.description_en) == (
        False,
        False,
        "",
        "Harbour dues, for the port's own staff.",
    )
    assert provider.definitions.get(name_nl="Melding gevaarlijke stoffen").broker_oin == "00000001823288444000"

    desk = provider.instances.get(index=1)
    assert desk.additional_broker_oins == ["00000001823288444000", "00000003244440010000"]
    assert (desk.sso_support, desk.classifiers) == (True, ["eIDAS-inbound", "haven"])
    assert desk.other_languages == {"esc:ServiceURL": [["de", "https://loket.havenstad.example/de/liegeplatz"]]}
    current, next_year = desk.certificates.order_by("pk")
    assert current.key_name == "havenstad-encryptie-2026"
    assert current.chain_pem.count("BEGIN CERTIFICATE") == 1
    assert (current.not_before.year, current.not_after.year) == (2026, 2046)
    assert (next_year.key_name, next_year.not_before.year) == ("", 2031)
    assert provider.instances.get(index=2).sso_support is False
    hazardous = provider.instances.get(index=3)
    assert (hazardous.service_url, hazardous.service_url_en) == ("", "https://loket.havenstad.example/en/hazardous")
    assert hazardous.sso_support is None


def test_changing_only_a_certificate_or_an_attribute_updates_that_item() -> None:
    data = EVERY_ELEMENT.read_text()
    catalogue_import(actor=SYSTEM, data=data.encode())
    changed = data.replace("havenstad-encryptie-2026", "havenstad-encryptie-2026b").replace(
        "To tell you when the permit is ready.", "To tell you when your permit is ready."
    )

    report = catalogue_import(actor=SYSTEM, data=changed.encode())

    assert report.created == []
    assert sorted(report.updated) == sorted(
        [
            f"urn:etoegang:DV:{HAVENSTAD}:services:1",
            f"dienstdefinitie 1a2b3c4d-0000-4000-8000-000000000001 van {HAVENSTAD}",
        ]
    )
    desk = ServiceInstance.objects.get(provider__oin=HAVENSTAD, index=1)
    assert desk.certificates.order_by("pk").first().key_name == "havenstad-encryptie-2026b"
    assert RequestedAttribute.objects.filter(purpose_en="To tell you when your permit is ready.").exists()
    actions = AuditEvent.objects.values_list("action", flat=True)
    assert list(actions).count("service_certificate:removed") == 2
    assert list(actions).count("service_definition:attributes_replaced") == 2  # created once, replaced once


def test_a_certificate_that_is_not_one_is_refused_naming_the_element() -> None:
    data = EVERY_ELEMENT.read_text()
    start = data.index("<ds:X509Certificate>") + len("<ds:X509Certificate>")
    broken = (data[:start] + "QUJD" + data[start + 4 :]).encode()

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=broken)

    (problem,) = excinfo.value.problems
    assert problem.element == "md:KeyDescriptor"
    lines = broken.decode().splitlines()
    assert "<md:KeyDescriptor" in lines[problem.line - 1]
    assert "<ds:X509Certificate>QUJD" in lines[problem.line + 3]
    assert not ServiceProvider.objects.exists()


# --- Signatures -----------------------------------------------------------------------------------------------------


def test_the_export_is_signed_by_the_broker_and_valid_against_the_schema() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())

    exported = catalogue_export()

    root = cx.parse_xml(exported)
    assert cx.schema_problems(root) == []
    signature = root[0]
    assert signature.tag == f"{{{DS}}}Signature"
    assert signature.find(f".//{{{DS}}}Reference").get("URI") == "#" + root.get("ID")
    signed = verify(root, [idp_config().cert_pem])
    assert canonical(etree.tostring(signed)) == canonical(exported)


def test_an_unsigned_export_can_be_asked_for() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())

    exported = catalogue_export(sign=False)

    assert cx.parse_xml(exported).find(f"{{{DS}}}Signature") is None
    assert canonical(exported) == canonical(catalogue_export())


def test_a_file_changed_after_signing_is_refused_with_a_clear_message() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    tampered = catalogue_export().replace(b"Havengeld", b"Havengeld gratis")
    wipe()
    events = AuditEvent.objects.count()

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=tampered)

    (problem,) = excinfo.value.problems
    assert problem.element == "ds:Signature"
    with translation.override("en"):
        assert "the file was changed after it was signed" in problem.describe(gettext)
    assert not ServiceProvider.objects.exists()
    assert AuditEvent.objects.count() == events


def test_a_signed_file_is_checked_against_the_certificates_given() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    exported = catalogue_export()
    wipe()
    _key, stranger = generate_development_keypair("someone-else.example")

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=exported, certificates=[stranger])
    assert excinfo.value.problems[0].element == "ds:Signature"
    assert not ServiceProvider.objects.exists()

    report = catalogue_import(actor=SYSTEM, data=exported, certificates=[stranger, idp_config().cert_pem])
    assert report.signature_verified
    assert ServiceProvider.objects.count() == 2


def test_an_unsigned_file_is_imported_without_a_signature_check() -> None:
    report = catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())

    assert not report.signature_verified
    assert ServiceProvider.objects.count() == 2


# --- The command ----------------------------------------------------------------------------------------------------


def test_the_command_exports_signed_by_default_and_checks_the_signature_on_import(tmp_path: Path) -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    signed, unsigned = tmp_path / "signed.xml", tmp_path / "unsigned.xml"
    certificate = tmp_path / "broker.pem"
    certificate.write_bytes(idp_config().cert_pem)

    call_command("catalogue", "export", str(signed), stderr=StringIO())
    call_command("catalogue", "export", "--unsigned", str(unsigned), stderr=StringIO())
    out = StringIO()
    with translation.override("en"):
        call_command("catalogue", "import", "--certificate", str(certificate), str(signed), stdout=out)

    assert cx.parse_catalogue(signed.read_bytes()).signed
    assert not cx.parse_catalogue(unsigned.read_bytes()).signed
    assert "The signature of the file holds." in out.getvalue()
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(signed.read_bytes().replace(b"Ligplaatsvergunning", b"Ligplaatsvergunning!"))
    with pytest.raises(CommandError, match="ds:Signature"):
        call_command("catalogue", "import", str(tampered), stdout=StringIO())


def test_staff_see_the_requested_attributes_and_certificates_of_an_imported_file() -> None:
    catalogue_import(actor=SYSTEM, data=EVERY_ELEMENT.read_bytes())
    client = Client()
    client.force_login(Person.objects.create_superuser("staf@sleutelbos.example", "Staf", "a long test password"))
    mooring = ServiceDefinition.objects.get(provider__oin=HAVENSTAD, name_nl="Ligplaatsvergunning")
    desk = ServiceInstance.objects.get(provider__oin=HAVENSTAD, index=1)

    definition_page = client.get(reverse("admin:catalogue_servicedefinition_change", args=[mooring.pk]))
    instance_page = client.get(reverse("admin:catalogue_serviceinstance_change", args=[desk.pk]))
    listing = client.get(reverse("admin:catalogue_servicecertificate_changelist"))

    assert "De vergunning staat op naam van het bedrijf." in definition_page.content.decode()
    assert "havenstad-encryptie-2026" in instance_page.content.decode()
    assert listing.content.decode().count("havenstad.example") >= 2
