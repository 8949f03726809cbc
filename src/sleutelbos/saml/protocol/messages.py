"""The SAML messages of the eHerkenning profile: reading AuthnRequests and ArtifactResolves, building Responses.

No Django here. The broker receives a signed ``samlp:AuthnRequest`` from a service provider (DV), verified by the
caller with :func:`.signatures.verify` (HTTP-POST) or :func:`.signatures.verify_redirect` (HTTP-Redirect), and read
with :func:`read_authn_request` and :func:`check_authn_request`. After the login it builds a ``samlp:Response``
with one signed ``saml:Assertion`` (:func:`build_response`) or an error status (:func:`build_status_response`),
stores it behind an artifact and hands it out, once, in a signed ``samlp:ArtifactResponse``
(:func:`build_artifact_response`) to the DV's signed ``samlp:ArtifactResolve`` (:func:`read_artifact_resolve`).

The names of the attributes and identifier types are those of the Afsprakenstelsel Elektronische Toegangsdiensten
(AS), "Attribuutcatalogus" and "Identificerende kenmerken", and of the "Interface specificaties DV-HM"; each
constant names its section. A refusal raises :class:`MessageError` with a short reason for the log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from lxml import etree

from . import encryption, signatures
from .artifacts import ArtifactError, parse_artifact
from .metadata import format_datetime, parse_datetime
from .xml import SAML, SAMLP, qname

VERSION = "2.0"

# Attributes of the assertion (AS, "Interface specificaties DV-HM", Assertion / AttributeStatement).
#: The service the person logs in to, ``urn:etoegang:DV:<OIN>:services:<index>``; a portal login carries several.
ATTRIBUTE_SERVICE_ID = "urn:etoegang:core:ServiceID"
#: The UUID of the service (instance) from the Dienstencatalogus.
ATTRIBUTE_SERVICE_UUID = "urn:etoegang:core:ServiceUUID"
#: The represented organisation (Belanghebbende); EncryptedIDs, one per identifier type (KvKnr, RSIN).
ATTRIBUTE_LEGAL_SUBJECT_ID = "urn:etoegang:core:LegalSubjectID"
#: The acting person (Handelende persoon): an EncryptedID holding a pseudonym specific to DV, person and organisation.
ATTRIBUTE_ACTING_SUBJECT_ID = "urn:etoegang:core:ActingSubjectID"
#: The intermediary of a chain mandate (AS "Identificerende kenmerken": kept under this name for backward
#: compatibility); an EncryptedID holding the intermediary's KvK number.
ATTRIBUTE_INTERMEDIATE_ENTITY_ID = "urn:etoegang:1.9:IntermediateEntityID:KvKnr"
#: AS "Attributencatalogus niet-natuurlijke personen": the represented organisation's registered name, mandatory.
ATTRIBUTE_COMPANY_NAME = "urn:etoegang:1.11:attribute-represented:CompanyName"
#: AS "Attributencatalogus niet-natuurlijke personen": the intermediary's name, sent with a chain mandate only.
ATTRIBUTE_INTERMEDIATE_COMPANY_NAME = "urn:etoegang:1.13:attribute-intermediate:CompanyName"
#: The branch (vestigingsnummer, 12 digits) the login is restricted to (AS "Service restrictions").
ATTRIBUTE_BRANCH = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"

# Identifier types, written as the NameQualifier of the encrypted NameID (AS "Identificerende kenmerken":
# "Het type identificerend kenmerk wordt als NameQualifier van dit EncryptedID gecommuniceerd").
QUALIFIER_KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
QUALIFIER_RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"
#: The "ETD Specific Pseudonym" of an acting person who represents an organisation: specific for the DV, the
#: represented organisation and the person's means (AS "Identificerende kenmerken", version 1.13).
QUALIFIER_PSEUDO = "urn:etoegang:1.13:EntityConcernedID:Pseudo"

NAMEID_TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

STATUS_PREFIX = "urn:oasis:names:tc:SAML:2.0:status:"
STATUS_SUCCESS = STATUS_PREFIX + "Success"
#: The top-level codes the profile uses (AS "Interface specificaties DV-HM", foutafhandeling).
TOP_LEVEL_CODES = ("Requester", "Responder")
#: The second-level codes of SAML core 3.2.2.2 (the profile uses AuthnFailed, also for a cancel, and
#: RequestUnsupported).
SECOND_LEVEL_CODES = (
    "AuthnFailed",
    "InvalidAttrNameOrValue",
    "InvalidNameIDPolicy",
    "NoAuthnContext",
    "NoAvailableIDP",
    "NoPassive",
    "NoSupportedIDP",
    "PartialLogout",
    "ProxyCountExceeded",
    "RequestDenied",
    "RequestUnsupported",
    "RequestVersionDeprecated",
    "RequestVersionTooHigh",
    "RequestVersionTooLow",
    "ResourceNotRecognized",
    "TooManyResponses",
    "UnknownAttrProfile",
    "UnknownPrincipal",
    "UnsupportedBinding",
)

#: SAML core 3.3.2.2.1: the comparisons a RequestedAuthnContext may ask; the profile uses "minimum" (and "exact").
ALLOWED_COMPARISONS = ("minimum", "exact")
#: SAML core 1.3.4: an ID has at least 128 bits of randomness; longer than this is not worth keeping.
MAX_ID_LENGTH = 256

_AUTHN_REQUEST = qname(SAMLP, "AuthnRequest")
_ARTIFACT_RESOLVE = qname(SAMLP, "ArtifactResolve")
_ARTIFACT = qname(SAMLP, "Artifact")
_ISSUER = qname(SAML, "Issuer")
_REQUESTED_AUTHN_CONTEXT = qname(SAMLP, "RequestedAuthnContext")
_AUTHN_CONTEXT_CLASS_REF = qname(SAML, "AuthnContextClassRef")
_AUTHN_CONTEXT_DECL_REF = qname(SAML, "AuthnContextDeclRef")

_NSMAP = {"samlp": SAMLP, "saml": SAML}


class MessageError(ValueError):
    """A SAML message was refused or could not be built. ``reason`` is short, for the log; never show it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Reading requests


