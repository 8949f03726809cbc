"""The decision endpoint: the decision engine's answer, with reasons in the request's language."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sleutelbos.mandates.services import Scope
from tests import factories as f
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    instance = f.instance(level="EH3", branch_restriction_allowed=True)
    return {
        "instance": instance,
        "org": f.organisation(kvk="12345678"),
        "accountant": f.organisation(kvk="87654321"),
        "person": f.person(level="EH3"),
    }


def ask(world: dict, **change: object) -> dict:
    return {"person": world["person"].pk, "organisation": "12345678", "service": world["instance"].service_id, **change}


def test_allowed_by_service_id_and_by_service_uuid(api: APIClient, world: dict) -> None:
    mandate = f.mandate(world["person"], world["org"], scope=Scope.of_providers(world["instance"].provider))
    expected = {"allowed": True, "level": "EH3", "mandates": [mandate.pk], "chain_mandate": None, "branch": None}
    response = api.post("/api/v1/decisions", ask(world))
    assert response.status_code == 200, response.content
    assert response.json() == {**expected, "reasons": []}
    by_uuid = api.post("/api/v1/decisions", ask(world, service=str(world["instance"].definition.uuid)))
    assert by_uuid.json() == {**expected, "reasons": []}


def test_a_refusal_gives_every_reason(api: APIClient, world: dict) -> None:
    low = f.person(level="EH2")
    f.mandate(low, world["org"], level="EH2")
    body = api.post("/api/v1/decisions", ask(world, person=low.pk)).json()
    assert body["allowed"] is False
    assert body["mandates"] == []
    assert sorted(r["code"] for r in body["reasons"]) == ["mandate_level_too_low", "means_level_too_low"]
    assert all(r["message"] for r in body["reasons"])


def test_no_mandate(api: APIClient, world: dict) -> None:
    body = api.post("/api/v1/decisions", ask(world)).json()
    assert body["allowed"] is False
    assert [r["code"] for r in body["reasons"]] == ["no_mandate"]


def test_a_lower_level_may_be_asked_but_not_a_higher_one(api: APIClient, world: dict) -> None:
    f.mandate(world["person"], world["org"], level="EH2")
    lower = api.post("/api/v1/decisions", ask(world, level="urn:etoegang:core:assurance-class:loa2")).json()
    assert lower["allowed"] is True
    assert lower["level"] == "EH2"
    higher = api.post("/api/v1/decisions", ask(world, level="EH4")).json()
    assert higher["allowed"] is False
    assert "level_above_catalogue" in [r["code"] for r in higher["reasons"]]


def test_reasons_in_dutch_by_default_and_in_english_on_request(api: APIClient, world: dict) -> None:
    start = timezone.now() + dt.timedelta(days=1)
    f.mandate(world["person"], world["org"], valid_from=start, valid_until=dt.datetime(2027, 7, 1, tzinfo=dt.UTC))
    body = ask(world, at="2027-08-01")

    dutch = api.post("/api/v1/decisions", body)
    assert dutch["Content-Language"] == "nl"
    assert [r["code"] for r in dutch.json()["reasons"]] == ["mandate_expired"]
    assert "1 juli 2027" in dutch.json()["reasons"][0]["message"]

    english = api.post("/api/v1/decisions", body, HTTP_ACCEPT_LANGUAGE="en")
    assert english["Content-Language"] == "en"
    assert english.json()["reasons"] == [
        {"code": "mandate_expired", "message": "Your mandate expired on July 1, 2027."}
    ]


def test_through_an_intermediary_with_a_chain_mandate(api: APIClient, world: dict) -> None:
    f.mandate(world["person"], world["accountant"])
    missing = api.post("/api/v1/decisions", ask(world, intermediary="87654321")).json()
    assert missing["allowed"] is False
    assert [r["code"] for r in missing["reasons"]] == ["chain_mandate_missing"]
    chain = f.chain_mandate(world["org"], world["accountant"])
    allowed = api.post("/api/v1/decisions", ask(world, intermediary="87654321")).json()
    assert allowed["allowed"] is True
    assert allowed["chain_mandate"] == chain.pk


def test_a_branch_restricted_mandate_carries_its_branch(api: APIClient, world: dict) -> None:
    branch = f.branch(world["org"], number="000012345678")
    f.mandate(world["person"], world["org"], branch_=branch)
    body = api.post("/api/v1/decisions", ask(world)).json()
    assert body["allowed"] is True
    assert body["branch"] == "000012345678"
    other = api.post("/api/v1/decisions", ask(world, branch="000099999999")).json()
    assert other["allowed"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"person": 999999}, "person"),
        ({"person": None}, "person"),
        ({"organisation": "99999999"}, "organisation"),
        ({"organisation": "12"}, "organisation"),
        ({"service": "urn:etoegang:DV:00000000000000000000:services:1"}, "service"),
        ({"service": str(uuid.UUID(int=5))}, "service"),
        ({"service": "aangifte"}, "service"),
        ({"service": ""}, "service"),
        ({"level": "EH1"}, "level"),
        ({"level": 30}, "level"),
        ({"level": "3"}, "level"),
        ({"at": "tomorrow"}, "at"),
        ({"intermediary": "99999999"}, "intermediary"),
        ({"branch": "12"}, "branch"),
    ],
)
def test_bad_decision_input_names_the_field(api: APIClient, world: dict, change: dict, field: str) -> None:
    problem(api.post("/api/v1/decisions", ask(world, **change)), 400, field)


def test_person_organisation_and_service_are_required(api: APIClient, world: dict) -> None:
    problem(api.post("/api/v1/decisions", {}), 400, "person", "organisation", "service")


def test_a_service_uuid_several_providers_define_is_ambiguous(api: APIClient, world: dict) -> None:
    shared = world["instance"].definition.uuid
    other = f.instance(f.definition(uuid=shared, level="EH2"))
    body = problem(api.post("/api/v1/decisions", ask(world, service=str(shared))), 400, "service")
    message = body["errors"]["service"][0]
    assert world["instance"].service_id in message
    assert other.service_id in message
    assert api.post("/api/v1/decisions", ask(world, service=other.service_id)).json()["level"] == "EH2"
