"""Importing a service provider's catalogue file into the catalogue, exporting the whole catalogue, and the command."""

from __future__ import annotations

import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.catalogue_io import catalogue_export, catalogue_import
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.catalogue.services import (
    service_definition_create,
    service_definition_update,
    service_instance_create,
    service_instance_update,
    service_provider_create,
    service_provider_update,
)
from sleutelbos.saml.idp import DEVELOPMENT_OIN
from sleutelbos.saml.protocol import catalogue_xml as cx

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parents[1] / "saml" / "fixtures" / "catalogue"
CATALOGUE = FIXTURES / "two-providers.xml"
BROKER = "00000003273229750000"
CITY = "00000001001234567000"
AGENCY = "00000001009876543000"
SHARED_UUID = uuid.UUID("3b7d3a5e-6a2f-4c1e-9f1a-2d4b5c6d7e8f")
KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"


@pytest.fixture(autouse=True)
def _broker_oin(settings: Any) -> None:
    settings.SAML_IDP_OIN = BROKER


def catalogue_state() -> dict[str, object]:
    """Everything the catalogue's models hold, in a form that compares by value."""
    return {
        "providers": sorted(ServiceProvider.objects.values_list("oin", "name_nl", "name_en")),
        "definitions": sorted(
            (
                d.provider.oin,
                str(d.uuid),
                d.name_nl,
                d.name_en,
                d.description_nl,
                d.description_en,
                d.level,
                d.branch_restriction_allowed,
                repr(d.entity_concerned_types),
            )
            for d in ServiceDefinition.objects.select_related("provider")
        ),
        "instances": sorted(
            (i.provider.oin, i.index, str(i.uuid), str(i.definition.uuid), i.service_url, i.privacy_policy_url)
            for i in ServiceInstance.objects.select_related("provider", "definition")
        ),
    }


def empty_catalogue() -> None:
    ServiceInstance.objects.all().delete()
    ServiceDefinition.objects.all().delete()
    ServiceProvider.objects.all().delete()


# --- Import ---------------------------------------------------------------------------------------------------------


def test_import_creates_exactly_the_providers_definitions_and_instances_of_the_file() -> None:
    report = catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    assert len(report.created) == 2 + 4 + 4
    assert report.updated == []
    city = ServiceProvider.objects.get(oin=CITY)
    agency = ServiceProvider.objects.get(oin=AGENCY)
    assert (city.name_nl, city.name_en) == ("Gemeente Voorbeeldstad", "Municipality of Voorbeeldstad")
    assert (agency.name_nl, agency.name_en) == ("Omgevingsdienst Regio Voorbeeld", "")
    assert ServiceProvider.objects.count() == 2

    soil = city.definitions.get(uuid=SHARED_UUID)
    assert (soil.name_nl, soil.name_en, soil.level) == ("Melding bodemactiviteit", "Notification of soil activity", 30)
    assert soil.entity_concerned_types == [[KVK, RSIN]]
    assert soil.description_en == "Report an activity that affects the soil, such as remediation or earthworks."
    parking = city.definitions.get(name_nl="Parkeervergunning bedrijven")
    assert parking.level == Level.EH2_PLUS
    assert parking.branch_restriction_allowed
    assert parking.entity_concerned_types == [[KVK], [RSIN]]
    assert parking.description_en == ""
    assert agency.definitions.get(uuid=SHARED_UUID).level == Level.EH3
    assert agency.definitions.get(name_nl="Vergunningsaanvraag zware ongevallen").level == Level.EH4
    assert ServiceDefinition.objects.filter(uuid=SHARED_UUID).count() == 2
    assert ServiceDefinition.objects.count() == 4

    desk = ServiceInstance.objects.get(provider=city, index=1)
    assert desk.definition == soil
    assert desk.uuid == uuid.UUID("f4a6d0c2-7e19-4b38-8c5d-1a2b3c4d5e6f")
    assert desk.service_id == f"urn:etoegang:DV:{CITY}:services:1"
    assert desk.service_url == "https://loket.voorbeeldstad.example/bodem"
    assert desk.privacy_policy_url == "https://www.voorbeeldstad.example/privacy"
    assert sorted(agency.instances.values_list("index", flat=True)) == [1, 4]
    assert ServiceInstance.objects.count() == 4


