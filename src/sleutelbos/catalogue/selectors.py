"""Reads of the catalogue that answer a question of the person looking at it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Q

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider

#: At most this many search results per list, so that a short search term cannot list the whole catalogue.
SEARCH_LIMIT = 50


def catalogue_search(query: str, chosen_providers: list[str], chosen_services: list[str]) -> tuple[list, list, bool]:
    """Providers and services matching ``query`` (by name, or by the provider's name), and those already chosen;
    and whether more matched than are shown."""
    providers = ServiceProvider.objects.all()
    definitions = ServiceDefinition.objects.select_related("provider")
    if query:
        by_name = Q(name_nl__icontains=query) | Q(name_en__icontains=query)
        providers = providers.filter(by_name | Q(oin=query))
        definitions = definitions.filter(
            by_name | Q(provider__name_nl__icontains=query) | Q(provider__name_en__icontains=query)
        )
        found_definitions = list(definitions[:SEARCH_LIMIT])
    else:
        found_definitions = []
    found_providers = list(providers[: SEARCH_LIMIT + 1])
    more = len(found_providers) > SEARCH_LIMIT or len(found_definitions) >= SEARCH_LIMIT
    found_providers = found_providers[:SEARCH_LIMIT]
    known_oins = {p.oin for p in found_providers}
    found_providers += [p for p in ServiceProvider.objects.filter(oin__in=chosen_providers) if p.oin not in known_oins]
    valid_uuids = []
    for value in chosen_services:
        try:
            valid_uuids.append(UUID(value))
        except ValueError:
            continue
    known = {d.pk for d in found_definitions}
    found_definitions += [
        d
        for d in ServiceDefinition.objects.filter(uuid__in=valid_uuids).select_related("provider")
        if d.pk not in known
    ]
    provider_options = sorted(
        ({"oin": p.oin, "name": p.name, "checked": p.oin in chosen_providers} for p in found_providers),
        key=lambda option: option["name"].casefold(),
    )
    by_uuid: dict[str, dict[str, Any]] = {}
    for definition in found_definitions:
        key = str(definition.uuid)
        option = by_uuid.setdefault(
            key,
            {
                "uuid": key,
                "id": f"service-{definition.pk}",
                "name": definition.name,
                "providers": [],
                "level": Level(definition.level).label,
                "checked": key in chosen_services,
            },
        )
        option["providers"].append(definition.provider.name)
    service_options = sorted(by_uuid.values(), key=lambda option: option["name"].casefold())
    return provider_options, service_options, more