@dataclass(frozen=True)
class AuthnRequest:
    """What the broker uses of a verified ``samlp:AuthnRequest``."""

    id: str
    issuer: str
    destination: str | None
    issue_instant: datetime
    force_authn: bool
    is_passive: bool
    acs_index: int | None
    acs_url: str | None
    protocol_binding: str | None
    attribute_consuming_service_index: int | None
    requested_levels: tuple[str, ...]  # AuthnContextClassRef URIs, in the order asked
    comparison: str | None  # None without RequestedAuthnContext; "exact" when it has no Comparison


@dataclass(frozen=True)
class ArtifactResolve:
    """What the broker uses of a verified ``samlp:ArtifactResolve``."""

    id: str
    issuer: str
    artifact: str
    issue_instant: datetime
    destination: str | None = None


def _elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _text(element: etree._Element) -> str:
    """The element's text; refused when it holds elements (text split by a comment was joined by verify)."""
    if _elements(element):
        raise MessageError(f"{etree.QName(element).localname} holds elements instead of text")
    return (element.text or "").strip()


def _check_root(element: etree._Element, tag: str) -> tuple[str, datetime, str]:
    """Check a request's tag, Version, ID, IssueInstant and Issuer; return the ID, the instant and the issuer."""
    if not isinstance(element.tag, str) or element.tag != tag:
        raise MessageError(f"expected {etree.QName(tag).localname}, got {element.tag!r}")
    name = etree.QName(tag).localname
    if element.get("Version") != VERSION:
        raise MessageError(f"{name} Version {element.get('Version')!r} is not 2.0")
    message_id = element.get("ID", "")
    if not message_id.strip() or len(message_id) > MAX_ID_LENGTH:
        raise MessageError(f"{name} has no usable ID")
    if not element.get("IssueInstant"):
        raise MessageError(f"{name} has no IssueInstant")
    try:
        issue_instant = parse_datetime(element.get("IssueInstant"))
    except ValueError:
        raise MessageError(f"{name} IssueInstant {element.get('IssueInstant')!r} is not a date and time") from None
    children = _elements(element)
    if not children or children[0].tag != _ISSUER:
        raise MessageError(f"{name} has no Issuer")
    issuer_element = children[0]
    if issuer_element.get("Format") not in (None, NAMEID_ENTITY):
        raise MessageError(f"the Issuer has format {issuer_element.get('Format')!r}, not entity")
    issuer = _text(issuer_element)
    if not issuer:
        raise MessageError(f"{name} has an empty Issuer")
    if sum(1 for child in children if child.tag == _ISSUER) > 1:
        raise MessageError(f"{name} has more than one Issuer")
    return message_id, issue_instant, issuer


