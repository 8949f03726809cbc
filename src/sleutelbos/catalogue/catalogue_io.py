"""The Dienstencatalogus in and out of the database: import a service provider's catalogue file, export the whole one.

The XML itself (schema, parsing, writing, signatures) is ``saml/protocol/catalogue_xml.py``; this module maps it onto
the catalogue's models through ``catalogue/services.py``.

The catalogue keeps everything a file says, so an export of an imported file says the same (lossless round trip).
What is the file's and not the catalogue's is made anew on export: ``IssueInstant``, ``ID``, ``Version`` and the
signature. The export writes its items in a fixed order (providers by OIN, definitions by ServiceUUID, instances by
index; texts Dutch, English, then other languages as given), a Dutch or English language tag as ``nl``/``en``, and
identifier sets numbered from 1. A ``HerkenningsmakelaarId`` that is this broker's OIN is kept as "this broker" and
exported as the OIN the broker has then.

An export is signed with the broker's key. An import checks the signature of a signed file, against certificates
given or else the broker's own and those the file's providers registered with their SAML metadata, and refuses the
file when it does not match.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from lxml import etree

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue import services
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import (
    RequestedAttribute,
    ServiceCertificate,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
    service_id_for,
)
from sleutelbos.saml import idp
from sleutelbos.saml.protocol import catalogue_xml as cx
from sleutelbos.saml.protocol import keys
from sleutelbos.saml.protocol.xml import DS

logger = logging.getLogger(__name__)

ENGLISH = "en"
OIN_SETTING = "SAML_IDP_OIN"


@dataclass
class ImportReport:
    """What an import did: labels of what it created and updated, how many items were already up to date, and
    whether the file's signature was checked."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    signature_verified: bool = False

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


# --- Texts per language -----------------------------------------------------------------------------------------------


def _split(items: Iterable[cx.Localized]) -> tuple[str, str, list[list[str]]]:
    """The Dutch text, the English text, and the others as ``[language, text]`` pairs in file order."""
    dutch = english = None
    others = []
    for item in items:
        language = cx.primary_language(item.lang)
        if language == cx.DUTCH and dutch is None:
            dutch = item.value
        elif language == ENGLISH and english is None:
            english = item.value
        else:
            others.append([item.lang, item.value])
    return dutch or "", english or "", others


def _join(nl: str, en: str, others: Iterable[Sequence[str]] = ()) -> tuple[cx.Localized, ...]:
    """The inverse of :func:`_split`."""
    items = [cx.Localized(cx.DUTCH, nl)] if nl else []
    if en:
        items.append(cx.Localized(ENGLISH, en))
    items += [cx.Localized(lang, value) for lang, value in others]
    return tuple(items)


def _other_languages(**elements: list[list[str]]) -> dict[str, list[list[str]]]:
    """``other_languages`` of a model: per element (``esc_ServiceName`` → ``esc:ServiceName``), only those with any."""
    return {name.replace("_", ":", 1): pairs for name, pairs in elements.items() if pairs}


def _pairs(items: Iterable[cx.Localized]) -> list[list[str]]:
    return [[item.lang, item.value] for item in items]


# --- Import ---------------------------------------------------------------------------------------------------------


def catalogue_import(*, actor: Actor, data: bytes, certificates: Sequence[bytes] | None = None) -> ImportReport:
    """Create or update the providers, definitions and instances of a catalogue file, all or nothing.

    A signed file is read only when its signature holds: checked against ``certificates`` (PEM) when given, else
    against the broker's own certificates and the signing certificates the file's providers registered. Raises
    ``CatalogueError`` naming the element and line of every problem; then nothing has changed. What is in the
    database but not in the file is left as it is (a file may hold one provider only).
    """
    root = cx.parse_xml(data)
    report = ImportReport()
    if root.find(f"{{{DS}}}Signature") is not None:
        trusted = list(certificates) if certificates is not None else _trusted_certificates(root)
        try:
            root = cx.verify_signature(root, trusted)
        except cx.CatalogueError as error:
            logger.warning("A catalogue file was refused, its signature does not hold: %s", error.reason)
            raise
        report.signature_verified = True
    problems = cx.validate(root)
    if problems:
        raise cx.CatalogueError(problems)
    catalogue = cx.read_catalogue(root)
    own_oin = idp.broker_oin()
    with transaction.atomic():
        for provider in catalogue.providers:
            _import_provider(actor, provider, report, own_oin)
    return report


def _trusted_certificates(root: etree._Element) -> list[bytes]:
    """The broker's own signing certificates, and the signing certificates of the SAML entities registered for the
    providers the file names."""
    from sleutelbos.saml.models import CertificateUse, SpCertificate

    oins = [oin.strip() for oin in root.xpath("//*[local-name()='ServiceProviderID']/text()")]
    registered = SpCertificate.objects.filter(use=CertificateUse.SIGNING, entity__provider__oin__in=oins)
    return [*idp.idp_config().certificates, *(certificate.pem.encode("ascii") for certificate in registered)]


