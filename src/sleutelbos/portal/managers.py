"""The manager module's common ground: which organisation a mandate manager manages, and the page for it.

Every manager page takes the organisation from the URL and goes through :func:`managed_organisation`: a person who
is not a mandate manager of that organisation gets 404 — the same answer as for an organisation that does not
exist, so the pages never tell who is registered where. Writing pages also ask the session for the manager's
level (step-up through identity's ``require_level``): a manager who manages EH3 mandates acts at EH3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.sessions import require_level
from sleutelbos.organisations.models import Membership, Organisation


@dataclass(frozen=True)
class Managed:
    """The organisation a manager acts on, their membership and manager level, and their audit actor."""

    organisation: Organisation
    membership: Membership
    level: Level
    actor: Actor


def managed_organisation(request: HttpRequest, organisation_id: int) -> Managed:
    """The organisation ``organisation_id`` if the logged-in person manages it; 404 otherwise."""
    membership = (
        Membership.objects.select_related("organisation")
        .filter(person_id=request.user.pk, organisation_id=organisation_id, manager_level__isnull=False)
        .first()
    )
    if membership is None:
        raise Http404
    return Managed(
        organisation=membership.organisation,
        membership=membership,
        level=Level(membership.manager_level),
        actor=Actor.for_person(request.user),
    )


View = Callable[..., HttpResponse]


def manager_view(*, write: bool = False) -> Callable[[View], View]:
    """A manager page: login, the managed organisation as ``managed`` (from the ``organisation`` URL argument).

    With ``write``, the session must hold the manager's level (a step-up is asked when it does not).
    """

    def decorate(view: View) -> View:
        @never_cache
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, organisation: int, *args: Any, **kwargs: Any) -> HttpResponse:
            managed = managed_organisation(request, organisation)
            if write:
                step_up = require_level(request, managed.level)
                if step_up is not None:
                    return step_up
            return view(request, managed, *args, **kwargs)

        return wrapper

    return decorate


def managed_organisations(request: HttpRequest) -> list[Membership]:
    """The memberships through which the logged-in person manages organisations, by organisation name."""
    return list(
        Membership.objects.select_related("organisation")
        .filter(person_id=request.user.pk, manager_level__isnull=False)
        .order_by("organisation__name", "organisation_id")
    )


@manager_view()
@require_safe
def dashboard(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The start page of managing one organisation: its people, mandates, chain mandates and audit trail."""
    return render(request, "portal/manage/dashboard.html", {"managed": managed})