def _boolean(element: etree._Element, attribute: str) -> bool:
    value = element.get(attribute)
    if value is None:
        return False
    value = value.strip()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise MessageError(f"{attribute} {value!r} is not a boolean")


def _index(element: etree._Element, attribute: str) -> int | None:
    value = element.get(attribute)
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or int(value) > 0xFFFF:
        raise MessageError(f"{attribute} {value!r} is not an index from 0 to 65535")
    return int(value)


def read_authn_request(element: etree._Element) -> AuthnRequest:
    """Read a ``samlp:AuthnRequest`` whose signature the caller has verified (use the element verify returned).

    Refused with :class:`MessageError`: another element, a Version other than 2.0, no ID, IssueInstant or Issuer,
    both an AssertionConsumerServiceIndex and a URL (SAML core 3.4.1 makes them mutually exclusive), and a
    RequestedAuthnContext by declaration reference (the profile knows only class references, the levels).
    """
    message_id, issue_instant, issuer = _check_root(element, _AUTHN_REQUEST)
    acs_index = _index(element, "AssertionConsumerServiceIndex")
    acs_url = element.get("AssertionConsumerServiceURL")
    if acs_index is not None and acs_url is not None:
        raise MessageError("AssertionConsumerServiceIndex and AssertionConsumerServiceURL are both given")

    requested_levels: tuple[str, ...] = ()
    comparison = None
    contexts = [child for child in _elements(element) if child.tag == _REQUESTED_AUTHN_CONTEXT]
    if len(contexts) > 1:
        raise MessageError("AuthnRequest has more than one RequestedAuthnContext")
    if contexts:
        context = contexts[0]
        comparison = (context.get("Comparison") or "exact").strip()
        parts = _elements(context)
        if any(part.tag == _AUTHN_CONTEXT_DECL_REF for part in parts):
            raise MessageError("a RequestedAuthnContext by AuthnContextDeclRef is not supported")
        if not parts or any(part.tag != _AUTHN_CONTEXT_CLASS_REF for part in parts):
            raise MessageError("the RequestedAuthnContext has no AuthnContextClassRef")
        requested_levels = tuple(_text(part) for part in parts)
        if not all(requested_levels):
            raise MessageError("an AuthnContextClassRef is empty")

    return AuthnRequest(
        id=message_id,
        issuer=issuer,
        destination=element.get("Destination"),
        issue_instant=issue_instant,
        force_authn=_boolean(element, "ForceAuthn"),
        is_passive=_boolean(element, "IsPassive"),
        acs_index=acs_index,
        acs_url=acs_url,
        protocol_binding=element.get("ProtocolBinding"),
        attribute_consuming_service_index=_index(element, "AttributeConsumingServiceIndex"),
        requested_levels=requested_levels,
        comparison=comparison,
    )


def _check_fresh(what: str, issue_instant: datetime, *, now: datetime, max_age: timedelta, skew: timedelta) -> None:
    if issue_instant > now + skew:
        raise MessageError(f"{what} was issued in the future ({format_datetime(issue_instant)})")
    if issue_instant < now - max_age - skew:
        raise MessageError(f"{what} is too old (issued {format_datetime(issue_instant)})")


