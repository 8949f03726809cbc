"""Writes to organisations: organisations, branches, functionaries, memberships and invitations to join."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from sleutelbos.audit.services import SYSTEM, Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Person
from sleutelbos.identity.services import person_create
from sleutelbos.mail.services import absolute_url, mail_queue
from sleutelbos.organisations.models import (
    Authority,
    Branch,
    Functionary,
    Invitation,
    InvitationState,
    LegalForm,
    Membership,
    Organisation,
)
from sleutelbos.validation import fail, full_clean


@transaction.atomic
def organisation_create(
    *, actor: Actor, kvk: str, name: str, rsin: str = "", legal_form: str = LegalForm.BV
) -> Organisation:
    """Register an organisation by its KvK number."""
    if rsin and Organisation.objects.filter(rsin=rsin).exists():
        raise fail("rsin", _("An organisation with this RSIN is already registered."), code="unique")
    organisation = Organisation(kvk=kvk, rsin=rsin, name=name, legal_form=legal_form)
    full_clean(organisation)
    organisation.save()
    audit_record(
        actor=actor,
        action="organisation:created",
        subject=organisation,
        organisation=organisation,
        data={"kvk": kvk, "rsin": rsin, "name": name},
    )
    return organisation


@transaction.atomic
def branch_create(*, actor: Actor, organisation: Organisation, number: str, name: str, city: str = "") -> Branch:
    """Register a branch (vestiging) of an organisation."""
    branch = Branch(organisation=organisation, number=number, name=name, city=city)
    full_clean(branch)
    branch.save()
    audit_record(
        actor=actor, action="branch:created", subject=branch, organisation=organisation, data={"number": number}
    )
    return branch


@transaction.atomic
def functionary_create(
    *, actor: Actor, organisation: Organisation, name: str, date_of_birth: dt.date, role: str, authority: Authority
) -> Functionary:
    """Record a functionary as the KvK register lists them."""
    functionary = Functionary(
        organisation=organisation, name=name, date_of_birth=date_of_birth, role=role, authority=authority
    )
    full_clean(functionary)
    functionary.save()
    audit_record(
        actor=actor,
        action="functionary:created",
        subject=functionary,
        organisation=organisation,
        data={"name": name, "role": role, "authority": authority},
    )
    return functionary


def membership_ensure(*, actor: Actor, person: Person, organisation: Organisation) -> Membership:
    """Link a person to an organisation (once); call inside the caller's transaction."""
    membership, created = Membership.objects.get_or_create(person=person, organisation=organisation)
    if created:
        audit_record(actor=actor, action="membership:created", subject=membership, organisation=organisation)
    return membership


@transaction.atomic
def membership_set_manager(
    *, actor: Actor, person: Person, organisation: Organisation, level: Level | str | None
) -> Membership:
    """Make a person mandate manager of an organisation at a level, or (``level=None``) end that role."""
    membership = membership_ensure(actor=actor, person=person, organisation=organisation)
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    new_level = None if level is None else Level.parse(level)
    membership.manager_level = new_level
    membership.save(update_fields=["manager_level"])
    audit_record(
        actor=actor,
        action="membership:manager_set" if new_level else "membership:manager_ended",
        subject=membership,
        organisation=organisation,
        data={"person": person.pk, "level": Level(new_level).label if new_level else None},
    )
    return membership


# --- Mandate managers acting on their organisation's people --------------------------------------------------------


def _manager_level(actor: Actor, organisation: Organisation) -> Level | None:
    """The actor's manager level in the organisation; None for supplier staff and integrations (no limit).

    Raises when a person who is not a mandate manager of the organisation acts on it.
    """
    if actor.is_staff:
        return None
    level = (
        Membership.objects.filter(person=actor.person, organisation=organisation)
        .values_list("manager_level", flat=True)
        .first()
    )
    if level is None:
        raise ValidationError(_("You are not a mandate manager of this organisation."), code="not_manager")
    return Level(level)


def invitation_days() -> int:
    """How long an invitation link works (``SLEUTELBOS_INVITATION_DAYS``, 14 by default)."""
    return int(getattr(settings, "SLEUTELBOS_INVITATION_DAYS", 14))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_path(token: str) -> str:
    """The path of the link in an invitation mail."""
    return reverse("invitation_open", kwargs={"token": token})


def invitation_find(token: str) -> Invitation | None:
    """The invitation a mailed link points to (any state), or None for a token nobody was given."""
    if not token or len(token) > 100:
        return None
    return Invitation.objects.select_related("organisation", "invited_by").filter(token_hash=_token_hash(token)).first()


@dataclass(frozen=True)
class Invitee:
    """Someone a manager may invite: the address (lower case), the name, the account if they have one."""

    email: str
    name: str
    person: Person | None
    #: A pending invitation to this address exists; sending again renews it.
    renews: bool


