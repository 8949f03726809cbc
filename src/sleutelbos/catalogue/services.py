"""Writes to the catalogue: service providers, service definitions, service instances, the attributes a definition
requests and the encryption certificates of an instance."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography import x509
from django.db import models, transaction
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import (
    DEFAULT_ENTITY_CONCERNED_TYPES,
    RequestedAttribute,
    ServiceCertificate,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
)
from sleutelbos.saml.protocol import keys
from sleutelbos.validation import fail, full_clean


@transaction.atomic
def service_provider_create(
    *,
    actor: Actor,
    oin: str,
    name_nl: str,
    name_en: str = "",
    is_public: bool = True,
    other_languages: dict[str, list[list[str]]] | None = None,
) -> ServiceProvider:
    """Register a service provider (dienstverlener) by its OIN."""
    provider = ServiceProvider(
        oin=oin, name_nl=name_nl, name_en=name_en, is_public=is_public, other_languages=other_languages or {}
    )
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
    is_public: bool = True,
    description_urls: list[list[str]] | None = None,
    names_broker: bool = True,
    broker_oin: str = "",
    acting_subject_types: list[list[str]] | None = None,
    other_languages: dict[str, list[list[str]]] | None = None,
) -> ServiceDefinition:
    """Define a service of a provider at the level it needs. Another provider may already use the same UUID.

    ``broker_oin`` is empty when the definition names this broker (or, with ``names_broker=False``, none)."""
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
        is_public=is_public,
        description_urls=description_urls or [],
        names_broker=names_broker,
        broker_oin=broker_oin,
        acting_subject_types=acting_subject_types or [],
        other_languages=other_languages or {},
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
    service_url_en: str = "",
    privacy_policy_url_en: str = "",
    is_public: bool = True,
    broker_oin: str = "",
    additional_broker_oins: list[str] | None = None,
    sso_support: bool | None = None,
    classifiers: list[str] | None = None,
    other_languages: dict[str, list[list[str]]] | None = None,
) -> ServiceInstance:
    """Publish an instance (loket) of a definition under the given index (unique per provider, at least 1).

    ``broker_oin`` is empty when the instance is offered through this broker."""
    instance = ServiceInstance(
        provider=definition.provider,
        definition=definition,
        index=index,
        uuid=uuid or uuid_module.uuid4(),
        service_url=service_url,
        privacy_policy_url=privacy_policy_url,
        service_url_en=service_url_en,
        privacy_policy_url_en=privacy_policy_url_en,
        is_public=is_public,
        broker_oin=broker_oin,
        additional_broker_oins=additional_broker_oins or [],
        sso_support=sso_support,
        classifiers=classifiers or [],
        other_languages=other_languages or {},
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
    is_public: bool | object = _UNCHANGED,
    other_languages: dict[str, list[list[str]]] | object = _UNCHANGED,
) -> ServiceProvider:
    """Rename a service provider; fields not given stay as they are. Nothing is recorded when nothing changes."""
    changed = _apply(
        provider,
        {"name_nl": name_nl, "name_en": name_en, "is_public": is_public, "other_languages": other_languages},
    )
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
    is_public: bool | object = _UNCHANGED,
    description_urls: list[list[str]] | object = _UNCHANGED,
    names_broker: bool | object = _UNCHANGED,
    broker_oin: str | object = _UNCHANGED,
    acting_subject_types: list[list[str]] | object = _UNCHANGED,
    other_languages: dict[str, list[list[str]]] | object = _UNCHANGED,
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
            "is_public": is_public,
            "description_urls": description_urls,
            "names_broker": names_broker,
            "broker_oin": broker_oin,
            "acting_subject_types": acting_subject_types,
            "other_languages": other_languages,
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
    service_url_en: str | object = _UNCHANGED,
    privacy_policy_url_en: str | object = _UNCHANGED,
    is_public: bool | object = _UNCHANGED,
    broker_oin: str | object = _UNCHANGED,
    additional_broker_oins: list[str] | object = _UNCHANGED,
    sso_support: bool | object | None = _UNCHANGED,
    classifiers: list[str] | object = _UNCHANGED,
    other_languages: dict[str, list[list[str]]] | object = _UNCHANGED,
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
            "service_url_en": service_url_en,
            "privacy_policy_url_en": privacy_policy_url_en,
            "is_public": is_public,
            "broker_oin": broker_oin,
            "additional_broker_oins": additional_broker_oins,
            "sso_support": sso_support,
            "classifiers": classifiers,
            "other_languages": other_languages,
        },
    )
    _save_changes(actor, instance, changed, "service_instance:updated", {"service_id": instance.service_id})
    return instance


# --- Requested attributes -------------------------------------------------------------------------------------------

ATTRIBUTE_FIELDS = (
    "name",
    "name_format",
    "friendly_name",
    "is_required",
    "values",
    "purpose_nl",
    "purpose_en",
    "other_languages",
)
"""What describes a requested attribute; ``service_definition_attributes_replace`` takes mappings of these."""


def attribute_values(attribute: RequestedAttribute) -> dict[str, Any]:
    """A stored requested attribute as the mapping ``service_definition_attributes_replace`` takes."""
    return {name: getattr(attribute, name) for name in ATTRIBUTE_FIELDS}


@transaction.atomic
def service_definition_attributes_replace(
    *, actor: Actor, definition: ServiceDefinition, attributes: Sequence[Mapping[str, Any]]
) -> list[RequestedAttribute]:
    """Make ``attributes`` (mappings of :data:`ATTRIBUTE_FIELDS`, in order) the attributes the definition requests.

    Nothing is written or recorded when they are the same as before.
    """
    current = list(definition.requested_attributes.order_by("position"))
    wanted = [
        {name: attribute.get(name, _attribute_default(name)) for name in ATTRIBUTE_FIELDS} for attribute in attributes
    ]
    if [attribute_values(attribute) for attribute in current] == wanted:
        return current
    definition.requested_attributes.all().delete()
    created = []
    for position, values in enumerate(wanted, start=1):
        attribute = RequestedAttribute(definition=definition, position=position, **values)
        full_clean(attribute)
        attribute.save()
        created.append(attribute)
    audit_record(
        actor=actor,
        action="service_definition:attributes_replaced",
        subject=definition,
        data={
            "provider": definition.provider.oin,
            "uuid": definition.uuid,
            "before": [attribute.name for attribute in current],
            "after": [attribute.name for attribute in created],
        },
    )
    return created


def _attribute_default(name: str) -> Any:
    return {"is_required": None, "values": [], "other_languages": {}}.get(name, "")


# --- Service certificates -------------------------------------------------------------------------------------------


def _load_certificate(data: bytes | str, field: str) -> x509.Certificate:
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    if b"-----BEGIN" in raw:
        # Only PEM text may be trimmed: DER is binary and may well begin or end with a byte that reads as whitespace.
        raw = raw.strip()
    try:
        return keys.load_certificate(raw)
    except keys.KeyLoadError as error:
        raise fail(
            field,
            _("This is not a usable certificate (PEM or DER, an RSA key of at least 2048 bits): %(error)s.")
            % {"error": error},
            code="invalid_certificate",
        ) from None


@transaction.atomic
def service_certificate_create(
    *,
    actor: Actor,
    instance: ServiceInstance,
    certificate: bytes | str,
    key_name: str = "",
    chain: Sequence[bytes | str] = (),
) -> ServiceCertificate:
    """Register the encryption certificate (PEM or DER) a provider gives for a service instance.

    Its validity period, subject and fingerprint are read from the certificate; ``chain`` are further certificates
    the provider listed with it, kept in order.
    """
    loaded = _load_certificate(certificate, "pem")
    chain_pem = b"".join(keys.certificate_pem(_load_certificate(item, "chain_pem")) for item in chain)
    pem = keys.certificate_pem(loaded)
    row = ServiceCertificate(
        instance=instance,
        pem=pem.decode("ascii"),
        chain_pem=chain_pem.decode("ascii"),
        key_name=key_name,
        fingerprint=keys.fingerprint(pem),
        subject=loaded.subject.rfc4514_string()[:1000],
        not_before=loaded.not_valid_before_utc,
        not_after=loaded.not_valid_after_utc,
    )
    if instance.certificates.filter(fingerprint=row.fingerprint).exists():
        raise fail("pem", _("This certificate is already registered for the service instance."), code="duplicate")
    full_clean(row)
    row.save()
    audit_record(
        actor=actor,
        action="service_certificate:created",
        subject=row,
        data={
            "service_id": instance.service_id,
            "fingerprint": row.fingerprint,
            "subject": row.subject,
            "not_after": row.not_after.isoformat(),
        },
    )
    return row


@transaction.atomic
def service_certificate_remove(*, actor: Actor, certificate: ServiceCertificate) -> None:
    """Withdraw a service instance's encryption certificate; logins no longer encrypt for it."""
    data = {"service_id": certificate.instance.service_id, "fingerprint": certificate.fingerprint}
    audit_record(actor=actor, action="service_certificate:removed", subject=certificate, data=data)
    certificate.delete()