def check_authn_request(
    request: AuthnRequest,
    *,
    destination: str,
    now: datetime,
    max_age: timedelta = timedelta(minutes=5),
    skew: timedelta = timedelta(minutes=2),
) -> None:
    """Refuse, with :class:`MessageError`, a request not meant for ``destination`` or not fresh.

    ``Destination`` must be exactly the URL the request arrived at: a signed request must carry it (SAML bindings
    3.4.5.2, 3.5.5.2). The request is too old when it was issued more than ``max_age`` (plus the clock ``skew``)
    before ``now``, and refused when issued more than ``skew`` after it. A RequestedAuthnContext may compare only
    by "minimum" or "exact". Whether the ID was seen before, the issuer is registered and the ACS is in its
    metadata is for the caller, who has the database.
    """
    if request.destination is None:
        raise MessageError("the AuthnRequest has no Destination")
    if request.destination != destination:
        raise MessageError(f"the AuthnRequest is for {request.destination!r}, not {destination!r}")
    _check_fresh("the AuthnRequest", request.issue_instant, now=now, max_age=max_age, skew=skew)
    if request.comparison is not None and request.comparison not in ALLOWED_COMPARISONS:
        raise MessageError(f"comparison {request.comparison!r} is not supported")


def read_artifact_resolve(element: etree._Element) -> ArtifactResolve:
    """Read a ``samlp:ArtifactResolve`` whose signature the caller has verified.

    The artifact must be a type 0x0004 artifact (:func:`.artifacts.parse_artifact`); which message it names, and
    whether it was used before, is for the caller.
    """
    message_id, issue_instant, issuer = _check_root(element, _ARTIFACT_RESOLVE)
    found = [child for child in _elements(element) if child.tag == _ARTIFACT]
    if len(found) != 1:
        raise MessageError("the ArtifactResolve must carry exactly one Artifact")
    artifact = _text(found[0])
    try:
        parse_artifact(artifact)
    except ArtifactError as exc:
        raise MessageError(f"the artifact is refused: {exc.reason}") from exc
    return ArtifactResolve(
        id=message_id,
        issuer=issuer,
        artifact=artifact,
        issue_instant=issue_instant,
        destination=element.get("Destination"),
    )


def check_artifact_resolve(
    resolve: ArtifactResolve,
    *,
    destination: str,
    now: datetime,
    max_age: timedelta = timedelta(minutes=5),
    skew: timedelta = timedelta(minutes=2),
) -> None:
    """Refuse an ArtifactResolve that is not fresh or names another Destination (it need not name one)."""
    if resolve.destination is not None and resolve.destination != destination:
        raise MessageError(f"the ArtifactResolve is for {resolve.destination!r}, not {destination!r}")
    _check_fresh("the ArtifactResolve", resolve.issue_instant, now=now, max_age=max_age, skew=skew)


# Building responses


@dataclass(frozen=True)
class Identifier:
    """An identifier and its type, e.g. ``Identifier("12345678", QUALIFIER_KVK)``."""

    value: str
    qualifier: str


@dataclass(frozen=True)
class LoginAttributes:
    """What the assertion says about the login: the service(s), the organisation, the person and the chain."""

    service_id: str | tuple[str, ...]  # a portal login (service index 0) carries every ServiceID it may use
    service_uuid: str | None
    legal_subject: tuple[Identifier, ...]  # the represented organisation (for a chain mandate: the client)
    acting_subject: Identifier  # the person's pseudonym, QUALIFIER_PSEUDO
    company_name: str
    branch: str | None = None  # vestigingsnummer when the login is restricted to a branch
    intermediate: Identifier | None = None  # the intermediary's KvK number for a chain mandate
    intermediate_company_name: str | None = None

    @property
    def service_ids(self) -> tuple[str, ...]:
        """The ServiceIDs as a tuple, one or more."""
        return (self.service_id,) if isinstance(self.service_id, str) else tuple(self.service_id)


def new_id() -> str:
    """A new message ID: ``_`` and 160 random bits in hex (an xs:ID may not start with a digit)."""
    return f"_{secrets.token_hex(20)}"


