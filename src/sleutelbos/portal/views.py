"""Views of the self-service site."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider


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
