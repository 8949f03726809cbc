"""Manager pages: the mandates the organisation gave its people, and its chain mandates.

A manager grants, renews, revokes and re-activates mandates within their manager level: the forms offer only the
levels they manage, the pages offer actions only on mandates at or below it, and the mandates' write services check
it all again. Every change is a POST with CSRF after a page that says what will happen; writing pages ask a step-up
to the manager's level first (``manager_view(write=True)``). Mandates and chain mandates of another organisation are
a 404, as is the organisation itself for anyone who does not manage it.

An outgoing chain mandate (an intermediary acting for us) needs a representative's signature: the manager starts a
chain-mandate request for the organisation, and the request wizard takes it from there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceProvider
from sleutelbos.catalogue.selectors import catalogue_search as search_catalogue
from sleutelbos.identity.models import Person
from sleutelbos.mandates.describe import describe_grants, describe_validity
from sleutelbos.mandates.models import ChainMandate, Grant, Mandate, ScopeKind
from sleutelbos.mandates.services import (
    Scope,
    add_years,
    chain_mandate_revoke,
    mandate_grant,
    mandate_reactivate,
    mandate_renew,
    mandate_revoke,
)
from sleutelbos.organisations import kvk
from sleutelbos.portal.managers import Managed, manager_view
from sleutelbos.requests.forms import MandateForm, mandate_form_state
from sleutelbos.requests.models import RequestKind, Years
from sleutelbos.requests.services import request_create_draft

# The request wizard's catalogue search: the grant form offers services exactly as a request does.

#: Which form field shows a service's refusal about a field.
ERROR_FIELDS = {"valid_until": "years", "valid_from": "years", "branch": "branch_number"}


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's refusal on the form: at the field it names when the form has it, above the form otherwise."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            field = ERROR_FIELDS.get(name, name)
            for item in errors:
                form.add_error(field if field in form.fields else None, item)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _rows(grants: list[Grant], managed: Managed) -> list[dict[str, Any]]:
    """Each grant with its scope in words, where it stands, and whether this manager may act on it."""
    phrases = describe_grants(grants)
    now = timezone.now()
    return [
        {
            "grant": grant,
            "scope": phrases[grant.pk],
            "validity": describe_validity(grant, now),
            "within_level": grant.level <= managed.level,
        }
        for grant in grants
    ]


# --------------------------------------------------------------------------------------------------------------------
# Mandates of people


@manager_view()
@require_safe
def mandates(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Every mandate of the organisation, by holder, with its scope and validity in words and what can be done."""
    grants = list(
        Mandate.objects.filter(organisation=managed.organisation)
        .select_related("holder", "branch", "successor")
        .order_by("holder__name", "holder_id", "-valid_until", "-pk")
    )
    rows = _rows(grants, managed)
    context = {
        "managed": managed,
        "rows": rows,
        "expiring": sum(1 for row in rows if row["validity"].warning),
    }
    return render(request, "portal/manage/mandates.html", context)


class GrantForm(MandateForm):
    """A mandate for a person of the organisation: the request wizard's mandate form, with the holder."""

    holder = forms.TypedChoiceField(
        label=gettext_lazy("Who gets the mandate"),
        coerce=int,
        help_text=gettext_lazy("People of this organisation. Invite someone on the People page first."),
        error_messages={
            "required": gettext_lazy("Choose who gets the mandate."),
            "invalid_choice": gettext_lazy("Choose one of the people of this organisation."),
        },
    )

    def __init__(self, *args: Any, people: list[Person], managed: Managed, **kwargs: Any) -> None:
        branches = [
            {"number": b.number, "name": b.name, "city": b.city}
            for b in managed.organisation.branches.order_by("name", "number")
        ]
        levels = [level for level in Level if level <= managed.level]
        super().__init__(*args, chain=False, levels=levels, means_level=None, branches=branches, **kwargs)
        self.fields["holder"].choices = [("", _("Choose a person")), *((p.pk, f"{p.name} ({p.email})") for p in people)]
        self.fields["level"].error_messages["invalid_choice"] = _(
            "Choose a level up to %(level)s, the level up to which you manage mandates."
        ) % {"level": managed.level.label}
        self.order_fields(["holder"])


def _people(managed: Managed) -> list[Person]:
    return list(
        Person.objects.filter(memberships__organisation=managed.organisation, is_active=True)
        .order_by("name", "pk")
        .distinct()
    )


