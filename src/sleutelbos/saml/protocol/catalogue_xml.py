"""The Dienstencatalogus (service catalogue) as XML: read, validate and write ``urn:etoegang:1.13:service-catalog``.

Plain functions on bytes, lxml trees and dataclasses; no Django. ``catalogue/catalogue_io.py`` adapts them to the
database.

- :func:`parse_catalogue` reads a service provider's catalogue file: hostile-input-safe parsing (no DTD, no entities,
  no network, bounded size), validation against ``xsd/service-catalog-1.13.xsd`` (written from the rulebook's element
  list; element order is significant), then the rules that span elements. Every problem names the element and its
  line. The result is a :class:`Catalogue` of frozen dataclasses holding everything the schema accepts, so
  ``parse_catalogue(serialize(build_catalogue(c))) == c`` for every valid catalogue.
- :func:`build_catalogue` writes a :class:`Catalogue` as an lxml element (unsigned); :func:`serialize` turns it into
  bytes. A published catalogue is signed by the broker (:func:`signed_bytes`): the signature (enveloped, over the
  root's ``ID``) goes in as the root's first child, before ``esc:ServiceProvider``, which the schema allows.
- :func:`verify_signature` checks the signature of a catalogue file that carries one.
"""

from __future__ import annotations

import re
import threading
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from sleutelbos.saml.protocol import signatures, xml
from sleutelbos.saml.protocol.xml import DS, ESC, MD, SAML, XML

NSMAP = {"esc": ESC, "saml": SAML, "md": MD, "ds": DS}
_PREFIXES = {namespace: prefix for prefix, namespace in NSMAP.items()} | {XML: "xml"}

SCHEMA_PATH = Path(__file__).parent / "xsd" / "service-catalog-1.13.xsd"
MAX_BYTES = 10 * 1024 * 1024
"""A catalogue file larger than this is refused before parsing (the national catalogue is a few megabytes)."""

VERSION = "urn:etoegang:1.13"
"""The ``esc:Version`` Sleutelbos writes: the rulebook version of the schema."""

LEVEL_URIS = frozenset(
    f"urn:etoegang:core:assurance-class:{suffix}" for suffix in ("loa1", "loa2", "loa2plus", "loa3", "loa4")
)
"""The levels of assurance the rulebook defines. EH1 (loa1) is still a rulebook URI; whether a level is offered is
the catalogue's (Django) concern, not the XML's."""

BRANCH_RESTRICTION = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
DUTCH = "nl"
ENCRYPTION = "encryption"
_SERVICE_ID = re.compile(r"urn:etoegang:DV:(?P<oin>[0-9]{20}):services:(?P<index>[0-9]+)\Z")


def _(message: str) -> str:
    """Mark a message for translation; the Django adapter translates it when it is shown (this module has no Django)."""
    return message


q = xml.qname


def _prefixed(name: str) -> str:
    """``{urn:etoegang:1.13:service-catalog}ServiceName`` → ``esc:ServiceName``."""
    return _CLARK.sub(lambda m: f"{_PREFIXES[m[1]]}:{m[2]}" if m[1] in _PREFIXES else m[0], name)


_CLARK = re.compile(r"\{([^}]*)\}([A-Za-z_][\w.\-]*)")


# --- Problems -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue: which element, on which line, and what (an English msgid with parameters)."""

    element: str
    line: int | None
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self, translate: Callable[[str], str] = _) -> str:
        """The problem as one sentence, its templates passed through ``translate`` (Django's gettext in the adapter)."""
        text = translate(self.message) % dict(self.params)
        if not self.element:
            if self.line is None:
                return text
            return translate("Line %(line)d: %(problem)s") % {"line": self.line, "problem": text}
        if self.line is None:
            return translate("%(element)s: %(problem)s") % {"element": self.element, "problem": text}
        return translate("%(element)s, line %(line)d: %(problem)s") % {
            "element": self.element,
            "line": self.line,
            "problem": text,
        }

    def __str__(self) -> str:
        return self.describe()