def test_import_keeps_what_the_models_once_left_out() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    parking = ServiceDefinition.objects.get(name_nl="Parkeervergunning bedrijven")
    assert parking.other_languages == {"esc:ServiceName": [["de", "Parkgenehmigung für Unternehmen"]]}
    company, email = parking.requested_attributes.order_by("position")
    assert (company.name, company.is_required) == ("urn:etoegang:1.11:attribute-represented:CompanyName", True)
    assert company.purpose_en == "The permit is issued in the name of the company."
    assert (email.is_required, email.purpose_nl, email.purpose_en) == (
        False,
        "Om u te laten weten dat de vergunning klaar is.",
        "",
    )
    desk = ServiceInstance.objects.get(provider__oin=CITY, index=1)
    assert desk.service_url_en == "https://loket.voorbeeldstad.example/en/soil"
    assert (desk.sso_support, desk.classifiers) == (False, ["eIDAS-inbound"])
    (certificate,) = desk.certificates.all()
    assert certificate.key_name == "voorbeeldstad-encryptie-2025"
    assert (certificate.not_before.year, certificate.not_after.year) == (2025, 2030)
    assert "voorbeeldstad" in certificate.subject
    assert not ServiceDefinition.objects.get(name_nl="Vergunningsaanvraag zware ongevallen").is_public
    soil_agency = ServiceInstance.objects.get(provider__oin=AGENCY, index=1)
    assert soil_agency.additional_broker_oins == ["00000001823288444000"]
    assert soil_agency.broker_oin == ""  # this broker


def test_import_is_audited() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("service_provider:created") == 2
    assert actions.count("service_definition:created") == 4
    assert actions.count("service_instance:created") == 4


def test_importing_the_same_file_again_changes_nothing() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())
    before = catalogue_state()
    events = AuditEvent.objects.count()

    report = catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    assert (report.created, report.updated, report.unchanged) == ([], [], 10)
    assert catalogue_state() == before
    assert AuditEvent.objects.count() == events


def test_importing_a_changed_file_updates_names_levels_and_urls_without_duplicates() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())
    changed = (
        CATALOGUE.read_text()
        .replace("Gemeente Voorbeeldstad<", "Gemeente Voorbeeldstad-Zuid<")
        .replace("Parkeervergunning bedrijven<", "Parkeervergunning voor bedrijven<")
        .replace("assurance-class:loa2plus", "assurance-class:loa3")
        .replace("https://mijn.odvoorbeeld.example/brzo", "https://mijn.odvoorbeeld.example/zware-ongevallen")
    )

    report = catalogue_import(actor=SYSTEM, data=changed.encode())

    assert len(report.updated) == 3
    assert report.created == []
    assert ServiceProvider.objects.get(oin=CITY).name_nl == "Gemeente Voorbeeldstad-Zuid"
    parking = ServiceDefinition.objects.get(name_nl="Parkeervergunning voor bedrijven")
    assert parking.level == Level.EH3
    brzo = ServiceInstance.objects.get(provider__oin=AGENCY, index=4)
    assert brzo.service_url == "https://mijn.odvoorbeeld.example/zware-ongevallen"
    assert (ServiceProvider.objects.count(), ServiceDefinition.objects.count(), ServiceInstance.objects.count()) == (
        2,
        4,
        4,
    )
    level_change = AuditEvent.objects.get(action="service_definition:updated")
    assert level_change.data["changes"]["level"] == ["EH2+", "EH3"]


