"""Mandates and chain mandates over the API."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from sleutelbos.audit.models import AuditEvent
from sleutelbos.mandates.models import ChainMandate, Mandate
from tests import factories as f
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def world() -> dict:
    provider = f.provider(oin="00000001000000000001")
    definition = f.definition(provider, level="EH3", branch_restriction_allowed=True)
    org = f.organisation(kvk="12345678")
    return {
        "provider": provider,
        "definition": definition,
        "org": org,
        "accountant": f.organisation(kvk="87654321"),
        "person": f.person(level="EH3"),
        "branch": f.branch(org, number="000012345678"),
    }


def grant(world: dict, **change: object) -> dict:
    return {
        "holder": world["person"].pk,
        "organisation": "12345678",
        "scope": {"kind": "all"},
        "level": "EH3",
        "valid_from": "2026-01-01",
        "valid_until": "2030-01-01",
        **change,
    }


def test_grant_a_mandate_of_every_scope(api: APIClient, world: dict) -> None:
    scopes = [
        {"kind": "all"},
        {"kind": "providers", "providers": ["00000001000000000001"]},
        {"kind": "services", "services": [str(world["definition"].uuid)]},
    ]
    for scope in scopes:
        response = api.post("/api/v1/mandates", grant(world, scope=scope))
        assert response.status_code == 201, response.content
        body = response.json()
        mandate = Mandate.objects.get(pk=body["id"])
        assert body["scope"] == scope
        assert body["holder"] == world["person"].pk
        assert body["organisation"] == "12345678"
        assert body["level"] == "EH3"
        assert body["active"] is True
        assert body["granted_by"] == "api:tests"
        assert mandate.scope_kind == scope["kind"]
        assert response["Location"].endswith(f"/api/v1/mandates/{mandate.pk}")
    assert AuditEvent.objects.filter(action="mandate:granted", actor="api:tests").count() == 3


def test_a_date_alone_means_midnight_in_amsterdam(api: APIClient, world: dict) -> None:
    body = api.post("/api/v1/mandates", grant(world, valid_from="2026-07-01", valid_until="2027-01-01")).json()
    mandate = Mandate.objects.get(pk=body["id"])
    assert mandate.valid_from == dt.datetime(2026, 7, 1, tzinfo=AMSTERDAM)
    assert mandate.valid_until == dt.datetime(2027, 1, 1, tzinfo=AMSTERDAM)
    assert dt.datetime.fromisoformat(body["valid_from"]) == dt.datetime(2026, 7, 1, tzinfo=AMSTERDAM)


def test_levels_may_be_given_as_uri_and_datetimes_with_an_offset(api: APIClient, world: dict) -> None:
    body = grant(
        world,
        level="urn:etoegang:core:assurance-class:loa2plus",
        valid_from="2026-01-01T08:30:00Z",
        valid_until=None,
    )
    del body["valid_until"]
    response = api.post("/api/v1/mandates", body)
    assert response.status_code == 201, response.content
    mandate = Mandate.objects.get(pk=response.json()["id"])
    assert response.json()["level"] == "EH2+"
    assert mandate.valid_from == dt.datetime(2026, 1, 1, 8, 30, tzinfo=dt.UTC)
    assert mandate.valid_until == dt.datetime(2027, 1, 1, 8, 30, tzinfo=dt.UTC)


def test_a_branch_restricted_mandate(api: APIClient, world: dict) -> None:
    response = api.post("/api/v1/mandates", grant(world, branch="000012345678"))
    assert response.status_code == 201, response.content
    assert response.json()["branch"] == "000012345678"
    other_org = f.organisation()
    f.branch(other_org, number="000099999999")
    problem(api.post("/api/v1/mandates", grant(world, branch="000099999999")), 400, "branch")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"holder": 999999}, "holder"),
        ({"holder": "abc"}, "holder"),
        ({"holder": None}, "holder"),
        ({"organisation": "99999999"}, "organisation"),
        ({"organisation": "1234"}, "organisation"),
        ({"level": "EH1"}, "level"),
        ({"level": 30}, "level"),
        ({"level": "3"}, "level"),
        ({"level": "EH4"}, "level"),  # above the holder's means (EH3)
        ({"valid_from": "2027-01-01", "valid_until": "2026-06-01"}, "valid_until"),
        ({"valid_from": "2026-01-01", "valid_until": "2031-01-02"}, "valid_until"),
        ({"valid_from": "2020-01-01", "valid_until": "2021-01-01"}, "valid_until"),
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"valid_from": "2026-02-30"}, "valid_from"),
        ({"scope": {}}, "scope.kind"),
        ({"scope": {"kind": "some"}}, "scope.kind"),
        ({"scope": "all"}, "scope.non_field_errors"),
        ({"scope": {"kind": "providers"}}, "scope.providers"),
        ({"scope": {"kind": "providers", "providers": []}}, "scope.providers"),
        ({"scope": {"kind": "providers", "providers": ["99999999999999999999"]}}, "scope.providers.0"),
        ({"scope": {"kind": "providers", "providers": ["123"]}}, "scope.providers.0"),
        ({"scope": {"kind": "services"}}, "scope.services"),
        ({"scope": {"kind": "services", "services": ["nope"]}}, "scope.services.0"),
        ({"scope": {"kind": "services", "services": [str(uuid.UUID(int=7))]}}, "scope.services"),
        ({"scope": {"kind": "all", "services": [str(uuid.UUID(int=7))]}}, "scope.services"),
        ({"scope": {"kind": "services", "providers": ["00000001000000000001"]}}, "scope.providers"),
        ({"branch": "123"}, "branch"),
        ({"branch": "000000000001"}, "branch"),
    ],
)
def test_bad_mandate_input_names_the_field(api: APIClient, world: dict, change: dict, field: str) -> None:
    problem(api.post("/api/v1/mandates", grant(world, **change)), 400, field)
    assert not Mandate.objects.exists()


def test_a_holder_without_means_gets_no_mandate(api: APIClient, world: dict) -> None:
    without = f.person(level=None)
    body = problem(api.post("/api/v1/mandates", grant(world, holder=without.pk)), 400, "holder")
    assert "eHerkenningsmiddel" in body["errors"]["holder"][0]


def test_revoke_a_mandate_once(api: APIClient, world: dict) -> None:
    mandate = f.mandate(world["person"], world["org"])
    response = api.post(f"/api/v1/mandates/{mandate.pk}/revoke", {"reason": "left the company"})
    assert response.status_code == 200, response.content
    assert response.json()["revoked_by"] == "api:tests"
    assert response.json()["active"] is False
    mandate.refresh_from_db()
    assert mandate.revoked_at is not None
    problem(api.post(f"/api/v1/mandates/{mandate.pk}/revoke"), 400, "non_field_errors")
    problem(api.post("/api/v1/mandates/999999/revoke"), 404)


def test_list_and_retrieve_mandates_with_filters(api: APIClient, world: dict) -> None:
    person, org = world["person"], world["org"]
    active = f.mandate(person, org)
    revoked = f.mandate(person, org)
    api.post(f"/api/v1/mandates/{revoked.pk}/revoke")
    f.mandate(f.person(), world["accountant"])
    assert api.get("/api/v1/mandates").json()["count"] == 3
    mine = api.get(f"/api/v1/mandates?holder={person.pk}&organisation=12345678&active=true").json()["results"]
    assert [m["id"] for m in mine] == [active.pk]
    inactive = api.get("/api/v1/mandates?active=false").json()["results"]
    assert [m["id"] for m in inactive] == [revoked.pk]
    assert api.get(f"/api/v1/mandates/{active.pk}").json()["scope"] == {"kind": "all"}
    problem(api.get("/api/v1/mandates/999999"), 404)
    problem(api.get("/api/v1/mandates?active=maybe"), 400, "active")
    problem(api.get("/api/v1/mandates?holder=999999"), 400, "holder")
    problem(api.get("/api/v1/mandates?organisation=99999999"), 400, "organisation")


def test_a_mandate_not_yet_valid_is_not_active(api: APIClient, world: dict) -> None:
    start = timezone.now() + dt.timedelta(days=10)
    later = f.mandate(world["person"], world["org"], valid_from=start, valid_until=start + dt.timedelta(days=30))
    assert api.get(f"/api/v1/mandates/{later.pk}").json()["active"] is False
    assert api.get("/api/v1/mandates?active=true").json()["count"] == 0


# Chain mandates


def test_grant_list_and_revoke_a_chain_mandate(api: APIClient, world: dict) -> None:
    body = {
        "client": "12345678",
        "intermediary": "87654321",
        "scope": {"kind": "providers", "providers": ["00000001000000000001"]},
        "level": "EH3",
        "valid_from": "2026-01-01",
        "valid_until": "2028-01-01",
    }
    response = api.post("/api/v1/chain-mandates", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["client"] == "12345678"
    assert created["intermediary"] == "87654321"
    assert created["scope"] == body["scope"]
    chain = ChainMandate.objects.get()
    assert api.get(f"/api/v1/chain-mandates/{chain.pk}").json()["id"] == chain.pk
    assert api.get("/api/v1/chain-mandates?client=12345678&intermediary=87654321&active=true").json()["count"] == 1
    assert api.get("/api/v1/chain-mandates?client=87654321").json()["count"] == 0

    revoked = api.post(f"/api/v1/chain-mandates/{chain.pk}/revoke")
    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["active"] is False
    assert AuditEvent.objects.filter(action="chain_mandate:revoked", actor="api:tests").exists()
    problem(api.post(f"/api/v1/chain-mandates/{chain.pk}/revoke"), 400)
    problem(api.get("/api/v1/chain-mandates/999999"), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"client": "99999999"}, "client"),
        ({"intermediary": "99999999"}, "intermediary"),
        ({"intermediary": "12345678"}, "intermediary"),
        ({"level": "EH1"}, "level"),
        ({"level": 30}, "level"),
        ({"valid_from": "2026-01-01", "valid_until": "2031-06-01"}, "valid_until"),
        ({"valid_from": "2027-01-01", "valid_until": "2027-01-01"}, "valid_until"),
        ({"scope": {"kind": "services", "services": []}}, "scope.services"),
    ],
)
def test_bad_chain_mandate_input_names_the_field(api: APIClient, world: dict, change: dict, field: str) -> None:
    body = {
        "client": "12345678",
        "intermediary": "87654321",
        "scope": {"kind": "all"},
        "level": "EH3",
        "valid_from": "2026-01-01",
        "valid_until": "2028-01-01",
        **change,
    }
    problem(api.post("/api/v1/chain-mandates", body), 400, field)
    assert not ChainMandate.objects.exists()
