"""The verification queue in the back office: what staff see of a request, and their decisions on it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import localize

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import EvidenceKind, IdentityEvidence, Means, Person
from sleutelbos.mandates.models import Mandate
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.kvk import KvkFunctionary
from sleutelbos.organisations.models import Authority
from sleutelbos.requests.models import Request, RequestEvent, RequestKind, RequestState
from sleutelbos.requests.services import MandateWish, request_create_draft
from tests import factories as f
from tests.requests.approval_world import (
    ANOUK,
    JAN,
    PIETER,
    applicant,
    extract,
    first_application,
    joint_request,
    write_register,
)

pytestmark = pytest.mark.django_db

EN = {"accept-language": "en"}


@pytest.fixture
def staff() -> Person:
    return Person.objects.create_superuser("verifier@sleutelbos.example", "Vera Verifier", "a long test password")


@pytest.fixture
def client(staff: Person) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def providers() -> list:
    providers = [f.provider(name=name) for name in ("Belastingdienst", "RVO", "UWV")]
    for provider in providers:
        f.instance(f.definition(provider, level=Level.EH3))
    return providers


def queue_url(**query: str) -> str:
    url = reverse("admin:requests_request_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def change_url(request: Request) -> str:
    return reverse("admin:requests_request_change", args=[request.pk])


def decide_url(request: Request, decision: str) -> str:
    return reverse("admin:requests_request_decide", args=[request.pk, decision])


def listed(client: Client, **query: str) -> list[Request]:
    response = client.get(queue_url(**query), headers=EN)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --------------------------------------------------------------------------------------------------------------------
# The queue


def test_the_queue_lists_the_requests_ready_for_verification_longest_waiting_first(client: Client, providers) -> None:
    person = applicant("Eva Employee")
    newer = joint_request(person, extract(PIETER, ANOUK), providers[:2])
    older = joint_request(person, extract(PIETER, ANOUK), providers[:1])
    Request.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - dt.timedelta(days=3))
    draft = request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=extract(PIETER, ANOUK),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3)],
    )

    assert listed(client) == [older, newer]
    assert listed(client, state="draft") == [draft]
    assert set(listed(client, state="all")) == {older, newer, draft}
    page = client.get(queue_url(), headers=EN).content.decode()
    assert "Bakkerij De Gouden Korst B.V." in page
    assert "Eva Employee" in page


def test_the_queue_finds_requests_by_kvk_number_organisation_name_and_applicant(client: Client, providers) -> None:
    eva = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK, name="Van Dijk Accountants"), providers[:1])
    jan = first_application(extract(JAN, name="Bakkerij De Gouden Korst B.V."))

    assert listed(client, q=jan.kvk) == [jan]
    assert listed(client, q="dijk") == [eva]
    assert listed(client, q="eva") == [eva]
    assert listed(client, q="jan@bakker") == [jan]
    assert listed(client, q="Gouden") == [jan]


def test_nothing_is_added_changed_or_deleted_by_hand(client: Client, providers) -> None:
    request = first_application(extract(JAN))
    assert client.get(reverse("admin:requests_request_add")).status_code == 403
    assert client.post(change_url(request), {"state": "approved"}).status_code == 403
    assert client.post(reverse("admin:requests_request_delete", args=[request.pk]), {"post": "yes"}).status_code == 403
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


# --------------------------------------------------------------------------------------------------------------------
# The request's page


def test_the_page_shows_the_request_the_extract_the_evidence_the_signatures_and_the_history(
    client: Client, providers
) -> None:
    person = applicant("Eva Employee")
    request = joint_request(person, extract(PIETER, ANOUK, days_old=3), providers[:2])

    page = client.get(change_url(request), headers=EN).content.decode()

    # In plain words: who asks what for which organisation.
    assert "<dt>Applicant</dt><dd>Eva Employee (eva.employee@example.nl)</dd>" in page
    assert "<dt>Organisation</dt><dd>Bakkerij De Gouden Korst B.V. (KvK " in page
    assert "All services of Belastingdienst and RVO at level EH3, including new services, valid for 3 years" in page
    # The extract and its date; not stale.
    assert f"Extract of {localize(dt.date.today() - dt.timedelta(days=3))} (3 days old)." in page
    assert "Older than 14 days" not in page
    assert "<td>Pieter van Dijk</td><td>Jan. 9, 1968</td><td>Bestuurder</td><td>jointly authorized</td>" in page
    # The evidence the level demands, and what is recorded about the applicant.
    assert "The request asks for level EH3" in page
    assert str(EvidenceKind.DOCUMENT_ORIGINAL.label) in page
    assert "Means of the applicant: EH3, active." in page
    # The signatures: who, from where, with which browser, and valid for this version.
    assert page.count("192.0.2.7") == 2
    assert page.count("Firefox/128.0") == 2
    assert "The valid signatures are enough for the request as it is now." in page
    assert page.count("<td>yes</td>") >= 2
    # The history and the decisions.
    assert "ready for verification" in page
    for button in ("Approve…", "Reject…", "Ask for more information…", "Refresh KvK extract"):
        assert button in page


def history_by(page: str) -> list[str]:
    """The "by" column of the request's history table."""
    history = page[page.index('id="request-history-title"') :]
    history = history[: history.index("</table>")]
    return re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>", history)