class CatalogueError(ValueError):
    """A catalogue that cannot be read, or is not valid; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        self.reason = ""
        """A technical reason for the log (a refused signature), never shown."""
        super().__init__("; ".join(str(problem) for problem in self.problems))


# --- The catalogue as data ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Localized:
    """A text or URL in one language (``xml:lang``)."""

    lang: str
    value: str
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TypeInSet:
    """An identifier type URI (EntityConcernedTypesAllowed, ActingSubjectTypesAllowed) and the set it belongs to."""

    uri: str
    set_number: int | None = None


@dataclass(frozen=True)
class RequestedAttribute:
    """An attribute a service asks for, with why (``esc:PurposeStatement`` per language)."""

    name: str
    purpose_statements: tuple[Localized, ...]
    is_required: bool | None = None
    name_format: str | None = None
    friendly_name: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceCertificate:
    """A service provider's encryption certificate (``md:KeyDescriptor``); certificates are base64 DER."""

    certificates: tuple[str, ...]
    use: str | None = ENCRYPTION
    key_name: str | None = None
    line: int | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ServiceDefinition:
    """A service as defined; mandates are registered against its ServiceUUID."""

    uuid: str
    names: tuple[Localized, ...]
    descriptions: tuple[Localized, ...]
    level_uri: str
    entity_concerned_types: tuple[TypeInSet, ...]
    is_public: bool = True
    description_urls: tuple[Localized, ...] = ()
    broker_oin: str | None = None
    acting_subject_types: tuple[TypeInSet, ...] = ()
    branch_restriction_allowed: bool = False
    requested_attributes: tuple[RequestedAttribute, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)
    """The line of this element (key ``""``) and of the first of each child element (key: prefixed name)."""

    @property
    def entity_concerned_sets(self) -> list[list[str]]:
        """The identifier sets: numbered sets in the order of their numbers, then each unnumbered type on its own."""
        return _sets(self.entity_concerned_types)

    @property
    def acting_subject_sets(self) -> list[list[str]]:
        """The acting-subject identifier sets, grouped like :attr:`entity_concerned_sets`."""
        return _sets(self.acting_subject_types)