def _scope(data: dict[str, Any]) -> Scope:
    return Scope(
        ScopeKind(data["scope"]),
        providers=tuple(ServiceProvider.objects.filter(oin__in=data["providers"])),
        services=tuple(UUID(value) for value in data["services"]),
    )


@manager_view(write=True)
def grant(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Grant a person of the organisation a mandate: scope, level (up to the manager's), 1/3/5 years, branch."""
    people = _people(managed)
    kwargs = {"people": people, "managed": managed}
    if request.method == "POST":
        form = GrantForm(request.POST, **kwargs)
        if form.is_valid():
            data = form.cleaned_data
            holder = next(person for person in people if person.pk == data["holder"])
            branch = managed.organisation.branches.filter(number=data["branch_number"]).first()
            try:
                mandate_grant(
                    actor=managed.actor,
                    holder=holder,
                    organisation=managed.organisation,
                    scope=_scope(data),
                    level=Level(data["level"]),
                    valid_until=add_years(timezone.now(), data["years"]),
                    branch=branch,
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("%(name)s has the mandate now.") % {"name": holder.name})
                return redirect("manage_mandates", organisation=managed.organisation.pk)
    else:
        names = ("holder", "scope", "providers", "services", "level", "years", "branch_number")
        if any(name in request.GET for name in names):
            initial = {
                name: request.GET.getlist(name) if name in ("providers", "services") else request.GET.get(name, "")
                for name in names
            }
        else:
            initial = {"scope": ScopeKind.ALL, "years": 1, "holder": request.GET.get("for", "")}
        form = GrantForm(initial=initial, **kwargs)
    state = mandate_form_state(form)
    if form.is_bound:
        state["holder"] = [request.POST.get("holder", "")]
    else:
        state["holder"] = [str(form.initial.get("holder") or "")]
    query = request.GET.get("q", "").strip()[:100]
    provider_options, service_options, more = search_catalogue(
        query, state.get("providers", []), state.get("services", [])
    )
    search_state = [
        (name, value)
        for name, values in state.items()
        for value in values
        if name not in ("providers", "services") and value
    ]
    search_state += [("providers", option["oin"]) for option in provider_options if option["checked"]]
    search_state += [("services", option["uuid"]) for option in service_options if option["checked"]]
    context = {
        "managed": managed,
        "form": form,
        "people": people,
        "query": query,
        "search_state": search_state,
        "provider_options": provider_options,
        "service_options": service_options,
        "more_results": more,
        "scope_providers": ScopeKind.PROVIDERS,
        "scope_services": ScopeKind.SERVICES,
    }
    return render(request, "portal/manage/mandates_grant.html", context, status=400 if form.errors else 200)


def _mandate(managed: Managed, pk: int) -> Mandate:
    """The organisation's mandate with this number; 404 for another organisation's."""
    found = (
        Mandate.objects.filter(pk=pk, organisation=managed.organisation)
        .select_related("holder", "branch", "organisation")
        .first()
    )
    if found is None:
        raise Http404
    return found


class YearsForm(forms.Form):
    """For how long a mandate is renewed or re-activated."""

    years = forms.TypedChoiceField(
        label=gettext_lazy("Valid for"),
        widget=forms.RadioSelect,
        choices=Years.choices,
        coerce=int,
        initial=Years.ONE,
        help_text=gettext_lazy("Counted from today."),
        error_messages={
            "required": gettext_lazy("Choose how long the mandate is valid: 1, 3 or 5 years."),
            "invalid_choice": gettext_lazy("Choose how long the mandate is valid: 1, 3 or 5 years."),
        },
    )


class RevokeForm(forms.Form):
    """Why a mandate is revoked, for the audit trail."""

    reason = forms.CharField(
        label=gettext_lazy("Reason (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Kept in the audit trail, for example “left the company”."),
    )


def _action_page(
    request: HttpRequest,
    managed: Managed,
    grant_: Grant,
    *,
    template: str,
    form: forms.Form,
    **extra: Any,
) -> HttpResponse:
    row = _rows([grant_], managed)[0]
    context = {"managed": managed, "row": row, "form": form, **extra}
    return render(request, f"portal/manage/{template}", context, status=400 if form.errors else 200)


def _years_page(request: HttpRequest, managed: Managed, mandate: int, *, reactivate: bool) -> HttpResponse:
    """Renew (``reactivate`` False) or re-activate a mandate for 1, 3 or 5 years from today, from one form."""
    found = _mandate(managed, mandate)
    form = YearsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        service = mandate_reactivate if reactivate else mandate_renew
        try:
            result = service(actor=managed.actor, mandate=found, years=form.cleaned_data["years"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            message = (
                _("The mandate of %(name)s is active again: %(validity)s.")
                if reactivate
                else _("The mandate of %(name)s is renewed: %(validity)s.")
            )
            messages.success(
                request, message % {"name": result.holder.name, "validity": describe_validity(result).clause}
            )
            return redirect("manage_mandates", organisation=managed.organisation.pk)
    return _action_page(request, managed, found, template="mandates_renew.html", form=form, reactivate=reactivate)


@manager_view(write=True)
def renew(request: HttpRequest, managed: Managed, mandate: int) -> HttpResponse:
    """Renew a mandate that has not ended, for 1, 3 or 5 years from today."""
    return _years_page(request, managed, mandate, reactivate=False)


@manager_view(write=True)
def reactivate(request: HttpRequest, managed: Managed, mandate: int) -> HttpResponse:
    """Re-activate an expired mandate: the same mandate again, from today for 1, 3 or 5 years."""
    return _years_page(request, managed, mandate, reactivate=True)


@manager_view(write=True)
def revoke(request: HttpRequest, managed: Managed, mandate: int) -> HttpResponse:
    """Revoke a mandate at once and for good, after confirmation."""
    found = _mandate(managed, mandate)
    return _revoke_page(
        request,
        managed,
        found,
        revoke=lambda reason: mandate_revoke(actor=managed.actor, mandate=found, reason=reason),
        done=_("The mandate of %(name)s is revoked: it no longer gives access.") % {"name": found.holder.name},
        back="manage_mandates",
        template="mandates_revoke.html",
    )


def _revoke_page(
    request: HttpRequest,
    managed: Managed,
    found: Grant,
    *,
    revoke: Callable[[str], object],
    done: str,
    back: str,
    template: str,
) -> HttpResponse:
    """The confirmation page of a revocation, and the revocation once confirmed with a reason."""
    form = RevokeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            revoke(form.cleaned_data["reason"])
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, done)
            return redirect(back, organisation=managed.organisation.pk)
    return _action_page(request, managed, found, template=template, form=form)


# --------------------------------------------------------------------------------------------------------------------
# Chain mandates


@manager_view()
@require_safe
def chain_mandates(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Chain mandates: intermediaries acting for us (outgoing) and clients we act for (incoming)."""
    organisation = managed.organisation
    grants = list(
        ChainMandate.objects.filter(Q(client=organisation) | Q(intermediary=organisation))
        .select_related("client", "intermediary")
        .order_by("-valid_until", "-pk")
    )
    rows = _rows(grants, managed)
    context = {
        "managed": managed,
        "outgoing": [row for row in rows if row["grant"].client_id == organisation.pk],
        "incoming": [row for row in rows if row["grant"].intermediary_id == organisation.pk],
    }
    return render(request, "portal/manage/chain_mandates.html", context)


@manager_view(write=True)
@require_POST
def chain_mandate_request(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Start a chain-mandate request for the organisation; the wizard asks the intermediary and the signatures."""
    try:
        extract = kvk.lookup(managed.organisation.kvk)
    except kvk.KvkError as error:
        messages.error(request, str(error))
        return redirect("manage_chain_mandates", organisation=managed.organisation.pk)
    draft = request_create_draft(
        actor=managed.actor,
        kind=RequestKind.CHAIN_MANDATE,
        extract=extract,
        applicant=request.user,
        language=get_language() or "",
    )
    return redirect("requests:mandates", pk=draft.pk)


@manager_view(write=True)
def chain_mandate_revoke_page(request: HttpRequest, managed: Managed, chain_mandate: int) -> HttpResponse:
    """Revoke a chain mandate this organisation gave an intermediary, after confirmation."""
    found = (
        ChainMandate.objects.filter(pk=chain_mandate, client=managed.organisation)
        .select_related("client", "intermediary")
        .first()
    )
    if found is None:
        raise Http404
    return _revoke_page(
        request,
        managed,
        found,
        revoke=lambda reason: chain_mandate_revoke(actor=managed.actor, chain_mandate=found, reason=reason),
        done=_("The chain mandate of %(name)s is revoked: it no longer acts for this organisation.")
        % {"name": found.intermediary.name},
        back="manage_chain_mandates",
        template="chain_mandates_revoke.html",
    )
