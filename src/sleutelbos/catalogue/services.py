"""Writes to the catalogue: service providers, service definitions and service instances."""

from __future__ import annotations

import uuid as uuid_module

from django.db import transaction

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import (
    DEFAULT_ENTITY_CONCERNED_TYPES,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
)
from sleutelbos.validation import full_clean


@transaction.atomic
def service_provider_create(*, actor: Actor, oin: str, name_nl: str, name_en: str = "") -> ServiceProvider:
    """Register a service provider (dienstverlener) by its OIN."""
    provider = ServiceProvider(oin=oin, name_nl=name_nl, name_en=name_en)
    full_clean(provider)
    provider.save()
    audit_record(actor=actor, action="service_provider:created", subject=provider, data={"oin": oin, "name": name_nl})
    return provider


@transaction.atomic
def service_definition_create(
    *,
    actor: Actor,
    provider: ServiceProvider,
    name_nl: str,
    name_en: str = "",
    level: Level | str,
    uuid: uuid_module.UUID | None = None,
    description_nl: str = "",
    description_en: str = "",
    branch_restriction_allowed: bool = False,
    entity_concerned_types: list[list[str]] | None = None,
) -> ServiceDefinition:
    """Define a service of a provider at the level it needs. Another provider may already use the same UUID."""
    definition = ServiceDefinition(
        provider=provider,
        uuid=uuid or uuid_module.uuid4(),
        name_nl=name_nl,
        name_en=name_en,
        description_nl=description_nl,
        description_en=description_en,
        level=Level.parse(level),
        branch_restriction_allowed=branch_restriction_allowed,
        entity_concerned_types=entity_concerned_types or DEFAULT_ENTITY_CONCERNED_TYPES,
    )
    full_clean(definition)
    definition.save()
    audit_record(
        actor=actor,
        action="service_definition:created",
        subject=definition,
        data={
            "provider": provider.oin,
            "uuid": definition.uuid,
            "name": name_nl,
            "level": Level(definition.level).label,
        },
    )
    return definition


@transaction.atomic
def service_instance_create(
    *,
    actor: Actor,
    definition: ServiceDefinition,
    index: int,
    service_url: str = "",
    privacy_policy_url: str = "",
) -> ServiceInstance:
    """Publish an instance (loket) of a definition under the given index (unique per provider, at least 1)."""
    instance = ServiceInstance(
        provider=definition.provider,
        definition=definition,
        index=index,
        service_url=service_url,
        privacy_policy_url=privacy_policy_url,
    )
    full_clean(instance)
    instance.save()
    audit_record(
        actor=actor,
        action="service_instance:created",
        subject=instance,
        data={"service_id": instance.service_id, "definition": definition.uuid},
    )
    return instance
