"""Organisations over the API."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from sleutelbos.organisations.models import Organisation
from tests import factories as f
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db

RSIN = f.valid_rsin(7)


def test_register_an_organisation(api: APIClient) -> None:
    response = api.post("/api/v1/organisations", {"kvk": "12345678", "rsin": RSIN, "name": "Bakkerij Jansen B.V."})
    assert response.status_code == 201, response.content
    assert response.json()["kvk"] == "12345678"
    assert response.json()["legal_form"] == "bv"
    assert response.json()["branches"] == []
    assert response["Location"].endswith("/api/v1/organisations/12345678")
    assert Organisation.objects.get().name == "Bakkerij Jansen B.V."


def test_retrieve_an_organisation_with_its_branches(api: APIClient) -> None:
    org = f.organisation(kvk="12345678", name="Jansen")
    f.branch(org, number="000012345678")
    body = api.get("/api/v1/organisations/12345678").json()
    assert body["name"] == "Jansen"
    assert [b["number"] for b in body["branches"]] == ["000012345678"]
    problem(api.get("/api/v1/organisations/87654321"), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kvk": "1234567"}, "kvk"),
        ({"kvk": "abcdefgh"}, "kvk"),
        ({"kvk": None}, "kvk"),
        ({"rsin": "12345678"}, "rsin"),
        ({"rsin": "123456789"}, "rsin"),  # nine digits, but fails the eleven-test
        ({"name": ""}, "name"),
        ({"legal_form": "ltd"}, "legal_form"),
    ],
)
def test_bad_organisation_input_names_the_field(api: APIClient, change: dict, field: str) -> None:
    body = {"kvk": "12345678", "rsin": RSIN, "name": "Jansen", **change}
    problem(api.post("/api/v1/organisations", body), 400, field)
    assert not Organisation.objects.exists()


def test_kvk_and_rsin_are_registered_once(api: APIClient) -> None:
    existing = f.organisation(kvk="12345678")
    problem(api.post("/api/v1/organisations", {"kvk": "12345678", "name": "Dubbel"}), 400, "kvk")
    body = {"kvk": "11111111", "rsin": existing.rsin, "name": "X"}
    problem(api.post("/api/v1/organisations", body), 400, "rsin")
    assert Organisation.objects.count() == 1


def test_list_organisations_filtered_by_name(api: APIClient) -> None:
    f.organisation(name="Bakkerij Jansen B.V.")
    f.organisation(name="Accountants De Vries")
    results = api.get("/api/v1/organisations?name=jansen").json()["results"]
    assert [o["name"] for o in results] == ["Bakkerij Jansen B.V."]


def test_lists_are_paginated(api: APIClient) -> None:
    for _ in range(3):
        f.organisation()
    page = api.get("/api/v1/organisations?page_size=2").json()
    assert page["count"] == 3
    assert len(page["results"]) == 2
    assert page["next"]
    assert len(api.get(page["next"]).json()["results"]) == 1
    problem(api.get("/api/v1/organisations?page=9"), 404)
