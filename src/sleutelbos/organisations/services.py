"""Writes to organisations: organisations, branches, functionaries and memberships."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Person
from sleutelbos.organisations.models import Authority, Branch, Functionary, LegalForm, Membership, Organisation
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