@dataclass(frozen=True)
class ServiceInstance:
    """A service as offered (loket), reachable by its ServiceID ``urn:etoegang:DV:<OIN>:services:<index>``."""

    service_id: str
    uuid: str
    instance_of: str
    broker_oin: str
    is_public: bool = True
    service_urls: tuple[Localized, ...] = ()
    privacy_policy_urls: tuple[Localized, ...] = ()
    additional_broker_oins: tuple[str, ...] = ()
    sso_support: bool | None = None
    certificates: tuple[ServiceCertificate, ...] = ()
    classifiers: tuple[str, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def index(self) -> int:
        """The index in the ServiceID (0 is the provider's portal)."""
        match = _SERVICE_ID.match(self.service_id)
        if match is None:
            raise ValueError(self.service_id)
        return int(match["index"])


@dataclass(frozen=True)
class ServiceProvider:
    """A service provider (dienstverlener) by its OIN, with its definitions and instances."""

    oin: str
    names: tuple[Localized, ...]
    definitions: tuple[ServiceDefinition, ...] = ()
    instances: tuple[ServiceInstance, ...] = ()
    is_public: bool = True
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Catalogue:
    """A whole catalogue file."""

    providers: tuple[ServiceProvider, ...]
    issue_instant: str
    version: str = VERSION
    id: str | None = None
    signed: bool = field(default=False, compare=False)
    """Whether the file carried a ``ds:Signature`` (checked elsewhere; a built catalogue has none)."""


def text_in(items: Iterable[Localized], lang: str) -> str | None:
    """The value in a language (``nl`` also matches ``nl-NL``), or None."""
    for item in items:
        if primary_language(item.lang) == lang:
            return item.value
    return None


def new_catalogue_id() -> str:
    """A fresh ``ID`` for a catalogue (an XML NCName, as a signature reference needs)."""
    return f"_{uuid_module.uuid4().hex}"


def issue_instant_now() -> str:
    """The current time as ``esc:IssueInstant`` (UTC, whole seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def primary_language(lang: str) -> str:
    """The primary language subtag, lower case: ``nl-NL`` → ``nl``."""
    return lang.split("-", 1)[0].lower()


def _sets(types: Iterable[TypeInSet]) -> list[list[str]]:
    numbered: dict[int, list[str]] = {}
    unnumbered: list[list[str]] = []
    for item in types:
        if item.set_number is None:
            unnumbered.append([item.uri])
        else:
            numbered.setdefault(item.set_number, []).append(item.uri)
    return [numbered[number] for number in sorted(numbered)] + unnumbered


# --- Reading ----------------------------------------------------------------------------------------------------------


def parse_catalogue(data: bytes) -> Catalogue:
    """Read and validate a catalogue file; raise :class:`CatalogueError` naming every problem's element and line."""
    root = parse_xml(data)
    problems = validate(root)
    if problems:
        raise CatalogueError(problems)
    return read_catalogue(root)


def parse_xml(data: bytes) -> etree._Element:
    """Parse an untrusted catalogue file (``protocol.xml.parse``: no DTD, entities, network or processing
    instructions) up to :data:`MAX_BYTES`; a refusal becomes a :class:`CatalogueError`."""
    try:
        return xml.parse(data, max_bytes=MAX_BYTES)
    except xml.XMLError as error:
        cause = error.__cause__
        line = cause.lineno if isinstance(cause, etree.XMLSyntaxError) else None
        raise CatalogueError(
            [Problem("", line, _("The file was refused: %(reason)s."), {"reason": error.reason})]
        ) from None


def read_catalogue(root: etree._Element) -> Catalogue:
    """Turn a schema-valid ``esc:ServiceCatalogue`` element into a :class:`Catalogue` (no validation here)."""
    return Catalogue(
        providers=tuple(_read_provider(element) for element in root.iterchildren(q(ESC, "ServiceProvider"))),
        issue_instant=root.get(q(ESC, "IssueInstant"), ""),
        version=root.get(q(ESC, "Version"), ""),
        id=root.get("ID"),
        signed=root.find(q(DS, "Signature")) is not None,
    )


def _children(element: etree._Element, namespace: str, name: str) -> list[etree._Element]:
    return list(element.iterchildren(q(namespace, name)))


def _text(element: etree._Element | None) -> str:
    # The text around any comments inside the element, as the schema sees it.
    if element is None:
        return ""
    return (element.text or "") + "".join(child.tail or "" for child in element)


def _token(element: etree._Element | None) -> str:
    return _text(element).strip()


def _boolean(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip() in ("true", "1")


def _localized(element: etree._Element, namespace: str, name: str, *, token: bool = False) -> tuple[Localized, ...]:
    return tuple(
        Localized(
            lang=child.get(q(XML, "lang"), ""),
            value=_token(child) if token else _text(child),
            line=child.sourceline,
        )
        for child in _children(element, namespace, name)
    )


def _types(element: etree._Element, name: str) -> tuple[TypeInSet, ...]:
    result = []
    for child in _children(element, ESC, name):
        number = child.get("setNumber")
        result.append(TypeInSet(uri=_token(child), set_number=None if number is None else int(number)))
    return tuple(result)


def _lines(element: etree._Element) -> dict[str, int]:
    lines = {"": element.sourceline}
    for child in element.iterchildren(tag=etree.Element):
        lines.setdefault(_prefixed(child.tag), child.sourceline)
    return lines


def _read_provider(element: etree._Element) -> ServiceProvider:
    return ServiceProvider(
        oin=_token(element.find(q(ESC, "ServiceProviderID"))),
        names=_localized(element, ESC, "OrganizationDisplayName"),
        definitions=tuple(_read_definition(child) for child in _children(element, ESC, "ServiceDefinition")),
        instances=tuple(_read_instance(child) for child in _children(element, ESC, "ServiceInstance")),
        is_public=bool(_boolean(element.get(q(ESC, "IsPublic")))),
        lines=_lines(element),
    )


def _read_definition(element: etree._Element) -> ServiceDefinition:
    broker = element.find(q(ESC, "HerkenningsmakelaarId"))
    return ServiceDefinition(
        uuid=_token(element.find(q(ESC, "ServiceUUID"))),
        names=_localized(element, ESC, "ServiceName"),
        descriptions=_localized(element, ESC, "ServiceDescription"),
        description_urls=_localized(element, ESC, "ServiceDescriptionURL", token=True),
        level_uri=_token(element.find(q(SAML, "AuthnContextClassRef"))),
        broker_oin=None if broker is None else _token(broker),
        entity_concerned_types=_types(element, "EntityConcernedTypesAllowed"),
        acting_subject_types=_types(element, "ActingSubjectTypesAllowed"),
        branch_restriction_allowed=element.find(q(ESC, "ServiceRestrictionsAllowed")) is not None,
        requested_attributes=tuple(
            RequestedAttribute(
                name=child.get("Name", ""),
                purpose_statements=_localized(child, ESC, "PurposeStatement"),
                is_required=_boolean(child.get("isRequired")),
                name_format=child.get("NameFormat"),
                friendly_name=child.get("FriendlyName"),
                values=tuple(_text(value) for value in _children(child, SAML, "AttributeValue")),
            )
            for child in _children(element, ESC, "RequestedAttribute")
        ),
        is_public=bool(_boolean(element.get(q(ESC, "IsPublic")))),
        lines=_lines(element),
    )


def _read_instance(element: etree._Element) -> ServiceInstance:
    classifiers = element.find(q(ESC, "Classifiers"))
    sso = element.find(q(ESC, "SSOSupport"))
    return ServiceInstance(
        service_id=_token(element.find(q(ESC, "ServiceID"))),
        uuid=_token(element.find(q(ESC, "ServiceUUID"))),
        instance_of=_token(element.find(q(ESC, "InstanceOfService"))),
        service_urls=_localized(element, ESC, "ServiceURL", token=True),
        privacy_policy_urls=_localized(element, ESC, "PrivacyPolicyURL", token=True),
        broker_oin=_token(element.find(q(ESC, "HerkenningsmakelaarId"))),
        additional_broker_oins=tuple(
            _token(child) for child in _children(element, ESC, "AdditionalHerkenningsmakelaarId")
        ),
        sso_support=None if sso is None else _boolean(_text(sso)),
        certificates=tuple(_read_certificate(child) for child in _children(element, ESC, "ServiceCertificate")),
        classifiers=()
        if classifiers is None
        else tuple(_text(child) for child in _children(classifiers, ESC, "Classifier")),
        is_public=bool(_boolean(element.get(q(ESC, "IsPublic")))),
        lines=_lines(element),
    )


def _read_certificate(element: etree._Element) -> ServiceCertificate:
    descriptor = element.find(q(MD, "KeyDescriptor"))
    key_info = descriptor.find(q(DS, "KeyInfo"))
    key_name = key_info.find(q(DS, "KeyName"))
    return ServiceCertificate(
        certificates=tuple(
            "".join(_text(child).split())
            for child in key_info.iterfind(f"{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}")
        ),
        use=descriptor.get("use"),
        key_name=None if key_name is None else _text(key_name),
        line=descriptor.sourceline,
    )


# --- Validation -----------------------------------------------------------------------------------------------------


@cache
def _schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH), parser))