def _refused(element: str, line: int | None, error: ValidationError | ValueError) -> cx.CatalogueError:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return cx.CatalogueError([cx.Problem(element, line, "%(detail)s", {"detail": " ".join(messages)})])


def _broker(oin: str | None, own_oin: str) -> str:
    """A HerkenningsmakelaarId as stored: empty for this broker."""
    return "" if oin is None or oin == own_oin else oin


def _save(
    actor: Actor,
    existing: Any,
    values: dict[str, Any],
    create: Any,
    update: Any,
    keyword: str,
    report: ImportReport,
    label: str,
) -> Any:
    """Create the item, or update it where the file differs; count what happened."""
    if existing is None:
        item = create(actor=actor, **values)
        report.created.append(label)
        return item
    if any(getattr(existing, name) != value for name, value in values.items()):
        update(actor=actor, **{keyword: existing}, **values)
        report.updated.append(label)
    else:
        report.unchanged += 1
    return existing


def _also_updated(report: ImportReport, label: str) -> None:
    """Count an item whose own fields were unchanged but whose attributes or certificates changed as updated."""
    if label not in report.updated:
        report.unchanged -= 1
        report.updated.append(label)


def _import_provider(actor: Actor, data: cx.ServiceProvider, report: ImportReport, own_oin: str) -> None:
    name_nl, name_en, other_names = _split(data.names)
    values = {
        "name_nl": name_nl,
        "name_en": name_en,
        "is_public": data.is_public,
        "other_languages": _other_languages(esc_OrganizationDisplayName=other_names),
    }
    existing = ServiceProvider.objects.filter(oin=data.oin).first()
    label = _("service provider %(oin)s") % {"oin": data.oin}
    try:
        if existing is None:
            values["oin"] = data.oin
        provider = _save(
            actor,
            existing,
            values,
            services.service_provider_create,
            services.service_provider_update,
            "provider",
            report,
            label,
        )
    except ValidationError as error:
        raise _refused("esc:ServiceProvider", data.lines.get(""), error) from None
    definitions = {}
    for definition in data.definitions:
        definitions[definition.uuid.lower()] = _import_definition(actor, provider, definition, report, own_oin)
    for instance in data.instances:
        _import_instance(actor, provider, definitions, instance, report, own_oin)


def _import_definition(
    actor: Actor, provider: ServiceProvider, data: cx.ServiceDefinition, report: ImportReport, own_oin: str
) -> ServiceDefinition:
    try:
        level = Level.parse(data.level_uri)
    except ValueError as error:
        raise _refused("saml:AuthnContextClassRef", data.lines.get("saml:AuthnContextClassRef"), error) from None
    name_nl, name_en, other_names = _split(data.names)
    description_nl, description_en, other_descriptions = _split(data.descriptions)
    values = {
        "name_nl": name_nl,
        "name_en": name_en,
        "description_nl": description_nl,
        "description_en": description_en,
        "level": level,
        "branch_restriction_allowed": data.branch_restriction_allowed,
        "entity_concerned_types": data.entity_concerned_sets,
        "is_public": data.is_public,
        "description_urls": _pairs(data.description_urls),
        "names_broker": data.broker_oin is not None,
        "broker_oin": _broker(data.broker_oin, own_oin),
        "acting_subject_types": data.acting_subject_sets,
        "other_languages": _other_languages(esc_ServiceName=other_names, esc_ServiceDescription=other_descriptions),
    }
    uuid = uuid_module.UUID(data.uuid)
    existing = provider.definitions.filter(uuid=uuid).first()
    label = _("service definition %(uuid)s of %(oin)s") % {"uuid": uuid, "oin": provider.oin}
    try:
        if existing is None:
            values.update(provider=provider, uuid=uuid)
        definition = _save(
            actor,
            existing,
            values,
            services.service_definition_create,
            services.service_definition_update,
            "definition",
            report,
            label,
        )
        attributes = [_attribute_values(attribute) for attribute in data.requested_attributes]
        before = [attribute.pk for attribute in definition.requested_attributes.all()]
        after = services.service_definition_attributes_replace(
            actor=actor, definition=definition, attributes=attributes
        )
        if existing is not None and [attribute.pk for attribute in after] != before:
            _also_updated(report, label)
    except ValidationError as error:
        line = data.lines.get("esc:RequestedAttribute") if "purpose_nl" in getattr(error, "error_dict", {}) else None
        raise _refused("esc:ServiceDefinition", line or data.lines.get(""), error) from None
    return definition


