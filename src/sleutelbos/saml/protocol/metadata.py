"""SAML 2.0 metadata: reading a service provider's (DV's) metadata, building the broker's own (IdP) metadata.

No Django here. :func:`parse_sp_metadata` turns untrusted bytes into an :class:`SpMetadata` or raises
:class:`MetadataError` with a named ``reason``; the Django side turns the reason into a translated message.
:func:`build_idp_metadata` builds the ``EntityDescriptor`` the broker publishes; signing it is up to the caller.

The eHerkenning profile (Afsprakenstelsel, "Interface specificaties DV-HM") fixes what matters here: entity IDs of
the form ``urn:etoegang:HM:<OIN>:entities:<n>``, AuthnRequests that are always signed, responses that go back by
HTTP-Artifact and are resolved over SOAP, and two published certificates at once during a key rollover.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from lxml import etree

from sleutelbos.saml.protocol.keys import (
    KeyLoadError,
    certificate_base64,
    certificate_pem,
    fingerprint,
    load_certificate,
)
from sleutelbos.saml.protocol.xml import DS as DS_NS
from sleutelbos.saml.protocol.xml import MD as MD_NS
from sleutelbos.saml.protocol.xml import XML as XML_NS
from sleutelbos.saml.protocol.xml import XMLError, parse

SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"

BINDING_ARTIFACT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
BINDING_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
BINDING_SOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
#: The bindings the broker answers an AuthnRequest with; other ACS bindings (PAOS, ...) are ignored.
ACS_BINDINGS = (BINDING_ARTIFACT, BINDING_POST)

NAMEID_PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

#: Metadata larger than this is refused before parsing (a DV's metadata is a few kilobytes).
MAX_METADATA_BYTES = 1_000_000
#: SAML core 8.3.6: an entity identifier is a URI of at most 1024 characters.
MAX_ENTITY_ID_LENGTH = 1024
#: Hosts a development service provider may use with plain http: they point back at the person's own machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

_NS = {"md": MD_NS, "ds": DS_NS}
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+\Z")
_OIN = re.compile(r"^[0-9]{20}\Z")


class MetadataError(ValueError):
    """Metadata that cannot be used. ``reason`` names why (stable, for code and translations); ``params`` fill in
    the details (``{"location": ...}``)."""

    def __init__(self, reason: str, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.reason = reason
        self.params = params


@dataclass(frozen=True)
class Certificate:
    """An X.509 certificate from metadata, with what a person checks: fingerprint, subject and expiry."""

    pem: str
    fingerprint: str  # SHA-256, colon-separated upper-case hex
    subject: str
    not_after: dt.datetime

    @classmethod
    def from_pem(cls, pem: str | bytes) -> Certificate:
        """Read a PEM certificate; :class:`~.keys.KeyLoadError` when it is none or has no RSA-2048+ key."""
        return cls.from_x509(load_certificate(pem.encode("ascii") if isinstance(pem, str) else pem))

    @classmethod
    def from_x509(cls, certificate: x509.Certificate) -> Certificate:
        pem = certificate_pem(certificate)
        return cls(
            pem=pem.decode("ascii"),
            fingerprint=fingerprint(pem),
            subject=certificate.subject.rfc4514_string(),
            not_after=certificate.not_valid_after_utc,
        )

    @property
    def base64_der(self) -> str:
        """The certificate as ``ds:X509Certificate`` carries it: base64 of the DER encoding, one line."""
        return certificate_base64(self.pem.encode("ascii"))


@dataclass(frozen=True)
class Endpoint:
    """An endpoint of the metadata: ``index``/``is_default`` only for indexed ones (ACS, ARS)."""

    binding: str
    location: str
    index: int | None = None
    is_default: bool = False


@dataclass(frozen=True)
class AttributeConsumingService:
    """An ``md:AttributeConsumingService``: in eHerkenning its index is the service's index in the catalogue."""

    index: int
    names: dict[str, str]  # ServiceName by xml:lang ("" when the element has none)
    is_default: bool = False