# An XMLSchema object keeps its error log on itself: one validation at a time.
_schema_lock = threading.Lock()
_SCHEMA_MESSAGE = re.compile(
    r"Element '(?P<element>[^']+)'(?:, (?P<attribute>attribute '[^']+'))?: (?P<detail>.*)", re.S
)


def validate(root: etree._Element) -> list[Problem]:
    """Every problem of a catalogue element: first the schema; when that passes, the rules that span elements."""
    problems = schema_problems(root)
    if problems:
        return problems
    return check_catalogue(read_catalogue(root))


def schema_problems(root: etree._Element) -> list[Problem]:
    """The schema's complaints about a catalogue element, each naming the element and line."""
    with _schema_lock:
        schema = _schema()
        if schema.validate(root):
            return []
        entries = list(schema.error_log)
    problems = []
    for entry in entries:
        message = _prefixed(entry.message.strip())
        match = _SCHEMA_MESSAGE.match(message)
        if match is None:
            element, detail = _prefixed(root.tag), message
        else:
            element = match["element"]
            detail = f"{match['attribute']}: {match['detail']}" if match["attribute"] else match["detail"]
        problems.append(Problem(element, entry.line or None, _("%(detail)s"), {"detail": detail}))
    return problems


def check_catalogue(catalogue: Catalogue) -> list[Problem]:
    """The rules the schema cannot express: identifiers unique and consistent, Dutch names, known levels."""
    problems: list[Problem] = []
    seen_oins: set[str] = set()
    instance_uuids: set[str] = set()
    definition_uuids = {definition.uuid.lower() for p in catalogue.providers for definition in p.definitions}
    for provider in catalogue.providers:
        if provider.oin in seen_oins:
            problems.append(
                Problem(
                    "esc:ServiceProviderID",
                    provider.lines.get("esc:ServiceProviderID"),
                    _("The service provider %(oin)s appears more than once."),
                    {"oin": provider.oin},
                )
            )
        seen_oins.add(provider.oin)
        problems += _language_problems(provider.names, "esc:OrganizationDisplayName", provider.lines, dutch=True)
        own_uuids: set[str] = set()
        for definition in provider.definitions:
            problems += _definition_problems(definition, own_uuids)
            own_uuids.add(definition.uuid.lower())
        indexes: set[int] = set()
        for instance in provider.instances:
            problems += _instance_problems(instance, provider, own_uuids, definition_uuids, instance_uuids, indexes)
    return problems


