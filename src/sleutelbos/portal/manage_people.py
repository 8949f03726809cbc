"""Manager pages: who belongs to the organisation — invite, link and unlink people, clean up inactive ones.

Every page goes through :func:`~sleutelbos.portal.managers.manager_view`: 404 for anyone who does not manage the
organisation in the URL, and objects (people, invitations) are looked up within that organisation only. Pages that
change something ask the manager's level first (a step-up), before the form is filled in. Unlinking shows a
confirmation page; the change itself is a POST.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sleutelbos.organisations.models import Invitation, InvitationState, Membership
from sleutelbos.organisations.services import (
    invitation_send,
    invitation_withdraw,
    invitations_send,
    membership_end,
    memberships_end,
)
from sleutelbos.portal.managers import Managed, manager_view
from sleutelbos.portal.people_forms import CsvInviteForm, CsvLine, InactiveForm, InviteForm, check_rows
from sleutelbos.portal.people_selectors import inactive_members, invitations_of, members_of

#: The rows of an uploaded CSV file wait in the session between the preview and the confirmation.
CSV_SESSION_KEY = "manage_people_csv"


def _people_url(managed: Managed) -> str:
    return reverse("manage_people", kwargs={"organisation": managed.organisation.pk})


def _first_message(error: ValidationError) -> str:
    return error.messages[0] if error.messages else _("That did not work.")


@manager_view()
@require_safe
def people(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The people linked to the organisation, by name, and the invitations that wait for an answer."""
    context = {
        "managed": managed,
        "members": members_of(managed.organisation, managed.actor),
        "invitations": invitations_of(managed.organisation),
    }
    return render(request, "portal/manage/people.html", context)


