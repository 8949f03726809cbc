"""The life of a means on the supplier's side: identity evidence, issue, upgrade, downgrade, suspension, revocation
(ending every session at once), reissue, the audit trail, and the back-office screens for it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import EvidenceKind, IdentityEvidence, Means, MeansStatus, Person
from sleutelbos.identity.services import (
    EvidenceDetails,
    evidence_kind_for,
    evidence_record,
    means_change_level,
    means_issue,
    means_revoke,
    means_set_status,
    person_create,
)
from sleutelbos.mandates.decisions import decide
from tests import factories as f

pytestmark = pytest.mark.django_db

NAME_CHECKED = EvidenceDetails(kind="name_and_birth_date")
COPY_CHECKED = EvidenceDetails(kind="document_copy", document_type="identity_card")
ORIGINAL_CHECKED = EvidenceDetails(kind="document_original", document_type="passport", remote=True)
IN_PERSON = EvidenceDetails(kind="in_person", document_type="passport")
BY_KIND = {e.kind: e for e in (NAME_CHECKED, COPY_CHECKED, ORIGINAL_CHECKED, IN_PERSON)}


def refusal(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return {name: [e.code for e in errors] for name, errors in excinfo.value.error_dict.items()}


def english(excinfo: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    """The messages for ``field`` (the services word them when they refuse: the test refuses in English)."""
    return " ".join(excinfo.value.message_dict[field])


@pytest.fixture(autouse=True)
def _english() -> None:
    with translation.override("en"):
        yield


def unregistered() -> Person:
    return person_create(actor=SYSTEM, name="Anna de Vries", email=f"anna{Person.objects.count()}@example.nl")


def verified(person: Person, details: EvidenceDetails) -> IdentityEvidence:
    return evidence_record(actor=SYSTEM, person=person, evidence=details)


def steps(person: Person) -> list[tuple[str, str, str | None]]:
    """The history of the person's means: (action, level, kind of evidence)."""
    return [
        (event.action, Level(event.level).label, event.evidence.kind if event.evidence else None)
        for event in Means.objects.get(person=person).history.select_related("evidence")
    ]


# --------------------------------------------------------------------------------------------------------------------
# Evidence


@pytest.mark.parametrize(
    ("level", "too_weak", "enough"),
    [
        ("EH2+", "name_and_birth_date", "document_copy"),
        ("EH3", "document_copy", "document_original"),
        ("EH4", "document_original", "in_person"),
    ],
)
def test_each_level_needs_evidence_that_supports_it(level: str, too_weak: str, enough: str) -> None:
    person = unregistered()

    with pytest.raises(ValidationError) as excinfo:
        means_issue(actor=SYSTEM, person=person, level=level, evidence=verified(person, BY_KIND[too_weak]))

    assert refusal(excinfo) == {"evidence": ["too_weak"]}
    assert not Means.objects.filter(person=person).exists()
    means = means_issue(actor=SYSTEM, person=person, level=level, evidence=verified(person, BY_KIND[enough]))
    assert (means.level, means.status) == (Level.parse(level), MeansStatus.ACTIVE)


def test_eh2_needs_only_name_and_date_of_birth() -> None:
    person = unregistered()
    means = means_issue(actor=SYSTEM, person=person, level="EH2", evidence=verified(person, NAME_CHECKED))
    assert means.level == Level.EH2


def test_eh3_on_a_document_copy_is_refused_with_a_message_naming_what_is_missing() -> None:
    person = unregistered()

    with pytest.raises(ValidationError) as excinfo:
        means_issue(actor=SYSTEM, person=person, level="EH3", evidence=verified(person, COPY_CHECKED))

    assert english(excinfo, "evidence") == (
        "A means at EH3 needs stronger evidence: original identity document checked (in person or remotely) or "
        "identity checked in person. The evidence given (copy of an identity document checked) supports at most EH2+."
    )


