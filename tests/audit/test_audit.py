"""The audit log: every write leaves one event with actor, subject and values; events are never changed or deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import models, transaction
from django.db.models import ProtectedError

from sleutelbos.audit.models import AppendOnlyError, AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.services import service_definition_create, service_instance_create, service_provider_create
from sleutelbos.identity.models import MeansStatus
from sleutelbos.identity.services import (
    EvidenceDetails,
    evidence_record,
    means_change_level,
    means_issue,
    means_set_status,
    person_create,
)
from sleutelbos.mandates.services import (
    Scope,
    chain_mandate_grant,
    chain_mandate_revoke,
    mandate_grant,
    mandate_revoke,
)
from sleutelbos.organisations.models import Authority
from sleutelbos.organisations.services import (
    branch_create,
    functionary_create,
    membership_set_manager,
    organisation_create,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

API = Actor.for_api("crm-koppeling")

# Each write: (what to do with the actor, the action it records, the values the event must carry).
Write = Callable[[Actor], tuple[models.Model, Any]]


def _provider(actor: Actor) -> tuple[models.Model, Any]:
    provider = service_provider_create(actor=actor, oin="00000009999999990000", name_nl="RVO")
    return provider, None


def _definition(actor: Actor) -> tuple[models.Model, Any]:
    definition = service_definition_create(actor=actor, provider=f.provider(), name_nl="Subsidie", level="EH2+")
    return definition, None


def _instance(actor: Actor) -> tuple[models.Model, Any]:
    return service_instance_create(actor=actor, definition=f.definition(), index=3), None


def _organisation(actor: Actor) -> tuple[models.Model, Any]:
    org = organisation_create(actor=actor, kvk="69599084", rsin="111222333", name="Bakkerij Brood B.V.")
    return org, org


def _branch(actor: Actor) -> tuple[models.Model, Any]:
    org = f.company()
    return branch_create(actor=actor, organisation=org, number="000012345678", name="Winkel Centrum"), org


def _functionary(actor: Actor) -> tuple[models.Model, Any]:
    org = f.company()
    functionary = functionary_create(
        actor=actor,
        organisation=org,
        name="Piet Bakker",
        date_of_birth=dt.date(1970, 5, 1),
        role="bestuurder",
        authority=Authority.ALONE,
    )
    return functionary, org


def _manager(actor: Actor) -> tuple[models.Model, Any]:
    org = f.company()
    return membership_set_manager(actor=actor, person=f.person(), organisation=org, level="EH3"), org


def _person(actor: Actor) -> tuple[models.Model, Any]:
    return person_create(actor=actor, name="Fatima", email="fatima@example.nl"), None


def _means(actor: Actor) -> tuple[models.Model, Any]:
    person = f.person(level=None)
    evidence = evidence_record(actor=actor, person=person, evidence=EvidenceDetails(kind="in_person"))
    return means_issue(actor=actor, person=person, level="EH4", evidence=evidence), None


def _means_level(actor: Actor) -> tuple[models.Model, Any]:
    return means_change_level(actor=actor, person=f.person(level="EH3"), level="EH2+", reason="ID expired"), None


def _means_suspend(actor: Actor) -> tuple[models.Model, Any]:
    return means_set_status(actor=actor, person=f.person(), status=MeansStatus.SUSPENDED, reason="phone lost"), None


def _mandate(actor: Actor) -> tuple[models.Model, Any]:
    org = f.company()
    mandate = mandate_grant(
        actor=actor, holder=f.person(level="EH3"), organisation=org, scope=Scope.of_providers(f.provider()), level="EH3"
    )
    return mandate, org


def _mandate_revoke(actor: Actor) -> tuple[models.Model, Any]:
    org = f.company()
    mandate = f.mandate(f.person(), org)
    return mandate_revoke(actor=actor, mandate=mandate, reason="left the company"), org


def _chain(actor: Actor) -> tuple[models.Model, Any]:
    client = f.company()
    chain = chain_mandate_grant(actor=actor, client=client, intermediary=f.company(), scope=Scope.all(), level="EH3")
    return chain, client


def _chain_revoke(actor: Actor) -> tuple[models.Model, Any]:
    client = f.company()
    chain = f.chain_mandate(client, f.company())
    return chain_mandate_revoke(actor=actor, chain_mandate=chain, reason="contract ended"), client


WRITES: list[tuple[Write, str, Callable[[models.Model], dict[str, Any]]]] = [
    (_provider, "service_provider:created", lambda s: {"oin": "00000009999999990000", "name": "RVO"}),
    (_definition, "service_definition:created", lambda s: {"uuid": str(s.uuid), "name": "Subsidie", "level": "EH2+"}),
    (
        _instance,
        "service_instance:created",
        lambda s: {"service_id": s.service_id, "definition": str(s.definition.uuid)},
    ),
    (_organisation, "organisation:created", lambda s: {"kvk": "69599084", "rsin": "111222333"}),
    (_branch, "branch:created", lambda s: {"number": "000012345678"}),
    (
        _functionary,
        "functionary:created",
        lambda s: {"name": "Piet Bakker", "role": "bestuurder", "authority": "alone"},
    ),
    (_manager, "membership:manager_set", lambda s: {"person": s.person_id, "level": "EH3"}),
    (_person, "person:created", lambda s: {"name": "Fatima", "email": "fatima@example.nl"}),
    (_means, "means:issued", lambda s: {"person": s.person_id, "level": "EH4"}),
    (_means_level, "means:level_changed", lambda s: {"from": "EH3", "to": "EH2+", "reason": "ID expired"}),
    (_means_suspend, "means:suspended", lambda s: {"from": "active", "to": "suspended", "reason": "phone lost"}),
    (
        _mandate,
        "mandate:granted",
        lambda s: {
            "holder": s.holder_id,
            "level": "EH3",
            "scope": {"kind": "providers", "providers": [s.providers.get().oin]},
            "branch": None,
        },
    ),
    (_mandate_revoke, "mandate:revoked", lambda s: {"holder": s.holder_id, "reason": "left the company"}),
    (_chain, "chain_mandate:granted", lambda s: {"client": s.client.kvk, "intermediary": s.intermediary.kvk}),
    (
        _chain_revoke,
        "chain_mandate:revoked",
        lambda s: {"intermediary": s.intermediary.kvk, "reason": "contract ended"},
    ),
]


@pytest.mark.parametrize(("write", "action", "expected"), WRITES, ids=[action for _, action, _ in WRITES])
def test_every_write_records_one_event_with_actor_subject_and_values(
    write: Write, action: str, expected: Callable[[models.Model], dict[str, Any]]
) -> None:
    subject, organisation = write(API)

    (event,) = AuditEvent.objects.filter(action=action, subject_id=str(subject.pk))
    assert event.actor == "api:crm-koppeling"
    assert event.actor_person is None
    assert event.subject_type == subject._meta.label_lower
    assert event.organisation == organisation
    data = expected(subject)
    assert {key: event.data.get(key) for key in data} == data


def test_a_persons_action_is_recorded_with_that_person() -> None:
    org, manager = f.company(), f.person(level="EH4")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=org, level="EH4")

    mandate = mandate_grant(
        actor=Actor.for_person(manager), holder=f.person(level="EH3"), organisation=org, scope=Scope.all(), level="EH3"
    )

    event = AuditEvent.objects.get(action="mandate:granted", subject_id=str(mandate.pk))
    assert event.actor == f"person:{manager.pk}"
    assert event.actor_person == manager
    recorded = dt.datetime.fromisoformat(event.data["valid_until"])
    assert abs(recorded - mandate.valid_until) < dt.timedelta(milliseconds=1)


def test_a_refused_write_leaves_no_event() -> None:
    before = AuditEvent.objects.count()
    holder = f.person(level="EH2")
    org = f.company()
    created = AuditEvent.objects.count()

    with pytest.raises(Exception, match="level"):
        mandate_grant(actor=API, holder=holder, organisation=org, scope=Scope.all(), level="EH3")

    assert created > before
    assert AuditEvent.objects.count() == created
    assert not AuditEvent.objects.filter(action__in=["mandate:granted", "membership:created"], organisation=org)


def test_an_event_cannot_be_changed() -> None:
    person = person_create(actor=API, name="Fatima", email="fatima@example.nl")
    event = AuditEvent.objects.get(action="person:created", subject_id=str(person.pk))

    event.actor = "system"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(actor="system")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(actor="system")
    with pytest.raises(AppendOnlyError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["actor"])

    assert AuditEvent.objects.get(pk=event.pk).actor == "api:crm-koppeling"


def test_an_event_cannot_be_deleted() -> None:
    person = person_create(actor=API, name="Fatima", email="fatima@example.nl")
    event = AuditEvent.objects.get(action="person:created", subject_id=str(person.pk))
    count = AuditEvent.objects.count()

    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.count() == count


def test_the_people_and_organisations_an_event_names_cannot_be_deleted() -> None:
    org, manager = f.company(), f.person(level="EH3")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=org, level="EH3")
    f.mandate(f.person(), org)
    mandate_grant(
        actor=Actor.for_person(manager), holder=f.person(level="EH3"), organisation=org, scope=Scope.all(), level="EH2"
    )

    with pytest.raises(ProtectedError), transaction.atomic():
        org.delete()
    with pytest.raises(ProtectedError), transaction.atomic():
        manager.delete()
