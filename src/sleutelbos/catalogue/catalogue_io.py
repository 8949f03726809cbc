"""The Dienstencatalogus in and out of the database: import a service provider's catalogue file, export the whole one.

The XML itself (schema, parsing, writing) is ``saml/protocol/catalogue_xml.py``; this module maps it onto the
catalogue's models through ``catalogue/services.py``.

What the models do not hold yet is not stored on import and not written on export (see ``NOT_STORED``); the import
report counts what it left out, so nobody is surprised. Everything the models do hold survives an export followed by
an import unchanged.
"""

from __future__ import annotations

import uuid as uuid_module
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue import services
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider, service_id_for
from sleutelbos.saml import idp
from sleutelbos.saml.protocol import catalogue_xml as cx

ENGLISH = "en"
OIN_SETTING = "SAML_IDP_OIN"


@dataclass
class ImportReport:
    """What an import did: labels of what it created and updated, how many items were already up to date, and how
    often it met an element (or value) that Sleutelbos does not store."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    not_stored: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def broker_oin() -> str:
    """Our own OIN as broker (Herkenningsmakelaar), written as every instance's ``esc:HerkenningsmakelaarId``: the OIN
    of the broker's entity ID, so the same setting and development default as ``saml.idp``."""
    oin = idp.broker_oin()
    if len(oin) != 20 or not oin.isdigit():
        raise ImproperlyConfigured(
            _("Set %(setting)s to the broker's OIN (20 digits) to export the service catalogue.")
            % {"setting": OIN_SETTING}
        )
    return oin


# --- Import ---------------------------------------------------------------------------------------------------------


def catalogue_import(*, actor: Actor, data: bytes) -> ImportReport:
    """Create or update the providers, definitions and instances of a catalogue file, all or nothing.

    Raises ``CatalogueError`` naming the element and line of every problem; then nothing has changed. What is in the
    database but not in the file is left as it is (a file may hold one provider only).
    """
    catalogue = cx.parse_catalogue(data)
    report = ImportReport()
    with transaction.atomic():
        for provider in catalogue.providers:
            _import_provider(actor, provider, report)
    return report


def _refused(element: str, line: int | None, error: ValidationError | ValueError) -> cx.CatalogueError:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return cx.CatalogueError([cx.Problem(element, line, "%(detail)s", {"detail": " ".join(messages)})])


def _localized_pair(items: tuple[cx.Localized, ...]) -> tuple[str, str]:
    return cx.text_in(items, cx.DUTCH) or "", cx.text_in(items, ENGLISH) or ""


def _import_provider(actor: Actor, data: cx.ServiceProvider, report: ImportReport) -> None:
    name_nl, name_en = _localized_pair(data.names)
    _count_not_stored(data, report)
    provider = ServiceProvider.objects.filter(oin=data.oin).first()
    label = _("service provider %(oin)s") % {"oin": data.oin}
    try:
        if provider is None:
            provider = services.service_provider_create(actor=actor, oin=data.oin, name_nl=name_nl, name_en=name_en)
            report.created.append(label)
        elif (provider.name_nl, provider.name_en) != (name_nl, name_en):
            services.service_provider_update(actor=actor, provider=provider, name_nl=name_nl, name_en=name_en)
            report.updated.append(label)
        else:
            report.unchanged += 1
    except ValidationError as error:
        raise _refused("esc:ServiceProvider", data.lines.get(""), error) from None
    definitions = {}
    for definition in data.definitions:
        definitions[definition.uuid.lower()] = _import_definition(actor, provider, definition, report)
    for instance in data.instances:
        _import_instance(actor, provider, definitions, instance, report)


