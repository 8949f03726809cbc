"""The broker's SAML endpoints, adapting HTTP requests to the protocol code in :mod:`sleutelbos.saml.protocol`."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from lxml import etree

from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH, METADATA_VALIDITY, SSO_PATH, idp_config
from sleutelbos.saml.protocol.metadata import build_idp_metadata
from sleutelbos.saml.protocol.signatures import sign

METADATA_CONTENT_TYPE = "application/samlmetadata+xml"


def public_url(request: HttpRequest, path: str) -> str:
    """An absolute URL of the broker: on ``SAML_IDP_BASE_URL`` when set (behind a proxy), else on the host asked
    (which ALLOWED_HOSTS limits)."""
    base = (getattr(settings, "SAML_IDP_BASE_URL", "") or "").rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


@require_safe
def idp_metadata(request: HttpRequest) -> HttpResponse:
    """The broker's SAML metadata, signed with its current key: entity ID, signing certificate(s), SSO and artifact
    resolution endpoints."""
    config = idp_config()
    element = build_idp_metadata(
        entity_id=config.entity_id,
        sso_url=public_url(request, SSO_PATH),
        artifact_resolution_url=public_url(request, ARTIFACT_RESOLUTION_PATH),
        certificates=config.certificates,
        valid_until=timezone.now() + METADATA_VALIDITY,
    )
    sign(element, config.key_pem, config.cert_pem)
    body = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
    response = HttpResponse(body, content_type=METADATA_CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="sleutelbos-idp-metadata.xml"'
    return response
