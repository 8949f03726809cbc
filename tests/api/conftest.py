"""An API client holding a token, and how a problem document is checked."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from sleutelbos.api.models import ApiToken

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def api(db: None) -> APIClient:
    """A client that sends JSON with a fresh token named "tests"."""
    _token, key = ApiToken.issue("tests")
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def anonymous(db: None) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    return client


def problem(response: Any, status: int, *fields: str) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status`` whose ``errors`` name every dotted field given."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:sleutelbos:problem:")
    assert body["title"]
    assert body["detail"]
    for field in fields:
        node = body["errors"]
        for part in field.split("."):
            assert part in node, f"{field} not in {body['errors']}"
            node = node[part]
        assert isinstance(node, list)
        assert node
        assert all(isinstance(message, str) and message for message in node)
    return body
