"""The SAML login between the views and the protocol code: receiving an AuthnRequest, the pending login, the answer.

1. :func:`receive_redirect` and :func:`receive_post` take an AuthnRequest off the wire and refuse, with
   :class:`Refused`, anything not signed by a registered service provider, replayed, expired or meant for another
   destination. What is left is a :class:`PendingLogin`: where the answer goes (a registered ACS, by index, never a
   URL the request makes up), which service, which level. A request the broker cannot serve (a level above the
   catalogue's, an unknown service) gets a ``Requester``/``RequestUnsupported`` answer at once (:attr:`Intake.error`).
2. The pending login waits in the person's session under a random token while they authenticate and choose whom to
   represent (:func:`pending_store`, :func:`pending_load`).
3. :func:`answer_allowed`, :func:`answer_status` build the Response; :func:`deliver` stores it under a new artifact
   and sends the browser to the ACS, or posts the signed Response to an SP whose ACS only takes HTTP-POST.
4. :func:`sleutelbos.saml.services.artifact_resolve` hands a stored Response to the entity it was made for, once.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from lxml import etree

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance
from sleutelbos.identity.models import Person
from sleutelbos.organisations.models import Organisation
from sleutelbos.saml import selectors, services
from sleutelbos.saml.idp import idp_config
from sleutelbos.saml.models import AcsBinding, AssertionConsumerService
from sleutelbos.saml.protocol import messages, signatures, xml
from sleutelbos.saml.protocol.messages import Identifier, LoginAttributes, MessageError
from sleutelbos.saml.protocol.signatures import MAX_INFLATED_BYTES, MAX_RELAY_STATE_BYTES, SignatureError
from sleutelbos.saml.protocol.xml import SAML, SAMLP, XMLError, qname

logger = logging.getLogger(__name__)

#: An AuthnRequest older than this is refused; clocks may differ by ``CLOCK_SKEW``.
REQUEST_MAX_AGE = dt.timedelta(minutes=5)
CLOCK_SKEW = dt.timedelta(minutes=2)
#: How long an assertion's conditions hold.
ASSERTION_LIFETIME = dt.timedelta(minutes=5)
#: How long a login may wait in the session for the person to authenticate and choose.
PENDING_SECONDS = 30 * 60
#: At most this many logins wait in one session at a time (a person with several tabs); the oldest goes first.
MAX_PENDING = 10
#: A base64 AuthnRequest posted to the broker larger than this is refused before decoding.
MAX_POSTED_REQUEST_CHARS = 350_000

SESSION_KEY = "saml_logins"
PORTAL_INDEX = 0

# Status codes as messages.build_status_response takes them (the profile's only codes).
STATUS_REQUESTER = "Requester"
STATUS_RESPONDER = "Responder"
STATUS_AUTHN_FAILED = "AuthnFailed"
STATUS_REQUEST_UNSUPPORTED = "RequestUnsupported"

_ISSUER = qname(SAML, "Issuer")
_AUTHN_REQUEST = qname(SAMLP, "AuthnRequest")


class Refused(Exception):
    """The request was refused; ``reason`` is for the log, the person sees a generic page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Replayed(Refused):
    """The request's ID was seen before: a replay."""


@dataclass
class PendingLogin:
    """A verified AuthnRequest waiting for its answer; kept in the session as a dict."""

    entity_id: str
    request_id: str
    acs_url: str
    acs_binding: str
    relay_state: str | None
    service_index: int
    level: int
    force: bool
    created: float = field(default_factory=time.time)
    #: Set once the person authenticated for this login: who, so that a change of person starts over.
    person: int | None = None

    @property
    def is_portal(self) -> bool:
        return self.service_index == PORTAL_INDEX

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingLogin:
        return cls(**data)


@dataclass(frozen=True)
class Intake:
    """A received AuthnRequest: the login to continue, or (``error``) the status to answer at once."""

    pending: PendingLogin
    error: tuple[str, str, str] | None = None  # (top, sub, message)
    #: The DV's entity as read for this request (to deliver the answer without reading it again).
    entity: Any = None
    #: The service instance asked for (None for the provider's portal), as read for this request.
    service: ServiceInstance | None = None


# --------------------------------------------------------------------------------------------------------------------
# Receiving the AuthnRequest


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-15)
    try:
        inflated = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise Refused("the SAMLRequest is not DEFLATE-compressed") from exc
    if inflater.unconsumed_tail:
        raise Refused("the inflated SAMLRequest is too large")
    return inflated


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused("the SAMLRequest is not valid base64") from exc


def _issuer_of(root: etree._Element) -> str:
    if root.tag != _AUTHN_REQUEST:
        raise Refused(f"the message is {root.tag}, not an AuthnRequest")
    issuers = [child for child in root if child.tag == _ISSUER]
    if len(issuers) != 1 or not (issuers[0].text or "").strip():
        raise Refused("the AuthnRequest has no Issuer")
    return issuers[0].text.strip()


