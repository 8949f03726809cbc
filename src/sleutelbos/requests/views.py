"""The request wizard ("Extra organisatie/machtiging aanvragen", and the first application without an account) and
"my requests".

The steps: 1 the organisation (checked in the KvK register; this creates the draft), 2 the mandates, 3 the manager
role, 4 the representatives who sign (only when the applicant is not alone/independently authorized), 5 review and
submit. Every step saves the draft through ``services.request_update_draft``, so back and forward keep each answer,
also in another browser: the representatives chosen in step 4 are kept with the draft (``Request.signer_choices``)
until the request is submitted (signers exist only once the request is sent for signature).

A person sees and changes only their own requests: any other number is a 404. A first application without an
account belongs to the browser session that started it, or that opened the signed link from a mail about it
(``applicant_link``): its number is kept in the session, and nothing else is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.catalogue.selectors import catalogue_search
from sleutelbos.identity import sessions, throttle
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations import kvk
from sleutelbos.organisations.models import Authority, LegalForm, Organisation
from sleutelbos.requests import forms
from sleutelbos.requests.forms import MANDATE_STATE_FIELDS, mandate_form_state
from sleutelbos.requests.models import Request, RequestedChainMandate, RequestedMandate, RequestKind, RequestState
from sleutelbos.requests.services import (
    EDITABLE,
    ChainMandateWish,
    MandateWish,
    SignerWish,
    request_create_draft,
    request_submit,
    request_update_draft,
    request_withdraw,
)
from sleutelbos.requests.signatures import (
    SignaturesNotOnline,
    applicant_alone_authorized,
    applicant_representative,
    possible_signers,
    representatives,
    request_level,
    signatures_required,
)
from sleutelbos.requests.signing import request_by_applicant_token
from sleutelbos.requests.states import can_transition
from sleutelbos.requests.summary import listed, manager_role, requested_grants

#: The numbers of the first applications this browser session started (without an account).
APPLIED = "requests_applied"
#: A first application is made at most at this level: at EH4 the representatives sign in person.
FIRST_APPLICATION_LEVELS = (Level.EH2, Level.EH2_PLUS, Level.EH3)

#: Which step a field of a refused submission is corrected in.
FIELD_STEP = {
    "mandates": "mandates",
    "scope": "mandates",
    "level": "mandates",
    "years": "mandates",
    "branch_number": "mandates",
    "intermediary_kvk": "mandates",
    "manager_level": "manager",
    "signers": "representatives",
    "applicant": "organisation",
    "kvk": "organisation",
}


# --------------------------------------------------------------------------------------------------------------------
# Whose request, and where in the wizard


def _actor(request: HttpRequest, obj: Request | None = None, email: str = "") -> Actor:
    if request.user.is_authenticated:
        return Actor.for_person(request.user)
    return Actor(label=f"applicant:{email or (obj.applicant_email if obj is not None else '')}")


def _applied(request: HttpRequest) -> list[int]:
    return list(request.session.get(APPLIED, []))


def _own(request: HttpRequest, pk: int) -> Request:
    """The request with this number if it is the visitor's own; a 404 otherwise (whether it exists or not)."""
    obj = Request.objects.filter(pk=pk).select_related("applicant").first()
    if obj is not None:
        if request.user.is_authenticated and obj.applicant_id == request.user.pk:
            return obj
        if obj.applicant_id is None and pk in _applied(request):
            return obj
    raise Http404(_("There is no request with this number among your requests."))


def _means_level(request: HttpRequest, obj: Request | None = None) -> Level | None:
    """The level of the applicant's active means; None for a first application (the means comes with approval)."""
    if obj is not None and obj.applicant_id is None:
        return None
    if not request.user.is_authenticated:
        return None
    return sessions.means_level(request.user)


def _levels(request: HttpRequest, obj: Request) -> list[Level]:
    """The levels the applicant may ask for: never above their means."""
    if obj.applicant_id is None:
        return list(FIRST_APPLICATION_LEVELS)
    means = _means_level(request, obj)
    return [level for level in Level if means is not None and level <= means]


def _needs_representatives(obj: Request) -> bool:
    return not applicant_alone_authorized(obj)