def test_a_file_with_one_bad_definition_changes_nothing_and_names_the_element() -> None:
    data = (FIXTURES / "abolished-level.xml").read_bytes()

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=data)

    (problem,) = excinfo.value.problems
    assert problem.element == "saml:AuthnContextClassRef"
    assert problem.line == 30
    assert "loa1" in data.decode().splitlines()[problem.line - 1]
    # The first provider of the file was valid and came first; it is not there either.
    assert not ServiceProvider.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_update_refused_halfway_rolls_back_the_updates_before_it() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())
    elsewhere = service_instance_create(
        actor=SYSTEM,
        definition=service_definition_create(
            actor=SYSTEM,
            provider=service_provider_create(actor=SYSTEM, oin="00000009999999999000", name_nl="Elders"),
            name_nl="Elders",
            level="EH2",
        ),
        index=1,
    )
    before = catalogue_state()
    data = (
        CATALOGUE.read_text()
        .replace("Gemeente Voorbeeldstad<", "Gemeente Voorbeeldstad-Noord<")
        .replace("b7c6d5e4-f3a2-4b1c-9d0e-8f7a6b5c4d3e", str(elsewhere.uuid))
    ).encode()

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=data)

    (problem,) = excinfo.value.problems
    assert problem.element == "esc:ServiceUUID"
    assert str(elsewhere.uuid) in data.decode().splitlines()[problem.line - 1]
    assert "van een andere dienstverlener" in str(problem)
    assert catalogue_state() == before


def test_an_invalid_file_changes_nothing() -> None:
    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=(FIXTURES / "invalid-name-too-long.xml").read_bytes())

    assert excinfo.value.problems[0].element == "esc:ServiceName"
    assert not ServiceProvider.objects.exists()


def test_a_url_the_catalogue_cannot_hold_is_refused_naming_the_instance() -> None:
    data = CATALOGUE.read_text().replace("https://mijn.odvoorbeeld.example/brzo", "mailto:brzo@odvoorbeeld.example")

    with pytest.raises(cx.CatalogueError) as excinfo:
        catalogue_import(actor=SYSTEM, data=data.encode())

    (problem,) = excinfo.value.problems
    assert problem.element == "esc:ServiceInstance"
    assert "services:4" in data.splitlines()[problem.line]  # the ServiceID is the instance's first child
    assert not ServiceProvider.objects.exists()


# --- Export ---------------------------------------------------------------------------------------------------------


def test_the_export_validates_against_the_schema() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    data = catalogue_export()

    root = cx.parse_xml(data)
    assert cx.schema_problems(root) == []
    assert cx.validate(root) == []
    catalogue = cx.read_catalogue(root)
    assert [provider.oin for provider in catalogue.providers] == [CITY, AGENCY]
    assert {instance.broker_oin for provider in catalogue.providers for instance in provider.instances} == {BROKER}


def test_import_of_the_export_recreates_the_catalogue_exactly() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())
    provider = service_provider_create(actor=SYSTEM, oin="00000004003214345000", name_nl="Kadaster")
    definition = service_definition_create(
        actor=SYSTEM,
        provider=provider,
        name_nl="Inzage",
        name_en="Inspection",
        description_en="Only in English",
        level=Level.EH2,
    )
    service_instance_create(actor=SYSTEM, definition=definition, index=3)
    service_definition_create(
        actor=SYSTEM,
        provider=provider,
        name_nl="Zonder loket",
        level=Level.EH4,
        branch_restriction_allowed=True,
        entity_concerned_types=[[RSIN, KVK], [KVK]],
    )
    before = catalogue_state()
    exported = catalogue_export()

    empty_catalogue()
    report = catalogue_import(actor=SYSTEM, data=exported)

    assert catalogue_state() == before
    assert report.updated == []


def test_import_of_the_export_into_the_same_catalogue_changes_nothing() -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())
    events = AuditEvent.objects.count()

    report = catalogue_import(actor=SYSTEM, data=catalogue_export())

    assert not report.changed
    assert AuditEvent.objects.count() == events


def test_an_empty_catalogue_is_not_exported() -> None:
    with pytest.raises(cx.CatalogueError):
        catalogue_export()


