"""Mijn Sleutelbos: my means, my organisations and my mandates in plain words, with their validity."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import formats, timezone

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.services import means_set_status
from sleutelbos.mandates.services import Scope, mandate_revoke
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories
from tests.identity.test_login import add_totp
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db

URL = "/my/"


def date(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y")


@pytest.fixture
def bakery():
    return factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="45678901")


def test_the_overview_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("identity:login") + "?next=/my/"


def test_the_header_and_the_account_page_link_to_the_overview(client):
    person = factories.person()
    client.force_login(person)

    account = client.get(reverse("identity:account")).content.decode()

    assert f'href="{URL}"' in account
    assert 'href="/my/login-check/"' in account
    assert f'href="{URL}"' in client.get("/").content.decode()  # the header, on every page


def test_my_means_and_how_i_log_in(english):
    person = factories.person(level=Level.EH3)
    add_totp(person)
    english.force_login(person)

    page = text(english.get(URL))

    assert "Level EH3" in page
    assert "Status Active" in page
    assert "Authenticator app: Telefoon" in page
    assert "0 unused recovery codes" in page


def test_a_suspended_means_is_said_in_words(english):
    person = factories.person(level=Level.EH3)
    means_set_status(actor=SYSTEM, person=person, status="suspended", reason="lost phone")
    english.force_login(person)

    page = text(english.get(URL))

    assert "Status Suspended" in page
    assert "You cannot log in at service providers with your means now." in page


def test_my_mandates_in_plain_words(english, bakery):
    person = factories.person(level=Level.EH3)
    kadaster = factories.provider(name="Kadaster")
    tax = factories.provider(name="Belastingdienst")
    vat = factories.definition(tax, name="Aangifte omzetbelasting")
    payroll = factories.definition(tax, name="Aangifte loonheffingen")
    factories.mandate(person, bakery, scope=Scope.all(), level=Level.EH3)
    factories.mandate(person, bakery, scope=Scope.of_providers(kadaster), level=Level.EH2_PLUS)
    factories.mandate(person, bakery, scope=Scope.of_services(vat.uuid, payroll.uuid), level=Level.EH3)
    english.force_login(person)

    page = text(english.get(URL))

    assert "Bakkerij De Gouden Korst B.V." in page
    assert "KvK 45678901" in page
    assert "For all services of all service providers at level EH3, including new service providers." in page
    assert "For all services of Kadaster at level EH2+, including new services." in page
    assert (
        "For only the services Aangifte loonheffingen of Belastingdienst and Aangifte omzetbelasting of "
        "Belastingdienst at level EH3." in page
    )


def test_a_service_that_two_providers_publish_is_named_with_both(english, bakery):
    person = factories.person(level=Level.EH3)
    town = factories.provider(name="Gemeente Sleutelstad")
    agency = factories.provider(name="Omgevingsdienst")
    permits = factories.definition(town, name="Vergunningen", level=Level.EH2_PLUS)
    factories.definition(agency, name="Vergunningen", level=Level.EH2_PLUS, uuid=permits.uuid)
    factories.mandate(person, bakery, scope=Scope.of_services(permits.uuid), level=Level.EH2_PLUS)
    english.force_login(person)

    page = text(english.get(URL))

    assert "For only the service Vergunningen of Gemeente Sleutelstad and Omgevingsdienst at level EH2+." in page


def test_validity_and_branch(english, bakery):
    person = factories.person(level=Level.EH3)
    branch = factories.branch(bakery, number="000045678902")
    mandate = factories.mandate(person, bakery, valid_until=factories.years_from_now(3), branch_=branch)
    english.force_login(person)

    page = text(english.get(URL))

    assert f"Valid until {date(mandate.valid_until)}." in page
    assert "Valid: " not in page
    assert f"Only for branch {branch.name} (000045678902)." in page
    assert "expires soon" not in page


@pytest.mark.parametrize(("days_left", "warned"), [(59, True), (61, False)])
def test_a_mandate_is_flagged_from_60_days_before_it_expires(english, bakery, days_left, warned):
    person = factories.person(level=Level.EH3)
    mandate = factories.mandate(person, bakery, valid_until=factories.years_from_now(1))

    with time_machine.travel(mandate.valid_until - dt.timedelta(days=days_left), tick=False):
        english.force_login(person)
        response = english.get(URL)

    page = text(response)
    warning = f"Expires in {days_left} days, on {date(mandate.valid_until)}."
    assert (warning in page) is warned
    assert ("Attention: this mandate expires soon." in page) is warned
    assert ("1 of your mandates from this organisation expires within 60 days." in page) is warned
    if not warned:
        assert f"Valid until {date(mandate.valid_until)}." in page


def test_the_expiry_warning_is_in_dutch_for_a_dutch_reader(client, bakery):
    person = factories.person(level=Level.EH3)
    mandate = factories.mandate(person, bakery, valid_until=factories.years_from_now(1))

    with time_machine.travel(mandate.valid_until - dt.timedelta(days=30), tick=False):
        client.force_login(person)
        response = client.get(URL)

    assert 'lang="nl"' in response.content.decode()
    assert "Let op: deze machtiging verloopt binnenkort." in text(response)


def test_a_mandate_ending_tomorrow_expires_tomorrow(english, bakery):
    person = factories.person(level=Level.EH3)
    at = dt.datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    with time_machine.travel(at - dt.timedelta(days=1), tick=False):
        mandate = factories.mandate(person, bakery, valid_until=at + dt.timedelta(hours=26))

    with time_machine.travel(at, tick=False):
        english.force_login(person)
        page = text(english.get(URL))

    assert f"Expires tomorrow, on {date(mandate.valid_until)}." in page
    assert "2 days" not in page


def test_a_manager_is_offered_to_renew_their_own_expiring_mandate(english, bakery):
    person = factories.person(level=Level.EH3)
    membership_ensure(actor=SYSTEM, person=person, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=person, organisation=bakery, level=Level.EH3)
    mandate = factories.mandate(person, bakery, valid_until=factories.years_from_now(1))

    with time_machine.travel(mandate.valid_until - dt.timedelta(days=30), tick=False):
        english.force_login(person)
        response = english.get(URL)

    page = text(response)
    renew = reverse("manage_mandate_renew", kwargs={"organisation": bakery.pk, "mandate": mandate.pk})
    assert f'href="{renew}"' in response.content.decode()
    assert "Renew this mandate" in page
    assert "Ask your organisation's mandate manager" not in page


def test_a_manager_below_the_mandates_level_is_asked_to_turn_to_another_manager(english, bakery):
    person = factories.person(level=Level.EH3)
    membership_ensure(actor=SYSTEM, person=person, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=person, organisation=bakery, level=Level.EH2)
    mandate = factories.mandate(person, bakery, level=Level.EH3, valid_until=factories.years_from_now(1))

    with time_machine.travel(mandate.valid_until - dt.timedelta(days=30), tick=False):
        english.force_login(person)
        response = english.get(URL)

    assert "Ask your organisation's mandate manager to renew it in time" in text(response)
    assert "/renew/" not in response.content.decode()


def test_revoked_and_expired_mandates_are_shown_as_such(english, bakery):
    person = factories.person(level=Level.EH3)
    start = timezone.now() - dt.timedelta(days=400)
    with time_machine.travel(start, tick=False):
        expired = factories.mandate(person, bakery, valid_until=start + dt.timedelta(days=365))
    revoked = factories.mandate(person, bakery, scope=Scope.of_providers(factories.provider(name="Kadaster")))
    mandate_revoke(actor=SYSTEM, mandate=revoked)
    revoked.refresh_from_db()
    english.force_login(person)

    response = english.get(URL)
    page = text(response)

    assert f"Expired on {date(expired.valid_until)}." in page
    assert f"Revoked on {date(revoked.revoked_at)}." in page
    assert "Expired: " not in page and "Revoked: " not in page
    content = response.content.decode()
    assert f'data-mandate="{expired.pk}" data-state="expired"' in content
    assert f'data-mandate="{revoked.pk}" data-state="revoked"' in content


def test_the_chain_mandates_i_act_under(english):
    accountants = factories.organisation(name="Van Dijk & Partners")
    client_org = factories.organisation(name="Stichting Buurthuis", kvk="47890123")
    person = factories.person(level=Level.EH3)
    factories.mandate(person, accountants)
    tax = factories.provider(name="Belastingdienst")
    factories.chain_mandate(client_org, accountants, scope=Scope.of_providers(tax), level=Level.EH3)
    factories.chain_mandate(factories.organisation(name="Aannemer Bouw B.V."), accountants)
    english.force_login(person)

    page = text(english.get(URL))

    # Clients in alphabetical order.
    assert page.index("client Aannemer Bouw B.V.") < page.index("client Stichting Buurthuis")

    assert "Clients I can act for as an employee of Van Dijk & Partners" in page
    assert (
        "As intermediary for client Stichting Buurthuis (KvK 47890123): all services of Belastingdienst at level EH3, "
        "including new services." in page
    )


def test_a_member_without_mandates_and_a_manager(english, bakery):
    person = factories.person(level=Level.EH3)
    other = factories.organisation(name="Fietsenmakerij Vermeulen")
    membership_ensure(actor=SYSTEM, person=person, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=person, organisation=other, level=Level.EH3)
    english.force_login(person)

    page = text(english.get(URL))

    assert "You have no mandates from this organisation yet." in page
    assert "You are a mandate manager of this organisation, up to level EH3." in page


def test_i_see_only_my_own_mandates(english, bakery):
    me = factories.person(level=Level.EH3)
    colleague = factories.person(level=Level.EH3)
    elsewhere = factories.organisation(name="Geheim B.V.")
    factories.mandate(me, bakery, scope=Scope.all())
    theirs = factories.mandate(colleague, bakery, scope=Scope.of_providers(factories.provider(name="Kadaster")))
    factories.mandate(colleague, elsewhere)
    english.force_login(me)

    response = english.get(URL)
    page = text(response)

    assert "Bakkerij De Gouden Korst B.V." in page
    assert "Geheim B.V." not in page
    assert "Kadaster" not in page
    assert f'data-mandate="{theirs.pk}"' not in response.content.decode()


@pytest.mark.parametrize("size", [1, 15])
def test_the_number_of_queries_does_not_grow_with_my_mandates(english, size, django_assert_max_num_queries):
    person = factories.person(level=Level.EH3)
    add_totp(person)
    for _ in range(size):
        organisation = factories.organisation()
        provider = factories.provider()
        factories.mandate(person, organisation, scope=Scope.of_providers(provider))
        factories.mandate(person, organisation, scope=Scope.of_services(factories.definition(provider).uuid))
        factories.chain_mandate(factories.organisation(), organisation, scope=Scope.of_providers(provider))
    english.force_login(person)
    english.get(URL)  # the session settles

    with django_assert_max_num_queries(13):
        response = english.get(URL)

    assert response.content.decode().count("data-mandate=") == 2 * size
    assert response.content.decode().count("data-chain-mandate=") == size