STEP_LABELS = {
    "organisation": gettext_lazy("Organisation"),
    "mandates": gettext_lazy("Mandates"),
    "manager": gettext_lazy("Manager role"),
    "representatives": gettext_lazy("Representatives"),
    "review": gettext_lazy("Review and submit"),
}


def _step_names(obj: Request) -> list[str]:
    names = ["organisation", "mandates", "manager"]
    if _needs_representatives(obj):
        names.append("representatives")
    return [*names, "review"]


def _steps(obj: Request, current: str) -> list[dict[str, Any]]:
    """The wizard's steps for the navigation at the top of each page."""
    return [
        {
            "name": name,
            "number": number,
            "label": str(STEP_LABELS[name]),
            "url": reverse(f"requests:{name}", args=[obj.pk]),
            "current": name == current,
        }
        for number, name in enumerate(_step_names(obj), start=1)
    ]


def _next_step(obj: Request, current: str) -> str:
    names = _step_names(obj)
    following = names[names.index(current) + 1] if current in names[:-1] else "review"
    return reverse(f"requests:{following}", args=[obj.pk])


def _editable(request: HttpRequest, pk: int) -> tuple[Request, HttpResponse | None]:
    """The visitor's own request, and a redirect to its page when it can no longer be changed."""
    obj = _own(request, pk)
    if obj.state not in EDITABLE:
        messages.info(
            request,
            _("This request is “%(state)s”: it can no longer be changed.") % {"state": RequestState(obj.state).label},
        )
        return obj, redirect("requests:detail", pk=obj.pk)
    return obj, None