def invitation_check(*, organisation: Organisation, email: str, name: str = "") -> Invitee:
    """Whether ``email`` may be invited to ``organisation``; raises a ValidationError by field when not.

    Writes nothing: the CSV preview checks every row with it before any invitation is sent.
    """
    email = email.strip().lower()
    name = " ".join(name.split())
    if not email:
        raise fail("email", _("Give the e-mail address of the person to invite."), code="required")
    try:
        validate_email(email)
    except ValidationError:
        raise fail("email", _("“%(email)s” is not an e-mail address.") % {"email": email}, code="invalid") from None
    if len(email) > 254:
        raise fail("email", _("An e-mail address has at most 254 characters."), code="max_length")
    person = Person.objects.filter(email__iexact=email).first()
    if person is not None and Membership.objects.filter(person=person, organisation=organisation).exists():
        raise fail(
            "email",
            _("%(name)s (%(email)s) already belongs to this organisation.") % {"name": person.name, "email": email},
            code="member",
        )
    if person is not None:
        name = person.name
    elif not name:
        raise fail(
            "name",
            _("Give the name of the person at %(email)s: they have no Sleutelbos account yet.") % {"email": email},
            code="required",
        )
    elif len(name) > 200:
        raise fail("name", _("A name has at most 200 characters."), code="max_length")
    renews = Invitation.objects.filter(organisation=organisation, email=email, state=InvitationState.PENDING).exists()
    return Invitee(email=email, name=name, person=person, renews=renews)


@transaction.atomic
def invitation_send(
    *, actor: Actor, organisation: Organisation, email: str, name: str = "", language: str | None = None
) -> Invitation:
    """Invite someone by e-mail to join the organisation; they accept from the mailed link.

    Someone with a Sleutelbos account logs in to accept; someone without one gets an account on accepting and goes
    on to activate it. Inviting an address that has a pending invitation renews it: a new link, a new term.
    """
    _manager_level(actor, organisation)
    invitee = invitation_check(organisation=organisation, email=email, name=name)
    language = language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation = (
        Invitation.objects.select_for_update()
        .filter(organisation=organisation, email=invitee.email, state=InvitationState.PENDING)
        .first()
    ) or Invitation(organisation=organisation, email=invitee.email)
    renewed = invitation.pk is not None
    invitation.name = invitee.name
    invitation.language = language
    invitation.token_hash = _token_hash(token)
    invitation.invited_by = actor.person
    invitation.invited_at = now
    invitation.expires_at = now + dt.timedelta(days=invitation_days())
    invitation.save()
    mail_queue(
        to=invitee.email,
        template="organisations/mail/invitation",
        context={
            "invitation": invitation,
            "organisation": organisation,
            "inviter": actor.person.name if actor.person is not None else "",
            "has_account": invitee.person is not None,
            "url": absolute_url(invitation_path(token)),
            "days": invitation_days(),
        },
        purpose="invitation:sent",
        language=language,
    )
    audit_record(
        actor=actor,
        action="invitation:sent",
        subject=invitation,
        organisation=organisation,
        data={"email": invitee.email, "person": invitee.person.pk if invitee.person else None, "renewed": renewed},
    )
    return invitation


@transaction.atomic
def invitations_send(
    *, actor: Actor, organisation: Organisation, rows: Sequence[tuple[str, str]], language: str | None = None
) -> list[Invitation]:
    """Send invitations to many ``(email, name)`` rows at once: all of them, or (at the first problem) none."""
    seen: set[str] = set()
    invitations = []
    for email, name in rows:
        key = email.strip().lower()
        if key in seen:
            raise fail("email", _("%(email)s is in the list twice.") % {"email": key}, code="duplicate")
        seen.add(key)
        invitations.append(
            invitation_send(actor=actor, organisation=organisation, email=email, name=name, language=language)
        )
    return invitations


def _pending_for_update(invitation: Invitation) -> Invitation:
    locked = Invitation.objects.select_for_update().select_related("organisation").get(pk=invitation.pk)
    if locked.state != InvitationState.PENDING:
        raise fail(
            "invitation",
            _("This invitation was already %(state)s.") % {"state": locked.get_state_display()},
            code="answered",
        )
    return locked