def test_a_means_without_evidence_is_refused_and_says_what_would_do() -> None:
    person = unregistered()

    with pytest.raises(ValidationError) as issue:
        means_issue(actor=SYSTEM, person=person, level="EH2+", evidence=None)
    with pytest.raises(ValidationError) as create:
        person_create(actor=SYSTEM, name="Bram", email="bram@example.nl", level="EH3")

    assert refusal(issue) == {"evidence": ["required"]}
    assert "copy of an identity document checked" in english(issue, "evidence")
    assert refusal(create) == {"kind": ["required"]}
    assert not Means.objects.exists()
    assert not Person.objects.filter(email="bram@example.nl").exists()


def test_evidence_about_someone_else_issues_nothing() -> None:
    person, other = unregistered(), unregistered()

    with pytest.raises(ValidationError) as excinfo:
        means_issue(actor=SYSTEM, person=person, level="EH2", evidence=verified(other, IN_PERSON))

    assert refusal(excinfo) == {"evidence": ["other_person"]}
    assert not Means.objects.exists()


def test_evidence_keeps_only_the_last_characters_of_the_document_number() -> None:
    person = unregistered()

    evidence = verified(
        person, EvidenceDetails(kind="document_copy", document_type="passport", document_number_suffix="x 7k2")
    )
    with pytest.raises(ValidationError) as excinfo:
        verified(
            person, EvidenceDetails(kind="document_copy", document_type="passport", document_number_suffix="NX7K2F1")
        )

    assert evidence.document_number_suffix == "X7K2"
    assert refusal(excinfo) == {"document_number_suffix": ["too_long"]}
    assert english(excinfo, "document_number_suffix") == (
        "Give only the last 4 characters of the document number: the full number is not stored."
    )
    assert not IdentityEvidence.objects.filter(document_number_suffix__contains="NX7").exists()


@pytest.mark.parametrize(
    ("details", "field", "code"),
    [
        (EvidenceDetails(kind="document_copy"), "document_type", "required"),
        (EvidenceDetails(kind="document_original", remote=True), "document_type", "required"),
        (
            EvidenceDetails(
                kind="document_original", document_type="passport", document_valid_until=dt.date(2020, 1, 1)
            ),
            "document_valid_until",
            "expired",
        ),
        (EvidenceDetails(kind="name_and_birth_date", document_type="passport"), "document_type", "no_document"),
        (EvidenceDetails(kind="in_person", remote=True), "remote", "contradiction"),
        (EvidenceDetails(kind="a_phone_call"), "kind", "invalid"),
        (EvidenceDetails(kind="document_copy", document_type="library_card"), "document_type", "invalid_choice"),
    ],
)
def test_evidence_that_breaks_a_rule_is_not_recorded(details: EvidenceDetails, field: str, code: str) -> None:
    person = unregistered()

    with pytest.raises(ValidationError) as excinfo:
        verified(person, details)

    assert refusal(excinfo) == {field: [code]}
    assert not IdentityEvidence.objects.exists()
    assert not AuditEvent.objects.filter(action="evidence:recorded").exists()


def test_a_document_valid_until_today_still_verifies() -> None:
    person = unregistered()
    today = timezone.localdate()
    details = EvidenceDetails(kind="document_original", document_type="identity_card", document_valid_until=today)
    assert verified(person, details).document_valid_until == today


def test_recorded_evidence_says_what_it_supports_who_verified_and_is_audited() -> None:
    person = unregistered()
    staff = Person.objects.create_superuser("staf@sleutelbos.example", "Staf Lid", "a long test password")
    evidence = evidence_record(actor=Actor.for_person(staff), person=person, evidence=ORIGINAL_CHECKED)

    assert (evidence.kind, evidence.level, evidence.remote) == ("document_original", Level.EH3, True)
    assert evidence.verified_by == f"person:{staff.pk}"
    event = AuditEvent.objects.get(action="evidence:recorded", subject_id=str(evidence.pk))
    assert event.actor_person == staff
    assert event.data == {
        "person": person.pk,
        "kind": "document_original",
        "supports": "EH3",
        "document_type": "passport",
        "remote": True,
        "asserted": False,
    }


def test_the_least_kind_of_evidence_per_level() -> None:
    assert [evidence_kind_for(level) for level in Level] == [
        EvidenceKind.NAME_AND_BIRTH_DATE,
        EvidenceKind.DOCUMENT_COPY,
        EvidenceKind.DOCUMENT_ORIGINAL,
        EvidenceKind.IN_PERSON,
    ]


