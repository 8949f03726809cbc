"""Sleutelbos remembers the language a person uses it in, for the mail it sends them."""

from __future__ import annotations

import pytest
from django.test import Client

from sleutelbos.audit.services import SYSTEM
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.language import person_language
from sleutelbos.mail.models import OutgoingMail
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_person_who_switches_to_english_gets_mail_in_english():
    person = factories.person(email="sam@example.nl")
    client = Client()
    client.force_login(person)
    assert person_language(person) == "nl"  # nothing known yet: the default
    client.post("/i18n/setlang/", {"language": "en", "next": "/my/"})
    client.get("/my/")
    person.refresh_from_db()
    assert person.language == "en"
    activation_send(actor=SYSTEM, person=person, base_url="https://sleutelbos.example")
    assert OutgoingMail.objects.get(to="sam@example.nl").language == "en"


def test_switching_back_to_dutch_is_remembered_too():
    person = factories.person()
    person.language = "en"
    person.save(update_fields=["language"])
    client = Client()
    client.force_login(person)
    client.post("/i18n/setlang/", {"language": "nl", "next": "/my/"})
    client.get("/my/")
    person.refresh_from_db()
    assert person.language == "nl"


def test_anonymous_visits_store_nothing():
    person = factories.person()
    Client().get("/", HTTP_ACCEPT_LANGUAGE="en")
    person.refresh_from_db()
    assert person.language == ""