def _attribute_values(data: cx.RequestedAttribute) -> dict[str, Any]:
    purpose_nl, purpose_en, other_purposes = _split(data.purpose_statements)
    return {
        "name": data.name,
        "name_format": data.name_format or "",
        "friendly_name": data.friendly_name or "",
        "is_required": data.is_required,
        "values": list(data.values),
        "purpose_nl": purpose_nl,
        "purpose_en": purpose_en,
        "other_languages": _other_languages(esc_PurposeStatement=other_purposes),
    }


def _import_instance(
    actor: Actor,
    provider: ServiceProvider,
    definitions: dict[str, ServiceDefinition],
    data: cx.ServiceInstance,
    report: ImportReport,
    own_oin: str,
) -> None:
    uuid = uuid_module.UUID(data.uuid)
    service_url, service_url_en, other_service_urls = _split(data.service_urls)
    privacy_url, privacy_url_en, other_privacy_urls = _split(data.privacy_policy_urls)
    values = {
        "definition": definitions[data.instance_of.lower()],
        "index": data.index,
        "uuid": uuid,
        "service_url": service_url,
        "service_url_en": service_url_en,
        "privacy_policy_url": privacy_url,
        "privacy_policy_url_en": privacy_url_en,
        "is_public": data.is_public,
        "broker_oin": _broker(data.broker_oin, own_oin),
        "additional_broker_oins": list(data.additional_broker_oins),
        "sso_support": data.sso_support,
        "classifiers": list(data.classifiers),
        "other_languages": _other_languages(esc_ServiceURL=other_service_urls, esc_PrivacyPolicyURL=other_privacy_urls),
    }
    existing = ServiceInstance.objects.select_related("provider").filter(uuid=uuid).first()
    if existing is not None and existing.provider_id != provider.pk:
        raise cx.CatalogueError(
            [
                cx.Problem(
                    "esc:ServiceUUID",
                    data.lines.get("esc:ServiceUUID"),
                    _("The ServiceUUID %(uuid)s is already the instance %(service_id)s of another service provider."),
                    {"uuid": data.uuid, "service_id": existing.service_id},
                )
            ]
        )
    if existing is None:
        existing = provider.instances.filter(index=data.index).first()
    try:
        instance = _save(
            actor,
            existing,
            values,
            services.service_instance_create,
            services.service_instance_update,
            "instance",
            report,
            data.service_id,
        )
    except ValidationError as error:
        raise _refused("esc:ServiceInstance", data.lines.get(""), error) from None
    if _import_certificates(actor, instance, data.certificates) and existing is not None:
        _also_updated(report, data.service_id)


def _import_certificates(
    actor: Actor, instance: ServiceInstance, certificates: tuple[cx.ServiceCertificate, ...]
) -> bool:
    """Make the file's certificates the instance's encryption certificates; whether anything changed."""
    wanted = []
    for certificate in certificates:
        try:
            pems = [keys.certificate_from_base64(text).decode("ascii") for text in certificate.certificates]
        except keys.KeyLoadError as error:
            raise cx.CatalogueError(
                [
                    cx.Problem(
                        "md:KeyDescriptor",
                        certificate.line,
                        _("This is not a usable certificate (an RSA key of at least 2048 bits): %(error)s."),
                        {"error": str(error)},
                    )
                ]
            ) from None
        wanted.append((pems[0], pems[1:], certificate.key_name or "", certificate.line))
    current = list(instance.certificates.order_by("pk"))
    if [(c.pem, c.chain_pem, c.key_name) for c in current] == [(p, "".join(c), k) for p, c, k, _line in wanted]:
        return False
    for row in current:
        services.service_certificate_remove(actor=actor, certificate=row)
    for pem, chain, key_name, line in wanted:
        try:
            services.service_certificate_create(
                actor=actor, instance=instance, certificate=pem, key_name=key_name, chain=chain
            )
        except ValidationError as error:
            raise _refused("esc:ServiceCertificate", line, error) from None
    return True


def _pem_blocks(bundle: str) -> list[bytes]:
    """The certificates of a PEM bundle, each as PEM."""
    return [keys.certificate_pem(certificate) for certificate in keys.load_certificates(bundle.encode("ascii"))]


# --- Export ---------------------------------------------------------------------------------------------------------


def catalogue_from_database(*, oin: str | None = None) -> cx.Catalogue:
    """The whole catalogue in the database, providers by OIN, definitions by ServiceUUID, instances by index."""
    oin = oin or broker_oin()
    providers = ServiceProvider.objects.order_by("oin").prefetch_related(
        Prefetch(
            "definitions",
            queryset=ServiceDefinition.objects.order_by("uuid").prefetch_related(
                Prefetch("requested_attributes", queryset=RequestedAttribute.objects.order_by("position"))
            ),
        ),
        Prefetch(
            "instances",
            queryset=ServiceInstance.objects.select_related("definition")
            .order_by("index")
            .prefetch_related(Prefetch("certificates", queryset=ServiceCertificate.objects.order_by("pk"))),
        ),
    )
    return cx.Catalogue(
        providers=tuple(_export_provider(provider, oin) for provider in providers),
        issue_instant=cx.issue_instant_now(),
        version=cx.VERSION,
        id=cx.new_catalogue_id(),
    )


