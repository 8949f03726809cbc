"""Mandates in plain words: the scope sentence and the validity, in the reader's language."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.utils import translation

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
    assert describe_validity(mandate, end - dt.timedelta(days=1)).sentence.startswith("Expires in 1 day, on ")
    assert not describe_validity(mandate, end - dt.timedelta(days=EXPIRY_WARNING_DAYS, seconds=1)).warning
    # The end is exclusive: at valid_until the mandate no longer serves.
    assert describe_validity(mandate, end).state == ValidityState.EXPIRED
    assert not describe_validity(mandate, end).current