def test_the_export_names_the_broker_by_the_oin_of_its_entity_id(settings: Any) -> None:
    catalogue_import(actor=SYSTEM, data=CATALOGUE.read_bytes())

    settings.SAML_IDP_OIN = "1234"
    with pytest.raises(ImproperlyConfigured):
        catalogue_export()
    del settings.SAML_IDP_OIN
    assert f"<esc:HerkenningsmakelaarId>{DEVELOPMENT_OIN}<".encode() in catalogue_export()
    assert b"<esc:HerkenningsmakelaarId>00000001234567890123<" in catalogue_export(oin="00000001234567890123")


# --- Update services ------------------------------------------------------------------------------------------------


def test_updates_record_what_changed_and_nothing_when_nothing_did() -> None:
    provider = service_provider_create(actor=SYSTEM, oin=CITY, name_nl="Gemeente")
    definition = service_definition_create(actor=SYSTEM, provider=provider, name_nl="Dienst", level="EH2")
    instance = service_instance_create(actor=SYSTEM, definition=definition, index=1)
    other = service_definition_create(actor=SYSTEM, provider=provider, name_nl="Andere dienst", level="EH3")

    service_provider_update(actor=SYSTEM, provider=provider, name_nl="Gemeente")
    service_definition_update(actor=SYSTEM, definition=definition, level="EH2")
    service_provider_update(actor=SYSTEM, provider=provider, name_en="Municipality")
    service_definition_update(actor=SYSTEM, definition=definition, level="EH3", branch_restriction_allowed=True)
    service_instance_update(actor=SYSTEM, instance=instance, definition=other, service_url="https://example.org/")

    updates = AuditEvent.objects.filter(action__endswith=":updated").order_by("pk")
    assert [event.data["changes"] for event in updates] == [
        {"name_en": ["", "Municipality"]},
        {"level": ["EH2", "EH3"], "branch_restriction_allowed": [False, True]},
        {"definition": [str(definition.uuid), str(other.uuid)], "service_url": ["", "https://example.org/"]},
    ]
    definition.refresh_from_db()
    instance.refresh_from_db()
    assert (definition.level, definition.branch_restriction_allowed, definition.name_nl) == (30, True, "Dienst")
    assert instance.definition == other


def test_an_update_the_model_refuses_is_not_saved() -> None:
    provider = service_provider_create(actor=SYSTEM, oin=CITY, name_nl="Gemeente")

    with pytest.raises(Exception, match="64"):
        service_provider_update(actor=SYSTEM, provider=provider, name_nl="x" * 65)

    provider.refresh_from_db()
    assert provider.name_nl == "Gemeente"


# --- The command ----------------------------------------------------------------------------------------------------


def test_the_command_imports_a_file_and_says_what_it_did() -> None:
    out = StringIO()

    call_command("catalogue", "import", str(CATALOGUE), stdout=out)

    assert "10 aangemaakt, 0 bijgewerkt, 0 ongewijzigd" in out.getvalue()
    assert f"urn:etoegang:DV:{CITY}:services:1" in out.getvalue()
    assert ServiceInstance.objects.count() == 4


def test_the_command_refuses_an_invalid_file_naming_element_and_line() -> None:
    with pytest.raises(CommandError, match=r"esc:ServiceProviderID, line 7: "):
        call_command("catalogue", "import", str(FIXTURES / "invalid-bad-oin.xml"), stdout=StringIO())

    assert not ServiceProvider.objects.exists()


def test_the_command_exports_to_a_file_and_to_standard_output(tmp_path: Path) -> None:
    call_command("catalogue", "import", str(CATALOGUE), stdout=StringIO())
    target = tmp_path / "catalogus.xml"
    out = StringIO()

    call_command("catalogue", "export", str(target), stdout=StringIO(), stderr=StringIO())
    call_command("catalogue", "export", stdout=out)

    assert cx.parse_catalogue(target.read_bytes()).providers == cx.parse_catalogue(out.getvalue().encode()).providers
    assert len(cx.parse_catalogue(target.read_bytes()).providers) == 2


def test_the_command_says_when_a_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"absent\.xml"):
        call_command("catalogue", "import", str(tmp_path / "absent.xml"))
