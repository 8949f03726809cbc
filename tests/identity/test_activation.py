"""Activation from an e-mailed link: expires, works once, sets a password that follows the rules."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.models import Person
from tests import factories
from tests.identity.test_login import body, session_of

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "kastanje-in-de-herfstwind-7"


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def send(person: Person, capture, language: str | None = None) -> str:
    """Mail the activation link and return its path."""
    with capture(execute=True):
        activation_send(actor=SYSTEM, person=person, base_url="https://sleutelbos.example", language=language)
    match = re.search(r"https://sleutelbos\.example(/account/activate/\S+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def set_password(client: Client, path: str, password: str = NEW_PASSWORD):
    response = client.get(path)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], {"new_password1": password, "new_password2": password})


def test_the_mail_has_a_text_and_an_html_part_in_dutch_by_default(django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH3)

    path = send(person, django_capture_on_commit_callbacks)

    message = mail.outbox[-1]
    assert message.to == [person.email]
    assert path in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert f'href="https://sleutelbos.example{path}"' in html
    assert 'lang="nl"' in html


def test_the_mail_can_be_in_english(django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH3)

    send(person, django_capture_on_commit_callbacks, language="en")

    assert mail.outbox[-1].subject == "Activate your Sleutelbos account"
    assert 'lang="en"' in mail.outbox[-1].alternatives[0][0]


def test_activation_sets_the_password_and_logs_in(client, django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH3)
    path = send(person, django_capture_on_commit_callbacks)

    response = client.get(path)
    assert response["Location"] == reverse("identity:activate_password")  # the token leaves the address bar
    page = client.get(response["Location"])
    assert 'autocomplete="new-password"' in body(page)
    response = client.post(response["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert response["Location"] == reverse("identity:account")
    person.refresh_from_db()
    assert person.activated_at is not None
    assert person.check_password(NEW_PASSWORD)
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH2  # a password alone; the account page asks for more
    account = client.get(reverse("identity:account"))
    assert reverse("identity:totp_add") in body(account)


def test_each_broken_password_rule_gets_its_own_message(client, django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH2)
    path = send(person, django_capture_on_commit_callbacks)

    response = set_password(client, path, "wachtwoord")

    assert response.status_code == 400
    text = body(response)
    assert gettext("This password is too short. It must contain at least %d characters.") % 12 in text
    assert gettext("This password is too common.") in text
    assert '<a href="#id_new_password1">' in text
    person.refresh_from_db()
    assert person.activated_at is None and not person.has_usable_password()


def test_two_different_passwords_are_refused(client, django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH2)
    path = send(person, django_capture_on_commit_callbacks)
    client.get(path)

    response = client.post(
        reverse("identity:activate_password"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"}
    )

    assert gettext("The two passwords are not the same.") in body(response)


def test_the_link_works_once(client, django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH2)
    path = send(person, django_capture_on_commit_callbacks)
    set_password(client, path)

    again = Client().get(path)

    assert again.status_code == 400
    assert gettext("This activation link has expired or has been used already. Nothing was changed.") in body(again)
    person.refresh_from_db()
    assert person.check_password(NEW_PASSWORD)


def test_the_link_expires_after_the_configured_days(settings, django_capture_on_commit_callbacks):
    settings.SLEUTELBOS_ACTIVATION_DAYS = 7
    person = factories.person(level=Level.EH2)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        path = send(person, django_capture_on_commit_callbacks)
        traveller.shift(dt.timedelta(days=6, hours=23))
        assert Client().get(path).status_code == 302
        traveller.shift(dt.timedelta(hours=2))

        response = set_password(Client(), path)

    assert response.status_code == 400
    person.refresh_from_db()
    assert person.activated_at is None


def test_a_tampered_link_changes_nothing(client, django_capture_on_commit_callbacks):
    person = factories.person(level=Level.EH2)
    path = send(person, django_capture_on_commit_callbacks)

    response = client.get(path[:-3] + "xx/")

    assert response.status_code == 400
    assert client.get(reverse("identity:activate_password")).status_code == 400
