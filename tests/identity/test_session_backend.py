"""The session and its person read in one statement: the same person, the same checks, one statement fewer."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import session_backend
from tests.identity.test_login import person_with_password, post_password

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reads(client: Client, path: str) -> tuple[int, list[str], list[str]]:
    """The status of a GET, the statements that read the session, and those that read a person by itself."""
    with CaptureQueriesContext(connection) as context:
        status = client.get(path).status_code
    statements = [query["sql"] for query in context.captured_queries]
    return (
        status,
        [sql for sql in statements if "django_session" in sql],
        [sql for sql in statements if 'FROM "identity_person"' in sql],
    )


def test_a_known_session_and_its_person_are_read_in_one_statement(client):
    person = person_with_password(Level.EH2)
    post_password(client, person)
    client.get(reverse("identity:account"))  # this process meets the new session key

    status, session_reads, person_reads = reads(client, reverse("identity:account"))

    assert status == 200
    assert len(session_reads) == 1
    assert '"identity_person"' in session_reads[0]
    assert person_reads == []
    assert person.name.encode() in client.get(reverse("identity:account")).content


def test_log_out_everywhere_still_ends_a_session_read_with_its_person(client):
    person = person_with_password(Level.EH2)
    laptop = Client()
    post_password(laptop, person)
    assert laptop.get(reverse("identity:account")).status_code == 200
    assert reads(laptop, reverse("identity:account"))[0] == 200  # now read in one statement

    post_password(client, person)
    client.post(reverse("identity:logout_everywhere"))

    assert laptop.get(reverse("identity:account")).status_code == 302


def test_a_deactivated_person_is_logged_out(client):
    person = person_with_password(Level.EH2)
    post_password(client, person)
    assert client.get(reverse("identity:account")).status_code == 200

    person.is_active = False
    person.save(update_fields=["is_active"])

    assert client.get(reverse("identity:account")).status_code == 302


def test_a_wrong_guess_of_the_person_reads_the_right_one(client):
    person = person_with_password(Level.EH2)
    other = person_with_password(Level.EH2, name="Iemand Anders")
    post_password(client, person)
    session_backend._person_of_session[client.session.session_key] = other.pk

    response = client.get(reverse("identity:account"))

    assert response.status_code == 200
    assert person.name.encode() in response.content
    assert other.name.encode() not in response.content