def _definition_problems(definition: ServiceDefinition, seen_uuids: set[str]) -> list[Problem]:
    problems = []
    if definition.uuid.lower() in seen_uuids:
        problems.append(
            Problem(
                "esc:ServiceUUID",
                definition.lines.get("esc:ServiceUUID"),
                _("The ServiceUUID %(uuid)s is defined twice by this service provider."),
                {"uuid": definition.uuid},
            )
        )
    if definition.level_uri not in LEVEL_URIS:
        problems.append(
            Problem(
                "saml:AuthnContextClassRef",
                definition.lines.get("saml:AuthnContextClassRef"),
                _("“%(uri)s” is not a level of assurance of the rulebook."),
                {"uri": definition.level_uri},
            )
        )
    problems += _language_problems(definition.names, "esc:ServiceName", definition.lines, dutch=True)
    problems += _language_problems(definition.descriptions, "esc:ServiceDescription", definition.lines)
    problems += _language_problems(definition.description_urls, "esc:ServiceDescriptionURL", definition.lines)
    for attribute in definition.requested_attributes:
        problems += _language_problems(attribute.purpose_statements, "esc:PurposeStatement", definition.lines)
    return problems


def _instance_problems(
    instance: ServiceInstance,
    provider: ServiceProvider,
    own_definitions: set[str],
    all_definitions: set[str],
    seen_uuids: set[str],
    seen_indexes: set[int],
) -> list[Problem]:
    problems = []
    lines = instance.lines
    match = _SERVICE_ID.match(instance.service_id)
    if match is not None and match["oin"] != provider.oin:
        problems.append(
            Problem(
                "esc:ServiceID",
                lines.get("esc:ServiceID"),
                _("The ServiceID %(service_id)s does not carry its service provider's OIN %(oin)s."),
                {"service_id": instance.service_id, "oin": provider.oin},
            )
        )
    if match is not None:
        index = int(match["index"])
        if index == 0:
            problems.append(
                Problem(
                    "esc:ServiceID",
                    lines.get("esc:ServiceID"),
                    _("Index 0 is the service provider's portal, not a service instance."),
                )
            )
        elif index in seen_indexes:
            problems.append(
                Problem(
                    "esc:ServiceID",
                    lines.get("esc:ServiceID"),
                    _("The ServiceID %(service_id)s appears more than once."),
                    {"service_id": instance.service_id},
                )
            )
        seen_indexes.add(index)
    uuid = instance.uuid.lower()
    if uuid in seen_uuids or uuid in all_definitions:
        problems.append(
            Problem(
                "esc:ServiceUUID",
                lines.get("esc:ServiceUUID"),
                _("A service instance's ServiceUUID %(uuid)s must be its own, used nowhere else in the catalogue."),
                {"uuid": instance.uuid},
            )
        )
    seen_uuids.add(uuid)
    if instance.instance_of.lower() not in own_definitions:
        problems.append(
            Problem(
                "esc:InstanceOfService",
                lines.get("esc:InstanceOfService"),
                _("%(uuid)s is not the ServiceUUID of a service definition of this service provider."),
                {"uuid": instance.instance_of},
            )
        )
    problems += _language_problems(instance.service_urls, "esc:ServiceURL", lines)
    problems += _language_problems(instance.privacy_policy_urls, "esc:PrivacyPolicyURL", lines)
    for certificate in instance.certificates:
        if certificate.use != ENCRYPTION:
            problems.append(
                Problem(
                    "md:KeyDescriptor",
                    certificate.line,
                    _('A ServiceCertificate holds the encryption certificate: use="encryption".'),
                )
            )
    return problems