def _import_definition(
    actor: Actor, provider: ServiceProvider, data: cx.ServiceDefinition, report: ImportReport
) -> ServiceDefinition:
    try:
        level = Level.parse(data.level_uri)
    except ValueError as error:
        raise _refused("saml:AuthnContextClassRef", data.lines.get("saml:AuthnContextClassRef"), error) from None
    name_nl, name_en = _localized_pair(data.names)
    description_nl, description_en = _localized_pair(data.descriptions)
    values = {
        "name_nl": name_nl,
        "name_en": name_en,
        "description_nl": description_nl,
        "description_en": description_en,
        "level": level,
        "branch_restriction_allowed": data.branch_restriction_allowed,
        "entity_concerned_types": data.entity_concerned_sets,
    }
    uuid = uuid_module.UUID(data.uuid)
    definition = provider.definitions.filter(uuid=uuid).first()
    label = _("service definition %(uuid)s of %(oin)s") % {"uuid": uuid, "oin": provider.oin}
    try:
        if definition is None:
            definition = services.service_definition_create(actor=actor, provider=provider, uuid=uuid, **values)
            report.created.append(label)
        elif any(getattr(definition, name) != value for name, value in values.items()):
            services.service_definition_update(actor=actor, definition=definition, **values)
            report.updated.append(label)
        else:
            report.unchanged += 1
    except ValidationError as error:
        raise _refused("esc:ServiceDefinition", data.lines.get(""), error) from None
    return definition


def _import_instance(
    actor: Actor,
    provider: ServiceProvider,
    definitions: dict[str, ServiceDefinition],
    data: cx.ServiceInstance,
    report: ImportReport,
) -> None:
    uuid = uuid_module.UUID(data.uuid)
    values = {
        "definition": definitions[data.instance_of.lower()],
        "index": data.index,
        "uuid": uuid,
        "service_url": _one_url(data.service_urls),
        "privacy_policy_url": _one_url(data.privacy_policy_urls),
    }
    instance = ServiceInstance.objects.select_related("provider").filter(uuid=uuid).first()
    if instance is not None and instance.provider_id != provider.pk:
        raise cx.CatalogueError(
            [
                cx.Problem(
                    "esc:ServiceUUID",
                    data.lines.get("esc:ServiceUUID"),
                    _("The ServiceUUID %(uuid)s is already the instance %(service_id)s of another service provider."),
                    {"uuid": data.uuid, "service_id": instance.service_id},
                )
            ]
        )
    if instance is None:
        instance = provider.instances.filter(index=data.index).first()
    try:
        if instance is None:
            instance = services.service_instance_create(actor=actor, **values)
            report.created.append(data.service_id)
        elif any(getattr(instance, name) != value for name, value in values.items()):
            services.service_instance_update(actor=actor, instance=instance, **values)
            report.updated.append(data.service_id)
        else:
            report.unchanged += 1
    except ValidationError as error:
        raise _refused("esc:ServiceInstance", data.lines.get(""), error) from None


def _one_url(items: tuple[cx.Localized, ...]) -> str:
    """The models hold one URL: the Dutch one, else the first."""
    return cx.text_in(items, cx.DUTCH) or (items[0].value if items else "")


def _count_not_stored(provider: cx.ServiceProvider, report: ImportReport) -> None:
    """Count what the file holds that the models cannot keep (see ``NOT_STORED``)."""
    seen = report.not_stored

    def other_languages(items: tuple[cx.Localized, ...], element: str) -> None:
        for item in items:
            if cx.primary_language(item.lang) not in (cx.DUTCH, ENGLISH):
                seen[f"{element} xml:lang={item.lang}"] += 1

    def urls(items: tuple[cx.Localized, ...], element: str) -> None:
        kept = _one_url(items)
        seen[element] += sum(1 for item in items if item.value != kept)

    other_languages(provider.names, "esc:OrganizationDisplayName")
    seen['esc:ServiceProvider esc:IsPublic="false"'] += not provider.is_public
    for definition in provider.definitions:
        other_languages(definition.names, "esc:ServiceName")
        other_languages(definition.descriptions, "esc:ServiceDescription")
        seen['esc:ServiceDefinition esc:IsPublic="false"'] += not definition.is_public
        seen["esc:ServiceDescriptionURL"] += len(definition.description_urls)
        seen["esc:ActingSubjectTypesAllowed"] += len(definition.acting_subject_types)
        seen["esc:RequestedAttribute"] += len(definition.requested_attributes)
    for instance in provider.instances:
        seen['esc:ServiceInstance esc:IsPublic="false"'] += not instance.is_public
        urls(instance.service_urls, "esc:ServiceURL")
        urls(instance.privacy_policy_urls, "esc:PrivacyPolicyURL")
        seen["esc:AdditionalHerkenningsmakelaarId"] += len(instance.additional_broker_oins)
        seen["esc:SSOSupport"] += instance.sso_support is not None
        seen["esc:ServiceCertificate"] += len(instance.certificates)
        seen["esc:Classifiers"] += bool(instance.classifiers)
    for key in [key for key, count in seen.items() if not count]:
        del seen[key]