def test_the_page_names_who_did_what_in_the_readers_language(client: Client, staff: Person, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])
    client.post(decide_url(request, "approve"), {"confirmed": "yes"}, headers=EN)
    first = first_application(extract(JAN))

    page = client.get(change_url(request), headers=EN).content.decode()

    # Submitted by the applicant, the last signature by Anouk Meijer, approved by the staff member: by name.
    assert history_by(page) == ["Eva Employee", "Eva Employee", "Anouk Meijer", "Vera Verifier"]
    assert '<div class="readonly">Vera Verifier</div>' in page  # decided by
    # The applicant's identity evidence was recorded by Sleutelbos itself.
    assert "<td>Sleutelbos (automatic)</td>" in page
    assert "person:" not in page and "signer:" not in page and "<td>system</td>" not in page
    # A first application is submitted by Sleutelbos on the applicant's behalf; Jan signs it.
    assert history_by(client.get(change_url(first), headers=EN).content.decode()) == [
        "Sleutelbos (automatic)",
        "Sleutelbos (automatic)",
        "Jan de Bakker",
    ]


def test_dates_of_birth_in_the_extract_read_as_in_the_signatures(client: Client, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])

    page = client.get(change_url(request)).content.decode()  # in Dutch, the default language

    assert "<td>Pieter van Dijk</td><td>9 januari 1968</td>" in page
    assert "<td>Pieter van Dijk (9 januari 1968)</td>" in page
    assert "1968-01-09" not in page


def test_a_first_application_page_asks_for_the_identity_evidence(client: Client) -> None:
    request = first_application(extract(JAN))

    page = client.get(change_url(request), headers=EN).content.decode()

    assert "<dd>Jan de Bakker (jan@bakker.nl), who has no account yet</dd>" in page
    assert "The applicant has no account yet." in page
    assert 'name="approve-kind"' in page
    assert 'name="approve-document_type"' in page
    assert '<label for="id_approve-kind"' in page


def test_a_stale_extract_is_marked_and_its_approval_refused_with_the_reason(client: Client, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK, days_old=20), providers[:1])

    page = client.get(change_url(request), headers=EN).content.decode()
    assert "Older than 14 days: refresh it before approving." in page
    assert "(older than 14 days)" in client.get(queue_url(), headers=EN).content.decode()

    response = client.post(decide_url(request, "approve"), {"confirmed": "yes"}, headers=EN)

    assert response.status_code == 200
    assert "older than 14 days" in response.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
    assert not Mandate.objects.exists()


# --------------------------------------------------------------------------------------------------------------------
# Refreshing the extract


def test_refreshing_with_unchanged_data_keeps_the_signatures_and_allows_approval(
    client: Client, providers, tmp_path: Path, settings
) -> None:
    stale = extract(PIETER, ANOUK, days_old=20)
    request = joint_request(applicant("Eva Employee"), stale, providers[:1])
    write_register(tmp_path, settings, stale)

    response = client.post(
        reverse("admin:requests_request_refresh_extract", args=[request.pk]), follow=True, headers=EN
    )

    assert messages_of(response) == [
        f"The KvK extract was looked up again ({localize(dt.date.today())}); the organisation's data are unchanged."
    ]
    request.refresh_from_db()
    assert request.extract_date == dt.date.today()
    event = AuditEvent.objects.get(action="request:extract_refreshed")
    assert event.data["changed"] is False and event.data["signatures_valid"] is True

    client.post(decide_url(request, "approve"), {"confirmed": "yes"})
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED


