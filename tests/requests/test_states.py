"""The state machine of requests: every legal transition, every illegal one refused, each recorded and audited."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db.models import ProtectedError

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.organisations.kvk import KvkExtract
from sleutelbos.organisations.models import LegalForm
from sleutelbos.requests.models import Request, RequestEvent, RequestKind, RequestState
from sleutelbos.requests.services import request_create_draft
from sleutelbos.requests.states import TRANSITIONS, IllegalTransition, can_transition, transition

pytestmark = pytest.mark.django_db

LEGAL = [(source, target) for source, targets in TRANSITIONS.items() for target in sorted(targets)]
ILLEGAL = [
    (source, target)
    for source, target in itertools.product(RequestState.values, RequestState.values)
    if target not in TRANSITIONS[source]
]


def _request_in(state: str) -> Request:
    extract = KvkExtract(
        kvk="12345678",
        name="Bakkerij B.V.",
        rsin="",
        legal_form=LegalForm.BV,
        branches=(),
        functionaries=(),
        extract_date=dt.date.today(),
    )
    request = request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        extract=extract,
        applicant_name="Jan de Bakker",
        applicant_email="jan@example.nl",
    )
    Request.objects.filter(pk=request.pk).update(state=state)
    request.refresh_from_db()
    return request


def test_the_table_names_every_state_and_only_states() -> None:
    assert set(TRANSITIONS) == set(RequestState.values)
    assert all(set(targets) <= set(RequestState.values) for targets in TRANSITIONS.values())


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_legal_transition_moves_records_and_audits(source: str, target: str) -> None:
    request = _request_in(source)
    transition(request, target, actor=SYSTEM, note="why")
    request.refresh_from_db()
    assert request.state == target
    event = RequestEvent.objects.get(request=request)
    assert (event.from_state, event.to_state, event.actor, event.note) == (source, target, "system", "why")
    audit = AuditEvent.objects.get(action=f"request:{target}", subject_id=str(request.pk))
    assert audit.data["from"] == source
    if target in (RequestState.APPROVED, RequestState.REJECTED):
        assert request.decided_at is not None
        assert request.decided_by == "system"
    else:
        assert request.decided_at is None


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_illegal_transition_is_refused_and_changes_nothing(source: str, target: str) -> None:
    request = _request_in(source)
    with pytest.raises(IllegalTransition) as refused:
        transition(request, target, actor=SYSTEM)
    assert "kan niet" in " ".join(refused.value.messages) or "cannot" in " ".join(refused.value.messages)
    request.refresh_from_db()
    assert request.state == source
    assert not RequestEvent.objects.filter(request=request).exists()
    assert not AuditEvent.objects.filter(action=f"request:{target}", subject_id=str(request.pk)).exists()


def test_more_information_leads_back_to_submitted() -> None:
    request = _request_in(RequestState.MORE_INFORMATION_REQUESTED)
    transition(request, RequestState.SUBMITTED, actor=SYSTEM, note="the answer")
    request.refresh_from_db()
    assert request.state == RequestState.SUBMITTED
    assert request.submitted_at is not None


def test_history_is_append_only() -> None:
    request = _request_in(RequestState.DRAFT)
    event = transition(request, RequestState.SUBMITTED, actor=SYSTEM)
    event.note = "rewritten"
    with pytest.raises(ProtectedError):
        event.save()
    with pytest.raises(ProtectedError):
        event.delete()
    with pytest.raises(ProtectedError):
        RequestEvent.objects.filter(pk=event.pk).update(note="rewritten")
    assert RequestEvent.objects.get(pk=event.pk).note == ""


def test_a_request_awaiting_signatures_goes_back_to_the_applicant_as_a_draft() -> None:
    """When a representative declines and too few can still sign, the applicant gets the request back to change."""
    request = _request_in(RequestState.AWAITING_SIGNATURES)
    assert can_transition(request, RequestState.DRAFT)
    transition(request, RequestState.DRAFT, actor=SYSTEM, note="Bram Bakker declined to sign.")
    request.refresh_from_db()
    assert request.state == RequestState.DRAFT
    assert RequestEvent.objects.get(request=request).note == "Bram Bakker declined to sign."
    assert AuditEvent.objects.get(action="request:draft", subject_id=str(request.pk)).data["from"] == (
        "awaiting_signatures"
    )
    # Only from there: a request being verified or decided never becomes a draft again.
    for state in (RequestState.READY_FOR_VERIFICATION, RequestState.APPROVED, RequestState.REJECTED):
        assert not can_transition(_request_in(state), RequestState.DRAFT)
