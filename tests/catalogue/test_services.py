"""Registering the catalogue: service providers, service definitions and their instances."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.catalogue.services import service_definition_create, service_instance_create, service_provider_create
from tests import factories as f

pytestmark = pytest.mark.django_db

OIN = "00000001234567890000"


def refused_fields(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.error_dict)


def test_a_service_instance_gets_its_service_id_from_the_providers_oin_and_its_index() -> None:
    provider = service_provider_create(actor=SYSTEM, oin=OIN, name_nl="Belastingdienst", name_en="Tax Administration")
    definition = service_definition_create(actor=SYSTEM, provider=provider, name_nl="Aangifte", level="EH3")

    first = service_instance_create(actor=SYSTEM, definition=definition, index=1)
    seventh = service_instance_create(actor=SYSTEM, definition=definition, index=7)

    assert first.service_id == f"urn:etoegang:DV:{OIN}:services:1"
    assert seventh.service_id == f"urn:etoegang:DV:{OIN}:services:7"
    assert provider.portal_service_id == f"urn:etoegang:DV:{OIN}:services:0"
    assert first.uuid != seventh.uuid != definition.uuid


def test_index_zero_is_the_portal_and_cannot_be_an_instance() -> None:
    definition = f.definition()

    with pytest.raises(ValidationError) as excinfo:
        service_instance_create(actor=SYSTEM, definition=definition, index=0)

    assert refused_fields(excinfo) == {"index"}
    assert not ServiceInstance.objects.exists()


def test_an_index_is_unique_per_provider_but_free_at_another_provider() -> None:
    definition = f.definition()
    service_instance_create(actor=SYSTEM, definition=definition, index=1)

    with pytest.raises(ValidationError):
        service_instance_create(actor=SYSTEM, definition=f.definition(definition.provider), index=1)

    elsewhere = service_instance_create(actor=SYSTEM, definition=f.definition(), index=1)
    assert elsewhere.index == 1
    assert ServiceInstance.objects.filter(provider=definition.provider).count() == 1


def test_an_instance_cannot_use_another_providers_definition() -> None:
    definition = f.definition()
    instance = ServiceInstance(provider=f.provider(), definition=definition, index=1)

    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()

    assert refused_fields(excinfo) == {"definition"}


@pytest.mark.parametrize("oin", ["1234567890123456789", "123456789012345678901", "0000000123456789000a", ""])
def test_an_oin_is_exactly_twenty_digits(oin: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        service_provider_create(actor=SYSTEM, oin=oin, name_nl="Gemeente")

    assert refused_fields(excinfo) == {"oin"}
    assert not ServiceProvider.objects.exists()


def test_an_oin_of_unicode_digits_other_than_0_to_9_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        service_provider_create(actor=SYSTEM, oin="１" * 20, name_nl="Gemeente")

    assert refused_fields(excinfo) == {"oin"}


def test_an_oin_is_registered_once() -> None:
    service_provider_create(actor=SYSTEM, oin=OIN, name_nl="Kadaster")

    with pytest.raises(ValidationError) as excinfo:
        service_provider_create(actor=SYSTEM, oin=OIN, name_nl="Kadaster bis")

    assert refused_fields(excinfo) == {"oin"}


def test_names_of_at_most_64_characters_are_accepted_and_longer_ones_refused() -> None:
    provider = service_provider_create(actor=SYSTEM, oin=OIN, name_nl="x" * 64, name_en="y" * 64)
    service_definition_create(actor=SYSTEM, provider=provider, name_nl="d" * 64, level="EH2")

    with pytest.raises(ValidationError) as long_provider:
        service_provider_create(actor=SYSTEM, oin=f"{1:020d}", name_nl="x" * 65, name_en="y" * 65)
    with pytest.raises(ValidationError) as long_definition:
        service_definition_create(actor=SYSTEM, provider=provider, name_nl="d" * 65, name_en="e" * 65, level="EH2")

    assert refused_fields(long_provider) == {"name_nl", "name_en"}
    assert refused_fields(long_definition) == {"name_nl", "name_en"}


def test_a_description_is_at_most_1024_characters() -> None:
    provider = f.provider()
    service_definition_create(actor=SYSTEM, provider=provider, name_nl="Kort", level="EH2", description_nl="x" * 1024)

    with pytest.raises(ValidationError) as excinfo:
        service_definition_create(
            actor=SYSTEM, provider=provider, name_nl="Lang", level="EH2", description_nl="x" * 1025
        )

    assert refused_fields(excinfo) == {"description_nl"}


def test_two_providers_may_publish_the_same_service_uuid_but_one_provider_only_once() -> None:
    shared = uuid.uuid4()
    first, second = f.provider(), f.provider()
    service_definition_create(actor=SYSTEM, provider=first, name_nl="Omgevingsvergunning", level="EH3", uuid=shared)
    service_definition_create(actor=SYSTEM, provider=second, name_nl="Omgevingsvergunning", level="EH3", uuid=shared)

    with pytest.raises(ValidationError):
        service_definition_create(actor=SYSTEM, provider=first, name_nl="Nog eens", level="EH3", uuid=shared)

    assert ServiceDefinition.objects.filter(uuid=shared).count() == 2


def test_a_definition_records_its_level_and_defaults() -> None:
    definition = service_definition_create(
        actor=SYSTEM,
        provider=f.provider(),
        name_nl="Aangifte",
        level="urn:etoegang:core:assurance-class:loa2plus",
        branch_restriction_allowed=True,
    )

    assert definition.level == Level.EH2_PLUS
    assert definition.branch_restriction_allowed
    assert definition.entity_concerned_types == [
        ["urn:etoegang:1.9:EntityConcernedID:KvKnr"],
        ["urn:etoegang:1.9:EntityConcernedID:RSIN"],
    ]


def test_an_unknown_level_or_malformed_identifier_sets_are_refused() -> None:
    provider = f.provider()
    with pytest.raises(ValueError):
        service_definition_create(actor=SYSTEM, provider=provider, name_nl="Oud", level="EH1")
    with pytest.raises(ValidationError) as excinfo:
        service_definition_create(
            actor=SYSTEM, provider=provider, name_nl="Vreemd", level="EH3", entity_concerned_types=[[]]
        )

    assert refused_fields(excinfo) == {"entity_concerned_types"}
    assert not ServiceDefinition.objects.exists()