# --------------------------------------------------------------------------------------------------------------------
# Upgrade and downgrade


def test_an_upgrade_needs_new_evidence_for_the_new_level() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl", level="EH2+", evidence=COPY_CHECKED)

    with pytest.raises(ValidationError) as without:
        means_change_level(actor=SYSTEM, person=person, level="EH3")
    with pytest.raises(ValidationError) as with_the_old_copy:
        means_change_level(
            actor=SYSTEM, person=person, level="EH3", evidence=IdentityEvidence.objects.get(person=person)
        )
    assert refusal(without) == {"evidence": ["required"]}
    assert refusal(with_the_old_copy) == {"evidence": ["too_weak"]}
    assert Means.objects.get(person=person).level == Level.EH2_PLUS

    means_change_level(actor=SYSTEM, person=person, level="EH3", evidence=verified(person, ORIGINAL_CHECKED))

    assert Means.objects.get(person=person).level == Level.EH3
    assert steps(person) == [("issued", "EH2+", "document_copy"), ("upgraded", "EH3", "document_original")]


def test_a_downgrade_needs_no_evidence_and_the_same_level_is_no_change() -> None:
    person = f.person(level="EH4")

    means_change_level(actor=SYSTEM, person=person, level="EH2+", reason="only needs the portal")
    with pytest.raises(ValidationError) as same:
        means_change_level(actor=SYSTEM, person=person, level="EH2+")

    assert refusal(same) == {"level": ["unchanged"]}
    assert steps(person) == [("issued", "EH4", "in_person"), ("downgraded", "EH2+", None)]


# --------------------------------------------------------------------------------------------------------------------
# Suspension, revocation and sessions


def session_user(client: Client) -> object:
    """Who the client's session authenticates now (Django checks the session's auth hash against the person)."""
    request = HttpRequest()
    request.session = client.session
    return get_user(request)


def test_suspend_and_reactivate() -> None:
    person = f.person(level="EH3")
    version = person.session_version

    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED, reason="phone lost")
    with pytest.raises(ValidationError) as again:
        means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED)
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE, reason="phone found")
    with pytest.raises(ValidationError) as active_again:
        means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE)

    assert refusal(again) == {"status": ["unchanged"]}
    assert refusal(active_again) == {"status": ["unchanged"]}
    assert Means.objects.get(person=person).status == MeansStatus.ACTIVE
    assert [action for action, _level, _kind in steps(person)] == ["issued", "suspended", "reactivated"]
    # Suspension ended the sessions; reactivating does not bring them back.
    assert Person.objects.get(pk=person.pk).session_version == version + 1


def test_revoking_ends_every_session_of_the_person_at_once() -> None:
    person = f.person(level="EH3")
    bystander = f.person(level="EH3")
    laptop, phone, other = Client(), Client(), Client()
    laptop.force_login(person)
    phone.force_login(person)
    other.force_login(bystander)
    assert session_user(laptop) == person

    means_revoke(actor=SYSTEM, person=person, reason="left the company")

    assert person.session_version == 1
    assert not session_user(laptop).is_authenticated
    assert not session_user(phone).is_authenticated
    assert session_user(other) == bystander


def test_suspending_ends_sessions_too() -> None:
    person = f.person(level="EH2+")
    client = Client()
    client.force_login(person)

    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED)

    assert not session_user(client).is_authenticated


def test_revocation_is_final() -> None:
    person = f.person(level="EH3")
    means_revoke(actor=SYSTEM, person=person)

    for attempt in (
        lambda: means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE),
        lambda: means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED),
        lambda: means_revoke(actor=SYSTEM, person=person),
        lambda: means_change_level(actor=SYSTEM, person=person, level="EH2"),
    ):
        with pytest.raises(ValidationError):
            attempt()

    assert Means.objects.get(person=person).status == MeansStatus.REVOKED
    assert AuditEvent.objects.filter(action="means:revoked").count() == 1


