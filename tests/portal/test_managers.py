"""The manager module's common ground: only managers of an organisation reach its pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories

pytestmark = pytest.mark.django_db

PAGES = ["manage_dashboard", "manage_people", "manage_mandates", "manage_chain_mandates", "manage_audit"]


def _manager(organisation: object, level: Level = Level.EH3) -> object:
    person = factories.person(level=level)
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=level)
    return person


def _client(person: object) -> Client:
    client = Client()
    client.force_login(person)
    return client


@pytest.mark.parametrize("name", PAGES)
def test_a_manager_opens_every_page_of_their_organisation(name):
    organisation = factories.organisation(name="Bakkerij Brood")
    page = _client(_manager(organisation)).get(reverse(name, kwargs={"organisation": organisation.pk}))
    assert page.status_code == 200
    assert "Bakkerij Brood" in page.content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_manager_of_another_organisation_gets_not_found(name):
    mine, theirs = factories.organisation(), factories.organisation()
    page = _client(_manager(mine)).get(reverse(name, kwargs={"organisation": theirs.pk}))
    assert page.status_code == 404


@pytest.mark.parametrize("name", PAGES)
def test_a_member_who_is_not_a_manager_gets_not_found(name):
    organisation = factories.organisation()
    person = factories.person()
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    page = _client(person).get(reverse(name, kwargs={"organisation": organisation.pk}))
    assert page.status_code == 404


def test_anonymous_visitors_are_sent_to_log_in():
    organisation = factories.organisation()
    page = Client().get(reverse("manage_people", kwargs={"organisation": organisation.pk}))
    assert page.status_code == 302 and "/account/login/" in page["Location"]


def test_the_dashboard_links_every_section():
    organisation = factories.organisation()
    html = _client(_manager(organisation)).get(reverse("manage_dashboard", kwargs={"organisation": organisation.pk}))
    for name in PAGES[1:]:
        assert reverse(name, kwargs={"organisation": organisation.pk}) in html.content.decode()