def test_refreshing_with_changed_data_says_the_signatures_no_longer_match(
    client: Client, providers, tmp_path: Path, settings
) -> None:
    stale = extract(PIETER, ANOUK, days_old=20)
    request = joint_request(applicant("Eva Employee"), stale, providers[:1])
    joined = KvkFunctionary(
        name="Nieuwe Bestuurder", date_of_birth=dt.date(1990, 1, 1), role="Bestuurder", authority=Authority.JOINT
    )
    write_register(
        tmp_path, settings, type(stale)(**{**stale.__dict__, "functionaries": (*stale.functionaries, joined)})
    )

    response = client.post(
        reverse("admin:requests_request_refresh_extract", args=[request.pk]), follow=True, headers=EN
    )

    shown = messages_of(response)
    assert "the register's data have changed" in shown[0]
    assert shown[1].startswith("The signatures no longer match the request, so it cannot be approved.")
    page = response.content.decode()
    assert "Nieuwe Bestuurder" in page
    assert "The valid signatures are not enough for the request as it is now." in page

    refused = client.post(decide_url(request, "approve"), {"confirmed": "yes"}, headers=EN)
    assert "The signatures do not match the request as it is now" in refused.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_a_number_the_register_does_not_know_is_reported(client: Client, providers, tmp_path: Path, settings) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK, days_old=20), providers[:1])
    write_register(tmp_path, settings)  # an empty register

    response = client.post(
        reverse("admin:requests_request_refresh_extract", args=[request.pk]), follow=True, headers=EN
    )

    [shown] = messages_of(response)
    assert shown.startswith("The KvK extract was not refreshed:")
    assert request.kvk in shown
    request.refresh_from_db()
    assert request.extract_date == dt.date.today() - dt.timedelta(days=20)


# --------------------------------------------------------------------------------------------------------------------
# Decisions


def test_approval_asks_for_confirmation_then_creates_what_was_asked(client: Client, staff: Person, providers) -> None:
    person = applicant("Eva Employee")
    request = joint_request(person, extract(PIETER, ANOUK), providers[:2])

    confirm = client.post(decide_url(request, "approve"), {"approve-note": "Checked."}, headers=EN)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "Approve this request?" in page
    assert 'name="confirmed" value="yes"' in page
    assert "All services of Belastingdienst and RVO" in page
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION  # nothing happened yet

    done = client.post(
        decide_url(request, "approve"), {"approve-note": "Checked.", "confirmed": "yes"}, follow=True, headers=EN
    )

    assert done.request["PATH_INFO"] == reverse("admin:requests_request_changelist")
    assert messages_of(done) == ["The request was approved: what it asks for is now active."]
    request.refresh_from_db()
    assert request.state == RequestState.APPROVED
    assert request.decided_by == f"person:{staff.pk}"
    assert RequestEvent.objects.filter(request=request, to_state="approved").get().note == "Checked."
    mandate = Mandate.objects.get(holder=person)
    assert set(mandate.providers.all()) == set(providers[:2])
    assert AuditEvent.objects.get(action="request:approved").actor_person == staff
    assert request not in listed(client)  # gone from the queue


def test_approving_a_first_application_records_the_evidence_typed_in(client: Client, staff: Person) -> None:
    request = first_application(extract(JAN))
    evidence = {
        "approve-kind": EvidenceKind.DOCUMENT_ORIGINAL,
        "approve-document_type": "passport",
        "approve-document_number_suffix": "1234",
        "approve-document_valid_until": (dt.date.today() + dt.timedelta(days=365)).isoformat(),
        "approve-notes": "Seen at the desk.",
    }

    done = client.post(decide_url(request, "approve"), {**evidence, "confirmed": "yes"}, follow=True, headers=EN)

    person = Person.objects.get(email="jan@bakker.nl")
    assert messages_of(done) == [
        "The request was approved: what it asks for is now active.",
        "The account of Jan de Bakker was created; the activation link was mailed to jan@bakker.nl.",
    ]
    recorded = IdentityEvidence.objects.get(person=person)
    assert (recorded.kind, recorded.document_number_suffix, recorded.verified_by) == (
        EvidenceKind.DOCUMENT_ORIGINAL,
        "1234",
        f"person:{staff.pk}",
    )
    assert Means.objects.get(person=person).level == Level.EH3