@transaction.atomic
def invitation_withdraw(*, actor: Actor, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation: its link stops working."""
    _manager_level(actor, invitation.organisation)
    invitation = _pending_for_update(invitation)
    invitation.state = InvitationState.WITHDRAWN
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["state", "answered_at"])
    audit_record(
        actor=actor,
        action="invitation:withdrawn",
        subject=invitation,
        organisation=invitation.organisation,
        data={"email": invitation.email},
    )
    return invitation


def _open_for_update(invitation: Invitation) -> Invitation:
    invitation = _pending_for_update(invitation)
    if not invitation.is_open():
        raise fail(
            "invitation",
            _("This invitation has expired. Ask the mandate manager of %(organisation)s to invite you again.")
            % {"organisation": invitation.organisation.name},
            code="expired",
        )
    return invitation


def invitation_needs_login(invitation: Invitation) -> bool:
    """Whether accepting needs the invitee to log in first: they have an account they have activated.

    An account that was never activated (no password yet) is activated from the invitation itself: the link
    proves the address as well as an activation link would.
    """
    person = Person.objects.filter(email__iexact=invitation.email).first()
    return person is not None and (person.activated_at is not None or person.has_usable_password())


@transaction.atomic
def invitation_accept(*, invitation: Invitation, person: Person | None = None) -> Person:
    """Accept an invitation: the invitee joins the organisation.

    ``person`` is the logged-in invitee; it must be the invited address. Without ``person`` the invitee has no
    account they can log in with: one is made (or the unactivated one used), to be activated next.
    """
    invitation = _open_for_update(invitation)
    if person is not None:
        if person.email.lower() != invitation.email:
            raise fail(
                "invitation",
                _("This invitation is for %(email)s; you are logged in as %(yours)s.")
                % {"email": invitation.email, "yours": person.email},
                code="other_person",
            )
    elif invitation_needs_login(invitation):
        raise fail("invitation", _("Log in to accept this invitation."), code="login_required")
    else:
        person = Person.objects.filter(email__iexact=invitation.email).first() or person_create(
            actor=SYSTEM, name=invitation.name, email=invitation.email
        )
    actor = Actor.for_person(person)
    membership_ensure(actor=actor, person=person, organisation=invitation.organisation)
    invitation.state = InvitationState.ACCEPTED
    invitation.answered_at = timezone.now()
    invitation.person = person
    invitation.save(update_fields=["state", "answered_at", "person"])
    audit_record(
        actor=actor,
        action="invitation:accepted",
        subject=invitation,
        organisation=invitation.organisation,
        data={"email": invitation.email, "person": person.pk},
    )
    return person


@transaction.atomic
def invitation_decline(*, invitation: Invitation, person: Person | None = None) -> Invitation:
    """Decline an invitation (the link's holder says no); the manager sees it declined."""
    invitation = _pending_for_update(invitation)
    invitation.state = InvitationState.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["state", "answered_at"])
    actor = Actor.for_person(person) if person is not None else Actor(label=f"invitation:{invitation.pk}")
    audit_record(
        actor=actor,
        action="invitation:declined",
        subject=invitation,
        organisation=invitation.organisation,
        data={"email": invitation.email},
    )
    return invitation


def membership_end_problem(*, actor: Actor, membership: Membership) -> str:
    """Why the actor may not unlink this member, in words; "" when they may."""
    try:
        level = _manager_level(actor, membership.organisation)
    except ValidationError as error:
        return error.messages[0]
    if actor.person is not None and membership.person_id == actor.person.pk:
        return _("You cannot unlink yourself; ask another mandate manager of the organisation.")
    if level is not None and membership.manager_level is not None and membership.manager_level > level:
        return _("%(name)s manages mandates up to %(theirs)s, above your level %(yours)s.") % {
            "name": membership.person.name,
            "theirs": Level(membership.manager_level).label,
            "yours": level.label,
        }
    return ""


@transaction.atomic
def membership_end(*, actor: Actor, membership: Membership, reason: str = "") -> list[int]:
    """Unlink a person from the organisation: their mandates from it that still run are revoked, at once.

    Returns the ids of the revoked mandates. A manager cannot unlink themselves (so an organisation never loses its
    last manager this way) nor a manager above their own level.
    """
    # mandates.services builds on this module (membership_ensure), so it is imported here.
    from sleutelbos.mandates.models import Mandate
    from sleutelbos.mandates.services import mandate_revoke

    membership = Membership.objects.select_for_update().select_related("person", "organisation").get(pk=membership.pk)
    problem = membership_end_problem(actor=actor, membership=membership)
    if problem:
        raise fail("person", problem, code="not_allowed")
    running = Mandate.objects.filter(
        holder=membership.person,
        organisation=membership.organisation,
        revoked_at__isnull=True,
        valid_until__gt=timezone.now(),
    ).order_by("pk")
    revoked = [mandate_revoke(actor=actor, mandate=mandate, reason=reason or "unlinked").pk for mandate in running]
    person, organisation = membership.person, membership.organisation
    audit_record(
        actor=actor,
        action="membership:ended",
        subject=membership,
        organisation=organisation,
        data={"person": person.pk, "name": person.name, "revoked_mandates": revoked, "reason": reason},
    )
    membership.delete()
    return revoked


@transaction.atomic
def memberships_end(*, actor: Actor, memberships: Iterable[Membership], reason: str = "") -> int:
    """Unlink several people at once (cleaning up inactive people): all of them, or none at the first problem."""
    count = 0
    for membership in memberships:
        membership_end(actor=actor, membership=membership, reason=reason)
        count += 1
    return count
