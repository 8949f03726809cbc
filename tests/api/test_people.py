"""People over the API, and what a person may do for an organisation."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from sleutelbos.audit.models import AuditEvent
from sleutelbos.identity.models import IdentityEvidence, Person
from sleutelbos.mandates.services import Scope
from tests import factories as f
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db


def test_register_a_person_with_a_means(api: APIClient) -> None:
    response = api.post("/api/v1/people", {"name": "Anna de Vries", "email": "anna@example.nl", "level": "EH3"})
    assert response.status_code == 201, response.content
    body = response.json()
    person = Person.objects.get()
    assert body["id"] == person.pk
    assert body["means"]["level"] == "EH3"
    assert body["means"]["status"] == "active"
    assert response["Location"].endswith(f"/api/v1/people/{person.pk}")


def test_a_level_without_evidence_is_recorded_as_the_integrations_assertion(api: APIClient) -> None:
    response = api.post("/api/v1/people", {"name": "Anna de Vries", "email": "anna@example.nl", "level": "EH3"})

    assert response.status_code == 201, response.content
    evidence = IdentityEvidence.objects.get()
    assert (evidence.kind, evidence.level, evidence.verified_by) == ("document_original", 30, "api:tests")
    assert evidence.document_type == ""
    assert Person.objects.get().means.history.get().evidence == evidence


def test_register_a_person_with_the_evidence_the_integration_checked(api: APIClient) -> None:
    evidence = {
        "kind": "in_person",
        "document_type": "identity_card",
        "document_number_suffix": "7k2f",
        "document_valid_until": "2099-01-31",
    }
    body = {"name": "Anna de Vries", "email": "anna@example.nl", "level": "EH3", "evidence": evidence}

    response = api.post("/api/v1/people", body)

    assert response.status_code == 201, response.content
    assert response.json()["means"]["level"] == "EH3"
    recorded = IdentityEvidence.objects.get()
    assert (recorded.kind, recorded.document_type, recorded.document_number_suffix) == (
        "in_person",
        "identity_card",
        "7K2F",
    )
    assert recorded.verified_by == "api:tests"


@pytest.mark.parametrize(
    ("evidence", "field"),
    [
        ({"kind": "document_copy", "document_type": "passport"}, "evidence.kind"),
        ({"kind": "a_phone_call"}, "evidence.kind"),
        ({"kind": "document_original"}, "evidence.document_type"),
        (
            {"kind": "document_original", "document_type": "passport", "document_number_suffix": "NX7K2F1"},
            "evidence.document_number_suffix",
        ),
        ({"kind": "in_person", "document_valid_until": "2001-01-01"}, "evidence.document_valid_until"),
        ({"kind": "in_person", "remote": True}, "evidence.remote"),
    ],
)
def test_bad_evidence_names_its_field_and_registers_nobody(api: APIClient, evidence: dict, field: str) -> None:
    body = {"name": "Anna", "email": "anna@example.nl", "level": "EH3", "evidence": evidence}
    problem(api.post("/api/v1/people", body), 400, field)
    assert not Person.objects.exists()
    assert not IdentityEvidence.objects.exists()


def test_registering_can_mail_an_activation_link_that_activates_the_account(
    api: APIClient, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["sleutelbos.example", "testserver"]
    body = {"name": "Anna de Vries", "email": "anna@example.nl", "level": "EH3", "send_activation": True}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/people", body, HTTP_HOST="sleutelbos.example", secure=True)

    assert response.status_code == 201, response.content
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.nl"]
    link = re.search(r"https://sleutelbos\.example(/account/activate/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    person = Person.objects.get()
    assert AuditEvent.objects.filter(action="person:activation_sent", subject_id=str(person.pk)).exists()
    browser = Client()
    choose = browser.get(link.group(1))
    assert choose.status_code == 302
    password = "kastanje-in-de-herfstwind-7"
    browser.post(choose["Location"], {"new_password1": password, "new_password2": password})
    person.refresh_from_db()
    assert person.activated_at is not None
    assert person.check_password(password)


def test_registering_sends_no_mail_unless_asked(api: APIClient, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/people", {"name": "Bram", "email": "bram@example.nl"}).status_code == 201
        assert api.post("/api/v1/people", {"name": "Cor", "email": "cor@example.nl", "send_activation": False})
    assert mail.outbox == []


def test_a_refused_registration_sends_no_activation_link(api: APIClient, django_capture_on_commit_callbacks) -> None:
    f.person(email="anna@example.nl")
    body = {"name": "Anna", "email": "ANNA@example.nl", "send_activation": True}
    with django_capture_on_commit_callbacks(execute=True):
        problem(api.post("/api/v1/people", body), 400, "email")
    assert mail.outbox == []


def test_register_a_person_without_a_means(api: APIClient) -> None:
    response = api.post("/api/v1/people", {"name": "Bram", "email": "bram@example.nl"})
    assert response.status_code == 201, response.content
    assert response.json()["means"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": ""}, "email"),
        ({"name": ""}, "name"),
        ({"level": "EH1"}, "level"),
        ({"level": 30}, "level"),
        ({"level": "3"}, "level"),
        ({"date_of_birth": "31-12-1980"}, "date_of_birth"),
    ],
)
def test_bad_person_input_names_the_field(api: APIClient, change: dict, field: str) -> None:
    body = {"name": "Anna", "email": "anna@example.nl", "level": "EH3", **change}
    problem(api.post("/api/v1/people", body), 400, field)
    assert not Person.objects.exists()


def test_an_email_address_is_registered_once(api: APIClient) -> None:
    f.person(email="anna@example.nl")
    problem(api.post("/api/v1/people", {"name": "Anna", "email": "ANNA@example.nl"}), 400, "email")


def test_retrieve_and_list_people(api: APIClient) -> None:
    anna = f.person(name="Anna", level="EH2+")
    f.person(name="Bram")
    assert api.get(f"/api/v1/people/{anna.pk}").json()["means"]["level"] == "EH2+"
    assert [p["name"] for p in api.get("/api/v1/people?name=ann").json()["results"]] == ["Anna"]
    assert api.get(f"/api/v1/people?email={anna.email.upper()}").json()["count"] == 1
    problem(api.get("/api/v1/people/999999"), 404)


def test_access_lists_every_service_the_person_may_use_for_the_organisation(api: APIClient) -> None:
    tax = f.provider(oin="00000001000000000001")
    land = f.provider(oin="00000001000000000002")
    return_ = f.instance(f.definition(tax, level="EH3", name="Aangifte"), index=1)
    f.instance(f.definition(tax, level="EH4", name="Geheim"), index=2)
    deed = f.instance(f.definition(land, level="EH2", name="Inzage"), index=1)
    f.instance(f.definition(land, level="EH3", name="Overdracht"), index=2)
    org = f.organisation(kvk="12345678")
    person = f.person(level="EH3")
    f.mandate(person, org, scope=Scope.of_providers(tax))
    f.mandate(person, org, scope=Scope.of_services(deed.definition.uuid), level="EH2")

    response = api.get(f"/api/v1/people/{person.pk}/access?organisation=12345678")
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "service_id": return_.service_id,
            "service_uuid": str(return_.definition.uuid),
            "provider": tax.oin,
            "name": {"nl": "Aangifte", "en": ""},
            "level": "EH3",
        },
        {
            "service_id": deed.service_id,
            "service_uuid": str(deed.definition.uuid),
            "provider": land.oin,
            "name": {"nl": "Inzage", "en": ""},
            "level": "EH2",
        },
    ]
    f.organisation(kvk="87654321")
    assert api.get(f"/api/v1/people/{person.pk}/access?organisation=87654321").json() == []


def test_access_through_an_intermediary(api: APIClient) -> None:
    service = f.instance(level="EH3")
    client = f.organisation(kvk="12345678")
    accountant = f.organisation(kvk="87654321")
    person = f.person(level="EH3")
    f.mandate(person, accountant)
    url = f"/api/v1/people/{person.pk}/access?organisation=12345678&intermediary=87654321"
    assert api.get(url).json() == []
    f.chain_mandate(client, accountant)
    assert [s["service_id"] for s in api.get(url).json()] == [service.service_id]


def test_access_needs_a_known_person_and_organisation(api: APIClient) -> None:
    person = f.person()
    f.organisation(kvk="12345678")
    problem(api.get("/api/v1/people/999999/access?organisation=12345678"), 404)
    problem(api.get(f"/api/v1/people/{person.pk}/access"), 400, "organisation")
    problem(api.get(f"/api/v1/people/{person.pk}/access?organisation=99999999"), 400, "organisation")
    problem(api.get(f"/api/v1/people/{person.pk}/access?organisation=12345678&intermediary=1"), 400, "intermediary")
