"""Where can I log in? Per organisation of mine, every service with yes or no, the reasons, and the missing mandate."""

from __future__ import annotations

import datetime as dt
import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import membership_ensure
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db

URL = "/my/login-check/"
ROW = re.compile(r'<tr data-service="(?P<uuid>[^"]+)" data-provider="(?P<oin>\d+)" data-allowed="(?P<allowed>yes|no)">')


def rows(response) -> dict[tuple[str, str], str]:
    """(provider OIN, ServiceUUID) -> "yes"/"no", for every service the page lists."""
    return {(m["oin"], m["uuid"]): m["allowed"] for m in ROW.finditer(response.content.decode())}


def row_html(response, definition) -> str:
    """The table row of one service."""
    content = response.content.decode()
    start = content.index(f'<tr data-service="{definition.uuid}" data-provider="{definition.provider.oin}"')
    return content[start : content.index("</tr>", start)]


def request_links(response, definition) -> list[dict[str, list[str]]]:
    """The query parameters of each "request this mandate" link in the service's row."""
    found = re.findall(r'<a href="([^"]+)" data-request-mandate>', row_html(response, definition))
    links = []
    for href in found:
        url = urlsplit(html.unescape(href))
        assert url.path == "/requests/new/"
        links.append(parse_qs(url.query, strict_parsing=True))
    return links


@pytest.fixture
def world():
    """A bakery, its employee with an EH3 means and a mandate for all of the Kadaster's services, and a catalogue."""
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="45678901")
    person = factories.person(level=Level.EH3, name="Fatima El Amrani")
    kadaster = factories.provider(name="Kadaster", oin="00000009900000002000")
    tax = factories.provider(name="Belastingdienst", oin="00000009900000001000")
    services = {
        "map": factories.definition(kadaster, name="Kadastrale kaart inzien", level=Level.EH2),
        "deeds": factories.definition(kadaster, name="Akten inzien", level=Level.EH4),
        "vat": factories.definition(tax, name="Aangifte omzetbelasting", level=Level.EH3),
        "vatid": factories.definition(tax, name="Btw-identificatienummer opvragen", level=Level.EH2_PLUS),
    }
    mandate = factories.mandate(person, bakery, scope=Scope.of_providers(kadaster), level=Level.EH3)
    return {"bakery": bakery, "person": person, "mandate": mandate, **services}