@dataclass(frozen=True)
class SpMetadata:
    """What the broker needs of a service provider, read from its metadata."""

    entity_id: str
    signing_certificates: tuple[Certificate, ...]
    encryption_certificates: tuple[Certificate, ...]
    assertion_consumer_services: tuple[Endpoint, ...]  # ordered by index
    artifact_resolution_services: tuple[Endpoint, ...] = ()
    attribute_consuming_services: tuple[AttributeConsumingService, ...] = ()
    organisation_names: dict[str, str] = field(default_factory=dict)  # OrganizationDisplayName by xml:lang
    valid_until: dt.datetime | None = None

    def name(self, language: str = "nl") -> str:
        """A name for people: the organisation's display name in ``language`` (else Dutch, else any), else the
        first service's name, else the entity ID."""
        for names in (self.organisation_names, *(acs.names for acs in self.attribute_consuming_services)):
            for key in (language, "nl", "en", ""):
                if names.get(key):
                    return names[key]
            if names:
                return next(iter(names.values()))
        return self.entity_id

    def default_acs(self) -> Endpoint:
        """The default AssertionConsumerService (SAML metadata 2.2.3): the first marked ``isDefault="true"``, else
        the first not marked ``false``, else the first."""
        services = self.assertion_consumer_services
        return next((acs for acs in services if acs.is_default), services[0])


# --------------------------------------------------------------------------------------------------------------------
# Reading


def parse_xml(data: bytes, *, max_bytes: int = MAX_METADATA_BYTES) -> etree._Element:
    """Parse untrusted metadata with :func:`.xml.parse` (no DTD, entities, network), naming why it was refused."""
    if len(data) > max_bytes:
        raise MetadataError("too_large", "The metadata is larger than %(limit)d bytes.", limit=max_bytes)
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise MetadataError("doctype", "The metadata contains a DOCTYPE, which is not allowed.")
    try:
        return parse(data, max_bytes=max_bytes)
    except XMLError as error:
        raise MetadataError("not_xml", "The metadata is not acceptable XML: %(error)s", error=error.reason) from None


def parse_sp_metadata(data: bytes, *, now: dt.datetime | None = None) -> SpMetadata:
    """Read a service provider's metadata: one ``md:EntityDescriptor`` with an ``md:SPSSODescriptor`` for SAML 2.0
    (or an ``md:EntitiesDescriptor`` holding exactly one).

    Refused, each with its ``reason``: ``too_large``, ``not_xml``, ``doctype``, ``not_metadata``,
    ``several_entities``, ``entity_id_not_uri``, ``expired`` (``validUntil`` passed), ``no_sp_descriptor``,
    ``bad_certificate``, ``certificate_unfit`` (not RSA, or under 2048 bits), ``missing_signing_certificate``,
    ``bad_index``, ``duplicate_index``, ``missing_acs`` (no ACS with the HTTP-Artifact or HTTP-POST binding),
    ``not_https`` (an ACS or ARS that is not https, other than http on the loopback host for development).
    """
    root = parse_xml(data)
    entity = _entity_descriptor(root)
    entity_id = (entity.get("entityID") or "").strip()
    if len(entity_id) > MAX_ENTITY_ID_LENGTH or not _URI.match(entity_id):
        raise MetadataError("entity_id_not_uri", "The entityID %(entity_id)r is not a URI.", entity_id=entity_id)
    valid_until = _valid_until(entity, now or dt.datetime.now(dt.UTC))

    descriptor = next(
        (
            sp
            for sp in entity.iterfind("md:SPSSODescriptor", _NS)
            if SAML2_PROTOCOL in (sp.get("protocolSupportEnumeration") or "").split()
        ),
        None,
    )
    if descriptor is None:
        raise MetadataError("no_sp_descriptor", "The metadata has no SPSSODescriptor for the SAML 2.0 protocol.")

    signing, encryption = _certificates(descriptor)
    if not signing:
        raise MetadataError("missing_signing_certificate", "The metadata has no signing certificate.")

    acs = _indexed_endpoints(descriptor, "AssertionConsumerService", ACS_BINDINGS)
    if not acs:
        raise MetadataError(
            "missing_acs", "The metadata has no AssertionConsumerService with the HTTP-Artifact or HTTP-POST binding."
        )
    ars = _indexed_endpoints(descriptor, "ArtifactResolutionService", (BINDING_SOAP,))
    return SpMetadata(
        entity_id=entity_id,
        signing_certificates=tuple(signing),
        encryption_certificates=tuple(encryption),
        assertion_consumer_services=tuple(acs),
        artifact_resolution_services=tuple(ars),
        attribute_consuming_services=_attribute_consuming_services(descriptor),
        organisation_names=_localised(entity, "md:Organization/md:OrganizationDisplayName"),
        valid_until=valid_until,
    )


