"""People and their means: registration, issue, level changes, suspension and revocation, with history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import IdentityEvidence, Means, MeansStatus, Person
from sleutelbos.identity.services import (
    EvidenceDetails,
    evidence_record,
    means_change_level,
    means_issue,
    means_set_status,
    person_create,
)

pytestmark = pytest.mark.django_db


def refusal(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return {name: [e.code for e in errors] for name, errors in excinfo.value.error_dict.items()}


def history(person: Person) -> list[tuple[str, int, str]]:
    return [(event.action, event.level, event.status) for event in person.means.history.all()]


PASSPORT_CHECKED = EvidenceDetails(kind="document_original", document_type="passport")
ID_COPY_CHECKED = EvidenceDetails(kind="document_copy", document_type="identity_card")


def verified(person: Person, details: EvidenceDetails = PASSPORT_CHECKED) -> IdentityEvidence:
    return evidence_record(actor=SYSTEM, person=person, evidence=details)


def test_a_person_is_registered_with_a_means_at_the_given_level() -> None:
    person = person_create(
        actor=SYSTEM, name="  Fatima el Amrani ", email="fatima@Voorbeeld.NL", level="EH3", evidence=PASSPORT_CHECKED
    )

    assert person.name == "Fatima el Amrani"
    assert person.email == "fatima@voorbeeld.nl"
    assert not person.has_usable_password()
    means = Means.objects.get(person=person)
    assert (means.level, means.status) == (Level.EH3, MeansStatus.ACTIVE)
    assert history(person) == [("issued", Level.EH3, "active")]


def test_a_person_may_be_registered_first_and_get_a_means_later() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl")
    assert not Means.objects.filter(person=person).exists()

    evidence = verified(person, ID_COPY_CHECKED)
    means = means_issue(
        actor=SYSTEM, person=person, level="urn:etoegang:core:assurance-class:loa2plus", evidence=evidence
    )

    assert means.level == Level.EH2_PLUS
    with pytest.raises(ValidationError) as excinfo:
        means_issue(actor=SYSTEM, person=person, level="EH2", evidence=evidence)
    assert refusal(excinfo) == {"level": ["exists"]}
    assert Means.objects.get(person=person).level == Level.EH2_PLUS


@pytest.mark.parametrize("email", ["jan@example.nl", "JAN@EXAMPLE.NL", "Jan@Example.nl", " jan@example.nl "])
def test_an_e_mail_address_is_registered_once_whatever_its_case(email: str) -> None:
    person_create(actor=SYSTEM, name="Jan", email="jan@example.nl")

    with pytest.raises(ValidationError) as excinfo:
        person_create(actor=SYSTEM, name="Jan de Tweede", email=email, level="EH3", evidence=PASSPORT_CHECKED)

    assert refusal(excinfo) == {"email": ["unique"]}
    assert Person.objects.count() == 1
    assert not Means.objects.exists()


@pytest.mark.parametrize(("field", "kwargs"), [("email", {"email": "geen-adres"}), ("name", {"name": "  "})])
def test_a_person_needs_a_valid_e_mail_address_and_a_name(field: str, kwargs: dict) -> None:
    with pytest.raises(ValidationError) as excinfo:
        person_create(actor=SYSTEM, **{"name": "Jan", "email": "jan@example.nl", **kwargs})

    assert field in refusal(excinfo)
    assert not Person.objects.exists()


def test_an_unknown_level_issues_nothing() -> None:
    with pytest.raises(ValueError):
        person_create(actor=SYSTEM, name="Jan", email="jan@example.nl", level="EH1", evidence=PASSPORT_CHECKED)

    assert not Means.objects.exists()


def test_a_means_changes_level_and_status_and_keeps_its_history() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl", level="EH2+", evidence=ID_COPY_CHECKED)

    means_change_level(
        actor=SYSTEM, person=person, level="EH3", reason="ID checked in person", evidence=verified(person)
    )
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED, reason="phone lost")
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE)
    means_change_level(actor=SYSTEM, person=person, level="EH2")
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.REVOKED, reason="left")

    means = Means.objects.get(person=person)
    assert (means.level, means.status) == (Level.EH2, MeansStatus.REVOKED)
    assert means.changed_at >= means.issued_at
    assert history(person) == [
        ("issued", Level.EH2_PLUS, "active"),
        ("upgraded", Level.EH3, "active"),
        ("suspended", Level.EH3, "suspended"),
        ("reactivated", Level.EH3, "active"),
        ("downgraded", Level.EH2, "active"),
        ("revoked", Level.EH2, "revoked"),
    ]
    assert [event.reason for event in means.history.all()] == ["", "ID checked in person", "phone lost", "", "", "left"]


def test_a_revoked_means_is_final() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl", level="EH3", evidence=PASSPORT_CHECKED)
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.REVOKED)

    with pytest.raises(ValidationError) as reactivate:
        means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE)
    with pytest.raises(ValidationError) as change:
        means_change_level(actor=SYSTEM, person=person, level="EH2")

    assert refusal(reactivate) == {"status": ["revoked"]}
    assert refusal(change) == {"level": ["revoked"]}
    means = Means.objects.get(person=person)
    assert (means.level, means.status) == (Level.EH3, MeansStatus.REVOKED)
    assert len(history(person)) == 2


def test_changing_the_means_of_a_person_without_one_is_refused() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl")

    with pytest.raises(ValidationError) as excinfo:
        means_change_level(actor=SYSTEM, person=person, level="EH3")

    assert "person" in refusal(excinfo)
