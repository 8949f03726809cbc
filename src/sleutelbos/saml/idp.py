"""The broker's own SAML identity: its entity ID, its signing key and the certificates it publishes.

Configured in settings:

- ``SAML_IDP_OIN`` (20 digits) and ``SAML_IDP_ENTITY_INDEX`` make the entity ID
  ``urn:etoegang:HM:<OIN>:entities:<n>``;
- ``SAML_IDP_SIGNING_KEY`` and ``SAML_IDP_SIGNING_CERT``: paths of the PEM key and certificate the broker signs
  with; ``SAML_IDP_NEXT_CERT``: the path of the next certificate during a key rollover, published next to the
  current one so that service providers trust it before the broker switches;
- ``SAML_IDP_BASE_URL``: the public https origin of the broker, used in its metadata.

Without key paths (development) a key and a self-signed certificate are generated once under ``VAR_DIR/saml/``
(the key readable by its owner only) and reused on every run after; ``var/`` is never committed. The key is read
once per process.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from sleutelbos.saml.protocol.keys import (
    KeyLoadError,
    generate_development_keypair,
    key_matches_certificate,
    load_certificate,
    load_private_key,
)
from sleutelbos.saml.protocol.metadata import broker_entity_id

logger = logging.getLogger(__name__)

#: An OIN in the range the demo uses (``00000009`` + nine digits + ``000``), for development only.
DEVELOPMENT_OIN = "00000009999999999000"
DEVELOPMENT_KEY_NAME = "idp-signing.key"
DEVELOPMENT_CERT_NAME = "idp-signing.crt"

#: Where the broker's SAML endpoints live (mounted under /saml/ by sleutelbos.urls).
SSO_PATH = "/saml/idp/sso/"
ARTIFACT_RESOLUTION_PATH = "/saml/idp/artifact/"
#: How long a service provider may cache the broker's metadata.
METADATA_VALIDITY = dt.timedelta(days=7)


@dataclass(frozen=True)
class IdpConfig:
    """The broker's SAML configuration, read once per process."""

    oin: str
    entity_index: int
    key_pem: bytes
    cert_pem: bytes
    next_cert_pem: bytes | None = None

    @property
    def entity_id(self) -> str:
        return broker_entity_id(self.oin, self.entity_index)

    @property
    def certificates(self) -> tuple[bytes, ...]:
        """The signing certificates to publish: the current one, and the next one during a rollover."""
        return (self.cert_pem,) if self.next_cert_pem is None else (self.cert_pem, self.next_cert_pem)


def broker_oin() -> str:
    """The broker's own OIN (``SAML_IDP_OIN``, or the development OIN), without loading any key."""
    return str(getattr(settings, "SAML_IDP_OIN", "") or DEVELOPMENT_OIN)


@functools.cache
def idp_config() -> IdpConfig:
    """The broker's configuration from settings, keys loaded (or, in development, generated) once per process."""
    oin = broker_oin()
    index = int(getattr(settings, "SAML_IDP_ENTITY_INDEX", 0) or 0)
    try:
        broker_entity_id(oin, index)
    except ValueError as error:
        raise ImproperlyConfigured(f"SAML_IDP_OIN / SAML_IDP_ENTITY_INDEX: {error}") from None
    key_path = getattr(settings, "SAML_IDP_SIGNING_KEY", "") or ""
    cert_path = getattr(settings, "SAML_IDP_SIGNING_CERT", "") or ""
    next_path = getattr(settings, "SAML_IDP_NEXT_CERT", "") or ""
    if bool(key_path) != bool(cert_path):
        raise ImproperlyConfigured("Set both SAML_IDP_SIGNING_KEY and SAML_IDP_SIGNING_CERT, or neither.")
    if key_path:
        key_pem, cert_pem = _read(key_path, "SAML_IDP_SIGNING_KEY"), _read(cert_path, "SAML_IDP_SIGNING_CERT")
    else:
        key_pem, cert_pem = development_keypair(Path(settings.VAR_DIR) / "saml", broker_entity_id(oin, index))
    next_pem = _read(next_path, "SAML_IDP_NEXT_CERT") if next_path else None
    try:
        load_private_key(key_pem)
        for pem in (cert_pem, next_pem):
            if pem is not None:
                load_certificate(pem)
        matches = key_matches_certificate(key_pem, cert_pem)
    except KeyLoadError as error:
        raise ImproperlyConfigured(f"The SAML signing key or certificate cannot be used: {error}.") from None
    if not matches:
        raise ImproperlyConfigured("SAML_IDP_SIGNING_KEY does not belong to SAML_IDP_SIGNING_CERT.")
    return IdpConfig(oin=oin, entity_index=index, key_pem=key_pem, cert_pem=cert_pem, next_cert_pem=next_pem)


def idp_entity_id() -> str:
    """The broker's entity ID, ``urn:etoegang:HM:<OIN>:entities:<n>``."""
    return idp_config().entity_id


def _read(path: str | os.PathLike[str], setting: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ImproperlyConfigured(f"{setting}: {error}") from None


def development_keypair(directory: Path, common_name: str) -> tuple[bytes, bytes]:
    """The development key and certificate under ``directory``, generated on first use and reused after.

    A lock makes concurrent first starts (several workers) agree on one key; the key file is created with mode
    0600, so it is never readable by anyone else, not even for a moment.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path, cert_path = directory / DEVELOPMENT_KEY_NAME, directory / DEVELOPMENT_CERT_NAME
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (key_path.exists() and cert_path.exists()):
            key_pem, cert_pem = generate_development_keypair(common_name)
            _write_private(key_path, key_pem)
            cert_path.write_bytes(cert_pem)
            logger.warning("Generated a development SAML signing key in %s; configure SAML_IDP_SIGNING_KEY.", key_path)
        return key_path.read_bytes(), cert_path.read_bytes()


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