def _entity(issuer: str) -> tuple[Any, list[bytes]]:
    entity = selectors.entity_by_issuer(issuer, with_acs=True)
    if entity is None:
        raise Refused(f"unknown issuer {issuer[:200]!r}")
    certs = selectors.signing_certificates(entity)
    if not certs:
        raise Refused(f"issuer {issuer!r} has no signing certificate")
    return entity, certs


def receive_redirect(query_string: str, *, destination: str, now: dt.datetime, remember: bool = True) -> Intake:
    """An AuthnRequest over the HTTP-Redirect binding, its query-string signature verified with the issuer's
    registered certificates (the issuer read from the inflated request first).

    Without ``remember`` the request's ID is not recorded yet: the caller must call :func:`remember` before anything
    leaves for the request (the view does so in the same commit as the answer)."""
    parameters = dict(parse_qsl(query_string, keep_blank_values=True))
    if "SAMLRequest" not in parameters:
        raise Refused("no SAMLRequest in the query string")
    try:
        inflated = _inflate(_b64decode(parameters["SAMLRequest"]))
        first = xml.parse(inflated)
        issuer = _issuer_of(first)
        entity, certs = _entity(issuer)
        message = signatures.verify_redirect(query_string, certs)
        if message.parameter != "SAMLRequest":
            raise Refused("the query string carries no request")
        # Only the signed bytes count; when they are the bytes read for the issuer, that reading is theirs.
        element = first if message.message == inflated else xml.parse(message.message)
        if _issuer_of(element) != issuer:  # pragma: no cover - the same bytes, parsed twice
            raise Refused("the issuer changed")
    except (XMLError, SignatureError) as error:
        raise Refused(error.reason) from error
    return _accept(
        element, entity, relay_state=message.relay_state, destination=destination, now=now, remember=remember
    )


def receive_post(saml_request: str, relay_state: str | None, *, destination: str, now: dt.datetime) -> Intake:
    """An AuthnRequest over the HTTP-POST binding, its enveloped signature verified with the issuer's registered
    certificates; only the signed element is read after that."""
    if not saml_request:
        raise Refused("no SAMLRequest in the form")
    if len(saml_request) > MAX_POSTED_REQUEST_CHARS:
        raise Refused("the SAMLRequest is too large")
    if relay_state is not None and len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
        raise Refused(f"RelayState exceeds {MAX_RELAY_STATE_BYTES} bytes")
    try:
        root = xml.parse(_b64decode("".join(saml_request.split())))
        entity, certs = _entity(_issuer_of(root))
        element = signatures.verify(root, certs)
    except (XMLError, SignatureError) as error:
        raise Refused(error.reason) from error
    return _accept(element, entity, relay_state=relay_state, destination=destination, now=now)


def _accept(
    element: etree._Element,
    entity: Any,
    *,
    relay_state: str | None,
    destination: str,
    now: dt.datetime,
    remember: bool = True,
) -> Intake:
    try:
        request = messages.read_authn_request(element)
        messages.check_authn_request(
            request, destination=destination, now=now, max_age=REQUEST_MAX_AGE, skew=CLOCK_SKEW
        )
    except MessageError as error:
        raise Refused(getattr(error, "reason", str(error))) from error
    if request.issuer != entity.entity_id:
        raise Refused("the request's issuer differs from the signer's entity")
    acs = _acs(entity, request)
    if remember:
        _remember(entity.entity_id, request.id, now=now)

    # Without AttributeConsumingServiceIndex the request is for the provider's portal (index 0).
    service_index = request.attribute_consuming_service_index or PORTAL_INDEX
    pending = PendingLogin(
        entity_id=entity.entity_id,
        request_id=request.id,
        acs_url=acs.location,
        acs_binding=acs.binding,
        relay_state=relay_state,
        service_index=service_index,
        level=0,
        force=bool(request.force_authn),
    )
    unsupported, service = _level_and_service(pending, entity, request)
    if unsupported is not None:
        logger.info("SAML request %s from %s unsupported: %s", request.id, entity.entity_id, unsupported)
        return Intake(pending, (STATUS_REQUESTER, STATUS_REQUEST_UNSUPPORTED, unsupported), entity)
    return Intake(pending, entity=entity, service=service)


def _remember(issuer: str, request_id: str, *, now: dt.datetime) -> None:
    if not services.message_id_remember(issuer=issuer, message_id=request_id, now=now):
        raise Replayed(f"replayed request ID {request_id!r} from {issuer!r}")


def remember(pending: PendingLogin, *, now: dt.datetime) -> None:
    """Record the ID of the request a login answers (kept 12 months); :class:`Replayed` when it was seen before."""
    _remember(pending.entity_id, pending.request_id, now=now)