def test_decisions_refuse_a_revoked_means_with_means_inactive() -> None:
    service = f.instance(level="EH3")
    organisation = f.organisation()
    person = f.person(level="EH3")
    f.mandate(person, organisation)
    assert decide(person, organisation, service).allowed

    means_revoke(actor=SYSTEM, person=person, reason="left the company")

    decision = decide(Person.objects.get(pk=person.pk), organisation, service)
    assert not decision.allowed
    assert decision.codes == ["means_inactive"]


# --------------------------------------------------------------------------------------------------------------------
# A new means after revocation


def test_a_returning_employee_gets_a_new_means_only_on_new_evidence() -> None:
    person = person_create(actor=SYSTEM, name="Jan", email="jan@example.nl", level="EH3", evidence=ORIGINAL_CHECKED)
    old_evidence = IdentityEvidence.objects.get(person=person)
    means_revoke(actor=SYSTEM, person=person, reason="left the company")

    with pytest.raises(ValidationError) as stale:
        means_issue(actor=SYSTEM, person=person, level="EH3", evidence=old_evidence)
    assert refusal(stale) == {"evidence": ["stale"]}

    means = means_issue(
        actor=SYSTEM, person=person, level="EH2+", evidence=verified(person, COPY_CHECKED), reason="back as a temp"
    )

    assert (means.level, means.status) == (Level.EH2_PLUS, MeansStatus.ACTIVE)
    assert Means.objects.filter(person=person).count() == 1
    assert steps(person) == [
        ("issued", "EH3", "document_original"),
        ("revoked", "EH3", None),
        ("reissued", "EH2+", "document_copy"),
    ]
    assert AuditEvent.objects.filter(action="means:reissued", subject_id=str(means.pk)).exists()


# --------------------------------------------------------------------------------------------------------------------
# Every step audited, with its evidence


def test_every_step_is_audited_with_its_evidence() -> None:
    person = unregistered()
    copy = verified(person, COPY_CHECKED)
    means = means_issue(actor=SYSTEM, person=person, level="EH2+", evidence=copy)
    original = verified(person, ORIGINAL_CHECKED)
    means_change_level(actor=SYSTEM, person=person, level="EH3", evidence=original, reason="video check")
    means_change_level(actor=SYSTEM, person=person, level="EH2+")
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED, reason="phone lost")
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE)
    means_revoke(actor=SYSTEM, person=person, reason="left")

    events = AuditEvent.objects.filter(subject_type="identity.means", subject_id=str(means.pk)).order_by("at", "id")
    assert [(e.action, e.data.get("evidence"), e.data.get("sessions_ended")) for e in events] == [
        ("means:issued", copy.pk, None),
        ("means:level_changed", original.pk, None),
        ("means:level_changed", None, None),
        ("means:suspended", None, True),
        ("means:reactivated", None, False),
        ("means:revoked", None, True),
    ]
    assert [event.evidence_id for event in means.history.all()] == [copy.pk, original.pk, None, None, None, None]
    assert [event.reason for event in means.history.all()] == ["", "video check", "", "phone lost", "", "left"]
    assert AuditEvent.objects.filter(action="evidence:recorded", data__person=person.pk).count() == 2


# --------------------------------------------------------------------------------------------------------------------
# The back office


@pytest.fixture
def staff() -> Person:
    return Person.objects.create_superuser("staf@sleutelbos.example", "Staf Lid", "a long test password")


@pytest.fixture
def back_office(staff: Person) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(staff)
    return client


def admin_url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def evidence_form(person: Person, **changes: object) -> dict[str, object]:
    return {
        "person": person.pk,
        "kind": "document_original",
        "document_type": "passport",
        "document_number_suffix": "",
        "document_valid_until": "",
        "notes": "",
        **changes,
    }


