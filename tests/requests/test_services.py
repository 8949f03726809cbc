"""Requests from draft to decision: validation, the signature rules, signing links, and approval."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance
from sleutelbos.identity.models import DocumentType, Person
from sleutelbos.identity.services import DOCUMENT_KINDS, EvidenceDetails, evidence_kind_for, person_create
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.kvk import KvkBranch, KvkExtract, KvkFunctionary
from sleutelbos.organisations.models import Authority, Branch, LegalForm, Membership, Organisation
from sleutelbos.requests.models import Request, RequestEvent, RequestKind, RequestState, Signer
from sleutelbos.requests.services import (
    ChainMandateWish,
    IssuedLink,
    MandateWish,
    SignerWish,
    request_approve,
    request_ask_information,
    request_create_draft,
    request_decline,
    request_expire,
    request_reject,
    request_sign,
    request_submit,
    request_update_draft,
    request_withdraw,
)
from sleutelbos.requests.signatures import SignaturesNotOnline, document_hash, signatures_required
from tests import factories as f
from tests.requests.signer_code import confirm_identity

pytestmark = pytest.mark.django_db

STAFF = Actor(label="backoffice:verifier")
BORN = dt.date(1971, 3, 14)
BRANCH = "000045678901"


# --------------------------------------------------------------------------------------------------------------------
# The signature table


@pytest.mark.parametrize("level", [Level.EH2, Level.EH2_PLUS, Level.EH3])
def test_alone_authorized_needs_one_signature(level: Level) -> None:
    assert signatures_required([Authority.ALONE], level, representatives=5) == 1


@pytest.mark.parametrize("authority", [Authority.JOINT, Authority.RESTRICTED])
@pytest.mark.parametrize("level", [Level.EH2, Level.EH2_PLUS])
def test_joint_or_restricted_needs_two_signatures_at_eh2(authority: Authority, level: Level) -> None:
    assert signatures_required([authority, authority], level, representatives=5) == 2


@pytest.mark.parametrize(("representatives", "majority"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_joint_needs_a_majority_of_the_representatives_at_eh3(representatives: int, majority: int) -> None:
    assert signatures_required([Authority.JOINT], Level.EH3, representatives=representatives) == majority


def test_eh4_is_signed_in_person_and_never_with_restricted_authority() -> None:
    with pytest.raises(SignaturesNotOnline) as alone:
        signatures_required([Authority.ALONE], Level.EH4, representatives=1)
    assert alone.value.code == "eh4_in_person"
    with pytest.raises(SignaturesNotOnline) as restricted:
        signatures_required([Authority.JOINT, Authority.RESTRICTED], Level.EH4, representatives=3)
    assert restricted.value.code == "eh4_restricted"


# --------------------------------------------------------------------------------------------------------------------
# The world


def applicant(name: str, *, born: dt.date | None = BORN, level: Level = Level.EH3) -> Person:
    kind = evidence_kind_for(level)
    evidence = EvidenceDetails(kind=kind, document_type=DocumentType.PASSPORT if kind in DOCUMENT_KINDS else "")
    email = name.lower().replace(" ", ".") + "@example.nl"
    return person_create(actor=SYSTEM, name=name, email=email, level=level, date_of_birth=born, evidence=evidence)


def extract_of(organisation: Organisation, *functionaries: tuple[str, dt.date, Authority]) -> KvkExtract:
    return KvkExtract(
        kvk=organisation.kvk,
        name=organisation.name,
        rsin=organisation.rsin,
        legal_form=LegalForm.BV,
        branches=(KvkBranch(number=BRANCH, name="Hoofdvestiging", city="Sleutelstad"),),
        functionaries=tuple(
            KvkFunctionary(name=name, date_of_birth=born, role="Bestuurder", authority=authority)
            for name, born, authority in functionaries
        ),
        extract_date=dt.date.today(),
    )


@dataclass
class World:
    organisation: Organisation
    providers: list
    services: list[ServiceInstance]


@pytest.fixture
def world() -> World:
    organisation = f.organisation(name="Bakkerij De Gouden Korst B.V.")
    providers = [f.provider() for _ in range(3)]
    services = [f.instance(f.definition(provider, level=Level.EH3)) for provider in providers]
    return World(organisation=organisation, providers=providers, services=services)


JOINT = [
    ("Anna Jansen", dt.date(1960, 1, 1), Authority.JOINT),
    ("Bram Bakker", dt.date(1962, 2, 2), Authority.JOINT),
    ("Cor de Vries", dt.date(1964, 3, 3), Authority.JOINT),
]


def joint_request(world: World, person: Person, *, level: Level = Level.EH3, wants_manager: bool = False) -> Request:
    """A jointly authorized organisation (three representatives); the applicant asks for two providers."""
    return request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=extract_of(world.organisation, *JOINT),
        mandates=[MandateWish(scope=Scope.of_providers(*world.providers[:2]), level=level, years=3)],
        wants_manager=wants_manager,
    )


def sign(link: IssuedLink) -> Signer:
    """The signer confirms who they are with the mailed code, then signs."""
    confirm_identity(link)
    return request_sign(
        token=link.token,
        name=link.signer.functionary_name.upper(),
        date_of_birth=link.signer.date_of_birth,
        address="192.0.2.7",
        user_agent="Firefox",
    )


def two_signers() -> list[SignerWish]:
    return [
        SignerWish(name=name, date_of_birth=born, email=f"{i}@example.nl")
        for i, (name, born, _) in enumerate(JOINT[:2])
    ]


def actions(request: Request) -> list[str]:
    return list(
        AuditEvent.objects.filter(subject_type="requests.request", subject_id=str(request.pk))
        .order_by("at", "id")
        .values_list("action", flat=True)
    )


# --------------------------------------------------------------------------------------------------------------------
# The whole path


def test_joint_request_is_signed_by_a_majority_approved_once_and_then_decide_allows(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    me = Actor.for_person(person)

    with pytest.raises(ValidationError) as too_few:
        request_submit(actor=me, request=request, signers=two_signers()[:1])
    assert too_few.value.error_dict["signers"][0].code == "too_few"

    links = request_submit(actor=me, request=request, signers=two_signers())
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert request.document_hash == document_hash(request)
    assert len(links) == 2
    # Only the hash of a token is stored.
    assert not Signer.objects.filter(token_hash__in=[link.token for link in links]).exists()

    first = sign(links[0])
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert (first.address, first.user_agent, first.signed_document_hash) == (
        "192.0.2.7",
        "Firefox",
        request.document_hash,
    )
    sign(links[1])
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert not Mandate.objects.filter(holder=person).exists()  # nothing active before verification

    request_approve(actor=STAFF, request=request)
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert request.decided_by == STAFF.label
    mandate = Mandate.objects.get(holder=person, organisation=world.organisation)
    assert mandate.scope_kind == ScopeKind.PROVIDERS
    assert set(mandate.providers.all()) == set(world.providers[:2])
    assert mandate.level == Level.EH3
    assert mandate.valid_until.year == mandate.valid_from.year + 3
    assert Membership.objects.get(person=person, organisation=world.organisation).manager_level is None
    assert decide(person, world.organisation, world.services[0])
    assert decide(person, world.organisation, world.services[1])
    assert not decide(person, world.organisation, world.services[2])

    # A second approval (another staff member a moment later) is refused and creates nothing.
    with pytest.raises(ValidationError) as again:
        request_approve(actor=Actor(label="backoffice:other"), request=request)
    assert again.value.code == "not_ready"
    assert Mandate.objects.filter(holder=person).count() == 1

    assert actions(request) == [
        "request:created",
        "request:submitted",
        "request:awaiting_signatures",
        "request:sent_for_signature",
        "request:signed",
        "request:signed",
        "request:ready_for_verification",
        "request:approved",
    ]
    assert AuditEvent.objects.filter(action="mandate:granted", organisation=world.organisation).count() == 1
    assert list(RequestEvent.objects.filter(request=request).values_list("to_state", flat=True)) == [
        "submitted",
        "awaiting_signatures",
        "ready_for_verification",
        "approved",
    ]


def test_alone_authorized_applicant_becomes_manager_and_signs_alone(world: World) -> None:
    person = applicant("Jan de Bakker")
    request = request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_ORGANISATION,
        applicant=person,
        extract=extract_of(world.organisation, ("JAN DE BAKKER", BORN, Authority.ALONE), *JOINT[:1]),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3, years=1, branch_number=BRANCH)],
        chain_mandates=[ChainMandateWish(intermediary_kvk=f.organisation().kvk, scope=Scope.all(), level=Level.EH2)],
    )
    links = request_submit(actor=Actor.for_person(person), request=request)
    request.refresh_from_db()
    assert request.wants_manager
    assert request.manager_level == Level.EH3
    assert [link.signer.email for link in links] == [person.email]

    sign(links[0])
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    request_approve(actor=STAFF, request=request)

    assert Membership.objects.get(person=person, organisation=world.organisation).manager_level == Level.EH3
    mandate = Mandate.objects.get(holder=person)
    assert mandate.branch == Branch.objects.get(number=BRANCH, organisation=world.organisation)
    assert ChainMandate.objects.filter(client=world.organisation, level=Level.EH2).count() == 1


def test_first_application_without_account_is_signed_but_needs_an_account_to_be_approved() -> None:
    organisation = f.organisation()
    f.provider()
    request = request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name="Jan de Bakker",
        applicant_email="jan@bakker.nl",
        applicant_date_of_birth=BORN,
        extract=extract_of(organisation, ("Jan de Bakker", BORN, Authority.ALONE)),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3, years=5)],
    )
    links = request_submit(actor=SYSTEM, request=request)
    assert [link.signer.email for link in links] == ["jan@bakker.nl"]
    sign(links[0])
    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request)
    assert refused.value.error_dict["applicant"][0].code == "no_account"
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert not Mandate.objects.exists()


# --------------------------------------------------------------------------------------------------------------------
# Validation at submission


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"mandates": []}, "mandates", "empty"),
        ({"mandates": [MandateWish(scope=Scope.all(), level=Level.EH4)]}, "level", "above_means_level"),
        ({"mandates": [MandateWish(scope=Scope.all(), level=Level.EH3, years=2)]}, "years", "years"),
        (
            {"mandates": [MandateWish(scope=Scope.all(), level=Level.EH3, branch_number="000099999999")]},
            "branch_number",
            "unknown_branch",
        ),
        ({"mandates": [MandateWish(scope=Scope(ScopeKind.PROVIDERS), level=Level.EH3)]}, "scope", "empty"),
    ],
)
def test_submission_refuses_what_cannot_be_granted(world: World, change: dict, field: str, code: str) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    request_update_draft(actor=Actor.for_person(person), request=request, **change)
    with pytest.raises(ValidationError) as refused:
        request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    assert refused.value.error_dict[field][0].code == code
    request.refresh_from_db()
    assert request.state == RequestState.DRAFT
    assert not Signer.objects.exists()


def test_submission_needs_representatives_from_the_extract(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    me = Actor.for_person(person)
    with pytest.raises(ValidationError) as none:
        request_submit(actor=me, request=request)
    assert none.value.error_dict["signers"][0].code == "required"
    stranger = SignerWish(name="Iemand Anders", date_of_birth=dt.date(1980, 1, 1), email="x@example.nl")
    with pytest.raises(ValidationError) as unknown:
        request_submit(actor=me, request=request, signers=[*two_signers(), stranger])
    assert unknown.value.error_dict["signers"][0].code == "not_representative"


def test_eh4_requests_are_not_signed_online(world: World) -> None:
    person = applicant("Eva Employee", level=Level.EH4)
    request = joint_request(world, person, level=Level.EH4)
    with pytest.raises(SignaturesNotOnline):
        request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    request.refresh_from_db()
    assert request.state == RequestState.DRAFT


def test_only_the_applicant_changes_and_only_while_editable(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    other = Actor.for_person(applicant("Olaf Other"))
    with pytest.raises(PermissionDenied):
        request_update_draft(actor=other, request=request, wants_manager=True)
    request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    with pytest.raises(ValidationError) as locked:
        request_update_draft(actor=Actor.for_person(person), request=request, mandates=[])
    assert locked.value.code == "not_editable"
    assert request.mandates.count() == 1


# --------------------------------------------------------------------------------------------------------------------
# Signing


def test_wrong_identity_is_refused_and_audited_and_the_link_still_works(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    link = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())[0]
    with pytest.raises(ValidationError) as unconfirmed:
        request_sign(token=link.token, name=link.signer.functionary_name, date_of_birth=link.signer.date_of_birth)
    assert unconfirmed.value.error_dict["code"][0].code == "identity_not_confirmed"
    confirm_identity(link)
    with pytest.raises(ValidationError) as wrong_date:
        request_sign(token=link.token, name=link.signer.functionary_name, date_of_birth=dt.date(1999, 9, 9))
    assert wrong_date.value.error_dict["identity"][0].code == "identity"
    with pytest.raises(ValidationError):
        request_sign(token=link.token, name="Anna Janssen", date_of_birth=link.signer.date_of_birth)
    assert actions(request).count("request:signature_refused") == 2
    link.signer.refresh_from_db()
    assert link.signer.signed_at is None
    assert sign(link).signed_at is not None
    with pytest.raises(PermissionDenied):
        sign(link)  # used once


def test_expired_or_unknown_link_is_refused_and_the_request_expires(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    links = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())
    with pytest.raises(PermissionDenied):
        request_sign(token="not-a-token", name="Anna Jansen", date_of_birth=JOINT[0][1])
    Signer.objects.filter(pk=links[0].signer.pk).update(token_expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(PermissionDenied):
        sign(links[0])

    assert request_expire(now=timezone.now() + dt.timedelta(days=13)) == []
    assert request_expire(now=timezone.now() + dt.timedelta(days=14, seconds=1)) == [request]
    request.refresh_from_db()
    assert request.state == RequestState.EXPIRED
    with pytest.raises(PermissionDenied):
        sign(links[1])
    assert "request:expired" in actions(request)


def test_declined_signature_is_recorded_with_its_reason(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    link = request_submit(actor=Actor.for_person(person), request=request, signers=two_signers())[0]
    with pytest.raises(ValidationError) as unconfirmed:
        request_decline(token=link.token, reason="I do not know this employee.")
    assert unconfirmed.value.error_dict["code"][0].code == "identity_not_confirmed"
    confirm_identity(link)
    with pytest.raises(ValidationError):
        request_decline(token=link.token, reason="  ")
    signer = request_decline(token=link.token, reason="I do not know this employee.")
    assert signer.declined_at is not None
    assert signer.decline_reason == "I do not know this employee."
    with pytest.raises(PermissionDenied):
        sign(link)
    assert "request:signature_declined" in actions(request)


def test_a_decline_that_leaves_too_few_signatures_returns_the_request_to_the_applicant(world: World) -> None:
    person = applicant("Eva Employee")
    me = Actor.for_person(person)
    request = joint_request(world, person)  # EH3, three representatives: two must sign
    anna, bram = request_submit(actor=me, request=request, signers=two_signers())
    sign(anna)
    confirm_identity(bram)
    request_decline(token=bram.token, reason="I do not know this employee.")

    request.refresh_from_db()
    assert request.state == RequestState.DRAFT  # Anna's signature alone can never be enough
    event = RequestEvent.objects.filter(request=request).last()
    assert (event.from_state, event.to_state, event.actor) == (
        "awaiting_signatures",
        "draft",
        f"signer:{bram.signer.pk}",
    )
    assert "Bram Bakker" in event.note
    assert actions(request)[-2:] == ["request:signature_declined", "request:draft"]

    # The applicant chooses Cor instead of Bram and submits the unchanged request again: Anna's signature on this
    # very document still counts, Bram's link is superseded, only Cor is asked.
    cor = SignerWish(name="Cor de Vries", date_of_birth=JOINT[2][1], email="cor@example.nl")
    [new_link] = request_submit(actor=me, request=request, signers=[two_signers()[0], cor])
    assert new_link.signer.functionary_name == "Cor de Vries"
    bram.signer.refresh_from_db()
    assert bram.signer.superseded_at is not None
    with pytest.raises(PermissionDenied):
        request_decline(token=bram.token, reason="Again.")
    sign(new_link)
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_a_request_returned_after_a_decline_and_changed_needs_every_signature_again(world: World) -> None:
    person = applicant("Eva Employee")
    me = Actor.for_person(person)
    request = joint_request(world, person)
    anna, bram = request_submit(actor=me, request=request, signers=two_signers())
    sign(anna)
    confirm_identity(bram)
    request_decline(token=bram.token, reason="Only one provider, please.")
    request_update_draft(
        actor=me, request=request, mandates=[MandateWish(scope=Scope.of_providers(world.providers[0]), level=Level.EH3)]
    )
    links = request_submit(actor=me, request=request, signers=two_signers())
    assert {link.signer.functionary_name for link in links} == {"Anna Jansen", "Bram Bakker"}
    anna.signer.refresh_from_db()
    assert anna.signer.superseded_at is not None  # signed another document: it no longer counts
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES
    with pytest.raises(PermissionDenied):
        sign(bram)  # the earlier link stays used


def test_a_decline_with_enough_representatives_left_keeps_the_request_waiting(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    three = [*two_signers(), SignerWish(name="Cor de Vries", date_of_birth=JOINT[2][1], email="cor@example.nl")]
    anna, bram, cor = request_submit(actor=Actor.for_person(person), request=request, signers=three)
    confirm_identity(anna)
    request_decline(token=anna.token, reason="I am on leave.")
    request.refresh_from_db()
    assert request.state == RequestState.AWAITING_SIGNATURES  # Bram and Cor can still sign
    sign(bram)
    sign(cor)
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_a_signature_on_a_changed_request_no_longer_counts(world: World) -> None:
    person = applicant("Eva Employee")
    me = Actor.for_person(person)
    request = joint_request(world, person, level=Level.EH2)
    for link in request_submit(actor=me, request=request, signers=two_signers()):
        sign(link)
    request_ask_information(actor=STAFF, request=request, question="Why EH2?")
    request.refresh_from_db()
    assert (request.state, request.reason) == (RequestState.MORE_INFORMATION_REQUESTED, "Why EH2?")

    old_hash = request.document_hash
    request_update_draft(
        actor=me, request=request, mandates=[MandateWish(scope=Scope.of_providers(*world.providers), level=Level.EH3)]
    )
    new_links = request_submit(actor=me, request=request, signers=two_signers(), note="EH3 it is, all three.")
    request.refresh_from_db()
    assert request.document_hash != old_hash
    assert request.state == RequestState.AWAITING_SIGNATURES
    assert len(new_links) == 2  # both must sign the new document
    assert (
        Signer.objects.filter(request=request, superseded_at__isnull=False, signed_document_hash=old_hash).count() == 2
    )
    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request)
    assert refused.value.code == "not_ready"
    assert not Mandate.objects.exists()


def test_a_request_changed_behind_the_signatures_cannot_be_approved(world: World) -> None:
    person = applicant("Eva Employee")
    request = joint_request(world, person)
    for link in request_submit(actor=Actor.for_person(person), request=request, signers=two_signers()):
        sign(link)
    request.mandates.update(level=Level.EH2)  # tampered with after signing, not through the services
    with pytest.raises(ValidationError) as refused:
        request_approve(actor=STAFF, request=request)
    assert refused.value.code == "signatures"
    assert not Mandate.objects.exists()


def test_an_unchanged_answer_keeps_the_signatures(world: World) -> None:
    person = applicant("Eva Employee")
    me = Actor.for_person(person)
    request = joint_request(world, person)
    for link in request_submit(actor=me, request=request, signers=two_signers()):
        sign(link)
    request_ask_information(actor=STAFF, request=request, question="Is Eva employed by you?")
    assert request_submit(actor=me, request=request, signers=two_signers(), note="Yes, since 2019.") == []
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert RequestEvent.objects.filter(request=request, to_state="submitted").last().note == "Yes, since 2019."


# --------------------------------------------------------------------------------------------------------------------
# Decisions and withdrawal


def test_reject_withdraw_and_who_may_decide(world: World) -> None:
    person = applicant("Eva Employee")
    me = Actor.for_person(person)
    request = joint_request(world, person)
    for link in request_submit(actor=me, request=request, signers=two_signers()):
        sign(link)
    with pytest.raises(PermissionDenied):
        request_reject(actor=me, request=request, reason="I changed my mind")
    with pytest.raises(ValidationError):
        request_reject(actor=STAFF, request=request, reason="")
    request_reject(actor=STAFF, request=request, reason="The KvK extract is older than two weeks.")
    request.refresh_from_db()
    assert (request.state, request.reason) == (RequestState.REJECTED, "The KvK extract is older than two weeks.")
    with pytest.raises(ValidationError):
        request_withdraw(actor=me, request=request)  # not after a decision
    assert "request:rejected" in actions(request)

    other = joint_request(world, person)
    with pytest.raises(PermissionDenied):
        request_withdraw(actor=Actor.for_person(applicant("Olaf Other")), request=other)
    request_withdraw(actor=me, request=other, note="Wrong organisation.")
    other.refresh_from_db()
    assert other.state == RequestState.WITHDRAWN
    assert "request:withdrawn" in actions(other)
