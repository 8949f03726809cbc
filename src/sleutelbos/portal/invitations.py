"""The invitee's side of an invitation: open the mailed link, then accept or decline.

The link's token moves into the session at once and the browser continues on ``/my/invitations/``, so the token
does not stay in the address bar, the history or a Referer header (as with activation links). An invitee with an
account logs in first (the login keeps the session's token); one without an account gets it on accepting and
continues straight to activating it: the link proves the address as an activation link would.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from sleutelbos.identity.activation import activation_path
from sleutelbos.identity.models import Person
from sleutelbos.organisations.models import Invitation
from sleutelbos.organisations.services import (
    invitation_accept,
    invitation_decline,
    invitation_find,
    invitation_needs_login,
)

SESSION_KEY = "invitation_token"


@never_cache
@require_safe
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the mail: keep its token in the session and continue on a page without it."""
    if invitation_find(token) is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    request.session[SESSION_KEY] = token
    return redirect("invitation_answer")


def _invitation(request: HttpRequest) -> Invitation | None:
    return invitation_find(request.session.get(SESSION_KEY) or "")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def answer(request: HttpRequest) -> HttpResponse:
    """What the invitation is, and buttons to accept or decline it (or to log in first)."""
    invitation = _invitation(request)
    if invitation is None:
        return render(request, "portal/invitation_invalid.html", status=404)
    person = request.user if request.user.is_authenticated else None
    error = ""
    if request.method == "POST":
        choice = request.POST.get("answer")
        try:
            if choice == "accept":
                joined = invitation_accept(invitation=invitation, person=person)
                return _accepted(request, invitation, joined, new_account=person is None)
            if choice == "decline":
                invitation_decline(invitation=invitation, person=person)
                request.session.pop(SESSION_KEY, None)
                messages.success(
                    request,
                    _("You declined the invitation of %(organisation)s.")
                    % {"organisation": invitation.organisation.name},
                )
                return redirect("home")
            error = _("Choose to accept or to decline the invitation.")
        except ValidationError as problem:
            error = " ".join(problem.messages)
        invitation.refresh_from_db()
    context = {
        "invitation": invitation,
        "open": invitation.is_open(),
        "error": error,
        "needs_login": person is None and invitation_needs_login(invitation),
        "other_person": person is not None and person.email.lower() != invitation.email,
        "login_url": f"{reverse('identity:login')}?{urlencode({'next': reverse('invitation_answer')})}",
    }
    return render(request, "portal/invitation.html", context, status=400 if error else 200)


def _accepted(request: HttpRequest, invitation: Invitation, person: Person, *, new_account: bool) -> HttpResponse:
    request.session.pop(SESSION_KEY, None)
    if new_account:
        # Straight on to choosing a password: the activation page continues from here.
        return redirect(activation_path(person))
    messages.success(request, _("You now belong to %(organisation)s.") % {"organisation": invitation.organisation.name})
    return redirect("my_overview")