def test_the_page_needs_a_login(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("identity:login") + "?next=/my/login-check/"


def test_every_service_with_yes_or_no_in_words(english, world):
    english.force_login(world["person"])

    response = english.get(URL)

    assert response.status_code == 200
    assert rows(response) == {
        (world["map"].provider.oin, str(world["map"].uuid)): "yes",
        (world["deeds"].provider.oin, str(world["deeds"].uuid)): "no",
        (world["vat"].provider.oin, str(world["vat"].uuid)): "no",
        (world["vatid"].provider.oin, str(world["vatid"].uuid)): "no",
    }
    page = text(response)
    assert "The catalogue has 4 services; you can log in at 1 of them." in page
    # Not the symbol alone: every verdict is written out.
    map_row = row_html(response, world["map"])
    assert '<span aria-hidden="true">✓</span> Yes, you can log in' in map_row
    assert "With your mandate for all services of Kadaster at level EH3, including new services." in map_row
    assert '<span aria-hidden="true">✗</span> No, you cannot log in' in row_html(response, world["vat"])


def test_the_reasons_come_from_the_decision(english, world):
    english.force_login(world["person"])

    response = english.get(URL)

    vat = row_html(response, world["vat"])
    assert 'data-reason="no_mandate"' in vat
    assert "You have no mandate from this organisation that covers this service." in vat
    deeds = row_html(response, world["deeds"])
    assert "Your eHerkenning means has level EH3, but this service asks for EH4." in deeds
    assert "Your mandate is for level EH3, but this service asks for EH4." in deeds


def test_each_reason_is_said_once(english, world):
    # A second mandate that covers the EH4 service, also at EH3: the decision has a reason per mandate.
    factories.mandate(world["person"], world["bakery"], scope=Scope.all(), level=Level.EH3)
    english.force_login(world["person"])

    deeds = row_html(english.get(URL), world["deeds"])

    assert deeds.count("Your mandate is for level EH3, but this service asks for EH4.") == 1
    assert deeds.count("Your eHerkenning means has level EH3, but this service asks for EH4.") == 1


def test_the_page_agrees_with_decide_for_every_service(english, world):
    expired_org = factories.organisation()
    membership_ensure(actor=SYSTEM, person=world["person"], organisation=expired_org)
    english.force_login(world["person"])

    response = english.get(URL)

    for key in ("map", "deeds", "vat", "vatid"):
        definition = world[key]
        decision = decide(world["person"], world["bakery"], definition)
        row = row_html(response, definition)
        assert f'data-allowed="{"yes" if decision.allowed else "no"}"' in row
        assert re.findall(r'data-reason="([a-z_]+)"', row) == decision.codes


def test_a_refused_service_links_to_exactly_the_missing_mandate(english, world):
    english.force_login(world["person"])

    response = english.get(URL)

    assert request_links(response, world["vat"]) == [
        {
            "kvk": ["45678901"],
            "provider": ["00000009900000001000"],
            "service": [str(world["vat"].uuid)],
            "level": ["EH3"],
        }
    ]
    # EH2+ travels in the address as it is written.
    assert request_links(response, world["vatid"])[0]["level"] == ["EH2+"]
    # The link says which service it is for, also out of the table's context (a screen reader's list of links).
    link_text = 'Request this mandate<span class="visually-hidden">: Aangifte omzetbelasting, Belastingdienst</span>'
    assert link_text in row_html(response, world["vat"])
    # Allowed: nothing to request.
    assert request_links(response, world["map"]) == []


def test_the_request_wizard_takes_the_link_as_it_is(english, world):
    english.force_login(world["person"])
    page = english.get(URL).content.decode()
    start = page.index(f'<tr data-service="{world["vat"].uuid}"')
    href = html.unescape(re.search(r'<a href="([^"]+)" data-request-mandate>', page[start:]).group(1))

    wizard = english.get(href)

    assert wizard.status_code == 200
    form = wizard.content.decode()
    assert 'name="provider" value="00000009900000001000"' in form
    assert f'name="service" value="{world["vat"].uuid}"' in form
    assert 'name="level" value="EH3"' in form
    assert re.search(r'<input type="radio" name="organisation" value="45678901"[^>]* checked>', form)


def test_no_request_link_where_the_means_stands_in_the_way(english, world):
    english.force_login(world["person"])

    response = english.get(URL)

    # Akten inzien needs EH4 and the means is EH3: a mandate at EH4 could not be granted, so none is offered.
    assert request_links(response, world["deeds"]) == []


def test_an_expired_mandate_is_refused_with_its_date_and_can_be_requested_again(english, world):
    bakery, person = world["bakery"], world["person"]
    start = timezone.now() - dt.timedelta(days=400)
    with time_machine.travel(start, tick=False):
        factories.mandate(
            person, bakery, scope=Scope.of_services(world["vat"].uuid), valid_until=start + dt.timedelta(days=365)
        )
    english.force_login(person)

    response = english.get(URL)

    vat = row_html(response, world["vat"])
    assert 'data-reason="mandate_expired"' in vat
    assert "Your mandate expired on" in vat
    assert request_links(response, world["vat"])[0]["service"] == [str(world["vat"].uuid)]


def test_search_by_provider_and_by_service_name(english, world):
    english.force_login(world["person"])

    by_provider = english.get(URL, {"organisation": "45678901", "q": "kadaster"})
    by_service = english.get(URL, {"organisation": "45678901", "q": "omzet aangifte"})
    by_both = english.get(URL, {"organisation": "45678901", "q": "belastingdienst btw"})
    nothing = english.get(URL, {"organisation": "45678901", "q": "paspoort"})

    assert {uuid for _, uuid in rows(by_provider)} == {str(world["map"].uuid), str(world["deeds"].uuid)}
    assert {uuid for _, uuid in rows(by_service)} == {str(world["vat"].uuid)}
    assert {uuid for _, uuid in rows(by_both)} == {str(world["vatid"].uuid)}
    assert "2 services match “kadaster”; you can log in at 1 of them." in text(by_provider)
    assert rows(nothing) == {}
    assert "0 services match “paspoort”" in text(nothing)
    # The search form keeps what was typed, and is a plain GET form.
    content = by_service.content.decode()
    assert 'method="get"' in content
    assert 'value="omzet aangifte"' in content


def test_a_too_long_search_is_a_clear_error(english, world):
    english.force_login(world["person"])

    response = english.get(URL, {"organisation": "45678901", "q": "x" * 101})

    assert response.status_code == 400
    assert "Ensure this value has at most 100 characters (it has 101)." in text(response)
    assert 'aria-describedby="id_q_helptext id_q_error"' in response.content.decode()
    assert '<a href="#id_q">' in response.content.decode()  # the error summary leads to the field
    assert rows(response) == {}


def test_someone_elses_organisation_is_not_found(english, world):
    other = factories.organisation(name="Geheim B.V.", kvk="99999999")
    factories.mandate(factories.person(), other)
    english.force_login(world["person"])

    assert english.get(URL, {"organisation": "99999999"}).status_code == 404
    assert english.get(URL, {"organisation": "nonsense"}).status_code == 404
    page = english.get(URL).content.decode()
    assert "Geheim" not in page and "99999999" not in page


def test_the_organisation_to_check_is_chosen_from_mine(english, world):
    second = factories.organisation(name="Aardappel B.V.", kvk="12345670")
    membership_ensure(actor=SYSTEM, person=world["person"], organisation=second)
    english.force_login(world["person"])

    first = english.get(URL)
    chosen = english.get(URL, {"organisation": "45678901"})

    # Without a choice, the first of my organisations by name; it has no mandates: nothing is allowed.
    assert "Services for Aardappel B.V." in text(first)
    assert set(rows(first).values()) == {"no"}
    assert request_links(first, world["vat"])[0]["kvk"] == ["12345670"]
    assert "Services for Bakkerij De Gouden Korst B.V." in text(chosen)
    assert '<option value="45678901" selected>' in chosen.content.decode()


def test_acting_for_a_client_through_a_chain_mandate(english, world):
    accountants = factories.organisation(name="Van Dijk & Partners", kvk="46789012")
    client_org = factories.organisation(name="Stichting Buurthuis", kvk="47890123")
    lotte = factories.person(level=Level.EH3)
    tax = world["vat"].provider
    factories.mandate(lotte, accountants, scope=Scope.of_providers(tax), level=Level.EH3)
    factories.chain_mandate(client_org, accountants, scope=Scope.of_services(world["vat"].uuid), level=Level.EH3)
    english.force_login(lotte)

    response = english.get(URL, {"organisation": "47890123-via-46789012"})

    assert response.status_code == 200
    assert rows(response)[(tax.oin, str(world["vat"].uuid))] == "yes"
    vat = row_html(response, world["vat"])
    assert "And the chain mandate of Stichting Buurthuis for only the service Aangifte omzetbelasting" in vat
    vatid = row_html(response, world["vatid"])
    assert 'data-reason="chain_mandate_missing"' in vatid
    # Only the client can authorize the intermediary: nothing for Lotte to request.
    assert request_links(response, world["vatid"]) == []
    # Her own mandate from the intermediary is what is missing for the Kadaster: that she can request.
    assert request_links(response, world["map"])[0]["kvk"] == ["46789012"]
    assert english.get(URL, {"organisation": "47890123-via-99999999"}).status_code == 404


def test_nobody_to_log_in_for(english):
    english.force_login(factories.person())

    response = english.get(URL)

    assert response.status_code == 200
    assert "You do not belong to an organisation yet" in text(response)


def _catalogue(size: int) -> None:
    for n in range(size):
        factories.definition(factories.provider(name=f"Dienstverlener {n:03d}"), name=f"Dienst {n:03d}")


@pytest.mark.parametrize("size", [2, 40])
def test_the_number_of_queries_does_not_grow_with_the_catalogue(english, world, size, django_assert_max_num_queries):
    _catalogue(size)
    factories.mandate(world["person"], world["bakery"], scope=Scope.of_services(world["vat"].uuid))
    english.force_login(world["person"])
    english.get(URL)  # the session settles

    with django_assert_max_num_queries(14):
        response = english.get(URL)

    assert len(rows(response)) == 4 + size