def _page(
    request: HttpRequest, template: str, obj: Request, step: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {
        "obj": obj,
        "steps": _steps(obj, step),
        "step": step,
        "first_application": obj.applicant_id is None,
        **context,
    }
    return render(request, f"requests/wizard/{template}", context, status=status)


# --------------------------------------------------------------------------------------------------------------------
# The request in plain words


def grant_rows(obj: Request, means_level: Level | None = None) -> list[dict[str, Any]]:
    """The request's mandates or chain mandates in words (as ``summary`` says them), each with the problem the
    applicant must solve, if any."""
    rows = []
    for index, grant in enumerate(requested_grants(obj, chain=obj.kind == RequestKind.CHAIN_MANDATE)):
        problem = ""
        if means_level is not None and grant.item.level > means_level:
            problem = _(
                "Your means has level %(means)s, lower than %(level)s: change the level, or have your means upgraded "
                "first."
            ) % {"means": means_level.label, "level": grant.level}
        rows.append({"index": index, "number": grant.number, "grant": grant, "problem": problem})
    return rows


def _extract_view(obj: Request) -> dict[str, Any]:
    """The KvK extract of the request, for the page that shows it."""
    extract = obj.kvk_extract
    legal_form = extract.get("legal_form", "")
    return {
        "name": extract.get("name", ""),
        "kvk": obj.kvk,
        "rsin": extract.get("rsin", ""),
        "legal_form": LegalForm(legal_form).label if legal_form in LegalForm.values else legal_form,
        "branches": extract.get("branches", []),
        "functionaries": [
            {
                "name": rep.name,
                "role": rep.role,
                "authority": Authority(rep.authority).label,
                "date_of_birth": rep.date_of_birth,
            }
            for rep in representatives(obj)
        ],
        "date": obj.extract_date,
    }


def _standing(obj: Request) -> str:
    """What the KvK extract says about the applicant, in a sentence."""
    me = applicant_representative(obj)
    name = obj.kvk_extract.get("name", obj.kvk)
    if me is None:
        return _(
            "You are not listed in the KvK register as a representative of %(organisation)s. Its representatives will "
            "sign your request."
        ) % {"organisation": name}
    if me.authority == Authority.ALONE:
        return _(
            "Per the KvK register you are %(role)s of %(organisation)s and alone/independently authorized: you sign "
            "the request yourself and become mandate manager automatically."
        ) % {"role": me.role or _("a representative"), "organisation": name}
    values = {"role": me.role or _("a representative"), "organisation": name}
    if me.authority == Authority.JOINT:
        return (
            _(
                "Per the KvK register you are %(role)s of %(organisation)s and jointly authorized: more "
                "representatives sign your request."
            )
            % values
        )
    return (
        _(
            "Per the KvK register you are %(role)s of %(organisation)s with restricted authority: more representatives "
            "sign your request."
        )
        % values
    )


def _signature_rule(obj: Request) -> str:
    """How many signatures the request needs, and why, as the table in ``signatures`` says."""
    level = request_level(obj)
    count = len(representatives(obj))
    try:
        majority = signatures_required([Authority.JOINT], level, representatives=count)
    except SignaturesNotOnline as refusal:
        return refusal.messages[0]
    alone = _("One signature of a representative who is alone/independently authorized is enough.")
    if level >= Level.EH3:
        joint = ngettext(
            "Otherwise, at %(level)s a majority of the %(count)d representatives signs: %(needed)d signature.",
            "Otherwise, at %(level)s a majority of the %(count)d representatives signs: %(needed)d signatures.",
            majority,
        ) % {"level": level.label, "count": count, "needed": majority}
    else:
        joint = _("Otherwise, at %(level)s two representatives who are jointly or restrictedly authorized sign.") % {
            "level": level.label
        }
    return f"{alone} {joint}"


# --------------------------------------------------------------------------------------------------------------------
# Step 1: the organisation


def _prefill(
    data: dict[str, Any], *, means: Level | None, branches: list[dict[str, str]]
) -> tuple[list[MandateWish], list[str]]:
    """The mandate a link asks for, as a wish; and what to tell the applicant about it.

    A refusal page names one service (provider OIN, ServiceUUID, level). The link to renew an expiring mandate names
    the whole mandate in the names of the mandate form (``scope``, ``providers``, ``services``, ``level``,
    ``branch_number``): anyone can change an address, so it is checked by that form, and a mandate that cannot be
    asked for as given is not asked for at all (never less than the link says), with the form's errors. A level above
    the means is kept and named, as step 2 names it: the applicant lowers it there, or has the means upgraded first.
    """
    level_text = (data.get("level") or "").strip()
    try:
        level = Level.parse(level_text) if level_text else None
    except ValueError:
        level = None
    if (data.get("scope") or "").strip():
        services = []
        for value in data.get("services") or []:
            try:
                services.append(str(UUID(value)))
            except ValueError:
                services.append(value)  # the form names it as not in the catalogue
        form = forms.MandateForm(
            {
                "scope": data["scope"].strip(),
                "providers": list(data.get("providers") or []),
                "services": services,
                "level": int(level) if level is not None else "",
                "years": 1,
                "branch_number": (data.get("branch_number") or "").strip(),
            },
            chain=False,
            levels=list(Level),
            means_level=None,
            branches=branches,
        )
        if not form.is_valid():
            problems = [
                Level.parse_error(level_text) if name == "level" and level_text and level is None else message
                for name, errors in form.errors.items()
                for message in errors
            ]
            notice = _(
                "The mandate in the link cannot be requested as it is: %(problems)s Choose the mandates yourself."
            )
            return [], [notice % {"problems": " ".join(dict.fromkeys(problems))}]
        wish = _wish_from(form.cleaned_data, chain=False)
    else:
        provider_oin = (data.get("provider") or "").strip()
        service = (data.get("service") or "").strip()
        if not (provider_oin or service):
            return [], []
        scope = None
        if service:
            try:
                uuid = UUID(service)
            except ValueError:
                uuid = None
            definition = ServiceDefinition.objects.filter(uuid=uuid).first() if uuid else None
            if definition is not None:
                scope = Scope.of_services(uuid)
                level = level or Level(definition.level)
        if scope is None and provider_oin:
            provider = ServiceProvider.objects.filter(oin=provider_oin).first()
            if provider is not None:
                scope = Scope.of_providers(provider)
        if scope is None:
            return [], [_("The service asked for is not in the catalogue; choose the mandates yourself.")]
        wish = MandateWish(scope=scope, level=level or Level.EH3, years=1)
    notices = []
    wanted = Level.parse(wish.level)
    if means is not None and wanted > means:
        notices.append(
            _(
                "Your means has level %(means)s, lower than %(level)s: change the level, or have your means upgraded "
                "first."
            )
            % {"means": means.label, "level": wanted.label}
        )
    return [wish], notices


@never_cache
@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Step 1 with an account: choose one of my organisations or give a KvK number; the lookup creates the draft."""
    person = request.user
    means = sessions.means_level(person)
    linked = list(Organisation.objects.filter(memberships__person=person).order_by("name").distinct())
    prefill: dict[str, Any] = {
        key: request.GET.get(key, "") for key in ("kvk", "provider", "service", "level", "scope", "branch_number")
    }
    prefill.update(providers=request.GET.getlist("providers"), services=request.GET.getlist("services"))
    initial: dict[str, Any] = {"kind": forms.MANDATES, **{k: v for k, v in prefill.items() if k != "kvk"}}
    wanted_kvk = forms.digits(prefill["kvk"])
    if linked:
        initial["organisation"] = wanted_kvk if any(org.kvk == wanted_kvk for org in linked) else forms.OTHER
        if wanted_kvk and initial["organisation"] == forms.OTHER:
            initial["kvk"] = wanted_kvk
        if not wanted_kvk:
            initial["organisation"] = linked[0].kvk if len(linked) == 1 else ""
    elif wanted_kvk:
        initial["kvk"] = wanted_kvk
    form = forms.OrganisationForm(_posted(request), linked=linked, initial=initial)
    if request.method == "POST" and means is not None and form.is_valid():
        number = form.cleaned_data["kvk_number"]
        field = "organisation" if linked and form.cleaned_data.get("organisation") != forms.OTHER else "kvk"
        try:
            extract = kvk.lookup(number)
        except kvk.KvkError as error:
            form.add_error(field, ValidationError(str(error), code=type(error).__name__))
        else:
            chain = form.cleaned_data["kind"] == forms.CHAIN
            if chain:
                kind = RequestKind.CHAIN_MANDATE
            elif any(org.kvk == extract.kvk for org in linked):
                kind = RequestKind.EXTRA_MANDATES
            else:
                kind = RequestKind.EXTRA_ORGANISATION
            branches = [{"number": b.number, "name": b.name, "city": b.city} for b in extract.branches]
            wishes, notices = ([], []) if chain else _prefill(form.cleaned_data, means=means, branches=branches)
            obj = request_create_draft(
                actor=Actor.for_person(person),
                kind=kind,
                extract=extract,
                applicant=person,
                mandates=wishes,
                language=get_language() or "",
            )
            for notice in notices:
                messages.warning(request, notice)
            return redirect("requests:organisation", pk=obj.pk)
    context = {"form": form, "means": means, "linked": linked, "first_application": False}
    return render(request, "requests/wizard/start.html", context, status=400 if form.errors else 200)


@never_cache
def apply(request: HttpRequest) -> HttpResponse:
    """Step 1 of a first application without an account: who applies, and the organisation's KvK number.

    Public, so throttled like the login: failed lookups count against the e-mail address and the client address.
    """
    if request.user.is_authenticated:
        query = request.GET.urlencode()
        return HttpResponseRedirect(reverse("requests:new") + (f"?{query}" if query else ""))
    form = forms.ApplicationForm(_posted(request), initial={"kvk": forms.digits(request.GET.get("kvk", ""))})
    if request.method == "POST":
        address = throttle.client_address(request)
        email = request.POST.get("email", "")
        if throttle.is_throttled(account=email, address=address):
            form.is_valid()
            form.add_error(None, ValidationError(throttle.TOO_MANY_ATTEMPTS, code="throttled"))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                extract = kvk.lookup(data["kvk"])
            except kvk.KvkError as error:
                if not isinstance(error, kvk.KvkUnavailable):
                    throttle.login_failure_record(account=email, address=address, reason="apply:kvk")
                form.add_error("kvk", ValidationError(str(error), code=type(error).__name__))
            else:
                obj = request_create_draft(
                    actor=Actor(label=f"applicant:{data['email']}"),
                    kind=RequestKind.FIRST_APPLICATION,
                    extract=extract,
                    applicant_name=data["name"],
                    applicant_email=data["email"],
                    applicant_date_of_birth=data["date_of_birth"],
                    language=get_language() or "",
                )
                request.session[APPLIED] = [*_applied(request), obj.pk]
                return redirect("requests:organisation", pk=obj.pk)
    context = {"form": form, "first_application": True}
    return render(request, "requests/wizard/start.html", context, status=400 if form.errors else 200)


@never_cache
def organisation(request: HttpRequest, pk: int) -> HttpResponse:
    """Check the organisation's data from the KvK register; refresh the extract if it changed."""
    obj, back = _editable(request, pk)
    if back:
        return back
    error = ""
    if request.method == "POST":
        try:
            extract = kvk.lookup(obj.kvk)
            request_update_draft(actor=_actor(request, obj), request=obj, extract=extract)
        except kvk.KvkError as failure:
            error = str(failure)
        except ValidationError as failure:
            error = " ".join(failure.messages)
        else:
            messages.success(request, _("The organisation's data is read again from the KvK register."))
            return redirect("requests:organisation", pk=obj.pk)
        obj.refresh_from_db()
    context = {
        "extract": _extract_view(obj),
        "standing": _standing(obj),
        "error": error,
        "next_url": _next_step(obj, "organisation"),
    }
    return _page(request, "organisation.html", obj, "organisation", context, status=400 if error else 200)


# --------------------------------------------------------------------------------------------------------------------
# Step 2: the mandates


def _wish_of(item: RequestedMandate | RequestedChainMandate) -> MandateWish | ChainMandateWish:
    providers = tuple(ServiceProvider.objects.filter(oin__in=item.providers))
    scope = Scope(ScopeKind(item.scope_kind), providers=providers, services=tuple(UUID(s) for s in item.services))
    if isinstance(item, RequestedChainMandate):
        return ChainMandateWish(
            intermediary_kvk=item.intermediary_kvk, scope=scope, level=Level(item.level), years=item.years
        )
    return MandateWish(scope=scope, level=Level(item.level), years=item.years, branch_number=item.branch_number)


def _wish_from(data: dict[str, Any], *, chain: bool) -> MandateWish | ChainMandateWish:
    providers = tuple(ServiceProvider.objects.filter(oin__in=data["providers"]))
    scope = Scope(ScopeKind(data["scope"]), providers=providers, services=tuple(UUID(s) for s in data["services"]))
    if chain:
        return ChainMandateWish(
            intermediary_kvk=data["intermediary_kvk"], scope=scope, level=data["level"], years=data["years"]
        )
    return MandateWish(scope=scope, level=data["level"], years=data["years"], branch_number=data["branch_number"])


def _save_wishes(request: HttpRequest, obj: Request, wishes: list, *, chain: bool) -> None:
    if chain:
        request_update_draft(actor=_actor(request, obj), request=obj, chain_mandates=wishes)
    else:
        request_update_draft(actor=_actor(request, obj), request=obj, mandates=wishes)


def _posted(request: HttpRequest) -> Any:
    """The posted data for a form: also an empty POST binds it, so that it shows what is missing."""
    return request.POST if request.method == "POST" else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@never_cache
def mandates(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2: the mandates (or chain mandates) of the request: a list to change or remove, and a form to add one."""
    obj, back = _editable(request, pk)
    if back:
        return back
    chain = obj.kind == RequestKind.CHAIN_MANDATE
    items = list(obj.chain_mandates.all()) if chain else list(obj.mandates.all())
    action = request.POST.get("action", "")
    means = _means_level(request, obj)
    if request.method == "POST" and action == "remove":
        index = _int(request.POST.get("row"))
        if index is not None and 0 <= index < len(items):
            wishes = [_wish_of(item) for position, item in enumerate(items) if position != index]
            _save_wishes(request, obj, wishes, chain=chain)
            messages.success(request, _("Mandate %(number)d is removed.") % {"number": index + 1})
        return redirect("requests:mandates", pk=obj.pk)

    edit = _int(request.POST.get("row") if request.method == "POST" else request.GET.get("edit"))
    if edit is not None and not 0 <= edit < len(items):
        edit = None
    form_kwargs = {
        "chain": chain,
        "levels": _levels(request, obj),
        "means_level": means,
        "branches": obj.kvk_extract.get("branches", []),
        "own_kvk": obj.kvk,
    }
    if request.method == "POST":
        form = forms.MandateForm(request.POST, **form_kwargs)
        if form.is_valid() and chain:
            try:
                kvk.lookup(form.cleaned_data["intermediary_kvk"])
            except kvk.KvkError as error:
                form.add_error("intermediary_kvk", ValidationError(str(error), code=type(error).__name__))
        if form.is_valid():
            wishes = [_wish_of(item) for item in items]
            wish = _wish_from(form.cleaned_data, chain=chain)
            if edit is None:
                wishes.append(wish)
            else:
                wishes[edit] = wish
            try:
                _save_wishes(request, obj, wishes, chain=chain)
            except ValidationError as error:
                for message in error.messages:
                    form.add_error(None, message)
            else:
                if edit is None:
                    messages.success(request, _("The mandate is added. Add another one, or go on to the next step."))
                else:
                    messages.success(request, _("Mandate %(number)d is changed.") % {"number": edit + 1})
                return redirect("requests:mandates", pk=obj.pk)
    else:
        if any(name in request.GET for name in MANDATE_STATE_FIELDS):
            initial: dict[str, Any] = {
                name: request.GET.getlist(name) if name in ("providers", "services") else request.GET.get(name, "")
                for name in MANDATE_STATE_FIELDS
            }
        elif edit is not None:
            item = items[edit]
            initial = {
                "scope": item.scope_kind,
                "providers": list(item.providers),
                "services": [str(s) for s in item.services],
                "level": item.level,
                "years": item.years,
                "branch_number": getattr(item, "branch_number", ""),
                "intermediary_kvk": getattr(item, "intermediary_kvk", ""),
            }
        else:
            levels = form_kwargs["levels"]
            initial = {"scope": ScopeKind.ALL, "years": 1, "level": int(levels[-1]) if len(levels) == 1 else ""}
        form = forms.MandateForm(initial=initial, **form_kwargs)
    state = mandate_form_state(form)
    query = request.GET.get("q", "").strip()[:100]
    provider_options, service_options, more = catalogue_search(
        query, state.get("providers", []), state.get("services", [])
    )
    search_state = [
        (name, value) for name, values in state.items() for value in values if name not in ("providers", "services")
    ]
    search_state += [("providers", o["oin"]) for o in provider_options if o["checked"]]
    search_state += [("services", o["uuid"]) for o in service_options if o["checked"]]
    if edit is not None:
        search_state.append(("edit", str(edit)))
    context = {
        "form": form,
        "chain": chain,
        "rows": grant_rows(obj, means),
        "edit": edit,
        "query": query,
        "provider_options": provider_options,
        "service_options": service_options,
        "search_state": search_state,
        "more_results": more,
        "means": means,
        "can_upgrade": means is not None and means < Level.EH4,
        "next_url": _next_step(obj, "mandates"),
        "scope_services": ScopeKind.SERVICES,
        "scope_providers": ScopeKind.PROVIDERS,
    }
    return _page(request, "mandates.html", obj, "mandates", context, status=400 if form.errors else 200)


# --------------------------------------------------------------------------------------------------------------------
# Step 3: the manager role


@never_cache
def manager(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 3: automatic for an applicant alone/independently authorized per the KvK; otherwise an opt-in."""
    obj, back = _editable(request, pk)
    if back:
        return back
    alone = applicant_alone_authorized(obj)
    means = _means_level(request, obj)
    form = None
    if not alone:
        initial = {"wants_manager": obj.wants_manager, "manager_level": obj.manager_level}
        form = forms.ManagerForm(_posted(request), initial=initial, levels=_levels(request, obj), means_level=means)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            request_update_draft(
                actor=_actor(request, obj),
                request=obj,
                wants_manager=data["wants_manager"],
                manager_level=data["manager_level"],
            )
            return HttpResponseRedirect(_next_step(obj, "manager"))
    elif request.method == "POST":
        return HttpResponseRedirect(_next_step(obj, "manager"))
    context = {
        "form": form,
        "alone": alone,
        "level": request_level(obj),
        "organisation_name": obj.kvk_extract.get("name", obj.kvk),
        "back_url": reverse("requests:mandates", args=[obj.pk]),
    }
    return _page(request, "manager.html", obj, "manager", context, status=400 if form and form.errors else 200)


# --------------------------------------------------------------------------------------------------------------------
# Step 4: the representatives who sign


def _chosen_signers(obj: Request) -> list[dict[str, str]]:
    """The representatives chosen for this request, as kept with it (else those of its last submission); a
    representative who declined to sign the last submission is not proposed again."""
    current = list(obj.signers.filter(superseded_at__isnull=True))
    declined = {(s.functionary_name.casefold(), s.date_of_birth.isoformat()) for s in current if s.declined_at}
    chosen = list(obj.signer_choices) or [
        {"name": s.functionary_name, "date_of_birth": s.date_of_birth.isoformat(), "email": s.email} for s in current
    ]
    return [item for item in chosen if (item["name"].casefold(), item["date_of_birth"]) not in declined]


@never_cache
def representatives_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 4: choose among the KvK functionaries who sign, each with their e-mail address."""
    obj, back = _editable(request, pk)
    if back:
        return back
    if not _needs_representatives(obj):
        return redirect("requests:review", pk=obj.pk)
    reps = possible_signers(obj)
    level = request_level(obj)
    initial: dict[str, Any] = {}
    for saved in _chosen_signers(obj):
        for index, rep in enumerate(reps):
            if rep.name == saved["name"] and rep.date_of_birth.isoformat() == saved["date_of_birth"]:
                initial[f"sign_{index}"] = True
                initial[f"email_{index}"] = saved["email"]
    form = forms.RepresentativesForm(_posted(request), initial=initial, representatives=reps, level=level)
    if request.method == "POST" and form.is_valid():
        chosen = [
            SignerWish(name=rep.name, date_of_birth=rep.date_of_birth, email=email)
            for rep, email in form.cleaned_data["chosen"]
        ]
        try:
            request_update_draft(actor=_actor(request, obj), request=obj, signers=chosen)
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            return redirect("requests:review", pk=obj.pk)
    context = {
        "form": form,
        "rows": form.bound_rows(),
        "rule": _signature_rule(obj),
        "level": level,
        "none_listed": not reps,
    }
    return _page(request, "representatives.html", obj, "representatives", context, status=400 if form.errors else 200)


# --------------------------------------------------------------------------------------------------------------------
# Step 5: review and submit


def _step_errors(obj: Request, error: ValidationError) -> list[dict[str, str]]:
    """A refused submission's errors, each with the step where it is put right."""
    found = []
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            step = FIELD_STEP.get(field, "review")
            if step == "representatives" and not _needs_representatives(obj):
                step = "organisation"
            for item in errors:
                found.append(
                    {
                        "message": " ".join(item.messages),
                        "url": reverse(f"requests:{step}", args=[obj.pk]),
                        "step": str(STEP_LABELS[step]),
                    }
                )
    else:
        found = [{"message": message, "url": "", "step": ""} for message in error.messages]
    return found


def _manager_level(obj: Request) -> Level | None:
    return Level(obj.manager_level) if obj.wants_manager and obj.manager_level else None


def _signer_wishes(obj: Request) -> list[SignerWish]:
    return [
        SignerWish(name=item["name"], date_of_birth=dt.date.fromisoformat(item["date_of_birth"]), email=item["email"])
        for item in _chosen_signers(obj)
    ]


@never_cache
def review(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 5: everything in plain words, each part with a link back to its step; then submit."""
    obj, back = _editable(request, pk)
    if back:
        return back
    errors: list[dict[str, str]] = []
    note = ""
    if request.method == "POST":
        note = request.POST.get("note", "").strip()[:2000]
        try:
            links = request_submit(
                actor=_actor(request, obj),
                request=obj,
                signers=[] if applicant_alone_authorized(obj) else _signer_wishes(obj),
                note=note,
            )
        except ValidationError as error:
            errors = _step_errors(obj, error)
        except PermissionDenied:
            raise Http404 from None
        else:
            names = [link.signer.functionary_name for link in links]
            if names:
                messages.success(
                    request,
                    _("Your request is submitted. We sent a signing link by e-mail to: %(names)s.")
                    % {"names": listed(names)},
                )
            else:
                messages.success(request, _("Your request is submitted."))
            return redirect("requests:detail", pk=obj.pk)
        obj.refresh_from_db()
    alone = applicant_alone_authorized(obj)
    context = {
        "extract": _extract_view(obj),
        "standing": _standing(obj),
        "rows": grant_rows(obj, _means_level(request, obj)),
        "chain": obj.kind == RequestKind.CHAIN_MANDATE,
        "alone": alone,
        "manager_level": request_level(obj) if alone else _manager_level(obj),
        "signers": [] if alone else _chosen_signers(obj),
        "rule": _signature_rule(obj),
        "errors": errors,
        "note": note,
        "answering": obj.state == RequestState.MORE_INFORMATION_REQUESTED,
    }
    return _page(request, "review.html", obj, "review", context, status=400 if errors else 200)


# --------------------------------------------------------------------------------------------------------------------
# My requests


@require_safe
@never_cache
@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    """My requests: each with its organisation, kind, state and dates."""
    items = Request.objects.filter(applicant=request.user)
    return render(request, "requests/list.html", {"items": items})


def _continue_url(obj: Request) -> str:
    if obj.state == RequestState.DRAFT and not (obj.mandates.exists() or obj.chain_mandates.exists()):
        return reverse("requests:mandates", args=[obj.pk])
    return reverse("requests:review", args=[obj.pk])


def _history(obj: Request) -> list[dict[str, Any]]:
    """The request's transitions and, between them, each representative who declined to sign (also of an earlier
    submission), in the order they happened."""
    entries = [
        {"at": event.at, "state": event.get_to_state_display(), "note": event.note} for event in obj.events.all()
    ]
    entries += [
        {"at": signer.declined_at, "declined": signer.functionary_name, "note": signer.decline_reason}
        for signer in obj.signers.filter(declined_at__isnull=False)
    ]
    return sorted(entries, key=lambda entry: entry["at"])


@require_safe
@never_cache
def applicant_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the mails to an applicant without an account: it opens their request in this browser as in the
    one that applied (to read, withdraw, or change it while it can be changed), and no other request.

    The token is signed and lasts 30 days (``signing.request_by_applicant_token``); it does not stay in the address
    bar. A request that has an account by now opens only after logging in.
    """
    obj = request_by_applicant_token(token)
    if obj is None:
        context = {
            "problem": "applicant_link",
            "title": _("This link to your request does not work"),
            "explanation": _(
                "The link has expired (it works 30 days) or is not complete. Open the link in the most recent e-mail "
                "about your request, or copy the whole address."
            ),
        }
        return render(request, "requests/signing/refused.html", context, status=404)
    if obj.applicant_id is None and obj.pk not in _applied(request):
        request.session[APPLIED] = [*_applied(request), obj.pk]
        request.session.cycle_key()
    return redirect("requests:detail", pk=obj.pk)


@require_safe
@never_cache
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One of my requests: what it asks, its state and history, the signatures, and what I can do with it."""
    if not request.user.is_authenticated and pk not in _applied(request):
        return HttpResponseRedirect(f"{reverse('identity:login')}?{urlencode({'next': request.get_full_path()})}")
    obj = _own(request, pk)
    signers = list(obj.signers.filter(superseded_at__isnull=True))
    context = {
        "obj": obj,
        "extract": _extract_view(obj),
        "rows": grant_rows(obj),
        "chain": obj.kind == RequestKind.CHAIN_MANDATE,
        "manager": manager_role(obj),
        "signers": signers,
        # The signing links work only while the request waits for signatures.
        "signing_open": obj.state == RequestState.AWAITING_SIGNATURES,
        "now": timezone.now(),
        "history": _history(obj),
        # Sent back to the applicant because representatives declined and too few can still sign.
        "declined": obj.state == RequestState.DRAFT and any(signer.declined_at for signer in signers),
        "editable": obj.state in EDITABLE,
        "continue_url": _continue_url(obj) if obj.state in EDITABLE else "",
        "can_withdraw": can_transition(obj, RequestState.WITHDRAWN),
        "asked": obj.state == RequestState.MORE_INFORMATION_REQUESTED and obj.reason,
        "first_application": obj.applicant_id is None,
    }
    return render(request, "requests/detail.html", context)


@never_cache
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Withdraw one of my requests, after a confirmation; possible until staff decide."""
    if not request.user.is_authenticated and pk not in _applied(request):
        return HttpResponseRedirect(f"{reverse('identity:login')}?{urlencode({'next': request.get_full_path()})}")
    obj = _own(request, pk)
    if not can_transition(obj, RequestState.WITHDRAWN):
        messages.error(
            request,
            _("A request that is “%(state)s” can no longer be withdrawn.") % {"state": RequestState(obj.state).label},
        )
        return redirect("requests:detail", pk=obj.pk)
    if request.method == "POST":
        try:
            request_withdraw(actor=_actor(request, obj), request=obj, note=request.POST.get("note", "").strip()[:2000])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Your request is withdrawn."))
        return redirect("requests:detail", pk=obj.pk)
    return render(request, "requests/wizard/withdraw.html", {"obj": obj, "extract": _extract_view(obj)})