def _acs(entity: Any, request: Any) -> AssertionConsumerService:
    """The ACS the answer goes to: by index, by a URL that is registered, or the default; never anything else."""
    registered = selectors.acs_by_index(entity)
    if request.acs_index is not None:
        acs = next((candidate for candidate in registered if candidate.index == request.acs_index), None)
        if acs is None:
            raise Refused(f"AssertionConsumerServiceIndex {request.acs_index} is not registered")
        return acs
    if request.acs_url:
        matches = [candidate for candidate in registered if candidate.location == request.acs_url]
        if request.protocol_binding:
            matches = [candidate for candidate in matches if candidate.binding == request.protocol_binding]
        if not matches:
            raise Refused(f"AssertionConsumerServiceURL {request.acs_url[:200]!r} is not registered")
        return matches[0]
    acs = selectors.default_acs(entity)
    if acs is None:
        raise Refused("the entity has no AssertionConsumerService")
    return acs


def _level_and_service(pending: PendingLogin, entity: Any, request: Any) -> tuple[str | None, ServiceInstance | None]:
    """Fill in the level of the login; the reason (for the DV) when the broker cannot serve the request, and the
    service instance asked for (None for the portal)."""
    if entity.provider_id is None:
        return "the service provider is not linked to the catalogue", None
    if request.is_passive:
        return "IsPassive is not supported: the person must choose whom to represent", None
    if selectors.encryption_certificate(entity) is None:
        return "the service provider has no encryption certificate for the identifiers", None
    instance = None
    if pending.is_portal:
        catalogue = selectors.portal_level(entity.provider_id)
        if catalogue is None:
            return "the service provider has no services in the catalogue", None
    else:
        instance = selectors.service_instance(entity.provider_id, pending.service_index, shared=True)
        if instance is None:
            return f"AttributeConsumingServiceIndex {pending.service_index} is not in the catalogue", None
        catalogue = Level(instance.definition.level)
    level = catalogue
    if request.requested_levels:
        try:
            asked = min(Level.parse(uri) for uri in request.requested_levels)
        except ValueError:
            return "RequestedAuthnContext names an unknown level", None
        if asked > catalogue and not pending.is_portal:
            # AS: a login may ask a lower level than the catalogue's, never a higher one.
            return f"level {asked.label} is above the catalogue's {catalogue.label}", None
        level = asked
    pending.level = int(level)
    return None, instance


# --------------------------------------------------------------------------------------------------------------------
# The pending login in the session


def new_token() -> str:
    """A new random token for a login: its name in the continue URL, and the SessionIndex of its assertion."""
    return secrets.token_urlsafe(24)


def pending_store(session: SessionBase, pending: PendingLogin) -> str:
    """Keep the login in the session; returns the token that names it in the continue URL."""
    logins = _pending_all(session)
    while len(logins) >= MAX_PENDING:
        del logins[min(logins, key=lambda token: logins[token]["created"])]
    token = new_token()
    logins[token] = asdict(pending)
    session[SESSION_KEY] = logins
    return token


def pending_load(session: SessionBase, token: str) -> PendingLogin | None:
    """The login waiting under ``token``, or None (unknown, finished, or waited too long)."""
    data = _pending_all(session).get(token)
    if not isinstance(data, dict):
        return None
    try:
        pending = PendingLogin.from_dict(data)
    except TypeError:
        return None
    if time.time() - pending.created > PENDING_SECONDS:
        pending_drop(session, token)
        return None
    return pending


def pending_save(session: SessionBase, token: str, pending: PendingLogin) -> None:
    logins = _pending_all(session)
    logins[token] = asdict(pending)
    session[SESSION_KEY] = logins


def pending_drop(session: SessionBase, token: str) -> None:
    """Forget the login: answered or cancelled, its token cannot be used again."""
    logins = _pending_all(session)
    if logins.pop(token, None) is not None:
        session[SESSION_KEY] = logins


def _pending_all(session: SessionBase) -> dict[str, dict[str, Any]]:
    logins = session.get(SESSION_KEY)
    return dict(logins) if isinstance(logins, dict) else {}


# --------------------------------------------------------------------------------------------------------------------
# The answer


def pseudonym(*, entity_id: str, person: Person, organisation: Organisation) -> str:
    """The ActingSubjectID: an HMAC-SHA256 under the SECRET_KEY of (DV entity ID, person, organisation KvK).

    Stable for the same DV, person and organisation, so the DV recognises the person on their next visit; never the
    same at two DVs, so DVs cannot link their users (AS: ActingSubjectID is a pseudonym per DV).
    """
    message = "\x1f".join((entity_id, str(person.pk), organisation.kvk)).encode("utf-8")
    return hmac.new(settings.SECRET_KEY.encode("utf-8"), message, hashlib.sha256).hexdigest()