def _language_problems(
    items: tuple[Localized, ...], element: str, lines: Mapping[str, int], *, dutch: bool = False
) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for item in items:
        lang = item.lang.lower()
        if lang in seen:
            problems.append(
                Problem(element, item.line, _("The language “%(lang)s” is given more than once."), {"lang": item.lang})
            )
        seen.add(lang)
    if dutch and items and text_in(items, DUTCH) is None:
        problems.append(Problem(element, lines.get(element), _("A Dutch (xml:lang=“nl”) text is required.")))
    return problems


# --- Writing --------------------------------------------------------------------------------------------------------


def build_catalogue(catalogue: Catalogue) -> etree._Element:
    """The catalogue as an (unsigned) ``esc:ServiceCatalogue`` element; the signature goes in as its first child."""
    root = etree.Element(q(ESC, "ServiceCatalogue"), nsmap=NSMAP)
    root.set(q(ESC, "IssueInstant"), catalogue.issue_instant)
    root.set(q(ESC, "Version"), catalogue.version)
    if catalogue.id is not None:
        root.set("ID", catalogue.id)
    for provider in catalogue.providers:
        _build_provider(root, provider)
    return root


def serialize(element: etree._Element) -> bytes:
    """A catalogue element as a UTF-8 XML document."""
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def signed_bytes(element: etree._Element, key_pem: bytes, cert_pem: bytes) -> bytes:
    """A catalogue element as a signed document: enveloped RSA-SHA256 over exclusive c14n, referencing the root's
    ``ID`` (one is made when it has none), the signature as the root's first child.

    The element is laid out first and signed as it will be written: indentation added after signing would be part
    of what the digest covers and break it.
    """
    laid_out = parse_xml(serialize(element))
    if not laid_out.get("ID"):
        laid_out.set("ID", new_catalogue_id())
    try:
        signatures.sign(laid_out, key_pem, cert_pem)
    except signatures.SignatureError as error:
        raise CatalogueError(
            [
                Problem(
                    "ds:Signature", None, _("The catalogue could not be signed: %(reason)s."), {"reason": error.reason}
                )
            ]
        ) from None
    return etree.tostring(laid_out, xml_declaration=True, encoding="UTF-8")


def verify_signature(root: etree._Element, certificates: Iterable[bytes]) -> etree._Element:
    """Check the enveloped signature of a catalogue file against trusted certificates (PEM) and return exactly what
    was signed, to be read instead of ``root``. Raises :class:`CatalogueError` for a file without a valid signature;
    the technical reason is in the error's ``reason``, for the log."""
    signature = root.find(q(DS, "Signature"))
    line = None if signature is None else signature.sourceline
    try:
        return signatures.verify(root, list(certificates))
    except signatures.SignatureError as error:
        refusal = CatalogueError(
            [
                Problem(
                    "ds:Signature",
                    line,
                    _(
                        "The signature does not match the catalogue: the file was changed after it was signed, "
                        "or it was signed with a key that is not trusted."
                    ),
                )
            ]
        )
        refusal.reason = error.reason
        raise refusal from None


def catalogue_bytes(catalogue: Catalogue) -> bytes:
    """The (unsigned) catalogue file of a :class:`Catalogue`."""
    return serialize(build_catalogue(catalogue))


def _sub(parent: etree._Element, namespace: str, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, q(namespace, name))
    if text is not None:
        child.text = text
    return child


def _public(element: etree._Element, is_public: bool) -> None:
    element.set(q(ESC, "IsPublic"), _xs_boolean(is_public))