def test_staff_record_evidence_and_issue_a_means_on_it(back_office: Client, staff: Person) -> None:
    person = unregistered()

    response = back_office.post(
        admin_url(IdentityEvidence, "add"), evidence_form(person, document_number_suffix="k2f1", remote="on")
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    evidence = IdentityEvidence.objects.get(person=person)
    assert (evidence.kind, evidence.document_number_suffix, evidence.remote) == ("document_original", "K2F1", True)
    assert evidence.verified_by == f"person:{staff.pk}"
    page = back_office.get(admin_url(IdentityEvidence, "change", evidence.pk)).content.decode()
    assert 'name="_save"' not in page
    assert f"{admin_url(Means, 'add')}?person={person.pk}&amp;evidence={evidence.pk}" in page

    response = back_office.post(
        admin_url(Means, "add"), {"person": person.pk, "level": "30", "evidence": evidence.pk, "reason": "new hire"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    means = Means.objects.get(person=person)
    assert (means.level, means.status) == (Level.EH3, MeansStatus.ACTIVE)
    assert means.history.get().evidence == evidence
    assert AuditEvent.objects.filter(action="means:issued", actor_person=staff).exists()


def test_recorded_evidence_cannot_be_changed_in_the_back_office(back_office: Client) -> None:
    person = unregistered()
    evidence = verified(person, ORIGINAL_CHECKED)

    response = back_office.post(
        admin_url(IdentityEvidence, "change", evidence.pk), evidence_form(person, kind="in_person")
    )

    assert response.status_code == 403
    assert IdentityEvidence.objects.get(pk=evidence.pk).kind == "document_original"
    assert back_office.post(admin_url(IdentityEvidence, "delete", evidence.pk), {"post": "yes"}).status_code == 403


def test_a_full_document_number_is_refused_beside_its_field(back_office: Client) -> None:
    person = unregistered()

    response = back_office.post(
        admin_url(IdentityEvidence, "add"), evidence_form(person, document_number_suffix="NX7K2F1")
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["document_number_suffix"] == [
        "Give only the last 4 characters of the document number: the full number is not stored."
    ]
    assert not IdentityEvidence.objects.exists()


def test_issuing_on_too_weak_evidence_shows_why_beside_the_evidence(back_office: Client) -> None:
    person = unregistered()
    copy = verified(person, COPY_CHECKED)

    response = back_office.post(admin_url(Means, "add"), {"person": person.pk, "level": "40", "evidence": copy.pk})

    assert response.status_code == 200
    (error,) = response.context["adminform"].form.errors["evidence"]
    assert error.startswith("A means at EH4 needs stronger evidence: identity checked in person.")
    assert not Means.objects.exists()


def test_staff_upgrade_with_new_evidence_and_revoke_a_means(back_office: Client, staff: Person) -> None:
    person = f.person(level="EH2+")
    means = person.means
    stronger = verified(person, IN_PERSON)
    change = admin_url(Means, "change", means.pk)
    form = {"level": "40", "status": "active", "evidence": "", "reason": "", "history-TOTAL_FORMS": "0"}
    form |= {"history-INITIAL_FORMS": "0", "history-MIN_NUM_FORMS": "0", "history-MAX_NUM_FORMS": "0"}

    refused = back_office.post(change, form)
    assert refused.status_code == 200
    assert "evidence" in refused.context["adminform"].form.errors

    assert back_office.post(change, form | {"evidence": stronger.pk}).status_code == 302
    means.refresh_from_db()
    assert means.level == Level.EH4

    client = Client()
    client.force_login(person)
    response = back_office.post(
        admin_url(Means, "changelist"), {"action": "revoke_selected", "_selected_action": [means.pk]}, follow=True
    )
    assert [str(message) for message in response.context["messages"]][-1] == "Revoked 1 means."
    means.refresh_from_db()
    assert means.status == MeansStatus.REVOKED
    assert not session_user(client).is_authenticated
    assert AuditEvent.objects.get(action="means:revoked").actor_person == staff


def test_adding_a_person_with_a_level_needs_evidence_for_it(back_office: Client) -> None:
    data = {"name": "Bram Kok", "email": "bram.kok@example.nl", "date_of_birth": "", "level": "30"}

    without = back_office.post(admin_url(Person, "add"), data)
    too_weak = back_office.post(admin_url(Person, "add"), data | {"kind": "document_copy", "document_type": "passport"})

    for response in (without, too_weak):
        assert response.status_code == 200
        assert "kind" in response.context["adminform"].form.errors
    assert not Person.objects.filter(email="bram.kok@example.nl").exists()
    assert not IdentityEvidence.objects.exists()
