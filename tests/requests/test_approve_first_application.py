"""Approving a first application without an account: staff record the identity evidence, approval creates the
account, its means, the membership, manager role and mandates, and mails the approval and the activation link."""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import DocumentType, EvidenceKind, IdentityEvidence, Means, MeansStatus, Person
from sleutelbos.identity.services import EvidenceDetails
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.models import Mandate
from sleutelbos.organisations.models import Membership, Organisation
from sleutelbos.requests.models import Request, RequestState
from sleutelbos.requests.services import request_approve
from tests import factories as f
from tests.requests.approval_world import JAN, extract, first_application

pytestmark = pytest.mark.django_db

STAFF = Actor(label="backoffice:verifier")
PASSPORT_CHECKED = EvidenceDetails(
    kind=EvidenceKind.DOCUMENT_ORIGINAL,
    document_type=DocumentType.PASSPORT,
    document_number_suffix="x12b",
    document_valid_until=dt.date.today() + dt.timedelta(days=900),
    remote=True,
    notes="Video call; passport held to the camera.",
)


@pytest.fixture
def service() -> object:
    return f.instance(f.definition(f.provider(), level=Level.EH3, branch_restriction_allowed=True))


def activation_link(to: str) -> str:
    message = next(message for message in mail.outbox if to in message.to and "/account/activate/" in message.body)
    return re.search(r"https?://\S+/account/activate/\S+/", message.body).group(0)


def test_approval_creates_the_account_its_means_and_what_was_asked_and_mails_the_activation_link(service) -> None:
    request = first_application(extract(JAN))
    mail.outbox.clear()

    request_approve(actor=STAFF, request=request, evidence=PASSPORT_CHECKED, note="Passport checked by video.")

    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    person = Person.objects.get(email="jan@bakker.nl")
    assert request.applicant == person
    assert (person.name, person.date_of_birth) == (JAN[0], JAN[1])
    assert not person.has_usable_password()  # set through the activation link
    means = Means.objects.get(person=person)
    assert (means.level, means.status) == (Level.EH3, MeansStatus.ACTIVE)
    evidence = IdentityEvidence.objects.get(person=person)
    assert (evidence.kind, evidence.document_type, evidence.document_number_suffix, evidence.remote) == (
        EvidenceKind.DOCUMENT_ORIGINAL,
        DocumentType.PASSPORT,
        "X12B",
        True,
    )
    assert evidence.verified_by == STAFF.label
    assert means.history.get(action="issued").evidence == evidence

    organisation = Organisation.objects.get(kvk=request.kvk)
    assert organisation.name == "Bakkerij De Gouden Korst B.V."
    assert Membership.objects.get(person=person, organisation=organisation).manager_level == Level.EH3
    mandate = Mandate.objects.get(holder=person, organisation=organisation)
    assert mandate.level == Level.EH3
    assert mandate.branch.number == "000045678901"
    assert mandate.valid_until.year == mandate.valid_from.year + 5
    assert decide(person, organisation, service, branch="000045678901")

    # Two mails to the applicant: the approval, and the link to activate the new account, which works.
    assert OutgoingMail.objects.filter(to="jan@bakker.nl", purpose="request:approved").count() == 1
    assert OutgoingMail.objects.filter(to="jan@bakker.nl", purpose="person:activation").count() == 1
    link = activation_link("jan@bakker.nl")
    assert link.startswith(settings.SLEUTELBOS_BASE_URL.rstrip("/") + "/account/activate/")
    page = Client().get(link[link.index("/account/") :], follow=True)
    assert page.status_code == 200
    assert 'type="password"' in page.content.decode()

    actions = list(AuditEvent.objects.filter(actor=STAFF.label).values_list("action", flat=True))
    for action in ("person:created", "evidence:recorded", "means:issued", "mandate:granted", "request:approved"):
        assert action in actions
    assert "person:activation_sent" in actions


