"""The states of a request and the only ways between them.

draft → submitted → awaiting_signatures → ready_for_verification → approved / rejected / more_information_requested;
more_information_requested → submitted again when the applicant answers; awaiting_signatures → draft when a
representative declines and the signatures still possible can no longer reach the number required (the applicant
chooses other representatives or changes the request, and submits it again); withdrawn by the applicant until a
decision; expired when the signatures are not complete within 14 days. Every transition is written to the request's
history (RequestEvent) and to the audit log as ``request:<state>``.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.requests.models import Request, RequestEvent, RequestState

S = RequestState

#: From each state, the states a request may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.SUBMITTED: frozenset({S.AWAITING_SIGNATURES, S.WITHDRAWN}),
    S.AWAITING_SIGNATURES: frozenset({S.READY_FOR_VERIFICATION, S.DRAFT, S.EXPIRED, S.WITHDRAWN}),
    S.READY_FOR_VERIFICATION: frozenset({S.APPROVED, S.REJECTED, S.MORE_INFORMATION_REQUESTED, S.WITHDRAWN}),
    S.MORE_INFORMATION_REQUESTED: frozenset({S.SUBMITTED, S.WITHDRAWN}),
    S.APPROVED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
    S.EXPIRED: frozenset(),
}

#: States in which nothing happens any more.
FINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)
#: The supplier's decisions.
DECISIONS = frozenset({S.APPROVED, S.REJECTED})


class IllegalTransition(ValidationError):
    """A request cannot go from its state to the one asked."""


def can_transition(request: Request, to: RequestState | str) -> bool:
    """Whether ``request`` may move to ``to`` from its current state."""
    return to in TRANSITIONS.get(request.state, frozenset())


@transaction.atomic
def transition(request: Request, to: RequestState | str, *, actor: Actor, note: str = "") -> RequestEvent:
    """Move ``request`` to state ``to``, recording the event; refuse a transition the table does not allow."""
    to = RequestState(to)
    if not can_transition(request, to):
        raise IllegalTransition(
            _("A request that is “%(from)s” cannot become “%(to)s”.")
            % {"from": RequestState(request.state).label, "to": to.label},
            code="illegal_transition",
        )
    now = timezone.now()
    from_state = request.state
    request.state = to
    fields = ["state"]
    if to == S.SUBMITTED:
        request.submitted_at = now
        fields.append("submitted_at")
    if to in DECISIONS:
        request.decided_at = now
        request.decided_by = actor.label
        fields += ["decided_at", "decided_by"]
    request.save(update_fields=fields)
    event = RequestEvent.objects.create(
        request=request, from_state=from_state, to_state=to, actor=actor.label, at=now, note=note
    )
    audit_record(
        actor=actor,
        action=f"request:{to}",
        subject=request,
        organisation=request.organisation,
        data={"from": from_state, "to": str(to), "note": note},
    )
    return event