def test_evidence_that_does_not_support_the_level_is_refused_beside_its_field(client: Client) -> None:
    request = first_application(extract(JAN))

    response = client.post(
        decide_url(request, "approve"),
        {"approve-kind": EvidenceKind.NAME_AND_BIRTH_DATE, "confirmed": "yes"},
        headers=EN,
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["kind"][0].startswith("A means at EH3 needs stronger evidence")
    page = response.content.decode()
    assert 'aria-describedby="id_approve-kind_helptext id_approve-kind_error"' in page
    assert 'href="#id_approve-kind"' in page
    assert not Person.objects.filter(email="jan@bakker.nl").exists()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_without_evidence_the_form_asks_for_it(client: Client) -> None:
    request = first_application(extract(JAN))

    response = client.post(decide_url(request, "approve"), {"approve-kind": "", "confirmed": "yes"}, headers=EN)

    assert response.context["form"].errors["kind"] == ["Say how the applicant's identity was verified."]
    assert not Person.objects.filter(email="jan@bakker.nl").exists()


def test_rejection_needs_a_reason_which_the_applicant_reads(client: Client, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])

    empty = client.post(decide_url(request, "reject"), {"reject-reason": "  ", "confirmed": "yes"}, headers=EN)
    assert empty.status_code == 200
    assert empty.context["form"].errors["reason"] == ["Give the reason for the rejection."]
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION

    confirm = client.post(decide_url(request, "reject"), {"reject-reason": "Not an employee."}, headers=EN)
    assert "Reject this request?" in confirm.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION

    done = client.post(
        decide_url(request, "reject"),
        {"reject-reason": "Not an employee.", "confirmed": "yes"},
        follow=True,
        headers=EN,
    )
    assert messages_of(done) == ["The request was rejected."]
    request.refresh_from_db()
    assert (request.state, request.reason) == (RequestState.REJECTED, "Not an employee.")
    assert not Mandate.objects.exists()


def test_asking_for_more_information_needs_the_question(client: Client, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])

    empty = client.post(decide_url(request, "ask"), {"ask-question": "", "confirmed": "yes"}, headers=EN)
    assert empty.context["form"].errors["question"] == ["Write the question for the applicant."]

    done = client.post(
        decide_url(request, "ask"),
        {"ask-question": "Since when are you employed?", "confirmed": "yes"},
        follow=True,
        headers=EN,
    )
    assert messages_of(done) == ["The applicant was asked for more information."]
    request.refresh_from_db()
    assert (request.state, request.reason) == (RequestState.MORE_INFORMATION_REQUESTED, "Since when are you employed?")


def test_a_decided_request_has_no_decisions_left(client: Client, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])
    client.post(decide_url(request, "reject"), {"reject-reason": "No.", "confirmed": "yes"})

    page = client.get(change_url(request), headers=EN).content.decode()
    assert "Approve…" not in page and "Refresh KvK extract" not in page

    again = client.post(decide_url(request, "approve"), {"confirmed": "yes"}, headers=EN)
    assert "Only a request ready for verification can be approved" in again.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.REJECTED


def test_staff_cannot_decide_on_their_own_request(client: Client, staff: Person, providers) -> None:
    Means.objects.filter(person=staff).delete()
    own = applicant("Olaf Own")
    own.is_staff = own.is_superuser = True
    own.save()
    request = joint_request(own, extract(PIETER, ANOUK), providers[:1])
    mine = Client()
    mine.force_login(own)

    response = mine.post(decide_url(request, "approve"), {"confirmed": "yes"}, headers=EN)

    assert "Staff cannot decide on their own request." in response.content.decode()
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_staff_who_may_only_view_requests_cannot_decide(providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])
    viewer = Person.objects.create_user(
        "viewer@sleutelbos.example", "Vic Viewer", "a long test password", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_request"))
    client = Client()
    client.force_login(viewer)

    page = client.get(change_url(request), headers=EN)
    assert page.status_code == 200
    assert "Approve…" not in page.content.decode()
    assert client.post(decide_url(request, "approve"), {"confirmed": "yes"}).status_code == 403
    assert client.post(reverse("admin:requests_request_refresh_extract", args=[request.pk])).status_code == 403
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION


def test_decisions_need_a_csrf_token(staff: Person, providers) -> None:
    request = joint_request(applicant("Eva Employee"), extract(PIETER, ANOUK), providers[:1])
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    assert client.post(decide_url(request, "approve"), {"confirmed": "yes"}).status_code == 403
    request.refresh_from_db()
    assert request.state == RequestState.READY_FOR_VERIFICATION
