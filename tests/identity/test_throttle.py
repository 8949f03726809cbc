"""At most 100 failed logins per account and 300 per client address per hour, without revealing accounts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from sleutelbos.identity import throttle, views
from sleutelbos.identity.models import LoginFailure
from tests.identity.test_login import body, message, person_with_password, post_password

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fail(account: str, count: int, *, address: str | None = None, at: dt.datetime | None = None) -> None:
    LoginFailure.objects.bulk_create(
        [LoginFailure(account=account, address=address, at=at or timezone.now()) for _ in range(count)]
    )


def error_summary(response) -> str:
    match = re.search(r'<div class="error-summary".*?</div>', body(response), re.S)
    assert match, "no error summary"
    return match.group(0)


def test_the_hundred_and_first_attempt_is_refused_even_with_the_right_password(client):
    person = person_with_password()
    fail(person.email, 99)
    post_password(client, person, "fout-wachtwoord-nummer-100")
    assert LoginFailure.objects.filter(account=person.email).count() == 100

    response = post_password(client, person)

    assert message(throttle.TOO_MANY_ATTEMPTS) in body(response)
    assert "_auth_user_id" not in client.session
    assert LoginFailure.objects.filter(account=person.email).count() == 100  # refused attempts are not checked


def test_the_throttle_message_is_the_same_for_an_unknown_account():
    person = person_with_password()
    fail(person.email, 100)
    fail("niemand@example.nl", 100)

    known = post_password(Client(), person, "fout")
    unknown = post_password(Client(), "niemand@example.nl", "fout")

    assert error_summary(known) == error_summary(unknown)
    assert message(throttle.TOO_MANY_ATTEMPTS) in error_summary(known)


def test_the_account_is_typed_in_any_case(client):
    person = person_with_password()
    fail(person.email, 100)

    response = post_password(client, person.email.upper())

    assert message(throttle.TOO_MANY_ATTEMPTS) in body(response)


def test_failures_older_than_an_hour_no_longer_count(client):
    person = person_with_password()
    fail(person.email, 100, at=timezone.now() - dt.timedelta(minutes=61))

    post_password(client, person)

    assert "_auth_user_id" in client.session


def test_an_address_with_three_hundred_failures_is_throttled_for_every_account():
    person = person_with_password()
    for n in range(3):
        fail(f"raden{n}@example.nl", 100, address="192.0.2.7")
    from_there = Client(REMOTE_ADDR="192.0.2.7")
    elsewhere = Client(REMOTE_ADDR="198.51.100.1")

    refused = post_password(from_there, person)
    allowed = post_password(elsewhere, person)

    assert message(throttle.TOO_MANY_ATTEMPTS) in body(refused)
    assert "_auth_user_id" not in from_there.session
    assert allowed.status_code == 302


def test_the_window_slides(client):
    person = person_with_password()
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        fail(person.email, 100)
        traveller.shift(dt.timedelta(minutes=59))
        assert message(throttle.TOO_MANY_ATTEMPTS) in body(post_password(client, person, "fout"))
        traveller.shift(dt.timedelta(minutes=2))

        response = post_password(client, person, "fout")

        assert message(views.WRONG_CREDENTIALS) in body(response)