def _xs_boolean(value: bool) -> str:
    return "true" if value else "false"


def _sub_localized(parent: etree._Element, name: str, items: Iterable[Localized], namespace: str = ESC) -> None:
    for item in items:
        _sub(parent, namespace, name, item.value).set(q(XML, "lang"), item.lang)


def _sub_types(parent: etree._Element, name: str, items: Iterable[TypeInSet]) -> None:
    for item in items:
        child = _sub(parent, ESC, name, item.uri)
        if item.set_number is not None:
            child.set("setNumber", str(item.set_number))


def _build_provider(root: etree._Element, provider: ServiceProvider) -> None:
    element = _sub(root, ESC, "ServiceProvider")
    _public(element, provider.is_public)
    _sub(element, ESC, "ServiceProviderID", provider.oin)
    _sub_localized(element, "OrganizationDisplayName", provider.names)
    for definition in provider.definitions:
        _build_definition(element, definition)
    for instance in provider.instances:
        _build_instance(element, instance)


def _build_definition(parent: etree._Element, definition: ServiceDefinition) -> None:
    element = _sub(parent, ESC, "ServiceDefinition")
    _public(element, definition.is_public)
    _sub(element, ESC, "ServiceUUID", definition.uuid)
    _sub_localized(element, "ServiceName", definition.names)
    _sub_localized(element, "ServiceDescription", definition.descriptions)
    _sub_localized(element, "ServiceDescriptionURL", definition.description_urls)
    _sub(element, SAML, "AuthnContextClassRef", definition.level_uri)
    if definition.broker_oin is not None:
        _sub(element, ESC, "HerkenningsmakelaarId", definition.broker_oin)
    _sub_types(element, "EntityConcernedTypesAllowed", definition.entity_concerned_types)
    _sub_types(element, "ActingSubjectTypesAllowed", definition.acting_subject_types)
    if definition.branch_restriction_allowed:
        _sub(element, ESC, "ServiceRestrictionsAllowed", BRANCH_RESTRICTION)
    for attribute in definition.requested_attributes:
        child = _sub(element, ESC, "RequestedAttribute")
        child.set("Name", attribute.name)
        if attribute.name_format is not None:
            child.set("NameFormat", attribute.name_format)
        if attribute.friendly_name is not None:
            child.set("FriendlyName", attribute.friendly_name)
        if attribute.is_required is not None:
            child.set("isRequired", _xs_boolean(attribute.is_required))
        for value in attribute.values:
            _sub(child, SAML, "AttributeValue", value)
        _sub_localized(child, "PurposeStatement", attribute.purpose_statements)


def _build_instance(parent: etree._Element, instance: ServiceInstance) -> None:
    element = _sub(parent, ESC, "ServiceInstance")
    _public(element, instance.is_public)
    _sub(element, ESC, "ServiceID", instance.service_id)
    _sub(element, ESC, "ServiceUUID", instance.uuid)
    _sub(element, ESC, "InstanceOfService", instance.instance_of)
    _sub_localized(element, "ServiceURL", instance.service_urls)
    _sub_localized(element, "PrivacyPolicyURL", instance.privacy_policy_urls)
    _sub(element, ESC, "HerkenningsmakelaarId", instance.broker_oin)
    for oin in instance.additional_broker_oins:
        _sub(element, ESC, "AdditionalHerkenningsmakelaarId", oin)
    if instance.sso_support is not None:
        _sub(element, ESC, "SSOSupport", _xs_boolean(instance.sso_support))
    for certificate in instance.certificates:
        descriptor = _sub(_sub(element, ESC, "ServiceCertificate"), MD, "KeyDescriptor")
        if certificate.use is not None:
            descriptor.set("use", certificate.use)
        key_info = _sub(descriptor, DS, "KeyInfo")
        if certificate.key_name is not None:
            _sub(key_info, DS, "KeyName", certificate.key_name)
        x509_data = _sub(key_info, DS, "X509Data")
        for der in certificate.certificates:
            _sub(x509_data, DS, "X509Certificate", der)
    if instance.classifiers:
        classifiers = _sub(element, ESC, "Classifiers")
        for classifier in instance.classifiers:
            _sub(classifiers, ESC, "Classifier", classifier)