def test_without_evidence_the_approval_says_what_to_record_and_creates_nothing() -> None:
    request = first_application(extract(JAN))

    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request)

    error = refused.value.error_dict["applicant"][0]
    assert error.code == "no_account"
    assert "Jan de Bakker" in error.message % (error.params or {})
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert not Person.objects.filter(email="jan@bakker.nl").exists()
    assert not Mandate.objects.exists()


def test_evidence_too_weak_for_the_level_is_refused_and_nothing_is_half_made() -> None:
    request = first_application(extract(JAN))
    weak = EvidenceDetails(kind=EvidenceKind.NAME_AND_BIRTH_DATE)

    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request, evidence=weak)

    assert refused.value.error_dict["kind"][0].code == "too_weak"
    request.refresh_from_db()
    assert (request.state, request.applicant_id) == (RequestState.READY_FOR_VERIFICATION, None)
    assert not Person.objects.filter(email="jan@bakker.nl").exists()
    assert not IdentityEvidence.objects.exists()
    assert not Organisation.objects.filter(kvk=request.kvk).exists()
    assert not OutgoingMail.objects.filter(purpose__in=["person:activation", "request:approved"]).exists()


def test_an_eh2_application_is_approved_on_a_check_of_name_and_date_of_birth() -> None:
    request = first_application(extract(JAN), level=Level.EH2)

    request_approve(actor=STAFF, request=request, evidence=EvidenceDetails(kind=EvidenceKind.NAME_AND_BIRTH_DATE))

    person = Person.objects.get(email="jan@bakker.nl")
    assert Means.objects.get(person=person).level == Level.EH2


def test_an_address_that_already_has_an_account_is_refused() -> None:
    request = first_application(extract(JAN))
    f.person(email="JAN@bakker.nl")

    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request, evidence=PASSPORT_CHECKED)

    assert refused.value.error_dict["applicant"][0].code == "account_exists"
    assert Person.objects.filter(email__iexact="jan@bakker.nl").count() == 1
    assert not Mandate.objects.exists()


def test_the_mails_go_out_in_the_language_of_the_application() -> None:
    request = first_application(extract(JAN), language="en")
    mail.outbox.clear()

    request_approve(actor=STAFF, request=request, evidence=PASSPORT_CHECKED)

    languages = dict(
        OutgoingMail.objects.filter(purpose__in=["person:activation", "request:approved"]).values_list(
            "purpose", "language"
        )
    )
    assert languages == {"person:activation": "en", "request:approved": "en"}


def test_a_stale_extract_is_refused_until_it_is_looked_up_again() -> None:
    request = first_application(extract(JAN, days_old=15))

    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request, evidence=PASSPORT_CHECKED)

    assert refused.value.error_dict["extract_date"][0].code == "stale_extract"
    assert not Person.objects.filter(email="jan@bakker.nl").exists()

    Request.objects.filter(pk=request.pk).update(extract_date=dt.date.today() - dt.timedelta(days=14))
    request_approve(actor=STAFF, request=request, evidence=PASSPORT_CHECKED)  # exactly 14 days is not older


@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_create_the_account_and_mandates_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    request = first_application(extract(JAN))
    start = threading.Barrier(2)

    def approve(label: str) -> str:
        try:
            start.wait()
            request_approve(
                actor=Actor(label=label), request=Request.objects.get(pk=request.pk), evidence=PASSPORT_CHECKED
            )
            return "approved"
        except ValidationError as error:
            return error.code or "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(approve, ["backoffice:one", "backoffice:two"]))

    assert results == ["approved", "not_ready"]
    assert Person.objects.filter(email="jan@bakker.nl").count() == 1
    assert Means.objects.count() == 1
    assert IdentityEvidence.objects.count() == 1
    assert Mandate.objects.count() == 1
    assert Membership.objects.filter(organisation__kvk=request.kvk).count() == 1
    assert OutgoingMail.objects.filter(purpose="person:activation").count() == 1
    assert OutgoingMail.objects.filter(purpose="request:approved").count() == 1
