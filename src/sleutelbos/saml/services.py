"""Writes of the SAML app: registering a service provider's entity, and what the login flow remembers.

A service provider (DV) hands over its SAML metadata as a file or a URL. Registering it keeps the entity's signing
and encryption certificates and its AssertionConsumerServices by index, and links the entity to the provider in the
catalogue; registering the same entity ID again replaces all of that with what the new metadata says.

The login flow (:mod:`sleutelbos.saml.flow`) writes through the functions below: the message IDs it has seen (to
refuse replays), the answers waiting for their artifact to be resolved, and the outcome of each login for the audit
log. :func:`saml_cleanup` removes what no longer needs keeping.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.services import SYSTEM, Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Person
from sleutelbos.mandates.decisions import Decision
from sleutelbos.organisations.models import Organisation
from sleutelbos.saml import selectors
from sleutelbos.saml.idp import idp_config
from sleutelbos.saml.models import (
    ArtifactRecord,
    AssertionConsumerService,
    CertificateUse,
    SeenMessageId,
    ServiceProviderEntity,
    SpCertificate,
)
from sleutelbos.saml.protocol import artifacts, xml
from sleutelbos.saml.protocol.artifacts import ArtifactError
from sleutelbos.saml.protocol.metadata import (
    LOOPBACK_HOSTS,
    MAX_METADATA_BYTES,
    MetadataError,
    SpMetadata,
    parse_sp_metadata,
)
from sleutelbos.validation import fail, full_clean

if TYPE_CHECKING:
    from lxml import etree

    from sleutelbos.saml.flow import PendingLogin

logger = logging.getLogger(__name__)

#: How long the broker keeps a response for its artifact (eHerkenning: usable once, within minutes).
ARTIFACT_LIFETIME = dt.timedelta(minutes=5)
#: Our ArtifactResolutionService is endpoint 0 of our metadata.
ARTIFACT_ENDPOINT_INDEX = 0
#: Message IDs are kept this long to refuse replays (eHerkenning: 12 months).
MESSAGE_ID_RETENTION = dt.timedelta(days=365)
#: A resolved or expired artifact's response is kept this long after, for looking into a failed login.
ARTIFACT_RETENTION = dt.timedelta(days=1)

FETCH_TIMEOUT_SECONDS = 10
MAX_REDIRECTS = 3
_DV_ENTITY_ID = re.compile(r"^urn:etoegang:DV:(?P<oin>[0-9]{20}):entities:[0-9]+\Z")

# What a person reads when metadata is refused, by the protocol's reason.
_REASONS = {
    "too_large": _("The metadata is larger than 1 MB."),
    "not_xml": _("The metadata is not well-formed XML."),
    "doctype": _("The metadata contains a DOCTYPE; metadata with a DTD or entities is not accepted."),
    "not_metadata": _("This is not SAML 2.0 metadata (an md:EntityDescriptor)."),
    "several_entities": _("The metadata describes several entities; give the metadata of exactly one."),
    "entity_id_not_uri": _("The entityID “%(entity_id)s” is not a URI."),
    "expired": _("The metadata expired (validUntil %(moment)s)."),
    "no_sp_descriptor": _("The metadata has no SPSSODescriptor for SAML 2.0."),
    "bad_certificate": _("A KeyDescriptor holds no readable X.509 certificate."),
    "certificate_unfit": _("The certificate %(subject)s cannot be used: it needs an RSA key of at least 2048 bits."),
    "missing_signing_certificate": _("The metadata has no signing certificate."),
    "bad_index": _("%(name)s has an invalid index “%(index)s”."),
    "duplicate_index": _("%(name)s index %(index)s occurs twice."),
    "missing_acs": _("The metadata has no AssertionConsumerService with the HTTP-Artifact or HTTP-POST binding."),
    "not_https": _("%(name)s “%(location)s” is not an https URL."),
}


def metadata_error_message(error: MetadataError) -> str:
    """The translated message for a refusal of metadata."""
    message = _REASONS.get(error.reason)
    return str(message) % error.params if message is not None else str(error)


@transaction.atomic
def sp_register_from_metadata(
    *,
    actor: Actor,
    data: bytes,
    provider: ServiceProvider | None,
    metadata_url: str = "",
) -> ServiceProviderEntity:
    """Register a service provider's entity from its SAML metadata, or update it when its entity ID is known.

    ``provider`` links the entity to its provider in the catalogue; None keeps the link an existing entity has, or
    for a new eHerkenning entity ID (``urn:etoegang:DV:<OIN>:entities:<n>``) links the provider with that OIN, if
    the catalogue has it. Such an entity ID must name the provider's own OIN. Errors are reported under
    ``metadata`` and ``provider``.
    """
    try:
        metadata = parse_sp_metadata(data)
    except MetadataError as error:
        raise fail("metadata", metadata_error_message(error), code=error.reason) from None
    entity = ServiceProviderEntity.objects.select_for_update().filter(entity_id=metadata.entity_id).first()
    created = entity is None
    if entity is None:
        entity = ServiceProviderEntity(entity_id=metadata.entity_id)
    before = None if created else _summary(entity)
    match = _DV_ENTITY_ID.match(metadata.entity_id)
    if provider is not None:
        entity.provider = provider
    elif entity.provider_id is None and match:
        entity.provider = ServiceProvider.objects.filter(oin=match["oin"]).first()
    if entity.provider_id is not None and match and match["oin"] != entity.provider.oin:
        raise fail(
            "provider",
            gettext("The entity ID %(entity_id)s belongs to OIN %(oin)s, not to %(provider)s.")
            % {"entity_id": metadata.entity_id, "oin": match["oin"], "provider": entity.provider},
            code="oin_mismatch",
        )
    entity.name = metadata.name()[:200]
    entity.metadata_xml = data.decode("utf-8", errors="replace")
    if metadata_url:
        entity.metadata_url = metadata_url
    entity.artifact_resolution_url = next((ars.location for ars in metadata.artifact_resolution_services), "")
    entity.attribute_consuming_services = [
        {"index": service.index, "names": service.names} for service in metadata.attribute_consuming_services
    ]
    entity.valid_until = metadata.valid_until
    full_clean(entity)
    entity.save()
    _replace_endpoints_and_certificates(entity, metadata)
    after = _summary(entity)
    if created:
        audit_record(actor=actor, action="saml_sp:registered", subject=entity, data=after)
    else:
        changed = {key: {"from": before[key], "to": value} for key, value in after.items() if before[key] != value}
        audit_record(
            actor=actor, action="saml_sp:updated", subject=entity, data={"entity_id": entity.entity_id, **changed}
        )
    return entity


def _replace_endpoints_and_certificates(entity: ServiceProviderEntity, metadata: SpMetadata) -> None:
    """What the entity's metadata lists now replaces what it listed before: no certificate or ACS the provider has
    withdrawn may remain usable."""
    entity.certificates.all().delete()
    entity.assertion_consumer_services.all().delete()
    rows = [
        SpCertificate(
            entity=entity,
            use=use,
            pem=certificate.pem,
            fingerprint=certificate.fingerprint,
            subject=certificate.subject[:1000],
            not_after=certificate.not_after,
        )
        for use, certificates in (
            (CertificateUse.SIGNING, metadata.signing_certificates),
            (CertificateUse.ENCRYPTION, metadata.encryption_certificates),
        )
        for certificate in certificates
    ]
    SpCertificate.objects.bulk_create(rows)
    AssertionConsumerService.objects.bulk_create(
        AssertionConsumerService(
            entity=entity, index=acs.index, binding=acs.binding, location=acs.location, is_default=acs.is_default
        )
        for acs in metadata.assertion_consumer_services
    )


def _summary(entity: ServiceProviderEntity) -> dict[str, Any]:
    """What the audit log keeps of a registration: enough to see what changed."""
    return {
        "entity_id": entity.entity_id,
        "provider": entity.provider.oin if entity.provider_id else None,
        "name": entity.name,
        "metadata_url": entity.metadata_url,
        "signing_certificates": sorted(
            c.fingerprint for c in entity.certificates.all() if c.use == CertificateUse.SIGNING
        ),
        "encryption_certificates": sorted(
            c.fingerprint for c in entity.certificates.all() if c.use == CertificateUse.ENCRYPTION
        ),
        "assertion_consumer_services": [
            f"{acs.index} {acs.binding} {acs.location}" for acs in entity.assertion_consumer_services.order_by("index")
        ],
    }


# --------------------------------------------------------------------------------------------------------------------
# Metadata from a URL


def _url_allowed(url: str) -> bool:
    """https, or plain http to the loopback host when developing (DEBUG): a metadata URL is never fetched in the
    clear from the network."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if not host:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and settings.DEBUG and host in LOOPBACK_HOSTS)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a few redirects, each only to a URL that may be fetched itself and never to another scheme (so never
    from https to http)."""

    max_redirections = MAX_REDIRECTS

    def http_error_302(self, req: Any, fp: Any, code: int, msg: str, headers: Any) -> Any:
        target = urljoin(req.full_url, headers.get("Location") or headers.get("URI") or "")
        if not _url_allowed(target) or urlsplit(target).scheme != urlsplit(req.full_url).scheme:
            raise fail(
                "metadata_url",
                gettext("The metadata URL redirects to %(url)s, which is not allowed.") % {"url": target},
                code="redirect",
            )
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def metadata_fetch(url: str) -> bytes:
    """Fetch metadata over https (plain http to the loopback host only when developing): at most 1 MB, within
    10 seconds, redirects only to the same scheme. Errors are reported under ``metadata_url``."""
    if not _url_allowed(url):
        raise fail("metadata_url", gettext("The metadata URL must be an https URL."), code="not_https")
    opener = urllib.request.build_opener(_CheckedRedirects)
    request = urllib.request.Request(url, headers={"Accept": "application/samlmetadata+xml, application/xml"})  # noqa: S310 (scheme checked above)
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_METADATA_BYTES:
                raise _too_large()
            data = response.read(MAX_METADATA_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise fail(
            "metadata_url",
            gettext("Fetching the metadata failed: the server answered %(status)s.") % {"status": error.code},
            code="fetch_failed",
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise fail(
            "metadata_url",
            gettext("Fetching the metadata failed: %(reason)s.") % {"reason": reason},
            code="fetch_failed",
        ) from None
    if len(data) > MAX_METADATA_BYTES:
        raise _too_large()
    return data


def _too_large() -> ValidationError:
    return fail("metadata_url", gettext("The metadata at this URL is larger than 1 MB."), code="too_large")


def sp_register_from_url(*, actor: Actor, url: str, provider: ServiceProvider | None) -> ServiceProviderEntity:
    """Fetch a service provider's metadata from ``url`` (see :func:`metadata_fetch`) and register it, remembering
    the URL for later refreshes."""
    return sp_register_from_metadata(actor=actor, data=metadata_fetch(url), provider=provider, metadata_url=url)


# --------------------------------------------------------------------------------------------------------------------
# What the login flow remembers
#
# Message IDs and artifacts are protocol bookkeeping written on every request; they are not audited one by one. The
# outcome of each login is (login_record_*), and so is every clean-up.


def _sql(sql: str, params: list[Any]) -> tuple[int, list[tuple[Any, ...]]]:
    """Run one statement; its row count and the rows it returns. One statement is atomic by itself, so these
    bookkeeping writes need no transaction of their own (inside a caller's transaction they take part in it)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.rowcount, rows


@functools.cache
def _statements(vendor: str) -> dict[str, str]:
    """The bookkeeping statements in the database's quoting (SQLite and PostgreSQL share the syntax). Only table and
    column names from the models' metadata are put into the text; every value is a parameter."""
    quote = connection.ops.quote_name

    def table(model: type[models.Model]) -> str:
        return quote(model._meta.db_table)

    def column(model: type[models.Model], name: str) -> str:
        return quote(model._meta.get_field(name).column)

    m, a, e = SeenMessageId, ArtifactRecord, ServiceProviderEntity
    seen = f"{column(m, 'issuer')}, {column(m, 'message_id')}"
    stored = ", ".join(column(a, name) for name in ("message_handle", "entity", "response_xml", "created_at"))
    return {
        "remember": (
            f"INSERT INTO {table(m)} ({seen}, {column(m, 'seen_at')}) VALUES (%s, %s, %s) "  # noqa: S608 (names only)
            f"ON CONFLICT ({seen}) DO NOTHING"
        ),
        "store": (
            f"INSERT INTO {table(a)} ({stored}, {column(a, 'expires_at')}) "  # noqa: S608 (names only)
            f"SELECT %s, {column(e, 'id')}, %s, %s, %s FROM {table(e)} WHERE {column(e, 'id')} = %s"
        ),
        "claim": (
            f"UPDATE {table(a)} SET {column(a, 'resolved_at')} = %s "  # noqa: S608 (names only)
            f"WHERE {column(a, 'message_handle')} = %s AND {column(a, 'entity')} = %s "
            f"AND {column(a, 'resolved_at')} IS NULL AND {column(a, 'expires_at')} > %s "
            f"RETURNING {column(a, 'response_xml')}"
        ),
    }


def _moment(value: dt.datetime) -> Any:
    """A datetime as the database stores it (SQLite: naive UTC text), for a parameter of raw SQL."""
    return connection.ops.adapt_datetimefield_value(value)


def message_id_remember(*, issuer: str, message_id: str, now: dt.datetime) -> bool:
    """Record a message ID of ``issuer``; False when it was seen before (a replay). IDs are kept 12 months.

    One ``INSERT … ON CONFLICT DO NOTHING`` against the unique (issuer, message ID) constraint: of two requests with
    the same ID, however concurrent, exactly one inserts the row."""
    count, _rows = _sql(_statements(connection.vendor)["remember"], [issuer, message_id[:256], _moment(now)])
    return count == 1


def artifact_store(*, entity: ServiceProviderEntity, response: etree._Element, now: dt.datetime) -> str | None:
    """Keep the Response for ``entity`` under a new type 0x0004 artifact; returns the artifact's text, or None when
    the entity is no longer registered (removed during the login: it gets nothing).

    One ``INSERT … SELECT`` from the entity's row stores the response only while the entity exists."""
    artifact = artifacts.make_artifact(idp_config().entity_id, ARTIFACT_ENDPOINT_INDEX)
    count, _rows = _sql(
        _statements(connection.vendor)["store"],
        [
            artifacts.parse_artifact(artifact).message_handle.hex(),
            xml.tostring(response).decode("utf-8"),
            _moment(now),
            _moment(now + ARTIFACT_LIFETIME),
            entity.pk,
        ],
    )
    return artifact if count == 1 else None


def artifact_resolve(
    *, issuer: str, artifact: str, now: dt.datetime, entity: ServiceProviderEntity | None = None
) -> etree._Element | None:
    """The Response stored under ``artifact`` for ``issuer``, once: a second resolve, an expired or unknown artifact,
    or another entity's artifact give None. Claiming it is one conditional ``UPDATE … RETURNING``, so two concurrent
    resolves can never both receive it. ``entity`` is the issuer's entity when the caller already read it."""
    try:
        parsed = artifacts.parse_artifact(artifact)
    except ArtifactError as error:
        logger.warning("ArtifactResolve from %s refused: %s", issuer, error.reason)
        return None
    if parsed.source_id != artifacts.source_id(idp_config().entity_id):
        logger.warning("ArtifactResolve from %s names another source", issuer)
        return None
    if entity is None or entity.entity_id != issuer:
        entity = selectors.entity_by_issuer(issuer)
    if entity is None:
        return None
    # Conditions on this table only: an UPDATE through a join becomes ``WHERE id IN (subquery)``, which PostgreSQL
    # does not re-check after waiting for a concurrent resolve's row lock, so both would succeed.
    a = ArtifactRecord
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35 has no RETURNING
        with transaction.atomic():
            claimed = a.objects.filter(
                message_handle=parsed.message_handle.hex(),
                entity_id=entity.pk,
                resolved_at__isnull=True,
                expires_at__gt=now,
            ).update(resolved_at=now)
            rows = (
                list(a.objects.filter(message_handle=parsed.message_handle.hex()).values_list("response_xml"))
                if claimed
                else []
            )
        return _resolved(issuer, rows)
    _count, rows = _sql(
        _statements(connection.vendor)["claim"],
        [_moment(now), parsed.message_handle.hex(), entity.pk, _moment(now)],
    )
    return _resolved(issuer, rows)


def _resolved(issuer: str, rows: list[tuple[Any, ...]]) -> etree._Element | None:
    if not rows:
        logger.warning("ArtifactResolve from %s: artifact unknown, expired, used or not theirs", issuer)
        return None
    stored = rows[0][0].encode("utf-8")
    # Our own document, but parsed as strictly as anything else.
    return xml.parse(stored, max_bytes=len(stored) + 1)


# --------------------------------------------------------------------------------------------------------------------
# The outcome of a login, for the audit log


def _login_actor(person: Person | None) -> Actor:
    return Actor.for_person(person) if person is not None else Actor(label="anonymous")


# No savepoint of its own inside the caller's transaction (the answer's commit): one INSERT needs none.
@transaction.atomic(savepoint=False)
def login_record_allowed(
    *,
    pending: PendingLogin,
    person: Person,
    organisation: Organisation,
    intermediary: Organisation | None,
    services: tuple[ServiceInstance, ...],
    branch: str | None,
    level: Level,
) -> None:
    """The person logged in at the DV for ``organisation`` (through ``intermediary``) at ``level``."""
    audit_record(
        actor=_login_actor(person),
        action="saml:login_allowed",
        subject=person,
        organisation=organisation,
        data={
            "entity_id": pending.entity_id,
            "request_id": pending.request_id,
            "services": [instance.service_id for instance in services],
            "intermediary": intermediary.kvk if intermediary else None,
            "branch": branch,
            "level": level.label,
        },
    )


@transaction.atomic
def login_record_refused(
    *, pending: PendingLogin, person: Person, decisions: list[tuple[Organisation | None, Decision]]
) -> None:
    """The person may not use the service for anyone; ``decisions`` say why, per organisation."""
    audit_record(
        actor=_login_actor(person),
        action="saml:login_refused",
        subject=person,
        data={
            "entity_id": pending.entity_id,
            "request_id": pending.request_id,
            "service_index": pending.service_index,
            "refusals": [
                {"organisation": organisation.kvk if organisation else None, "reasons": decision.codes}
                for organisation, decision in decisions
            ],
        },
    )


@transaction.atomic
def login_record_cancelled(
    *, pending: PendingLogin, person: Person | None, entity: ServiceProviderEntity | None = None
) -> None:
    """The person (or, before logging in, someone anonymous) cancelled the login; the DV hears AuthnFailed.
    ``entity`` is the DV's entity when the caller already read it."""
    if entity is None and person is None:
        entity = selectors.entity_by_issuer(pending.entity_id)
    audit_record(
        actor=_login_actor(person),
        action="saml:cancelled",
        subject=person if person is not None else entity,
        data={"entity_id": pending.entity_id, "request_id": pending.request_id},
    )


# --------------------------------------------------------------------------------------------------------------------
# Clean-up


@transaction.atomic
def saml_cleanup(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete message IDs seen more than 12 months ago (the replay window of eHerkenning) and artifacts that expired
    or were resolved more than a day ago; one audit event with the counts. Returns ``{"message_ids": n,
    "artifacts": m}``."""
    now = now or timezone.now()
    message_ids, _details = SeenMessageId.objects.filter(seen_at__lt=now - MESSAGE_ID_RETENTION).delete()
    cutoff = now - ARTIFACT_RETENTION
    stale = ArtifactRecord.objects.filter(expires_at__lt=cutoff) | ArtifactRecord.objects.filter(resolved_at__lt=cutoff)
    artifact_count, _details = stale.delete()
    counts = {"message_ids": message_ids, "artifacts": artifact_count}
    audit_record(actor=SYSTEM, action="saml:cleaned_up", data={**counts, "before": now.isoformat()})
    return counts
