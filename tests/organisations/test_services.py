"""Registering organisations, branches, functionaries and mandate managers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.organisations.models import Authority, Branch, Functionary, Membership, Organisation
from sleutelbos.organisations.services import (
    branch_create,
    functionary_create,
    membership_ensure,
    membership_set_manager,
    organisation_create,
)
from tests import factories as f

pytestmark = pytest.mark.django_db


def refused_fields(excinfo: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(excinfo.value.error_dict)


def test_an_organisation_is_registered_by_kvk_number_with_its_rsin() -> None:
    org = organisation_create(actor=SYSTEM, kvk="69599084", rsin="111222333", name="Bakkerij Brood B.V.")

    assert Organisation.objects.get(kvk="69599084") == org
    assert org.rsin == "111222333"


def test_an_organisation_without_rsin_is_accepted() -> None:
    first = organisation_create(actor=SYSTEM, kvk="69599084", name="Eenmanszaak Jansen")
    second = organisation_create(actor=SYSTEM, kvk="69599085", name="Eenmanszaak Pietersen")

    assert first.rsin == second.rsin == ""


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"kvk": "1234567"}, {"kvk"}),
        ({"rsin": "111222334"}, {"rsin"}),
        ({"rsin": "11122233"}, {"rsin"}),
        ({"kvk": "abc", "rsin": "123"}, {"kvk", "rsin"}),
        ({"name": ""}, {"name"}),
    ],
)
def test_bad_identifiers_are_refused_by_field(kwargs: dict, fields: set[str]) -> None:
    with pytest.raises(ValidationError) as excinfo:
        organisation_create(actor=SYSTEM, **{"kvk": "69599084", "rsin": "111222333", "name": "Bakkerij", **kwargs})

    assert refused_fields(excinfo) == fields
    assert not Organisation.objects.exists()


def test_a_kvk_number_is_registered_once() -> None:
    organisation_create(actor=SYSTEM, kvk="69599084", name="Bakkerij")

    with pytest.raises(ValidationError) as excinfo:
        organisation_create(actor=SYSTEM, kvk="69599084", name="Bakkerij bis")

    assert refused_fields(excinfo) == {"kvk"}


def test_an_rsin_is_registered_once_and_the_refusal_names_the_rsin_field() -> None:
    organisation_create(actor=SYSTEM, kvk="69599084", rsin="111222333", name="Bakkerij")

    with pytest.raises(ValidationError) as excinfo:
        organisation_create(actor=SYSTEM, kvk="69599085", rsin="111222333", name="Bakkerij bis")

    assert refused_fields(excinfo) == {"rsin"}
    assert Organisation.objects.count() == 1


def test_a_branch_has_a_unique_twelve_digit_number() -> None:
    org = f.company()
    branch = branch_create(actor=SYSTEM, organisation=org, number="000012345678", name="Winkel", city="Utrecht")

    with pytest.raises(ValidationError) as duplicate:
        branch_create(actor=SYSTEM, organisation=f.company(), number="000012345678", name="Andere winkel")
    with pytest.raises(ValidationError) as malformed:
        branch_create(actor=SYSTEM, organisation=org, number="12345678", name="Kiosk")

    assert list(org.branches.all()) == [branch]
    assert refused_fields(duplicate) == {"number"}
    assert refused_fields(malformed) == {"number"}
    assert Branch.objects.count() == 1


def test_a_functionary_is_recorded_with_their_authority() -> None:
    org = f.company()
    functionary = functionary_create(
        actor=SYSTEM,
        organisation=org,
        name="Piet Bakker",
        date_of_birth=dt.date(1970, 5, 1),
        role="bestuurder",
        authority=Authority.JOINT,
    )

    assert list(org.functionaries.all()) == [functionary]
    with pytest.raises(ValidationError) as excinfo:
        functionary_create(
            actor=SYSTEM,
            organisation=org,
            name="Onbekend",
            date_of_birth=dt.date(1980, 1, 1),
            role="gevolmachtigde",
            authority="sometimes",
        )
    assert refused_fields(excinfo) == {"authority"}
    assert Functionary.objects.count() == 1


def test_a_mandate_manager_role_is_set_changed_and_ended() -> None:
    org, person = f.company(), f.person()

    membership_set_manager(actor=SYSTEM, person=person, organisation=org, level="EH3")
    assert Membership.objects.get(person=person, organisation=org).manager_level == Level.EH3

    membership_set_manager(actor=SYSTEM, person=person, organisation=org, level="EH2+")
    assert Membership.objects.get(person=person, organisation=org).manager_level == Level.EH2_PLUS

    membership_set_manager(actor=SYSTEM, person=person, organisation=org, level=None)
    membership = Membership.objects.get(person=person, organisation=org)
    assert not membership.is_manager
    assert Membership.objects.filter(person=person).count() == 1


def test_a_membership_is_made_once() -> None:
    org, person = f.company(), f.person()

    first = membership_ensure(actor=SYSTEM, person=person, organisation=org)
    second = membership_ensure(actor=SYSTEM, person=person, organisation=org)

    assert first == second
    assert Membership.objects.filter(person=person, organisation=org).count() == 1
