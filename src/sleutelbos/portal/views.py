"""Views of the self-service site: the public front page, and the personal pages of a logged-in person."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.portal import selectors
from sleutelbos.portal.forms import LoginCheckForm


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The public front page: what Sleutelbos is, and the live catalogue of service providers and their services."""
    providers = list(
        ServiceProvider.objects.prefetch_related(
            Prefetch("definitions", queryset=ServiceDefinition.objects.order_by("name_nl", "pk"), to_attr="services")
        )
    )
    # Names are shown in the active language, so sort on what the reader sees.
    providers.sort(key=lambda provider: provider.name.casefold())
    for provider in providers:
        provider.services.sort(key=lambda service: service.name.casefold())
    context = {
        "providers": providers,
        "provider_count": len(providers),
        "service_count": sum(len(provider.services) for provider in providers),
    }
    return render(request, "portal/home.html", context)


@never_cache
@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    """Mijn Sleutelbos: my means, my organisations and, per organisation, my mandates and the clients I act for."""
    context = {"overview": selectors.overview_for(request.user), "person": request.user}
    return render(request, "portal/overview.html", context)


def request_url(missing: selectors.MissingMandate, base: str | None = None) -> str:
    """The request wizard (requests app), pre-filled with exactly the missing mandate."""
    query = {
        "kvk": missing.kvk,
        "provider": missing.provider_oin,
        "service": missing.service_uuid,
        "level": missing.level.label,
    }
    return f"{base or reverse('requests:new')}?{urlencode(query)}"


@dataclass(slots=True)
class CheckRow:
    """One row of "Where can I log in?", in words: the table renders these strings and nothing else."""

    uuid: str
    provider_oin: str
    allowed: str  # "yes" or "no", as the row's data-allowed
    provider: str
    service: str
    level: str
    #: Allowed: the sentences under the verdict (mandate, chain mandate, branch).
    notes: list[str] = field(default_factory=list)
    #: Refused: (code, sentence) per reason.
    reasons: list[tuple[str, str]] = field(default_factory=list)
    request_url: str = ""


def check_rows(checks: list[selectors.ServiceCheck], choice: selectors.Choice) -> list[CheckRow]:
    """The checks as table rows, every sentence written once here rather than per row in the template."""
    wizard = reverse("requests:new")
    client = choice.organisation.name if choice.intermediary is not None else ""
    providers: dict[int, str] = {}
    levels = {level.value: level.label for level in Level}
    rows = []
    for check in checks:
        definition = check.definition
        provider = providers.get(definition.provider_id)
        if provider is None:
            provider = providers[definition.provider_id] = definition.provider.name
        row = CheckRow(
            uuid=str(definition.uuid),
            provider_oin=definition.provider.oin,
            allowed="yes" if check.allowed else "no",
            provider=provider,
            service=definition.name,
            level=levels.get(definition.level, str(definition.level)),
        )
        if check.allowed:
            decision = check.decision
            if check.mandate_scope:
                row.notes.append(_("With your mandate for %(scope)s.") % {"scope": check.mandate_scope})
            if check.chain_scope:
                row.notes.append(
                    _("And the chain mandate of %(client)s for %(scope)s.")
                    % {"client": client, "scope": check.chain_scope}
                )
            if decision.branch:
                row.notes.append(_("Only for branch %(number)s.") % {"number": decision.branch})
        else:
            # A reason is said once: two mandates both at too low a level give the same sentence twice.
            row.reasons = list(dict.fromkeys((reason.code, reason.message) for reason in check.decision.reasons))
            if check.missing:
                row.request_url = request_url(check.missing, wizard)
        rows.append(row)
    return rows


@never_cache
@login_required
@require_safe
def login_check(request: HttpRequest) -> HttpResponse:
    """Where can I log in? Every service of the catalogue for one of my organisations: yes or no, and why.

    The organisation comes from the address (``?organisation=<KvK>``); one that is not mine is not found (404), so
    the page never tells whether an organisation exists or what anybody else may do.
    """
    person = request.user
    choices = selectors.choices_for(person)
    if not choices:
        return render(request, "portal/login_check.html", {"choices": choices})
    by_key = {choice.key: choice for choice in choices}
    key = request.GET.get("organisation") or choices[0].key
    choice = by_key.get(key)
    if choice is None:
        raise Http404("not one of this person's organisations")
    form = LoginCheckForm({"organisation": key, "q": request.GET.get("q", "")}, choices=choices)
    context = {"choices": choices, "choice": choice, "form": form, "checks": None}
    if not form.is_valid():
        return render(request, "portal/login_check.html", context, status=400)
    query = form.cleaned_data["q"].strip()
    checks = selectors.login_check(person, choice, selectors.catalogue_search(query))
    context.update(
        query=query,
        checks=check_rows(checks, choice),
        allowed_count=sum(check.allowed for check in checks),
    )
    return render(request, "portal/login_check.html", context)
