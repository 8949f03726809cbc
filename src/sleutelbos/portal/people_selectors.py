"""What the manager's people pages show: the members of an organisation, its invitations, its inactive people."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor
from sleutelbos.identity.models import Person
from sleutelbos.mandates.models import Mandate
from sleutelbos.organisations.models import Invitation, InvitationState, Membership, Organisation
from sleutelbos.organisations.services import membership_end_problem

#: Invitations answered no and withdrawn stay in the list this long, so the manager sees what became of them.
ANSWERED_SHOWN = dt.timedelta(days=30)


@dataclass
class Member:
    """A person linked to the organisation, as the people page shows them."""

    membership: Membership
    running: int = 0
    mandates: int = 0
    last_mandate_end: dt.datetime | None = None
    #: Why the manager may not unlink them, in words; "" when they may.
    unlink_problem: str = ""
    #: Why they count as inactive, in words; empty when they do not.
    reasons: list[str] = field(default_factory=list)

    @property
    def person(self) -> Person:
        return self.membership.person


def members_of(organisation: Organisation, actor: Actor, *, now: dt.datetime | None = None) -> list[Member]:
    """Everyone linked to the organisation, by name, with the number of their mandates from it that still run."""
    now = now or timezone.now()
    memberships = (
        Membership.objects.filter(organisation=organisation)
        .select_related("person", "organisation")
        .order_by("person__name", "person_id")
    )
    counts = {
        row["holder"]: row
        for row in Mandate.objects.filter(organisation=organisation)
        .values("holder")
        .annotate(
            total=Count("id"),
            running=Count("id", filter=Q(revoked_at__isnull=True, valid_until__gt=now)),
            last_end=Max("valid_until"),
        )
    }
    members = []
    for membership in memberships:
        row = counts.get(membership.person_id, {})
        members.append(
            Member(
                membership=membership,
                running=row.get("running", 0),
                mandates=row.get("total", 0),
                last_mandate_end=row.get("last_end"),
                unlink_problem=membership_end_problem(actor=actor, membership=membership),
            )
        )
    return members


def months_ago(months: int, now: dt.datetime) -> dt.datetime:
    """About ``months`` months before ``now`` (a month counted as 30.44 days)."""
    return now - dt.timedelta(days=round(months * 30.44))


def inactive_members(
    organisation: Organisation, actor: Actor, *, months: int, now: dt.datetime | None = None
) -> list[Member]:
    """The members who look inactive, each with the reasons in words.

    Inactive: no login for ``months`` months (or never, while linked for longer), or every mandate they had from
    the organisation has expired or was revoked.
    """
    now = now or timezone.now()
    cutoff = months_ago(months, now)
    inactive = []
    for member in members_of(organisation, actor, now=now):
        last_login = member.person.last_login
        if last_login is None and member.membership.created_at < cutoff:
            member.reasons.append(_("never logged in"))
        elif last_login is not None and last_login < cutoff:
            member.reasons.append(
                _("last logged in on %(date)s") % {"date": date_format(timezone.localtime(last_login), "j F Y")}
            )
        if member.mandates and not member.running:
            member.reasons.append(_("all their mandates have expired or were revoked"))
        if member.reasons:
            inactive.append(member)
    return inactive


def invitations_of(organisation: Organisation, *, now: dt.datetime | None = None) -> list[Invitation]:
    """Invitations waiting for an answer, and those declined or withdrawn lately; newest first."""
    now = now or timezone.now()
    return list(
        Invitation.objects.filter(organisation=organisation)
        .filter(
            Q(state=InvitationState.PENDING)
            | Q(state__in=[InvitationState.DECLINED, InvitationState.WITHDRAWN], answered_at__gte=now - ANSWERED_SHOWN)
        )
        .select_related("invited_by")
        .order_by("-invited_at", "-id")
    )
