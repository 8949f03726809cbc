"""Granting and revoking mandates and chain mandates: every invariant the write services and the database enforce."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.mandates.services import (
    Scope,
    add_years,
    chain_mandate_grant,
    chain_mandate_revoke,
    mandate_grant,
    mandate_revoke,
)
from sleutelbos.organisations.services import membership_set_manager
from tests import factories as f

pytestmark = pytest.mark.django_db


def refusal(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    """The refused fields with their error codes, as an API client or form would show them."""
    error = excinfo.value
    if hasattr(error, "error_dict"):
        return {name: [e.code for e in errors] for name, errors in error.error_dict.items()}
    return {"__all__": [e.code for e in error.error_list]}


def grant(**kwargs: object) -> Mandate:
    kwargs.setdefault("actor", SYSTEM)
    kwargs.setdefault("holder", f.person(level="EH3"))
    kwargs.setdefault("organisation", f.company())
    kwargs.setdefault("scope", Scope.all())
    kwargs.setdefault("level", "EH3")
    return mandate_grant(**kwargs)


def test_a_granted_mandate_has_the_asked_scope_level_and_a_default_validity_of_one_year() -> None:
    provider = f.provider()
    before = timezone.now()
    mandate = grant(scope=Scope.of_providers(provider), level="EH2+")

    assert mandate.scope_kind == ScopeKind.PROVIDERS
    assert list(mandate.providers.all()) == [provider]
    assert mandate.level == Level.EH2_PLUS
    assert before <= mandate.valid_from <= timezone.now()
    assert mandate.valid_until == add_years(mandate.valid_from, 1)
    assert mandate.revoked_at is None
    assert mandate.granted_by == "system"


# --------------------------------------------------------------------------------------------------------------------
# Levels: means and manager


def test_a_mandate_cannot_exceed_the_holders_means_level() -> None:
    holder = f.person(level="EH2+")

    with pytest.raises(ValidationError) as excinfo:
        grant(holder=holder, level="EH3")

    assert refusal(excinfo) == {"level": ["above_means_level"]}
    assert "EH2+" in excinfo.value.error_dict["level"][0].messages[0]
    assert not Mandate.objects.filter(holder=holder).exists()


def test_a_person_without_means_gets_no_mandate() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(holder=f.person(level=None), level="EH2")

    assert refusal(excinfo) == {"holder": ["no_means"]}


def test_a_manager_grants_up_to_their_own_manager_level_and_no_higher() -> None:
    org, manager = f.company(), f.person(level="EH4")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=org, level="EH3")
    actor = Actor.for_person(manager)
    holder = f.person(level="EH4")

    granted = grant(actor=actor, organisation=org, holder=holder, level="EH3")
    with pytest.raises(ValidationError) as excinfo:
        grant(actor=actor, organisation=org, holder=holder, level="EH4")

    assert granted.granted_by == f"person:{manager.pk}"
    assert refusal(excinfo) == {"level": ["above_manager_level"]}
    assert list(Mandate.objects.filter(holder=holder)) == [granted]


def test_a_person_who_is_not_a_manager_of_the_organisation_cannot_grant() -> None:
    org, other_org, outsider = f.company(), f.company(), f.person(level="EH3")
    membership_set_manager(actor=SYSTEM, person=outsider, organisation=other_org, level="EH4")

    with pytest.raises(ValidationError) as excinfo:
        grant(actor=Actor.for_person(outsider), organisation=org)

    assert refusal(excinfo) == {"__all__": ["not_manager"]}
    assert not Mandate.objects.filter(organisation=org).exists()


def test_an_ended_manager_role_can_no_longer_grant() -> None:
    org, manager = f.company(), f.person(level="EH3")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=org, level="EH3")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=org, level=None)

    with pytest.raises(ValidationError) as excinfo:
        grant(actor=Actor.for_person(manager), organisation=org)

    assert refusal(excinfo) == {"__all__": ["not_manager"]}


# --------------------------------------------------------------------------------------------------------------------
# Validity


def test_a_mandate_may_last_exactly_five_years_but_not_a_second_more() -> None:
    start = timezone.now()
    five_years = add_years(start, 5)

    assert grant(valid_from=start, valid_until=five_years).valid_until == five_years
    with pytest.raises(ValidationError) as excinfo:
        grant(valid_from=start, valid_until=five_years + dt.timedelta(seconds=1))

    assert refusal(excinfo) == {"valid_until": ["too_long"]}


@pytest.mark.parametrize("days", [0, -1])
def test_the_end_of_the_validity_must_lie_after_its_start(days: int) -> None:
    start = f.years_from_now(1)
    with pytest.raises(ValidationError) as excinfo:
        grant(valid_from=start, valid_until=start + dt.timedelta(days=days))

    assert refusal(excinfo) == {"valid_until": ["before_start"]}


def test_a_validity_that_already_ended_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(valid_from=f.years_from_now(-2), valid_until=f.years_from_now(-1))

    assert refusal(excinfo) == {"valid_until": ["in_past"]}


def test_a_validity_without_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(valid_from=dt.datetime(2031, 1, 1), valid_until=dt.datetime(2032, 1, 1))

    assert refusal(excinfo) == {"valid_from": ["naive"]}


def test_a_mandate_that_started_in_the_past_and_still_runs_is_accepted() -> None:
    start = f.years_from_now(-1)
    mandate = grant(valid_from=start, valid_until=f.years_from_now(1))

    assert mandate.valid_from == start


# --------------------------------------------------------------------------------------------------------------------
# Scope and branch


def test_a_providers_scope_without_providers_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(scope=Scope(ScopeKind.PROVIDERS))

    assert refusal(excinfo) == {"scope": ["empty"]}


def test_a_services_scope_without_services_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(scope=Scope(ScopeKind.SERVICES))

    assert refusal(excinfo) == {"scope": ["empty"]}


def test_a_services_scope_with_a_service_uuid_not_in_the_catalogue_is_refused_and_named() -> None:
    known, unknown = f.definition().uuid, uuid.uuid4()

    with pytest.raises(ValidationError) as excinfo:
        grant(scope=Scope.of_services(known, unknown))

    assert refusal(excinfo) == {"scope": ["unknown_service"]}
    message = excinfo.value.error_dict["scope"][0].messages[0]
    assert str(unknown) in message
    assert str(known) not in message


def test_an_all_scope_that_names_providers_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        grant(scope=Scope(ScopeKind.ALL, providers=(f.provider(),)))

    assert "scope" in refusal(excinfo)


def test_a_services_scope_stores_its_service_uuids_once() -> None:
    definition = f.definition()
    mandate = grant(scope=Scope.of_services(definition.uuid, str(definition.uuid)))

    assert [link.service_uuid for link in mandate.service_links.all()] == [definition.uuid]


def test_a_branch_of_another_organisation_is_refused() -> None:
    org, other = f.company(), f.company()

    with pytest.raises(ValidationError) as excinfo:
        grant(organisation=org, branch=f.branch(other))

    assert refusal(excinfo) == {"branch": ["other_organisation"]}


def test_a_branch_of_the_organisation_restricts_the_mandate() -> None:
    org = f.company()
    branch = f.branch(org)

    assert grant(organisation=org, branch=branch).branch == branch


def test_a_branch_for_chosen_services_that_refuse_one_is_refused_whoever_grants() -> None:
    # The form, the manager's page, the approval of a request and the API all grant through this service.
    org = f.company()
    refusing = f.definition(name="Aktes inschrijven", branch_restriction_allowed=False)
    accepting = f.definition(name="Parkeervergunning", branch_restriction_allowed=True)

    with pytest.raises(ValidationError) as excinfo:
        grant(organisation=org, branch=f.branch(org), scope=Scope.of_services(refusing.uuid, accepting.uuid))

    assert refusal(excinfo) == {"branch": ["branch_not_accepted"]}
    assert "Aktes inschrijven" in str(excinfo.value) and "Parkeervergunning" not in str(excinfo.value)
    restricted = grant(organisation=org, branch=f.branch(org), scope=Scope.of_services(accepting.uuid))
    assert restricted.branch is not None


# --------------------------------------------------------------------------------------------------------------------
# Revocation


def test_revocation_is_recorded_final_and_audited() -> None:
    mandate = grant()
    actor = Actor.for_api("hr-koppeling")

    revoked = mandate_revoke(actor=actor, mandate=mandate, reason="left the company")

    stored = Mandate.objects.get(pk=mandate.pk)
    assert stored.revoked_at == revoked.revoked_at is not None
    assert stored.revoked_by == "api:hr-koppeling"
    event = AuditEvent.objects.get(action="mandate:revoked", subject_id=str(mandate.pk))
    assert event.actor == "api:hr-koppeling"
    assert event.data == {"holder": mandate.holder_id, "reason": "left the company"}

    with pytest.raises(ValidationError) as excinfo:
        mandate_revoke(actor=SYSTEM, mandate=mandate)

    assert refusal(excinfo) == {"revoked_at": ["already_revoked"]}
    assert Mandate.objects.get(pk=mandate.pk).revoked_at == revoked.revoked_at
    assert AuditEvent.objects.filter(action="mandate:revoked", subject_id=str(mandate.pk)).count() == 1


def test_only_a_manager_of_the_organisation_can_revoke() -> None:
    mandate = grant()
    outsider = f.person(level="EH3")

    with pytest.raises(ValidationError) as excinfo:
        mandate_revoke(actor=Actor.for_person(outsider), mandate=mandate)

    assert refusal(excinfo) == {"__all__": ["not_manager"]}
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None


# --------------------------------------------------------------------------------------------------------------------
# Chain mandates


def test_a_chain_mandate_is_granted_and_revoked_once() -> None:
    client, intermediary = f.company(), f.company()

    chain = chain_mandate_grant(actor=SYSTEM, client=client, intermediary=intermediary, scope=Scope.all(), level="EH3")
    chain_mandate_revoke(actor=SYSTEM, chain_mandate=chain)

    assert ChainMandate.objects.get(pk=chain.pk).revoked_at is not None
    with pytest.raises(ValidationError) as excinfo:
        chain_mandate_revoke(actor=SYSTEM, chain_mandate=chain)
    assert refusal(excinfo) == {"revoked_at": ["already_revoked"]}


def test_an_organisation_cannot_be_its_own_intermediary() -> None:
    org = f.company()

    with pytest.raises(ValidationError) as excinfo:
        chain_mandate_grant(actor=SYSTEM, client=org, intermediary=org, scope=Scope.all(), level="EH3")

    assert refusal(excinfo) == {"intermediary": ["same_organisation"]}
    assert not ChainMandate.objects.exists()


def test_a_chain_mandate_obeys_the_same_validity_and_scope_rules() -> None:
    client, intermediary = f.company(), f.company()
    start = timezone.now()

    with pytest.raises(ValidationError) as too_long:
        chain_mandate_grant(
            actor=SYSTEM,
            client=client,
            intermediary=intermediary,
            scope=Scope.all(),
            level="EH3",
            valid_from=start,
            valid_until=add_years(start, 6),
        )
    with pytest.raises(ValidationError) as unknown:
        chain_mandate_grant(
            actor=SYSTEM, client=client, intermediary=intermediary, scope=Scope.of_services(uuid.uuid4()), level="EH3"
        )

    assert refusal(too_long) == {"valid_until": ["too_long"]}
    assert refusal(unknown) == {"scope": ["unknown_service"]}


# --------------------------------------------------------------------------------------------------------------------
# The database guards the same invariants against code that bypasses the services


def test_the_database_refuses_a_mandate_whose_end_is_not_after_its_start() -> None:
    mandate = grant()

    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(pk=mandate.pk).update(valid_until=mandate.valid_from)
    with pytest.raises(IntegrityError), transaction.atomic():
        mandate.valid_until = mandate.valid_from - dt.timedelta(days=1)
        mandate.save()


def test_the_database_refuses_an_unknown_level_or_scope_kind() -> None:
    mandate = grant()

    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(pk=mandate.pk).update(level=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(pk=mandate.pk).update(scope_kind="everything")


def test_the_database_refuses_a_revocation_without_who_revoked() -> None:
    mandate = grant()

    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(pk=mandate.pk).update(revoked_at=timezone.now())


def test_the_database_refuses_a_chain_mandate_to_the_client_itself() -> None:
    client, intermediary = f.company(), f.company()
    chain = f.chain_mandate(client, intermediary)

    with pytest.raises(IntegrityError), transaction.atomic():
        ChainMandate.objects.filter(pk=chain.pk).update(intermediary=client)


def test_a_granted_mandate_is_never_deleted_because_the_audit_log_refers_to_it() -> None:
    mandate = grant()
    revoked = grant()
    mandate_revoke(actor=SYSTEM, mandate=revoked)

    with pytest.raises(ProtectedError), transaction.atomic():
        mandate.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        Mandate.objects.filter(pk=revoked.pk).delete()

    assert Mandate.objects.filter(pk__in=[mandate.pk, revoked.pk]).count() == 2
