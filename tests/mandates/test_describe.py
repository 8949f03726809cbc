"""Mandates in plain words: the scope sentence and the validity, in the reader's language."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import formats, timezone, translation

from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.describe import (
    EXPIRY_WARNING_DAYS,
    ValidityState,
    describe_grants,
    describe_scope,
    describe_scope_of,
    describe_validity,
)
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.mandates.services import Scope
from tests import factories


@pytest.fixture(autouse=True)
def _english() -> None:
    with translation.override("en"):
        yield


def test_every_kind_of_scope_as_a_phrase():
    assert (
        describe_scope(ScopeKind.ALL, level=Level.EH3)
        == "all services of all service providers at level EH3, including new service providers"
    )
    assert (
        describe_scope(ScopeKind.PROVIDERS, level="EH2+", providers=["Kadaster", "Belastingdienst"])
        == "all services of Belastingdienst and Kadaster at level EH2+, including new services"
    )
    assert describe_scope(ScopeKind.SERVICES, services=["Mijn Kadaster of Kadaster"]) == (
        "only the service Mijn Kadaster of Kadaster"
    )
    assert describe_scope(ScopeKind.SERVICES, level=30, services=["C", "a", "B"]) == (
        "only the services a, B and C at level EH3"
    )


@pytest.mark.django_db
def test_a_scope_to_be_requested_reads_like_a_granted_one():
    kadaster = factories.provider(name="Kadaster")
    mine = factories.definition(kadaster, name="Mijn Kadaster")
    gone = uuid.UUID("00000000-0000-4000-8000-000000000001")

    assert describe_scope_of(ScopeKind.PROVIDERS, level=Level.EH3, providers=[kadaster]) == (
        "all services of Kadaster at level EH3, including new services"
    )
    assert describe_scope_of(ScopeKind.SERVICES, services=[mine.uuid, gone]) == (
        "only the services Mijn Kadaster of Kadaster and service 00000000-0000-4000-8000-000000000001 (no longer in "
        "the catalogue)"
    )


@pytest.mark.django_db
def test_granted_mandates_in_few_queries(django_assert_max_num_queries):
    person, organisation = factories.person(), factories.organisation()
    kadaster = factories.provider(name="Kadaster")
    service = factories.definition(kadaster, name="Mijn Kadaster")
    mandates = [
        factories.mandate(person, organisation, scope=Scope.all()),
        factories.mandate(person, organisation, scope=Scope.of_providers(kadaster)),
        factories.mandate(person, organisation, scope=Scope.of_services(service.uuid), level=Level.EH2),
    ]

    with django_assert_max_num_queries(3):
        phrases = describe_grants(mandates)

    assert list(phrases.values()) == [
        "all services of all service providers at level EH3, including new service providers",
        "all services of Kadaster at level EH3, including new services",
        "only the service Mijn Kadaster of Kadaster at level EH2",
    ]


@pytest.mark.django_db
def test_the_names_follow_the_readers_language():
    provider = factories.provider(name="Belastingdienst")
    provider.name_en = "Tax Administration"
    provider.save()
    mandate = factories.mandate(factories.person(), factories.organisation(), scope=Scope.of_providers(provider))

    assert "Tax Administration" in describe_grants([mandate])[mandate.pk]
    with translation.override("nl"):
        assert "Belastingdienst" in describe_grants([mandate])[mandate.pk]


@pytest.mark.django_db
def test_validity_states():
    mandate = factories.mandate(factories.person(), factories.organisation(), valid_until=factories.years_from_now(1))
    start, end = mandate.valid_from, mandate.valid_until

    assert describe_validity(mandate, start - dt.timedelta(days=1)).state == ValidityState.NOT_YET_VALID
    assert describe_validity(mandate, start).state == ValidityState.VALID
    warned = describe_validity(mandate, end - dt.timedelta(days=EXPIRY_WARNING_DAYS))
    assert warned.state == ValidityState.EXPIRING and warned.warning and warned.current
    assert warned.days_left == EXPIRY_WARNING_DAYS
    assert describe_validity(mandate, end - dt.timedelta(days=2)).sentence.startswith("Expires in 2 days, on ")
    assert describe_validity(mandate, end - dt.timedelta(days=1)).sentence.startswith("Expires tomorrow, on ")
    assert not describe_validity(mandate, end - dt.timedelta(days=EXPIRY_WARNING_DAYS + 1)).warning
    # The end is exclusive: at valid_until the mandate no longer serves.
    assert describe_validity(mandate, end).state == ValidityState.EXPIRED
    assert not describe_validity(mandate, end).current


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _day(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "j F Y")


def _ending(until: dt.datetime, *, at: dt.datetime):
    with time_machine.travel(at - dt.timedelta(days=1), tick=False):
        return factories.mandate(factories.person(), factories.organisation(), valid_until=until)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("at", "until", "sentence", "days"),
    [
        # 26 hours before an end tomorrow: one day, as on a calendar, not two.
        ((2026, 11, 29, 10, 0), (2026, 11, 30, 12, 0), "Expires tomorrow, on {date}.", 1),
        # Just after midnight in Amsterdam, still the day before in UTC: the day is counted where the date is shown.
        ((2026, 11, 29, 0, 30), (2026, 11, 30, 10, 0), "Expires tomorrow, on {date}.", 1),
        ((2026, 11, 29, 8, 0), (2026, 11, 29, 17, 0), "Expires today, on {date}.", 0),
        ((2026, 11, 29, 22, 0), (2026, 12, 1, 1, 0), "Expires in 2 days, on {date}.", 2),
    ],
)
def test_the_days_left_are_counted_on_the_calendar(at, until, sentence, days):
    at, until = dt.datetime(*at, tzinfo=AMSTERDAM), dt.datetime(*until, tzinfo=AMSTERDAM)
    validity = describe_validity(_ending(until, at=at), at)

    assert validity.sentence == sentence.format(date=_day(until))
    assert validity.days_left == days


@pytest.mark.django_db
def test_the_warning_starts_60_calendar_days_before_the_end():
    at = dt.datetime(2026, 9, 30, 10, 0, tzinfo=AMSTERDAM)
    # 60 days and two hours away: the 60th day on the calendar.
    until = dt.datetime(2026, 11, 29, 12, 0, tzinfo=AMSTERDAM)
    mandate = _ending(until, at=at)

    validity = describe_validity(mandate, at)

    assert validity.warning
    assert validity.sentence == f"Expires in 60 days, on {_day(until)}."
    assert not describe_validity(mandate, at - dt.timedelta(days=1)).warning


@pytest.mark.django_db
def test_the_validity_as_a_clause_follows_a_sentence_in_lower_case():
    at = dt.datetime(2026, 11, 29, 10, 0, tzinfo=AMSTERDAM)
    until = dt.datetime(2027, 11, 29, 10, 0, tzinfo=AMSTERDAM)
    mandate = _ending(until, at=at)

    validity = describe_validity(mandate, at)

    assert validity.clause == f"valid until {_day(until)}"
    assert validity.sentence == f"Valid until {_day(until)}."
    with translation.override("nl"):
        assert describe_validity(mandate, at).clause.startswith("geldig tot ")
