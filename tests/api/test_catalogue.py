"""Service providers, service definitions (and who may use them) and service instances over the API."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from sleutelbos.audit.models import AuditEvent
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.mandates.services import Scope
from tests import factories as f
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db

OIN = "00000001234567890000"


# Service providers


def test_register_a_provider_and_read_it_back(api: APIClient) -> None:
    response = api.post("/api/v1/service-providers", {"oin": OIN, "name": {"nl": "Belastingdienst", "en": "Tax"}})
    assert response.status_code == 201, response.content
    assert response.json()["oin"] == OIN
    assert response.json()["name"] == {"nl": "Belastingdienst", "en": "Tax"}
    assert response.json()["portal_service_id"] == f"urn:etoegang:DV:{OIN}:services:0"
    assert response["Location"].endswith(f"/api/v1/service-providers/{OIN}")
    assert api.get(f"/api/v1/service-providers/{OIN}").json()["name"]["nl"] == "Belastingdienst"
    event = AuditEvent.objects.get(action="service_provider:created")
    assert event.actor == "api:tests"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"oin": "123", "name": {"nl": "X"}}, "oin"),
        ({"oin": "0000000123456789000a", "name": {"nl": "X"}}, "oin"),
        ({"name": {"nl": "X"}}, "oin"),
        ({"oin": OIN}, "name"),
        ({"oin": OIN, "name": {"en": "X"}}, "name.nl"),
        ({"oin": OIN, "name": {"nl": "X" * 65}}, "name.nl"),
        ({"oin": OIN, "name": {"nl": "X", "en": "Y" * 65}}, "name.en"),
        ({"oin": OIN, "name": "Belastingdienst"}, "name.non_field_errors"),
    ],
)
def test_bad_provider_input_names_the_field(api: APIClient, body: dict, field: str) -> None:
    problem(api.post("/api/v1/service-providers", body), 400, field)
    assert not ServiceProvider.objects.exists()


def test_an_oin_is_registered_once(api: APIClient) -> None:
    f.provider(oin=OIN)
    problem(api.post("/api/v1/service-providers", {"oin": OIN, "name": {"nl": "Nog een"}}), 400, "oin")


def test_list_providers_filtered_by_name(api: APIClient) -> None:
    f.provider(name="Kadaster")
    f.provider(name="Gemeente Utrecht")
    assert api.get("/api/v1/service-providers").json()["count"] == 2
    results = api.get("/api/v1/service-providers?name=kadas").json()["results"]
    assert [p["name"]["nl"] for p in results] == ["Kadaster"]


def test_an_unknown_provider_is_a_404(api: APIClient) -> None:
    body = problem(api.get(f"/api/v1/service-providers/{OIN}"), 404)
    assert OIN in body["detail"]


# Service definitions


def test_define_a_service(api: APIClient) -> None:
    provider = f.provider(oin=OIN)
    given = uuid.uuid4()
    response = api.post(
        "/api/v1/service-definitions",
        {
            "provider": OIN,
            "uuid": str(given),
            "name": {"nl": "Aangifte", "en": "Tax return"},
            "description": {"nl": "Aangifte doen"},
            "level": "urn:etoegang:core:assurance-class:loa3",
            "branch_restriction_allowed": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["uuid"] == str(given)
    assert body["provider"] == OIN
    assert body["level"] == "EH3"
    assert body["description"] == {"nl": "Aangifte doen", "en": ""}
    assert body["branch_restriction_allowed"] is True
    definition = ServiceDefinition.objects.get()
    assert definition.provider == provider
    assert definition.uuid == given


def test_a_definition_without_uuid_gets_a_new_one(api: APIClient) -> None:
    f.provider(oin=OIN)
    response = api.post("/api/v1/service-definitions", {"provider": OIN, "name": {"nl": "Dienst"}, "level": "EH2+"})
    assert response.status_code == 201, response.content
    assert uuid.UUID(response.json()["uuid"]) == ServiceDefinition.objects.get().uuid
    assert response.json()["level"] == "EH2+"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "99999999999999999999"}, "provider"),
        ({"provider": "123"}, "provider"),
        ({"level": "EH1"}, "level"),
        ({"level": 30}, "level"),
        ({"level": "3"}, "level"),
        ({"level": 3}, "level"),
        ({"level": "urn:etoegang:core:assurance-class:loa1"}, "level"),
        ({"uuid": "not-a-uuid"}, "uuid"),
        ({"name": {"nl": ""}}, "name.nl"),
        ({"description": {"nl": "x" * 1025}}, "description.nl"),
        ({"branch_restriction_allowed": "maybe"}, "branch_restriction_allowed"),
    ],
)
def test_bad_definition_input_names_the_field(api: APIClient, change: dict, field: str) -> None:
    f.provider(oin=OIN)
    body = {"provider": OIN, "name": {"nl": "Dienst"}, "level": "EH3", **change}
    problem(api.post("/api/v1/service-definitions", body), 400, field)
    assert not ServiceDefinition.objects.exists()


def test_a_provider_defines_a_service_uuid_once_but_another_provider_may_share_it(api: APIClient) -> None:
    first = f.definition(f.provider(oin=OIN))
    body = {"provider": OIN, "uuid": str(first.uuid), "name": {"nl": "Dubbel"}, "level": "EH3"}
    problem(api.post("/api/v1/service-definitions", body), 400, "uuid")
    other = f.provider()
    response = api.post("/api/v1/service-definitions", {**body, "provider": other.oin})
    assert response.status_code == 201, response.content


def test_list_definitions_with_filters(api: APIClient) -> None:
    provider = f.provider(oin=OIN)
    f.definition(provider, level="EH3", name="Aangifte")
    f.definition(provider, level="EH2", name="Inzage")
    f.definition(level="EH3", name="Elders")
    assert api.get("/api/v1/service-definitions").json()["count"] == 3
    results = api.get(f"/api/v1/service-definitions?provider={OIN}&level=EH3").json()["results"]
    assert [d["name"]["nl"] for d in results] == ["Aangifte"]
    problem(api.get("/api/v1/service-definitions?level=EH1"), 400, "level")
    problem(api.get("/api/v1/service-definitions?provider=99999999999999999999"), 400, "provider")


def test_retrieve_a_definition_and_choose_between_providers_sharing_its_uuid(api: APIClient) -> None:
    shared = uuid.uuid4()
    first = f.definition(f.provider(oin=OIN), uuid=shared, level="EH3")
    instance = f.instance(first)
    body = api.get(f"/api/v1/service-definitions/{shared}").json()
    assert body["provider"] == OIN
    assert body["instances"] == [instance.service_id]
    second = f.definition(uuid=shared, level="EH2")
    problem(api.get(f"/api/v1/service-definitions/{shared}"), 400, "provider")
    chosen = api.get(f"/api/v1/service-definitions/{shared}?provider={second.provider.oin}").json()
    assert chosen["level"] == "EH2"
    problem(api.get(f"/api/v1/service-definitions/{uuid.uuid4()}"), 404)
    problem(api.get("/api/v1/service-definitions/not-a-uuid"), 404)


# Service instances


def test_publish_an_instance(api: APIClient) -> None:
    definition = f.definition(f.provider(oin=OIN), level="EH4")
    response = api.post(
        "/api/v1/service-instances",
        {"provider": OIN, "definition": str(definition.uuid), "index": 3, "service_url": "https://example.nl/dienst"},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    service_id = f"urn:etoegang:DV:{OIN}:services:3"
    assert body["service_id"] == service_id
    assert body["definition"] == str(definition.uuid)
    assert body["level"] == "EH4"
    assert response["Location"].endswith(f"/api/v1/service-instances/{service_id}")
    assert api.get(f"/api/v1/service-instances/{service_id}").json()["index"] == 3


def test_the_definition_is_found_by_provider_and_uuid(api: APIClient) -> None:
    shared = uuid.uuid4()
    f.definition(f.provider(oin=OIN), uuid=shared, level="EH3")
    other = f.definition(uuid=shared, level="EH2")
    response = api.post(
        "/api/v1/service-instances", {"provider": other.provider.oin, "definition": str(shared), "index": 1}
    )
    assert response.status_code == 201, response.content
    assert response.json()["level"] == "EH2"
    assert response.json()["provider"] == other.provider.oin


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"provider": "99999999999999999999"}, "provider"),
        ({"definition": str(uuid.UUID(int=1))}, "definition"),
        ({"definition": "nope"}, "definition"),
        ({"index": 0}, "index"),
        ({"index": -1}, "index"),
        ({"index": "one"}, "index"),
        ({"service_url": "not a url"}, "service_url"),
    ],
)
def test_bad_instance_input_names_the_field(api: APIClient, change: dict, field: str) -> None:
    definition = f.definition(f.provider(oin=OIN))
    body = {"provider": OIN, "definition": str(definition.uuid), "index": 1, **change}
    problem(api.post("/api/v1/service-instances", body), 400, field)


def test_a_definition_of_another_provider_is_not_found(api: APIClient) -> None:
    f.provider(oin=OIN)
    elsewhere = f.definition()
    body = {"provider": OIN, "definition": str(elsewhere.uuid), "index": 1}
    problem(api.post("/api/v1/service-instances", body), 400, "definition")


def test_an_index_is_used_once_per_provider(api: APIClient) -> None:
    instance = f.instance(f.definition(f.provider(oin=OIN)), index=1)
    body = {"provider": OIN, "definition": str(instance.definition.uuid), "index": 1}
    problem(api.post("/api/v1/service-instances", body), 400, "index")


def test_list_instances_with_filters_and_unknown_service_ids(api: APIClient) -> None:
    definition = f.definition(f.provider(oin=OIN))
    f.instance(definition, index=1)
    f.instance(definition, index=2)
    f.instance()
    assert api.get("/api/v1/service-instances").json()["count"] == 3
    results = api.get(f"/api/v1/service-instances?provider={OIN}").json()["results"]
    assert [i["index"] for i in results] == [1, 2]
    assert api.get(f"/api/v1/service-instances?definition={definition.uuid}").json()["count"] == 2
    problem(api.get(f"/api/v1/service-instances/urn:etoegang:DV:{OIN}:services:9"), 404)
    problem(api.get("/api/v1/service-instances/whatever"), 404)


# Holders


def test_holders_of_a_service_for_an_organisation(api: APIClient) -> None:
    definition = f.definition(f.provider(oin=OIN), level="EH3")
    client = f.organisation(kvk="12345678")
    accountant = f.organisation(kvk="87654321")
    direct = f.person(name="Anna", level="EH3")
    through_accountant = f.person(name="Bram", level="EH4")
    too_low = f.person(name="Cees", level="EH2")
    f.mandate(direct, client, scope=Scope.of_services(definition.uuid))
    f.mandate(too_low, client, level="EH2")
    f.mandate(through_accountant, accountant)
    f.chain_mandate(client, accountant, scope=Scope.of_providers(definition.provider))

    response = api.get(f"/api/v1/service-definitions/{definition.uuid}/holders?organisation=12345678")
    assert response.status_code == 200, response.content
    assert response.json() == [
        {"id": direct.pk, "name": "Anna", "intermediary": None, "providers": [OIN]},
        {"id": through_accountant.pk, "name": "Bram", "intermediary": "87654321", "providers": [OIN]},
    ]


def test_holders_of_a_shared_uuid_are_answered_per_definition(api: APIClient) -> None:
    shared = uuid.uuid4()
    strict = f.definition(f.provider(oin=OIN), uuid=shared, level="EH4")
    lenient = f.definition(uuid=shared, level="EH2")
    org = f.organisation(kvk="12345678")
    person = f.person(name="Anna", level="EH3")
    f.mandate(person, org, scope=Scope.of_services(shared), level="EH3")
    url = f"/api/v1/service-definitions/{shared}/holders?organisation=12345678"
    assert api.get(url).json() == [
        {"id": person.pk, "name": "Anna", "intermediary": None, "providers": [lenient.provider.oin]}
    ]
    assert api.get(f"{url}&provider={strict.provider.oin}").json() == []


def test_holders_needs_a_known_organisation(api: APIClient) -> None:
    definition = f.definition()
    url = f"/api/v1/service-definitions/{definition.uuid}/holders"
    problem(api.get(url), 400, "organisation")
    problem(api.get(f"{url}?organisation=99999999"), 400, "organisation")
    problem(api.get(f"{url}?organisation=123"), 400, "organisation")
    problem(api.get(f"/api/v1/service-definitions/{uuid.uuid4()}/holders?organisation=12345678"), 404)
