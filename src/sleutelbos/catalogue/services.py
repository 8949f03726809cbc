"""Writes to the catalogue: service providers, service definitions and service instances."""

from __future__ import annotations

import uuid as uuid_module

from django.db import models, transaction

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
    uuid: uuid_module.UUID | None = None,
    service_url: str = "",
    privacy_policy_url: str = "",
) -> ServiceInstance:
    """Publish an instance (loket) of a definition under the given index (unique per provider, at least 1)."""
    instance = ServiceInstance(
        provider=definition.provider,
        definition=definition,
        index=index,
        uuid=uuid or uuid_module.uuid4(),
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


_UNCHANGED: object = object()


def _apply(instance: object, changes: dict[str, object]) -> dict[str, list[object]]:
    """Set the given fields; return ``{field: [old, new]}`` for those that really changed."""
    changed = {}
    for name, value in changes.items():
        if value is _UNCHANGED:
            continue
        old = getattr(instance, name)
        if old != value:
            setattr(instance, name, value)
            changed[name] = [old, value]
    return changed


def _audit_value(value: object) -> object:
    """A value as the audit log keeps it: levels by name, UUIDs and model rows as strings."""
    if isinstance(value, Level):
        return value.label
    if isinstance(value, uuid_module.UUID | ServiceDefinition):
        return str(value.uuid if isinstance(value, ServiceDefinition) else value)
    return value


def _audit_changes(changed: dict[str, list[object]]) -> dict[str, list[object]]:
    return {name: [_audit_value(old), _audit_value(new)] for name, (old, new) in changed.items()}


def _save_changes(
    actor: Actor, instance: models.Model, changed: dict[str, list[object]], action: str, data: dict[str, object]
) -> None:
    """Validate and save the changed fields and audit them; nothing happens when nothing changed."""
    if not changed:
        return
    full_clean(instance)
    instance.save(update_fields=list(changed))
    audit_record(actor=actor, action=action, subject=instance, data={**data, "changes": _audit_changes(changed)})


@transaction.atomic
def service_provider_update(
    *,
    actor: Actor,
    provider: ServiceProvider,
    name_nl: str | object = _UNCHANGED,
    name_en: str | object = _UNCHANGED,
) -> ServiceProvider:
    """Rename a service provider; fields not given stay as they are. Nothing is recorded when nothing changes."""
    changed = _apply(provider, {"name_nl": name_nl, "name_en": name_en})
    _save_changes(actor, provider, changed, "service_provider:updated", {"oin": provider.oin})
    return provider


@transaction.atomic
def service_definition_update(
    *,
    actor: Actor,
    definition: ServiceDefinition,
    name_nl: str | object = _UNCHANGED,
    name_en: str | object = _UNCHANGED,
    description_nl: str | object = _UNCHANGED,
    description_en: str | object = _UNCHANGED,
    level: Level | str | object = _UNCHANGED,
    branch_restriction_allowed: bool | object = _UNCHANGED,
    entity_concerned_types: list[list[str]] | object = _UNCHANGED,
) -> ServiceDefinition:
    """Change a service definition; fields not given stay as they are. Its ServiceUUID and provider never change.

    A new level applies to every decision from now on: mandates below it stop covering the service.
    """
    changed = _apply(
        definition,
        {
            "name_nl": name_nl,
            "name_en": name_en,
            "description_nl": description_nl,
            "description_en": description_en,
            "level": level if level is _UNCHANGED else Level.parse(level),
            "branch_restriction_allowed": branch_restriction_allowed,
            "entity_concerned_types": entity_concerned_types,
        },
    )
    if "level" in changed:
        changed["level"] = [Level(changed["level"][0]), changed["level"][1]]
    data = {"provider": definition.provider.oin, "uuid": definition.uuid}
    _save_changes(actor, definition, changed, "service_definition:updated", data)
    return definition


@transaction.atomic
def service_instance_update(
    *,
    actor: Actor,
    instance: ServiceInstance,
    definition: ServiceDefinition | object = _UNCHANGED,
    index: int | object = _UNCHANGED,
    uuid: uuid_module.UUID | object = _UNCHANGED,
    service_url: str | object = _UNCHANGED,
    privacy_policy_url: str | object = _UNCHANGED,
) -> ServiceInstance:
    """Change a service instance; fields not given stay as they are. Its provider never changes."""
    changed = _apply(
        instance,
        {
            "definition": definition,
            "index": index,
            "uuid": uuid,
            "service_url": service_url,
            "privacy_policy_url": privacy_policy_url,
        },
    )
    _save_changes(actor, instance, changed, "service_instance:updated", {"service_id": instance.service_id})
    return instance