def _sub(parent: etree._Element, namespace: str, local: str, text: str | None = None, **attributes: str):
    element = etree.SubElement(parent, qname(namespace, local), {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _message(tag: str, *, message_id: str, now: datetime, issuer: str, **attributes: str | None) -> etree._Element:
    root = etree.Element(qname(SAMLP, tag), nsmap=_NSMAP)
    root.set("ID", message_id)
    root.set("Version", VERSION)
    root.set("IssueInstant", format_datetime(now))
    for name, value in attributes.items():
        if value is not None:
            root.set(name, value)
    _sub(root, SAML, "Issuer", issuer)
    return root


def _status(parent: etree._Element, top: str, sub: str | None = None, message: str | None = None) -> None:
    status = _sub(parent, SAMLP, "Status")
    code = _sub(status, SAMLP, "StatusCode", Value=top if top.startswith("urn:") else STATUS_PREFIX + top)
    if sub is not None:
        _sub(code, SAMLP, "StatusCode", Value=sub if sub.startswith("urn:") else STATUS_PREFIX + sub)
    if message:
        _sub(status, SAMLP, "StatusMessage", message)


def _string_attribute(statement: etree._Element, name: str, values: tuple[str, ...]) -> None:
    # No xsi:type="xs:string": a QName in an attribute value needs the xs prefix declared, and toolkits that
    # re-serialise the message before checking it against the schema (pysaml2 does, for the ArtifactResponse) lose
    # that declaration and refuse the whole message. An untyped AttributeValue is plain text to every reader.
    attribute = _sub(statement, SAML, "Attribute", Name=name)
    for value in values:
        _sub(attribute, SAML, "AttributeValue", value)


def _encrypted_attribute(
    statement: etree._Element, name: str, identifiers: tuple[Identifier, ...], cert: bytes, recipient: str
) -> None:
    attribute = _sub(statement, SAML, "Attribute", Name=name)
    for identifier in identifiers:
        name_id = etree.Element(qname(SAML, "NameID"), NameQualifier=identifier.qualifier, nsmap={"saml": SAML})
        name_id.text = identifier.value
        try:
            encrypted = encryption.encrypt_id(name_id, cert, recipient=recipient)
        except encryption.EncryptionError as exc:
            raise MessageError(f"{name} could not be encrypted: {exc.reason}") from exc
        _sub(attribute, SAML, "AttributeValue").append(encrypted)


def build_response(
    *,
    response_id: str,
    assertion_id: str,
    in_response_to: str,
    destination: str,
    issuer: str,
    audience: str,
    recipient: str,
    level_uri: str,
    attributes: LoginAttributes,
    encryption_cert: bytes,
    sign_key: bytes,
    sign_cert: bytes,
    now: datetime,
    lifetime: timedelta = timedelta(minutes=2),
    session_index: str,
    authn_instant: datetime | None = None,
    name_id: str | None = None,
) -> etree._Element:
    """A ``samlp:Response`` with status Success and one signed ``saml:Assertion`` for a successful login.

    The assertion (SAML core 2.3.3; AS "Interface specificaties DV-HM") has the broker as Issuer, a transient
    NameID (``name_id``, random unless given) confirmed by bearer for ``in_response_to`` at ``recipient`` (the ACS)
    until ``now + lifetime``, Conditions valid from ``now`` to ``now + lifetime`` for ``audience`` (the DV's entity
    ID), an AuthnStatement with ``level_uri`` (the level reached), ``authn_instant`` (when the person
    authenticated; ``now`` unless given) and ``session_index``, and the AttributeStatement of ``attributes``: the
    identifiers as ``saml:EncryptedID`` for the DV's ``encryption_cert``, the rest as plain strings. The Response
    itself is not signed: it travels inside the signed ArtifactResponse (or, for a generic SP over HTTP-POST,
    is protected by the assertion's signature).
    """
    if not attributes.service_ids:
        raise MessageError("a Response needs at least one ServiceID")
    if not attributes.legal_subject:
        raise MessageError("a Response needs the LegalSubjectID of the represented organisation")
    until = format_datetime(now + lifetime)

    response = _message(
        "Response",
        message_id=response_id,
        now=now,
        issuer=issuer,
        Destination=destination,
        InResponseTo=in_response_to,
    )
    _status(response, "Success")

    assertion = _sub(response, SAML, "Assertion", ID=assertion_id, Version=VERSION, IssueInstant=format_datetime(now))
    _sub(assertion, SAML, "Issuer", issuer)
    subject = _sub(assertion, SAML, "Subject")
    _sub(subject, SAML, "NameID", name_id or new_id(), Format=NAMEID_TRANSIENT)
    confirmation = _sub(subject, SAML, "SubjectConfirmation", Method=BEARER)
    _sub(
        confirmation,
        SAML,
        "SubjectConfirmationData",
        InResponseTo=in_response_to,
        NotOnOrAfter=until,
        Recipient=recipient,
    )
    conditions = _sub(assertion, SAML, "Conditions", NotBefore=format_datetime(now), NotOnOrAfter=until)
    _sub(_sub(conditions, SAML, "AudienceRestriction"), SAML, "Audience", audience)
    statement = _sub(
        assertion,
        SAML,
        "AuthnStatement",
        AuthnInstant=format_datetime(authn_instant or now),
        SessionIndex=session_index,
    )
    _sub(_sub(statement, SAML, "AuthnContext"), SAML, "AuthnContextClassRef", level_uri)

    values = _sub(assertion, SAML, "AttributeStatement")
    _string_attribute(values, ATTRIBUTE_SERVICE_ID, attributes.service_ids)
    if attributes.service_uuid:
        _string_attribute(values, ATTRIBUTE_SERVICE_UUID, (attributes.service_uuid,))
    encrypt = {"cert": encryption_cert, "recipient": audience}
    _encrypted_attribute(values, ATTRIBUTE_LEGAL_SUBJECT_ID, tuple(attributes.legal_subject), **encrypt)
    _encrypted_attribute(values, ATTRIBUTE_ACTING_SUBJECT_ID, (attributes.acting_subject,), **encrypt)
    if attributes.intermediate is not None:
        _encrypted_attribute(values, ATTRIBUTE_INTERMEDIATE_ENTITY_ID, (attributes.intermediate,), **encrypt)
    _string_attribute(values, ATTRIBUTE_COMPANY_NAME, (attributes.company_name,))
    if attributes.branch:
        _string_attribute(values, ATTRIBUTE_BRANCH, (attributes.branch,))
    if attributes.intermediate is not None and attributes.intermediate_company_name:
        _string_attribute(values, ATTRIBUTE_INTERMEDIATE_COMPANY_NAME, (attributes.intermediate_company_name,))

    try:
        signatures.sign(assertion, sign_key, sign_cert)
    except signatures.SignatureError as exc:
        raise MessageError(f"the assertion could not be signed: {exc.reason}") from exc
    return response


def build_status_response(
    *,
    response_id: str,
    in_response_to: str,
    destination: str,
    issuer: str,
    top: str,
    sub: str | None,
    message: str | None,
    now: datetime,
) -> etree._Element:
    """An unsigned ``samlp:Response`` without assertion that carries an error status.

    ``top`` is "Requester" or "Responder", ``sub`` a second-level code of SAML core 3.2.2.2 such as "AuthnFailed"
    (the profile's answer to a cancel) or "RequestUnsupported". ``message`` goes to the DV, not to the person.
    """
    if top not in TOP_LEVEL_CODES:
        raise MessageError(f"top-level status {top!r} is not one of {', '.join(TOP_LEVEL_CODES)}")
    if sub is not None and sub not in SECOND_LEVEL_CODES:
        raise MessageError(f"second-level status {sub!r} is not a SAML status code")
    response = _message(
        "Response",
        message_id=response_id,
        now=now,
        issuer=issuer,
        Destination=destination,
        InResponseTo=in_response_to,
    )
    _status(response, top, sub, message)
    return response


def build_artifact_response(
    *,
    response_id: str,
    in_response_to: str,
    issuer: str,
    message: etree._Element | None,
    now: datetime,
    sign_key: bytes,
    sign_cert: bytes,
) -> etree._Element:
    """A signed ``samlp:ArtifactResponse`` with status Success around ``message``, which becomes part of it (it is
    moved, not copied: pass a copy to keep using an element of another document).

    The status is Success whenever the ArtifactResolve itself was acceptable; the inner Response carries the
    login's real status. For an unknown, expired or already used artifact ``message`` is None and the
    ArtifactResponse is empty (SAML core 3.5.2).
    """
    artifact_response = _message(
        "ArtifactResponse", message_id=response_id, now=now, issuer=issuer, InResponseTo=in_response_to
    )
    _status(artifact_response, "Success")
    if message is not None:
        artifact_response.append(message)
    try:
        signatures.sign(artifact_response, sign_key, sign_cert)
    except signatures.SignatureError as exc:
        raise MessageError(f"the ArtifactResponse could not be signed: {exc.reason}") from exc
    return artifact_response