def login_attributes(
    *,
    pending: PendingLogin,
    person: Person,
    organisation: Organisation,
    intermediary: Organisation | None,
    services: tuple[ServiceInstance, ...],
    branch: str | None,
) -> LoginAttributes:
    """The attribute set of the assertion: the service(s), whom the person represents, and their pseudonym."""
    legal = [Identifier(organisation.kvk, messages.QUALIFIER_KVK)]
    if organisation.rsin:
        legal.append(Identifier(organisation.rsin, messages.QUALIFIER_RSIN))
    if pending.is_portal:
        service_id: str | tuple[str, ...] = tuple(instance.service_id for instance in services)
        service_uuid = str(services[0].definition.uuid) if len(services) == 1 else None
    else:
        service_id = services[0].service_id
        service_uuid: str | None = str(services[0].definition.uuid)
    return LoginAttributes(
        service_id=service_id,
        service_uuid=service_uuid,
        legal_subject=tuple(legal),
        acting_subject=Identifier(
            pseudonym(entity_id=pending.entity_id, person=person, organisation=organisation), messages.QUALIFIER_PSEUDO
        ),
        company_name=organisation.name,
        branch=branch,
        intermediate=Identifier(intermediary.kvk, messages.QUALIFIER_KVK) if intermediary is not None else None,
        intermediate_company_name=intermediary.name if intermediary is not None else None,
    )


def answer_allowed(
    *,
    pending: PendingLogin,
    token: str,
    attributes: LoginAttributes,
    level: Level,
    now: dt.datetime,
    entity: Any = None,
) -> etree._Element:
    """The signed Response with its assertion for the DV, identifiers encrypted for its certificate.

    ``entity`` is the DV's entity (with its certificates) as read earlier in the request; without it, the entity is
    read by the pending login's entity ID. Whether it is still registered when the answer leaves is checked by
    :func:`deliver`.
    """
    config = idp_config()
    if entity is None:
        entity = selectors.entity_by_issuer(pending.entity_id)
    if entity is None:
        raise Refused("the service provider was removed during the login")
    return messages.build_response(
        response_id=messages.new_id(),
        assertion_id=messages.new_id(),
        in_response_to=pending.request_id,
        destination=pending.acs_url,
        issuer=config.entity_id,
        audience=pending.entity_id,
        recipient=pending.acs_url,
        level_uri=level.uri,
        attributes=attributes,
        encryption_cert=selectors.encryption_certificate(entity),
        sign_key=config.key_pem,
        sign_cert=config.cert_pem,
        now=now,
        lifetime=ASSERTION_LIFETIME,
        session_index=token,
    )


def answer_status(*, pending: PendingLogin, top: str, sub: str, message: str, now: dt.datetime) -> etree._Element:
    """A Response without an assertion that carries only a status: a cancel, or a request the broker cannot serve."""
    return messages.build_status_response(
        response_id=messages.new_id(),
        in_response_to=pending.request_id,
        destination=pending.acs_url,
        issuer=idp_config().entity_id,
        top=top,
        sub=sub,
        message=message,
        now=now,
    )


@dataclass(frozen=True)
class Delivery:
    """How the browser takes the answer to the ACS: a redirect to ``url``, or a form posting ``fields`` to it."""

    url: str
    fields: dict[str, str] | None = None

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def deliver(*, pending: PendingLogin, response: etree._Element, now: dt.datetime, entity: Any = None) -> Delivery:
    """Send the answer to the registered ACS: by artifact (stored for 5 minutes, resolvable once), or, for an ACS
    that only takes HTTP-POST, the signed Response itself. RelayState is echoed only here, to the registered ACS.

    ``entity`` is the DV's entity as already read in this request; without it, it is read by the pending login's
    entity ID. An entity removed meanwhile gets nothing (:class:`Refused`)."""
    if entity is None:
        entity = selectors.entity_by_issuer(pending.entity_id)
    if pending.acs_binding == AcsBinding.POST:
        if entity is None or not selectors.entity_exists(entity):
            raise Refused("the service provider was removed during the login")
        if not any(child.tag == qname(signatures.DS, "Signature") for child in response):
            config = idp_config()
            signatures.sign(response, config.key_pem, config.cert_pem)
        fields = {"SAMLResponse": base64.b64encode(xml.tostring(response)).decode("ascii")}
        if pending.relay_state is not None:
            fields["RelayState"] = pending.relay_state
        return Delivery(pending.acs_url, fields)
    artifact = services.artifact_store(entity=entity, response=response, now=now) if entity is not None else None
    if artifact is None:
        raise Refused("the service provider was removed during the login")
    parameters = {"SAMLart": artifact}
    if pending.relay_state is not None:
        parameters["RelayState"] = pending.relay_state
    return Delivery(_with_query(pending.acs_url, parameters))


def _with_query(url: str, parameters: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode(parameters))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
