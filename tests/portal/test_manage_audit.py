"""The manager's audit trail: what happened to the organisation, filtered, a page at a time, and as CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sleutelbos.audit.services import SYSTEM, Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.services import mandate_revoke
from sleutelbos.organisations.services import membership_end, membership_ensure, membership_set_manager
from sleutelbos.portal.manage_audit import PAGE
from sleutelbos.saml.models import ServiceProviderEntity
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db


def _manager(organisation, *, name: str = "Mila Manager"):
    person = factories.person(name=name)
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=Level.EH3)
    return person


def _as(person, english: Client) -> Client:
    english.force_login(person)
    return english


def _trail(client: Client, organisation, **query):
    return client.get(reverse("manage_audit", kwargs={"organisation": organisation.pk}), query)


def _events(response) -> str:
    """The text of the trail's table (the filter's person choice names people too)."""
    html = response.content.decode()
    if "<tbody>" not in html:
        return ""
    return text(type(response)(html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]))


def _export(client: Client, organisation, *, delimiter: str = ",", **query) -> list[dict[str, str]]:
    """The rows of the exported file as a spreadsheet reads them: UTF-8 with a byte order mark, by the headings."""
    response = client.get(reverse("manage_audit_export", kwargs={"organisation": organisation.pk}), query)
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff")), delimiter=delimiter))


@pytest.fixture
def world():
    """Bakkerij Brood with a manager who granted Henk a mandate and revoked Ines's; Slagerij Vlees next door."""
    bakery = factories.organisation(name="Bakkerij Brood")
    butcher = factories.organisation(name="Slagerij Vlees")
    manager = _manager(bakery)
    henk = factories.person(name="Henk Houder")
    ines = factories.person(name="Ines Ingetrokken")
    factories.mandate(henk, bakery)
    revoked = factories.mandate(ines, bakery)
    mandate_revoke(actor=Actor.for_person(manager), mandate=revoked, reason="Left the company")
    factories.mandate(factories.person(name="Vera Vleeskeurder"), butcher)
    return {"bakery": bakery, "butcher": butcher, "manager": manager, "henk": henk, "ines": ines}


def test_the_trail_tells_in_words_who_did_what_for_whom(world, english):
    page = _trail(_as(world["manager"], english), world["bakery"])
    assert page.status_code == 200
    words = text(page)
    assert "Audit trail of Bakkerij Brood" in words
    assert "Mandate granted for Henk Houder, level EH3" in words
    assert "Mandate revoked for Ines Ingetrokken, reason: Left the company Mila Manager" in words
    assert "Sleutelbos itself" in words  # the grants by the system
    assert "mandate:granted" not in words


def test_the_trail_never_shows_another_organisations_events(world, english):
    words = text(_trail(_as(world["manager"], english), world["bakery"]))
    assert "Vera Vleeskeurder" not in words
    assert "Slagerij Vlees" not in words
    assert "Person linked Henk Houder" in _events(_trail(_as(world["manager"], english), world["bakery"]))


def test_the_trail_and_its_export_are_not_found_for_another_organisations_manager(world, english):
    client = _as(world["manager"], english)
    assert _trail(client, world["butcher"]).status_code == 404
    export = client.get(reverse("manage_audit_export", kwargs={"organisation": world["butcher"].pk}))
    assert export.status_code == 404


def test_an_employee_who_is_not_a_manager_cannot_export(world, english):
    response = _as(world["henk"], english).get(
        reverse("manage_audit_export", kwargs={"organisation": world["bakery"].pk})
    )
    assert response.status_code == 404


def test_filtering_by_what_happened_shows_only_those_events(world, english):
    page = _trail(_as(world["manager"], english), world["bakery"], action="mandate:revoked")
    words = text(page)
    assert "1 event, newest first." in words
    assert "Ines Ingetrokken, reason: Left the company" in words
    assert "Mandate granted for Henk Houder" not in words
    assert '<option value="mandate:revoked" selected>Mandate revoked</option>' in page.content.decode()


def test_filtering_by_person_shows_what_they_did_and_what_was_done_about_them(world, english):
    client = _as(world["manager"], english)
    about_henk = _events(_trail(client, world["bakery"], person=world["henk"].pk))
    assert "Mandate granted for Henk Houder" in about_henk
    assert "Person linked Henk Houder" in about_henk
    assert "Ines Ingetrokken" not in about_henk
    by_manager = text(_trail(client, world["bakery"], person=world["manager"].pk, action="mandate:revoked"))
    assert "Mandate revoked for Ines Ingetrokken" in by_manager


def test_a_person_of_another_organisation_is_no_choice(world, english):
    stranger = factories.person(name="Sven Vreemd")
    page = _trail(_as(world["manager"], english), world["bakery"], person=stranger.pk)
    assert page.status_code == 400
    assert "Select a valid choice" in text(page)
    assert "Sven Vreemd" not in text(page)
    assert _events(page) == ""