def catalogue_export(*, oin: str | None = None, sign: bool = True) -> bytes:
    """The whole catalogue as a catalogue file that validates against the schema, signed with the broker's key
    (enveloped, over the root's ``ID``) unless ``sign`` is false.

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
    if not sign:
        return cx.serialize(element)
    config = idp.idp_config()
    return cx.signed_bytes(element, config.key_pem, config.cert_pem)


def _names(nl: str, en: str, others: Iterable[Sequence[str]]) -> tuple[cx.Localized, ...]:
    """Texts the schema requires at least one of: an empty Dutch one when there is none at all."""
    return _join(nl, en, others) or (cx.Localized(cx.DUTCH, ""),)


def _export_provider(provider: ServiceProvider, oin: str) -> cx.ServiceProvider:
    others = provider.other_languages
    return cx.ServiceProvider(
        oin=provider.oin,
        names=_names(provider.name_nl, provider.name_en, others.get("esc:OrganizationDisplayName", ())),
        definitions=tuple(_export_definition(definition, oin) for definition in provider.definitions.all()),
        instances=tuple(_export_instance(instance, provider, oin) for instance in provider.instances.all()),
        is_public=provider.is_public,
    )


def _type_sets(groups: list[list[str]]) -> tuple[cx.TypeInSet, ...]:
    return tuple(cx.TypeInSet(uri, number) for number, group in enumerate(groups, start=1) for uri in group)


def _export_definition(definition: ServiceDefinition, oin: str) -> cx.ServiceDefinition:
    others = definition.other_languages
    return cx.ServiceDefinition(
        uuid=str(definition.uuid),
        names=_names(definition.name_nl, definition.name_en, others.get("esc:ServiceName", ())),
        descriptions=_names(
            definition.description_nl, definition.description_en, others.get("esc:ServiceDescription", ())
        ),
        description_urls=tuple(cx.Localized(lang, url) for lang, url in definition.description_urls),
        level_uri=Level(definition.level).uri,
        broker_oin=(definition.broker_oin or oin) if definition.names_broker else None,
        entity_concerned_types=_type_sets(definition.entity_concerned_types),
        acting_subject_types=_type_sets(definition.acting_subject_types),
        branch_restriction_allowed=definition.branch_restriction_allowed,
        requested_attributes=tuple(_export_attribute(attribute) for attribute in definition.requested_attributes.all()),
        is_public=definition.is_public,
    )


def _export_attribute(attribute: RequestedAttribute) -> cx.RequestedAttribute:
    return cx.RequestedAttribute(
        name=attribute.name,
        purpose_statements=_join(
            attribute.purpose_nl, attribute.purpose_en, attribute.other_languages.get("esc:PurposeStatement", ())
        ),
        is_required=attribute.is_required,
        name_format=attribute.name_format or None,
        friendly_name=attribute.friendly_name or None,
        values=tuple(attribute.values),
    )


def _export_instance(instance: ServiceInstance, provider: ServiceProvider, oin: str) -> cx.ServiceInstance:
    others = instance.other_languages
    return cx.ServiceInstance(
        service_id=service_id_for(provider.oin, instance.index),
        uuid=str(instance.uuid),
        instance_of=str(instance.definition.uuid),
        broker_oin=instance.broker_oin or oin,
        service_urls=_join(instance.service_url, instance.service_url_en, others.get("esc:ServiceURL", ())),
        privacy_policy_urls=_join(
            instance.privacy_policy_url, instance.privacy_policy_url_en, others.get("esc:PrivacyPolicyURL", ())
        ),
        additional_broker_oins=tuple(instance.additional_broker_oins),
        sso_support=instance.sso_support,
        certificates=tuple(_export_certificate(certificate) for certificate in instance.certificates.all()),
        classifiers=tuple(instance.classifiers),
        is_public=instance.is_public,
    )


def _export_certificate(certificate: ServiceCertificate) -> cx.ServiceCertificate:
    pems = [certificate.pem.encode("ascii")]
    if certificate.chain_pem:
        pems += _pem_blocks(certificate.chain_pem)
    return cx.ServiceCertificate(
        certificates=tuple(keys.certificate_base64(pem) for pem in pems),
        use=cx.ENCRYPTION,
        key_name=certificate.key_name or None,
    )
