"""Manager pages: the mandates the organisation gave its people, and its chain mandates."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from sleutelbos.mandates.describe import describe_grants
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.portal.managers import Managed, manager_view


@manager_view()
@require_safe
def mandates(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Every mandate of the organisation, by holder, with its scope in words."""
    grants = list(
        Mandate.objects.filter(organisation=managed.organisation)
        .select_related("holder", "branch")
        .order_by("holder__name", "-valid_until")
    )
    phrases = describe_grants(grants)
    rows = [{"mandate": grant, "scope": phrases[grant.pk]} for grant in grants]
    return render(request, "portal/manage/mandates.html", {"managed": managed, "rows": rows})


@manager_view()
@require_safe
def chain_mandates(request: HttpRequest, managed: Managed) -> HttpResponse:
    """Chain mandates: intermediaries acting for us (outgoing) and clients we act for (incoming)."""
    organisation = managed.organisation
    grants = list(
        ChainMandate.objects.filter(Q(client=organisation) | Q(intermediary=organisation))
        .select_related("client", "intermediary")
        .order_by("-valid_until")
    )
    phrases = describe_grants(grants)
    rows = [{"chain_mandate": grant, "scope": phrases[grant.pk]} for grant in grants]
    context = {
        "managed": managed,
        "outgoing": [row for row in rows if row["chain_mandate"].client_id == organisation.pk],
        "incoming": [row for row in rows if row["chain_mandate"].intermediary_id == organisation.pk],
    }
    return render(request, "portal/manage/chain_mandates.html", context)