NOT_STORED = (
    "esc:IsPublic (every provider, definition and instance is exported as public)",
    "esc:OrganizationDisplayName, esc:ServiceName, esc:ServiceDescription in languages other than nl and en",
    "esc:ServiceDescriptionURL",
    "esc:HerkenningsmakelaarId (exported as our own OIN)",
    "esc:ActingSubjectTypesAllowed",
    "esc:RequestedAttribute",
    "esc:ServiceURL, esc:PrivacyPolicyURL beyond one per instance (the Dutch one, exported as xml:lang=nl)",
    "esc:AdditionalHerkenningsmakelaarId",
    "esc:SSOSupport",
    "esc:ServiceCertificate",
    "esc:Classifiers",
)
"""What a catalogue file may hold that the catalogue's models do not (yet) keep."""


# --- Export ---------------------------------------------------------------------------------------------------------


def catalogue_from_database(*, oin: str | None = None) -> cx.Catalogue:
    """The whole catalogue in the database, providers by OIN, definitions by ServiceUUID, instances by index."""
    oin = oin or broker_oin()
    providers = ServiceProvider.objects.order_by("oin").prefetch_related(
        Prefetch("definitions", queryset=ServiceDefinition.objects.order_by("uuid")),
        Prefetch("instances", queryset=ServiceInstance.objects.select_related("definition").order_by("index")),
    )
    return cx.Catalogue(
        providers=tuple(_export_provider(provider, oin) for provider in providers),
        issue_instant=cx.issue_instant_now(),
        version=cx.VERSION,
        id=cx.new_catalogue_id(),
    )


def catalogue_export(*, oin: str | None = None) -> bytes:
    """The whole catalogue as a (not yet signed) catalogue file that validates against the schema.

    Raises ``CatalogueError`` when the catalogue is empty (the schema asks for at least one provider).
    """
    catalogue = catalogue_from_database(oin=oin)
    if not catalogue.providers:
        raise cx.CatalogueError(
            [cx.Problem("esc:ServiceProvider", None, _("The catalogue has no service providers to export."))]
        )
    element = cx.build_catalogue(catalogue)
    problems = cx.validate(element)
    if problems:
        raise cx.CatalogueError(problems)
    return cx.serialize(element)


def _localized(nl: str, en: str, *, always_dutch: bool = False) -> tuple[cx.Localized, ...]:
    items = []
    if nl or always_dutch:
        items.append(cx.Localized(cx.DUTCH, nl))
    if en:
        items.append(cx.Localized(ENGLISH, en))
    return tuple(items)


def _export_provider(provider: ServiceProvider, oin: str) -> cx.ServiceProvider:
    return cx.ServiceProvider(
        oin=provider.oin,
        names=_localized(provider.name_nl, provider.name_en, always_dutch=True),
        definitions=tuple(_export_definition(definition, oin) for definition in provider.definitions.all()),
        instances=tuple(_export_instance(instance, provider, oin) for instance in provider.instances.all()),
    )


def _export_definition(definition: ServiceDefinition, oin: str) -> cx.ServiceDefinition:
    return cx.ServiceDefinition(
        uuid=str(definition.uuid),
        names=_localized(definition.name_nl, definition.name_en, always_dutch=True),
        # The schema asks for at least one description: an empty Dutch one when there is none.
        descriptions=_localized(definition.description_nl, definition.description_en, always_dutch=True),
        level_uri=Level(definition.level).uri,
        broker_oin=oin,
        entity_concerned_types=tuple(
            cx.TypeInSet(uri, number)
            for number, group in enumerate(definition.entity_concerned_types, start=1)
            for uri in group
        ),
        branch_restriction_allowed=definition.branch_restriction_allowed,
    )


def _export_instance(instance: ServiceInstance, provider: ServiceProvider, oin: str) -> cx.ServiceInstance:
    return cx.ServiceInstance(
        service_id=service_id_for(provider.oin, instance.index),
        uuid=str(instance.uuid),
        instance_of=str(instance.definition.uuid),
        broker_oin=oin,
        service_urls=_localized(instance.service_url, ""),
        privacy_policy_urls=_localized(instance.privacy_policy_url, ""),
    )