def test_the_person_choice_lists_the_organisations_people_only(world, english):
    words = text(_trail(_as(world["manager"], english), world["bakery"]))
    assert "Henk Houder (" in words and "Ines Ingetrokken (" in words
    assert "Vera Vleeskeurder" not in words


def test_a_former_member_stays_a_choice_and_their_events_are_found(world, english):
    bakery, manager = world["bakery"], world["manager"]
    kees = factories.person(name="Kees Mulder", email="kees@example.nl")
    membership = membership_ensure(actor=Actor.for_person(manager), person=kees, organisation=bakery)
    factories.mandate(kees, bakery)
    membership_end(actor=Actor.for_person(manager), membership=membership)
    client = _as(manager, english)

    assert "Kees Mulder (kees@example.nl)" in text(_trail(client, bakery))
    page = _trail(client, bakery, person=kees.pk)

    assert page.status_code == 200
    about_kees = _events(page)
    assert "Person unlinked Kees Mulder" in about_kees
    assert "Person linked Kees Mulder" in about_kees
    assert "Mandate revoked for Kees Mulder, reason: the person was unlinked from the organisation" in about_kees
    assert "Henk Houder" not in about_kees
    exported = _export(client, bakery, person=kees.pk)
    assert {row["About whom or what"] for row in exported} == {"Kees Mulder"}


def test_a_date_range_keeps_the_events_of_those_days(world, english):
    bakery = world["bakery"]
    with time_machine.travel(dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)):
        factories.mandate(factories.person(name="Maart Medewerker"), bakery)
    with time_machine.travel(dt.datetime(2025, 5, 20, 23, 30, tzinfo=timezone.get_current_timezone())):
        factories.mandate(factories.person(name="Mei Medewerker"), bakery)
    client = _as(world["manager"], english)
    may = _events(_trail(client, bakery, start="2025-05-01", end="2025-05-20"))
    assert "Mei Medewerker" in may  # late in the evening of the last day still counts
    assert "Maart Medewerker" not in may and "Henk Houder" not in may
    spring = _events(_trail(client, bakery, start="2025-03-10", end="2025-05-19", action="mandate:granted"))
    assert "Maart Medewerker" in spring and "Mei Medewerker" not in spring


def test_an_end_before_the_start_is_refused_with_a_reason_on_the_field(world, english):
    page = _trail(_as(world["manager"], english), world["bakery"], start="2025-05-01", end="2025-04-01")
    assert page.status_code == 400
    html = page.content.decode()
    assert "The end date cannot be before the start date (1 May 2025)." in text(page)
    assert 'aria-describedby="id_end_error' in html or 'aria-invalid="true"' in html
    assert "data-audit>" not in html


def test_an_impossible_date_is_refused(world, english):
    page = _trail(_as(world["manager"], english), world["bakery"], start="2025-02-30")
    assert page.status_code == 400
    assert "Enter a valid date." in text(page)


def test_a_filter_that_matches_nothing_says_so(world, english):
    page = _trail(_as(world["manager"], english), world["bakery"], start="2030-01-01")
    assert "No events match these filters." in text(page)


def test_long_trails_come_a_page_at_a_time_and_the_pages_keep_the_filter(world, english):
    bakery = world["bakery"]
    for n in range(PAGE + 5):
        audit_record(
            actor=SYSTEM, action="mandate:revoked", subject=bakery, organisation=bakery, data={"reason": f"R{n:03d}"}
        )
    client = _as(world["manager"], english)
    first = _trail(client, bakery, action="mandate:revoked")
    words = text(first)
    assert f"{PAGE + 6} events, newest first. Showing 1 to {PAGE}." in words
    assert "Page 1 of 2" in words
    assert "reason: R054" in words and "reason: R004" not in words
    assert 'href="?action=mandate%3Arevoked&amp;page=2" rel="next"' in first.content.decode()
    second = text(_trail(client, bakery, action="mandate:revoked", page=2))
    assert "Page 2 of 2" in second
    assert "reason: R004" in second and "Left the company" in second and "reason: R054" not in second


def test_the_export_holds_every_filtered_event_not_just_one_page(world, english):
    bakery = world["bakery"]
    for n in range(PAGE + 5):
        audit_record(actor=SYSTEM, action="mandate:revoked", subject=bakery, organisation=bakery, data={"n": n})
    rows = _export(_as(world["manager"], english), bakery, action="mandate:revoked", page=2)
    assert len(rows) == PAGE + 6
    assert {row["What happened"] for row in rows} == {"Mandate revoked"}
    assert rows[-1]["Who"] == "Mila Manager" and rows[-1]["About whom or what"] == "Ines Ingetrokken"
    assert rows[-1]["Details"] == "reason: Left the company"