@manager_view(write=True)
@require_http_methods(["GET", "HEAD", "POST"])
def invite(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Invite one person by e-mail address: someone with an account is linked, someone new gets one on accepting."""
    form = InviteForm(request.POST or None, organisation=managed.organisation)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitation_send(
                actor=managed.actor,
                organisation=managed.organisation,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                language=form.cleaned_data["language"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("An invitation was sent to %(name)s (%(email)s).")
                % {"name": invitation.name, "email": invitation.email},
            )
            return redirect(_people_url(managed))
    status = 400 if form.errors else 200
    return render(request, "portal/manage/invite.html", {"managed": managed, "form": form}, status=status)


@manager_view(write=True)
@require_http_methods(["GET", "HEAD", "POST"])
def invite_csv(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Invite many people from a CSV file: first a preview with an answer per row; nothing is sent before confirming."""
    form = CsvInviteForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        rows = form.cleaned_data["file"]
        language = form.cleaned_data["language"]
        request.session[CSV_SESSION_KEY] = {"organisation": managed.organisation.pk, "rows": rows, "language": language}
        return _csv_preview(request, managed, rows, language)
    status = 400 if form.errors else 200
    return render(request, "portal/manage/invite_csv.html", {"managed": managed, "form": form}, status=status)


def _csv_preview(request: HttpRequest, managed: Managed, rows: list[CsvLine], language: str) -> HttpResponse:
    checked = check_rows(managed.organisation, rows)
    context = {
        "managed": managed,
        "rows": checked,
        "ok_count": sum(row.ok for row in checked),
        "error_count": sum(not row.ok for row in checked),
        "language": language,
    }
    return render(request, "portal/manage/invite_csv_preview.html", context)


@manager_view(write=True)
@require_POST
def invite_csv_send(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Send the invitations of the previewed file: the rows without a problem, checked once more, all or none."""
    stored = request.session.get(CSV_SESSION_KEY) or {}
    if stored.get("organisation") != managed.organisation.pk:
        messages.error(request, _("There is no file waiting to be sent; choose the file again."))
        return redirect("manage_people_invite_csv", organisation=managed.organisation.pk)
    checked = check_rows(managed.organisation, stored["rows"])
    good = [(row.email, row.name) for row in checked if row.ok]
    if not good:
        return _csv_preview(request, managed, stored["rows"], stored["language"])
    try:
        sent = invitations_send(
            actor=managed.actor, organisation=managed.organisation, rows=good, language=stored["language"]
        )
    except ValidationError:
        # Something changed since the preview (someone was linked meanwhile): show the rows as they are now.
        return _csv_preview(request, managed, stored["rows"], stored["language"])
    del request.session[CSV_SESSION_KEY]
    skipped = len(checked) - len(sent)
    text = ngettext("%(count)d invitation was sent.", "%(count)d invitations were sent.", len(sent)) % {
        "count": len(sent)
    }
    if skipped:
        text += " " + ngettext(
            "%(count)d row with a problem was skipped.", "%(count)d rows with a problem were skipped.", skipped
        ) % {"count": skipped}
    messages.success(request, text)
    return redirect(_people_url(managed))


def _invitation(managed: Managed, invitation: int) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation, organisation=managed.organisation)


@manager_view(write=True)
@require_POST
def invitation_resend(request: HttpRequest, managed: Managed, invitation: int) -> HttpResponse:
    """Send a pending invitation again: a new link with a new term (the old link stops working)."""
    pending = _invitation(managed, invitation)
    if pending.state != InvitationState.PENDING:
        raise Http404
    try:
        invitation_send(
            actor=managed.actor,
            organisation=managed.organisation,
            email=pending.email,
            name=pending.name,
            language=pending.language,
        )
    except ValidationError as error:
        messages.error(request, _first_message(error))
    else:
        messages.success(request, _("The invitation to %(email)s was sent again.") % {"email": pending.email})
    return redirect(_people_url(managed))


@manager_view(write=True)
@require_http_methods(["GET", "HEAD", "POST"])
def invitation_withdraw_view(request: HttpRequest, managed: Managed, invitation: int) -> HttpResponse:
    """Withdraw a pending invitation, after a confirmation page."""
    pending = _invitation(managed, invitation)
    if pending.state != InvitationState.PENDING:
        raise Http404
    if request.method == "POST":
        try:
            invitation_withdraw(actor=managed.actor, invitation=pending)
        except ValidationError as error:
            messages.error(request, _first_message(error))
        else:
            messages.success(request, _("The invitation to %(email)s was withdrawn.") % {"email": pending.email})
        return redirect(_people_url(managed))
    return render(request, "portal/manage/invite_withdraw.html", {"managed": managed, "invitation": pending})


@manager_view(write=True)
@require_http_methods(["GET", "HEAD", "POST"])
def unlink(request: HttpRequest, managed: Managed, person: int) -> HttpResponse:
    """Unlink one person from the organisation, after a confirmation page that says which mandates end with it."""
    membership = get_object_or_404(
        Membership.objects.select_related("person", "organisation"), organisation=managed.organisation, person=person
    )
    [member] = [m for m in members_of(managed.organisation, managed.actor) if m.membership.pk == membership.pk]
    if request.method == "POST" and not member.unlink_problem:
        try:
            revoked = membership_end(actor=managed.actor, membership=membership)
        except ValidationError as error:
            messages.error(request, _first_message(error))
        else:
            messages.success(request, _unlinked_message([membership.person.name], len(revoked)))
        return redirect(_people_url(managed))
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/manage/people_unlink.html", {"managed": managed, "member": member}, status=status)


def _unlinked_message(names: list[str], revoked: int) -> str:
    text = ngettext(
        "%(names)s is no longer linked to the organisation.",
        "%(names)s are no longer linked to the organisation.",
        len(names),
    ) % {"names": ", ".join(names)}
    if revoked:
        text += " " + ngettext(
            "%(count)d running mandate was revoked.", "%(count)d running mandates were revoked.", revoked
        ) % {"count": revoked}
    return text


@manager_view()
@require_safe
def inactive(request: HttpRequest, managed: Managed) -> HttpResponse:
    """People who have not logged in for months, or whose mandates have all ended; choose whom to unlink."""
    form = InactiveForm(request.GET or None)
    months = form.chosen_months()
    context = {
        "managed": managed,
        "form": form,
        "months": months,
        "members": inactive_members(managed.organisation, managed.actor, months=months),
    }
    return render(request, "portal/manage/people_inactive.html", context)


@manager_view(write=True)
@require_POST
def clean_up(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Unlink the chosen inactive people: the first POST shows whom and what ends, the confirmed one does it."""
    chosen = {value for value in request.POST.getlist("person") if value.isdigit()}
    members = [
        member
        for member in members_of(managed.organisation, managed.actor)
        if str(member.person.pk) in chosen and not member.unlink_problem
    ]
    if not members:
        messages.error(request, _("Choose at least one person to unlink."))
        return HttpResponseRedirect(reverse("manage_people_inactive", kwargs={"organisation": managed.organisation.pk}))
    if request.POST.get("confirm") != "yes":
        context = {"managed": managed, "members": members, "revoked": sum(member.running for member in members)}
        return render(request, "portal/manage/people_clean_up.html", context)
    try:
        memberships_end(
            actor=managed.actor,
            memberships=[member.membership for member in members],
            reason="inactive",
        )
    except ValidationError as error:
        messages.error(request, _first_message(error))
    else:
        names = [member.person.name for member in members]
        messages.success(request, _unlinked_message(names, sum(member.running for member in members)))
    return redirect(_people_url(managed))
