"""SAML artifacts of type 0x0004: the byte layout of SAML bindings 3.6.4, and pysaml2's reading of ours."""

from __future__ import annotations

import base64
import hashlib
import importlib
import types

import pytest

from sleutelbos.saml.protocol import artifacts
from sleutelbos.saml.protocol.artifacts import ArtifactError

ENTITY_ID = "urn:etoegang:HM:00000009876543210000:entities:0001"


def test_an_artifact_has_the_layout_of_the_specification():
    raw = base64.b64decode(artifacts.make_artifact(ENTITY_ID, 2))

    assert len(raw) == 44
    assert raw[0:2] == b"\x00\x04"
    assert raw[2:4] == b"\x00\x02"
    assert raw[4:24] == hashlib.sha1(ENTITY_ID.encode()).digest()  # noqa: S324


def test_an_artifact_parses_back_into_its_parts():
    text = artifacts.make_artifact(ENTITY_ID, 513)

    artifact = artifacts.parse_artifact(text)

    assert artifact.type_code == 4
    assert artifact.endpoint_index == 513
    assert artifact.source_id == artifacts.source_id(ENTITY_ID)
    assert len(artifact.message_handle) == 20
    assert artifact.encode() == text


def test_every_artifact_has_a_new_message_handle():
    handles = {artifacts.parse_artifact(artifacts.make_artifact(ENTITY_ID, 0)).message_handle for _ in range(50)}

    assert len(handles) == 50


@pytest.mark.parametrize("index", [-1, 65536])
def test_an_endpoint_index_outside_two_bytes_is_refused(index):
    with pytest.raises(ArtifactError, match="two bytes"):
        artifacts.make_artifact(ENTITY_ID, index)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not base64!", "not valid base64"),
        (base64.b64encode(b"\x00\x04" + b"\x00" * 41).decode(), "43 bytes instead of 44"),
        (base64.b64encode(b"\x00\x04" + b"\x00" * 43).decode(), "45 bytes instead of 44"),
        (base64.b64encode(b"\x00\x01" + b"\x00" * 42).decode(), "type 0x0001 is not supported"),
        ("A" * 65, "too long"),
        ("", "0 bytes"),
    ],
)
def test_malformed_artifacts_are_refused(text, reason):
    with pytest.raises(ArtifactError, match=reason):
        artifacts.parse_artifact(text)


def test_pysaml2_finds_our_artifact_resolution_service_from_our_artifact():
    entity = importlib.import_module("saml2.entity")
    # pysaml2 reads the index of spec-conformant artifacts through hexlify, so it reads indexes 0-9 right.
    services = [{"index": str(index), "location": f"https://hm.example/ars/{index}"} for index in range(10)]
    metadata = types.SimpleNamespace(
        sourceid={artifacts.source_id(ENTITY_ID): {"idpsso_descriptor": [{"artifact_resolution_service": services}]}}
    )

    for index in (0, 1, 9):
        destination = entity.Entity.artifact2destination(metadata, artifacts.make_artifact(ENTITY_ID, index), "idpsso")
        assert destination == f"https://hm.example/ars/{index}"


def test_pysaml2_artifacts_parse_with_the_same_source_id_and_message_handle():
    entity = importlib.import_module("saml2.entity")
    handle = bytes(range(20))

    artifact = artifacts.parse_artifact(entity.create_artifact(ENTITY_ID, handle, 0))

    assert artifact.source_id == artifacts.source_id(ENTITY_ID)
    assert artifact.message_handle == handle
    # pysaml2 writes the index as two ASCII hex digits ("00"), not as two bytes as the specification says.
    assert artifact.endpoint_index == int.from_bytes(b"00", "big")
