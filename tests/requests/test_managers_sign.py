"""Where the supplier allows it, a mandate manager of the organisation may sign instead of a representative."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from sleutelbos.requests.models import RequestState
from sleutelbos.requests.services import SignerWish, request_submit
from sleutelbos.requests.signatures import possible_signers
from tests import factories as f
from tests.requests import test_services as base
from tests.requests.test_services import JOINT, joint_request, sign

pytestmark = pytest.mark.django_db

world = base.world  # the fixture: an organisation and three providers at EH3

MANAGER_BORN = dt.date(1975, 5, 5)


def _manager(organisation: object, *, level: Level, born: dt.date | None = MANAGER_BORN) -> object:
    person = f.person(level=level, name="Mieke Manager")
    person.date_of_birth = born
    person.save(update_fields=["date_of_birth"])
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=level)
    return person


def _wishes(*names: str, manager: object | None = None) -> list[SignerWish]:
    wishes = [SignerWish(name=n, date_of_birth=b, email=f"{n.split()[0].lower()}@example.nl") for n, b, _a in JOINT]
    chosen = [wish for wish in wishes if wish.name in names]
    if manager is not None:
        chosen.append(SignerWish(name=manager.name, date_of_birth=manager.date_of_birth, email="mieke@example.nl"))
    return chosen


def test_by_default_only_kvk_representatives_may_sign(world):
    manager = _manager(world.organisation, level=Level.EH3)
    request = joint_request(world, f.person(level=Level.EH3))
    assert manager.name not in [signer.name for signer in possible_signers(request)]
    with pytest.raises(ValidationError) as refused:
        request_submit(
            actor=Actor.for_person(request.applicant), request=request, signers=_wishes("Anna Jansen", manager=manager)
        )
    assert "Mieke Manager" in str(refused.value)


def test_with_the_setting_a_manager_signs_in_place_of_a_representative(world, settings):
    settings.SLEUTELBOS_MANAGERS_MAY_SIGN = True
    manager = _manager(world.organisation, level=Level.EH3)
    applicant = f.person(level=Level.EH3)
    request = joint_request(world, applicant)
    offered = {signer.name: signer.role for signer in possible_signers(request)}
    assert offered["Mieke Manager"] in {"machtigingenbeheerder", "mandate manager"}
    links = request_submit(
        actor=Actor.for_person(applicant), request=request, signers=_wishes("Anna Jansen", manager=manager)
    )
    assert sorted(link.signer.functionary_name for link in links) == ["Anna Jansen", "Mieke Manager"]
    for link in links:
        sign(link)
    request.refresh_from_db()
    # Three joint representatives at EH3 need a majority (2): a representative and the manager make it.
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_a_manager_below_the_requested_level_or_without_date_of_birth_is_not_offered(world, settings):
    settings.SLEUTELBOS_MANAGERS_MAY_SIGN = True
    low = _manager(world.organisation, level=Level.EH2)
    unknown_birth = f.person(level=Level.EH3, name="Zonder Datum")
    membership_ensure(actor=SYSTEM, person=unknown_birth, organisation=world.organisation)
    membership_set_manager(actor=SYSTEM, person=unknown_birth, organisation=world.organisation, level=Level.EH3)
    request = joint_request(world, f.person(level=Level.EH3), level=Level.EH3)
    names = [signer.name for signer in possible_signers(request)]
    assert low.name not in names and "Zonder Datum" not in names
    assert names == [name for name, _born, _authority in JOINT]


def test_the_applicant_never_signs_as_manager_for_their_own_request(world, settings):
    settings.SLEUTELBOS_MANAGERS_MAY_SIGN = True
    applicant = _manager(world.organisation, level=Level.EH3)
    request = joint_request(world, applicant)
    assert applicant.name not in [signer.name for signer in possible_signers(request)]
