"""``sleutelbos createapitoken NAME``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from sleutelbos.api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_last_line_is_a_key_that_opens_the_api() -> None:
    out = StringIO()
    call_command("createapitoken", "gemeente-portaal", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert ApiToken.objects.get().name == "gemeente-portaal"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/people").status_code == 200


def test_a_duplicate_name_is_refused() -> None:
    call_command("createapitoken", "belastingdienst", stdout=StringIO())
    with pytest.raises(CommandError, match="belastingdienst"):
        call_command("createapitoken", "belastingdienst", stdout=StringIO())
    assert ApiToken.objects.count() == 1


def test_an_empty_name_is_refused() -> None:
    with pytest.raises(CommandError):
        call_command("createapitoken", "  ", stdout=StringIO())
    assert not ApiToken.objects.exists()
