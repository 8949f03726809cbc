"""Authentication, problem documents, and the schema and docs pages."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from sleutelbos.api.models import ApiToken
from tests.api.conftest import problem

pytestmark = pytest.mark.django_db


def test_without_a_token_every_resource_is_a_401_problem(anonymous: APIClient) -> None:
    for path in ("/api/v1/organisations", "/api/v1/mandates", "/api/v1/people/1/access"):
        body = problem(anonymous.get(path), 401)
        assert body["type"] == "urn:sleutelbos:problem:not_authenticated"
    response = anonymous.post("/api/v1/decisions", {})
    problem(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_an_unknown_or_revoked_token_is_refused(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    body = problem(anonymous.get("/api/v1/organisations"), 401)
    assert body["type"] == "urn:sleutelbos:problem:authentication_failed"
    token, key = ApiToken.issue("old")
    ApiToken.objects.filter(pk=token.pk).update(revoked_at="2026-01-01T00:00:00Z")
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    problem(anonymous.get("/api/v1/organisations"), 401)


def test_a_valid_token_is_let_in(api: APIClient) -> None:
    response = api.get("/api/v1/organisations")
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_malformed_json_is_a_400_problem(api: APIClient) -> None:
    response = api.post("/api/v1/organisations", data='{"kvk": "1234', content_type="application/json")
    body = problem(response, 400)
    assert body["type"] == "urn:sleutelbos:problem:parse_error"


def test_a_body_that_is_not_json_is_a_415_problem(api: APIClient) -> None:
    response = api.post("/api/v1/organisations", data="kvk=12345678", content_type="application/x-www-form-urlencoded")
    problem(response, 415)


def test_unknown_paths_and_methods_are_problems(api: APIClient) -> None:
    body = problem(api.get("/api/v1/no-such-thing"), 404)
    assert body["instance"] == "/api/v1/no-such-thing"
    problem(api.get("/api/v1/mandates/abc"), 404)
    problem(api.delete("/api/v1/organisations"), 405)


def test_the_schema_and_the_docs_are_public() -> None:
    client = Client()
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/service-providers",
        "/api/v1/service-definitions/{uuid}/holders",
        "/api/v1/service-instances",
        "/api/v1/organisations/{kvk}",
        "/api/v1/people/{id}/access",
        "/api/v1/mandates/{id}/revoke",
        "/api/v1/chain-mandates/{id}/revoke",
        "/api/v1/decisions",
    ):
        assert path in paths
    assert schema.json()["components"]["securitySchemes"]["ApiToken"]["name"] == "Authorization"

    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # The init script comes from our own origin: the page has no inline script, as the CSP demands.
    assert "<script>" not in html
    assert "script-src 'self'" in docs["Content-Security-Policy"]
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in script.content.decode()


def test_errors_the_views_did_not_translate_still_become_problems() -> None:
    from django.core.exceptions import ValidationError as DjangoValidationError
    from django.db import IntegrityError
    from rest_framework.test import APIRequestFactory

    from sleutelbos.api.errors import problem_exception_handler

    context = {"request": APIRequestFactory().post("/api/v1/mandates"), "view": None}
    plain = problem_exception_handler(DjangoValidationError("Not now."), context)
    assert plain is not None
    assert plain.status_code == 400
    assert plain.data["errors"] == {"non_field_errors": ["Not now."]}
    by_field = problem_exception_handler(DjangoValidationError({"valid_until": ["Too late."]}), context)
    assert by_field.data["errors"] == {"valid_until": ["Too late."]}
    conflict = problem_exception_handler(IntegrityError("duplicate key"), context)
    assert conflict.status_code == 409
    assert conflict.data["type"] == "urn:sleutelbos:problem:conflict"
    assert "duplicate key" not in str(conflict.data)
    assert problem_exception_handler(RuntimeError("bug"), context) is None
