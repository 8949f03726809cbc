"""SAML 2.0 artifacts of type 0x0004 (SAML bindings 3.6.4), the only way eHerkenning returns a response.

``base64(TypeCode 0x0004 ‖ EndpointIndex (2 bytes, big-endian) ‖ SourceID (20 bytes) ‖ MessageHandle (20 bytes))``
with SourceID the SHA-1 of the issuer's entity ID, by which the DV finds our ArtifactResolutionService, and a
MessageHandle of 20 random bytes that names the stored response; it is what makes the artifact unguessable.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

TYPE_CODE = 0x0004
SOURCE_ID_BYTES = 20
MESSAGE_HANDLE_BYTES = 20
ARTIFACT_BYTES = 2 + 2 + SOURCE_ID_BYTES + MESSAGE_HANDLE_BYTES
#: The base64 text of a 44-byte artifact is always 60 characters; anything much longer is not worth decoding.
_MAX_TEXT_LENGTH = 64


class ArtifactError(ValueError):
    """The text is not a type 0x0004 artifact. ``reason`` is short, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Artifact:
    """A decoded type 0x0004 artifact."""

    type_code: int
    endpoint_index: int
    source_id: bytes
    message_handle: bytes

    def encode(self) -> str:
        """The artifact as the base64 text sent in the ``SAMLart`` parameter."""
        raw = (
            self.type_code.to_bytes(2, "big")
            + self.endpoint_index.to_bytes(2, "big")
            + self.source_id
            + self.message_handle
        )
        return base64.b64encode(raw).decode("ascii")


def source_id(entity_id: str) -> bytes:
    """The SourceID of an entity: the SHA-1 of its entity ID (SAML bindings 3.6.4)."""
    return hashlib.sha1(entity_id.encode("utf-8"), usedforsecurity=False).digest()


def make_artifact(entity_id: str, endpoint_index: int) -> str:
    """A new artifact for the issuer ``entity_id`` and its ArtifactResolutionService ``endpoint_index``."""
    if not 0 <= endpoint_index <= 0xFFFF:
        raise ArtifactError(f"endpoint index {endpoint_index} does not fit in two bytes")
    return Artifact(
        type_code=TYPE_CODE,
        endpoint_index=endpoint_index,
        source_id=source_id(entity_id),
        message_handle=secrets.token_bytes(MESSAGE_HANDLE_BYTES),
    ).encode()


def parse_artifact(text: str) -> Artifact:
    """Decode a ``SAMLart`` value; refused unless it is base64 of exactly 44 bytes with type code 0x0004."""
    if len(text) > _MAX_TEXT_LENGTH:
        raise ArtifactError("the artifact is too long")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactError("the artifact is not valid base64") from exc
    if len(raw) != ARTIFACT_BYTES:
        raise ArtifactError(f"the artifact has {len(raw)} bytes instead of {ARTIFACT_BYTES}")
    type_code = int.from_bytes(raw[0:2], "big")
    if type_code != TYPE_CODE:
        raise ArtifactError(f"artifact type {type_code:#06x} is not supported")
    return Artifact(
        type_code=type_code,
        endpoint_index=int.from_bytes(raw[2:4], "big"),
        source_id=raw[4 : 4 + SOURCE_ID_BYTES],
        message_handle=raw[4 + SOURCE_ID_BYTES :],
    )