def test_the_export_reads_like_the_trail_with_a_number_per_event(world, english):
    client = _as(world["manager"], english)
    response = client.get(reverse("manage_audit_export", kwargs={"organisation": world["bakery"].pk}))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="audit-{world["bakery"].kvk}-')
    rows = _export(client, world["bakery"], person=world["henk"].pk)
    assert list(rows[0]) == [
        "Event number",
        "When",
        "What happened",
        "Who",
        "About whom or what",
        "Details",
        "Event code",
    ]
    assert [row["What happened"] for row in rows] == ["Mandate granted", "Person linked"]
    granted = rows[0]
    assert granted["Who"] == "Sleutelbos itself"
    assert granted["About whom or what"] == "Henk Houder"
    assert granted["Details"].startswith("level EH3")
    assert granted["Event code"] == "mandate:granted"
    assert int(granted["Event number"]) > int(rows[1]["Event number"])
    assert dt.datetime.strptime(granted["When"], "%Y-%m-%d %H:%M:%S")
    # No internal references a manager cannot read.
    for row in rows:
        for value in row.values():
            assert "mandates.mandate" not in value and "person:" not in value and "{" not in value


def test_the_export_in_dutch_is_for_a_dutch_spreadsheet(world):
    client = Client()
    client.force_login(world["manager"])
    rows = _export(client, world["bakery"], delimiter=";", person=world["henk"].pk)
    granted = rows[0]
    assert granted["Wat er is gebeurd"] == "Machtiging verleend"
    assert granted["Wie"] == "Sleutelbos zelf"
    assert granted["Details"].startswith("niveau EH3")
    assert dt.datetime.strptime(granted["Wanneer"], "%Y-%m-%d %H:%M:%S")


def test_the_export_says_what_other_events_are_about(world, english):
    bakery, manager = world["bakery"], world["manager"]
    bookkeeper = factories.organisation(name="Boekhouder B.V.")
    factories.chain_mandate(bakery, bookkeeper)
    rows = _export(_as(manager, english), bakery, action="chain_mandate:granted")
    assert rows[0]["About whom or what"] == f"intermediary with KvK number {bookkeeper.kvk}"
    organisation = _export(_as(manager, english), bakery, action="organisation:created")
    assert organisation[0]["About whom or what"] == "Bakkerij Brood"


def test_the_export_cannot_smuggle_a_formula_into_a_spreadsheet(world, english):
    bakery = world["bakery"]
    ines = factories.person(name='=HYPERLINK("http://evil.example")')
    mandate = factories.mandate(ines, bakery)
    mandate_revoke(actor=Actor.for_person(world["manager"]), mandate=mandate, reason="@SUM(1)")
    rows = _export(_as(world["manager"], english), bakery, action="mandate:revoked")
    assert rows[0]["About whom or what"] == '\'=HYPERLINK("http://evil.example")'
    for row in rows:
        for value in row.values():
            assert value[:1] not in ("=", "+", "-", "@")


def test_the_export_with_a_wrong_filter_shows_the_page_with_the_error(world, english):
    response = _as(world["manager"], english).get(
        reverse("manage_audit_export", kwargs={"organisation": world["bakery"].pk}), {"end": "yesterday"}
    )
    assert response.status_code == 400
    assert "Enter a valid date." in text(response)


def test_logins_say_at_which_service_provider(world, english):
    bakery, henk = world["bakery"], world["henk"]
    provider = factories.provider(name="Kadaster")
    ServiceProviderEntity.objects.create(entity_id="https://dv.kadaster.example/sp", provider=provider, metadata_xml="")
    audit_record(
        actor=Actor.for_person(henk),
        action="saml:login_allowed",
        subject=henk,
        organisation=bakery,
        data={"entity_id": "https://dv.kadaster.example/sp", "level": "EH3", "services": []},
    )
    words = text(_trail(_as(world["manager"], english), bakery, action="saml:login_allowed"))
    assert "Logged in at a service provider at Kadaster, level EH3 Henk Houder" in words


def test_the_page_is_in_dutch_by_default(world):
    client = Client()
    client.force_login(world["manager"])
    words = text(_trail(client, world["bakery"]))
    assert "Bakkerij Brood" in words
    assert '<html lang="nl"' in _trail(client, world["bakery"]).content.decode()


def test_the_dashboard_still_links_the_trail(world, english):
    page = _as(world["manager"], english).get(reverse("manage_dashboard", kwargs={"organisation": world["bakery"].pk}))
    assert reverse("manage_audit", kwargs={"organisation": world["bakery"].pk}) in page.content.decode()