def _entity_descriptor(root: etree._Element) -> etree._Element:
    if root.tag == f"{{{MD_NS}}}EntitiesDescriptor":
        entities = root.findall(".//md:EntityDescriptor", _NS)
        if len(entities) != 1:
            raise MetadataError(
                "several_entities", "The metadata describes %(count)d entities; give exactly one.", count=len(entities)
            )
        return entities[0]
    if root.tag != f"{{{MD_NS}}}EntityDescriptor":
        raise MetadataError("not_metadata", "The document is not SAML 2.0 metadata (an md:EntityDescriptor).")
    return root


def _valid_until(element: etree._Element, now: dt.datetime) -> dt.datetime | None:
    value = element.get("validUntil")
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        raise MetadataError("not_metadata", "validUntil %(value)r is not a date and time.", value=value) from None
    if moment <= now:
        raise MetadataError("expired", "The metadata expired at %(moment)s.", moment=moment.isoformat())
    return moment


def parse_datetime(value: str) -> dt.datetime:
    """An ``xs:dateTime`` as an aware datetime (UTC when no zone is given, as SAML requires UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _certificates(descriptor: etree._Element) -> tuple[list[Certificate], list[Certificate]]:
    """Signing and encryption certificates; a KeyDescriptor without ``use`` serves both (SAML metadata 2.4.1.1)."""
    signing: list[Certificate] = []
    encryption: list[Certificate] = []
    for key_descriptor in descriptor.iterfind("md:KeyDescriptor", _NS):
        use = key_descriptor.get("use")
        for node in key_descriptor.iterfind("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _NS):
            certificate = _certificate(node.text or "")
            if use in (None, "signing") and certificate not in signing:
                signing.append(certificate)
            if use in (None, "encryption") and certificate not in encryption:
                encryption.append(certificate)
    return signing, encryption


def _certificate(text: str) -> Certificate:
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise MetadataError("bad_certificate", "A KeyDescriptor holds no readable X.509 certificate.") from None
    # The profile signs with RSA-SHA256 and transports keys with RSA-OAEP: only RSA keys (of 2048 bits and more)
    # can take part.
    try:
        return Certificate.from_x509(load_certificate(der))
    except KeyLoadError as error:
        raise MetadataError(
            "certificate_unfit",
            "The certificate %(subject)s cannot be used: %(error)s.",
            subject=certificate.subject.rfc4514_string(),
            error=str(error),
        ) from None


def _indexed_endpoints(descriptor: etree._Element, name: str, bindings: Sequence[str]) -> list[Endpoint]:
    """The endpoints called ``name`` with one of ``bindings``, by index; those with other bindings are ignored."""
    endpoints: list[Endpoint] = []
    seen: set[int] = set()
    for node in descriptor.iterfind(f"md:{name}", _NS):
        index = _index(node, name, seen)
        binding = (node.get("Binding") or "").strip()
        if binding not in bindings:
            continue
        location = (node.get("Location") or "").strip()
        check_endpoint_url(location, name)
        endpoints.append(
            Endpoint(binding=binding, location=location, index=index, is_default=_boolean(node.get("isDefault")))
        )
    return sorted(endpoints, key=lambda endpoint: endpoint.index or 0)


def _index(node: etree._Element, name: str, seen: set[int]) -> int:
    """The ``index`` of an indexed element (an unsigned short, unique among its kind)."""
    raw = (node.get("index") or "").strip()
    if not raw.isdigit() or int(raw) > 65535:
        raise MetadataError("bad_index", "%(name)s has index %(index)r.", name=name, index=raw)
    index = int(raw)
    if index in seen:
        raise MetadataError("duplicate_index", "%(name)s index %(index)d occurs twice.", name=name, index=index)
    seen.add(index)
    return index


def check_endpoint_url(location: str, name: str = "endpoint") -> None:
    """An endpoint a browser or the broker is sent to: https, or http on the loopback host (development only: such
    a URL leads back to the person's own machine)."""
    try:
        parts = urlsplit(location)
        scheme, host = parts.scheme, (parts.hostname or "").lower()
    except ValueError:
        scheme, host = "", ""
    if not host or not (scheme == "https" or (scheme == "http" and host in LOOPBACK_HOSTS)):
        raise MetadataError("not_https", "%(name)s %(location)r is not an https URL.", name=name, location=location)


def _boolean(value: str | None) -> bool:
    return (value or "").strip() in {"true", "1"}


def _localised(element: etree._Element, path: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in element.iterfind(path, _NS):
        text = " ".join((node.text or "").split())
        if text:
            names.setdefault(node.get(f"{{{XML_NS}}}lang", ""), text)
    return names


def _attribute_consuming_services(descriptor: etree._Element) -> tuple[AttributeConsumingService, ...]:
    services: list[AttributeConsumingService] = []
    seen: set[int] = set()
    for node in descriptor.iterfind("md:AttributeConsumingService", _NS):
        index = _index(node, "AttributeConsumingService", seen)
        services.append(
            AttributeConsumingService(
                index=index, names=_localised(node, "md:ServiceName"), is_default=_boolean(node.get("isDefault"))
            )
        )
    return tuple(sorted(services, key=lambda s: s.index))


# --------------------------------------------------------------------------------------------------------------------
# The broker's own metadata


def broker_entity_id(oin: str, index: int) -> str:
    """The broker's entity ID in the eHerkenning form ``urn:etoegang:HM:<OIN>:entities:<n>``."""
    if not _OIN.match(oin):
        raise ValueError(f"An OIN is exactly 20 digits, not {oin!r}.")
    if index < 0:
        raise ValueError(f"An entity index is 0 or more, not {index}.")
    return f"urn:etoegang:HM:{oin}:entities:{index}"


def format_datetime(moment: dt.datetime) -> str:
    """An aware datetime as SAML writes it: UTC, seconds, ``Z``."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_idp_metadata(
    *,
    entity_id: str,
    sso_url: str,
    artifact_resolution_url: str,
    certificates: Sequence[str | bytes],
    valid_until: dt.datetime,
    name_id_formats: Sequence[str] = (NAMEID_PERSISTENT, NAMEID_TRANSIENT),
    organisation_name: str = "",
    organisation_url: str = "",
) -> etree._Element:
    """The broker's ``md:EntityDescriptor``, unsigned, with an ``ID`` for the signature to refer to.

    ``certificates`` are PEM signing certificates: the current one, and during a key rollover the next one as well
    (so that service providers trust the new key before it is used). One SingleSignOnService URL takes HTTP-Redirect
    and HTTP-POST; the ArtifactResolutionService takes SOAP at index 0.
    """
    if not 1 <= len(certificates) <= 2:
        raise ValueError("Publish one signing certificate, or two during a key rollover.")
    md = f"{{{MD_NS}}}"
    ds = f"{{{DS_NS}}}"
    entity = etree.Element(
        f"{md}EntityDescriptor",
        nsmap={"md": MD_NS, "ds": DS_NS},
        attrib={"ID": "_" + secrets.token_hex(20), "entityID": entity_id, "validUntil": format_datetime(valid_until)},
    )
    idp = etree.SubElement(
        entity,
        f"{md}IDPSSODescriptor",
        attrib={"WantAuthnRequestsSigned": "true", "protocolSupportEnumeration": SAML2_PROTOCOL},
    )
    for pem in certificates:
        certificate = Certificate.from_pem(pem)
        key_descriptor = etree.SubElement(idp, f"{md}KeyDescriptor", attrib={"use": "signing"})
        x509_data = etree.SubElement(etree.SubElement(key_descriptor, f"{ds}KeyInfo"), f"{ds}X509Data")
        etree.SubElement(x509_data, f"{ds}X509Certificate").text = certificate.base64_der
    etree.SubElement(
        idp,
        f"{md}ArtifactResolutionService",
        attrib={"Binding": BINDING_SOAP, "Location": artifact_resolution_url, "index": "0", "isDefault": "true"},
    )
    for name_id_format in name_id_formats:
        etree.SubElement(idp, f"{md}NameIDFormat").text = name_id_format
    for binding in (BINDING_REDIRECT, BINDING_POST):
        etree.SubElement(idp, f"{md}SingleSignOnService", attrib={"Binding": binding, "Location": sso_url})
    if organisation_name and organisation_url:
        organisation = etree.SubElement(entity, f"{md}Organization")
        lang = {f"{{{XML_NS}}}lang": "nl"}
        etree.SubElement(organisation, f"{md}OrganizationName", attrib=lang).text = organisation_name
        etree.SubElement(organisation, f"{md}OrganizationDisplayName", attrib=lang).text = organisation_name
        etree.SubElement(organisation, f"{md}OrganizationURL", attrib=lang).text = organisation_url
    return entity
