"""SAML metadata at the protocol level: a service provider's metadata read (or refused, with the reason named), and
the broker's own metadata built."""

from __future__ import annotations

import base64
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from sleutelbos.saml.protocol.keys import certificate_base64, generate_development_keypair
from sleutelbos.saml.protocol.metadata import (
    BINDING_ARTIFACT,
    BINDING_POST,
    BINDING_REDIRECT,
    BINDING_SOAP,
    MAX_METADATA_BYTES,
    MetadataError,
    broker_entity_id,
    build_idp_metadata,
    parse_sp_metadata,
)

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS = {"md": MD, "ds": "http://www.w3.org/2000/09/xmldsig#"}
DV_ENTITY_ID = "urn:etoegang:DV:00000009876543210000:entities:9001"
ACS_ARTIFACT = "https://eherkenning.voorbeeldgemeente.example/saml/acs"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def dv_certificates() -> list[str]:
    """The base64 certificates of the DV fixture, in document order (signing, next signing, encryption)."""
    root = etree.fromstring(fixture("dv-eherkenning.xml"))
    return ["".join(node.text.split()) for node in root.iterfind(".//ds:X509Certificate", NS)]


# --------------------------------------------------------------------------------------------------------------------
# A service provider's metadata


def test_realistic_eherkenning_metadata_is_read_whole() -> None:
    metadata = parse_sp_metadata(fixture("dv-eherkenning.xml"))
    signing, next_signing, encryption = dv_certificates()

    assert metadata.entity_id == DV_ENTITY_ID
    assert [c.base64_der for c in metadata.signing_certificates] == [signing, next_signing]
    assert [c.base64_der for c in metadata.encryption_certificates] == [encryption]
    first = metadata.signing_certificates[0]
    assert first.subject == "CN=saml-signing-2025.voorbeeldgemeente.example,O=Voorbeeldgemeente,C=NL"
    assert first.not_after == dt.datetime(2045, 1, 1, tzinfo=dt.UTC)
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first.fingerprint)
    assert first.fingerprint != metadata.signing_certificates[1].fingerprint

    assert [(acs.index, acs.binding, acs.location, acs.is_default) for acs in metadata.assertion_consumer_services] == [
        (0, BINDING_ARTIFACT, ACS_ARTIFACT, True),
        (1, BINDING_POST, f"{ACS_ARTIFACT}/post", False),
    ]
    assert metadata.default_acs().index == 0
    assert [(ars.index, ars.binding, ars.location) for ars in metadata.artifact_resolution_services] == [
        (0, BINDING_SOAP, "https://eherkenning.voorbeeldgemeente.example/saml/ars")
    ]
    assert [(s.index, s.names) for s in metadata.attribute_consuming_services] == [
        (1, {"nl": "Parkeervergunning aanvragen", "en": "Apply for a parking permit"}),
        (2, {"nl": "Bedrijfsafval melden"}),
    ]
    assert metadata.name("nl") == "Gemeente Voorbeeld"
    assert metadata.name("en") == "Municipality of Voorbeeld"
    assert metadata.valid_until == dt.datetime(2044, 12, 31, tzinfo=dt.UTC)


def test_a_key_without_use_signs_and_encrypts_and_other_bindings_are_left_out() -> None:
    metadata = parse_sp_metadata(fixture("generic-sp-localhost.xml"))

    assert metadata.entity_id == "http://localhost:8087/sp.xml"
    assert metadata.signing_certificates == metadata.encryption_certificates
    assert len(metadata.signing_certificates) == 1
    # The PAOS endpoint is no way to answer a browser login; the development POST endpoint on localhost is.
    assert [(acs.index, acs.binding, acs.location) for acs in metadata.assertion_consumer_services] == [
        (1, BINDING_POST, "http://localhost:8087/acs/post")
    ]
    assert metadata.default_acs().index == 1
    assert metadata.name() == "http://localhost:8087/sp.xml"


def test_an_entities_descriptor_with_one_entity_is_accepted() -> None:
    dv = fixture("dv-eherkenning.xml").split(b"?>", 1)[1]
    wrapped = b'<md:EntitiesDescriptor xmlns:md="' + MD.encode() + b'">' + dv + b"</md:EntitiesDescriptor>"
    assert parse_sp_metadata(wrapped).entity_id == DV_ENTITY_ID


def _replace(old: str, new: str, *, count: int = 1) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, count)

    return change


def _remove(pattern: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        changed, found = re.subn(pattern, "", text, flags=re.DOTALL)
        assert found, pattern
        return changed

    return change


_SIGNING_KEYS = r'<md:KeyDescriptor use="signing">.*?</md:KeyDescriptor>\s*'
_ACS = r"<md:AssertionConsumerService .*?/>\s*"
_ARTIFACT_ACS = f'Location="{ACS_ARTIFACT}" index="0"'


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param(_replace(DV_ENTITY_ID, "Gemeente Voorbeeld"), "entity_id_not_uri", id="entity-id-with-space"),
        pytest.param(_replace(DV_ENTITY_ID, "eherkenning"), "entity_id_not_uri", id="entity-id-without-scheme"),
        pytest.param(_replace(DV_ENTITY_ID, ""), "entity_id_not_uri", id="entity-id-empty"),
        pytest.param(_replace(DV_ENTITY_ID, "urn:" + "x" * 1021), "entity_id_not_uri", id="entity-id-too-long"),
        pytest.param(_remove(_ACS), "missing_acs", id="no-acs"),
        pytest.param(
            lambda t: _replace('bindings:HTTP-POST"', 'bindings:PAOS"')(
                _replace('bindings:HTTP-Artifact"', 'bindings:PAOS"')(t)
            ),
            "missing_acs",
            id="only-paos-acs",
        ),
        pytest.param(
            _replace(f'"{ACS_ARTIFACT}"', '"http://eherkenning.voorbeeldgemeente.example/saml/acs"'),
            "not_https",
            id="acs-plain-http",
        ),
        pytest.param(
            _replace(f'"{ACS_ARTIFACT}"', '"http://localhost.voorbeeldgemeente.example/acs"'),
            "not_https",
            id="acs-http-on-a-host-named-like-localhost",
        ),
        pytest.param(_replace(f'"{ACS_ARTIFACT}"', '"javascript:alert(1)"'), "not_https", id="acs-javascript"),
        pytest.param(_replace(f'"{ACS_ARTIFACT}"', '"/saml/acs"'), "not_https", id="acs-relative"),
        pytest.param(
            _replace("https://eherkenning.voorbeeldgemeente.example/saml/ars", "http://ars.example/ars"),
            "not_https",
            id="ars-plain-http",
        ),
        pytest.param(_remove(_SIGNING_KEYS), "missing_signing_certificate", id="only-an-encryption-key"),
        pytest.param(_replace(_ARTIFACT_ACS, f'Location="{ACS_ARTIFACT}" index="1"'), "duplicate_index", id="dup"),
        pytest.param(_replace(_ARTIFACT_ACS, f'Location="{ACS_ARTIFACT}" index="-1"'), "bad_index", id="neg-index"),
        pytest.param(_replace(_ARTIFACT_ACS, f'Location="{ACS_ARTIFACT}"'), "bad_index", id="no-index"),
        pytest.param(_replace("2044-12-31T00:00:00Z", "2020-01-01T00:00:00Z"), "expired", id="valid-until-passed"),
        pytest.param(_replace("MII", "!!!"), "bad_certificate", id="certificate-not-base64"),
        pytest.param(_replace("MII", "QUJD"), "bad_certificate", id="certificate-not-der"),
        pytest.param(lambda t: t.replace("md:SPSSODescriptor", "md:IDPSSODescriptor"), "no_sp_descriptor", id="an-idp"),
        pytest.param(
            _replace("urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:1.1:protocol"),
            "no_sp_descriptor",
            id="saml-1.1",
        ),
        pytest.param(lambda t: "<html><body>Not found</body></html>", "not_metadata", id="an-html-page"),
        pytest.param(lambda t: t[: len(t) // 2], "not_xml", id="truncated"),
        pytest.param(
            lambda t: f'<md:EntitiesDescriptor xmlns:md="{MD}">' + t.split("?>", 1)[1] * 2 + "</md:EntitiesDescriptor>",
            "several_entities",
            id="two-entities",
        ),
    ],
)
def test_unusable_metadata_is_refused_with_its_reason(change: Callable[[str], str], reason: str) -> None:
    data = change(fixture("dv-eherkenning.xml").decode()).encode()
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(data)
    assert refused.value.reason == reason


def test_a_doctype_is_refused_before_any_entity_is_resolved() -> None:
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(fixture("doctype-external-entity.xml"))
    assert refused.value.reason == "doctype"


def test_an_elliptic_curve_signing_key_is_refused() -> None:
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(fixture("ec-signing-key.xml"))
    assert refused.value.reason == "certificate_unfit"
    assert "ec.voorbeeldgemeente.example" in str(refused.value)


def test_a_short_rsa_key_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point of the test)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "short.example")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
    data = re.sub(
        r"<ds:X509Certificate>.*?</ds:X509Certificate>",
        f"<ds:X509Certificate>{der}</ds:X509Certificate>",
        fixture("dv-eherkenning.xml").decode(),
        count=1,
        flags=re.DOTALL,
    )
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(data.encode())
    assert refused.value.reason == "certificate_unfit"


def test_oversized_metadata_is_refused_unread() -> None:
    data = fixture("dv-eherkenning.xml").replace(b"<md:Organization>", b"<!--" + b"x" * MAX_METADATA_BYTES + b"-->")
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(data)
    assert refused.value.reason == "too_large"


def test_expiry_is_judged_at_the_moment_given() -> None:
    later = dt.datetime(2045, 6, 1, tzinfo=dt.UTC)
    with pytest.raises(MetadataError) as refused:
        parse_sp_metadata(fixture("dv-eherkenning.xml"), now=later)
    assert refused.value.reason == "expired"


# --------------------------------------------------------------------------------------------------------------------
# The broker's metadata


@pytest.fixture(scope="module")
def rollover() -> tuple[bytes, bytes]:
    """The current and the next signing certificate."""
    return generate_development_keypair("current.example")[1], generate_development_keypair("next.example")[1]


def test_broker_metadata_publishes_both_rollover_certificates_and_its_endpoints(rollover: tuple[bytes, bytes]) -> None:
    entity_id = broker_entity_id("00000009999999999000", 3)
    valid_until = dt.datetime(2030, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    entity = build_idp_metadata(
        entity_id=entity_id,
        sso_url="https://broker.example/saml/idp/sso/",
        artifact_resolution_url="https://broker.example/saml/idp/artifact/",
        certificates=rollover,
        valid_until=valid_until,
    )
    # Parse what would be served, so that the test sees the document, not the builder's objects.
    root = etree.fromstring(etree.tostring(entity))

    assert root.tag == f"{{{MD}}}EntityDescriptor"
    assert root.get("entityID") == "urn:etoegang:HM:00000009999999999000:entities:3"
    assert root.get("validUntil") == "2030-01-02T03:04:05Z"
    assert re.fullmatch(r"_[0-9a-f]{40}", root.get("ID"))
    (idp,) = root.findall("md:IDPSSODescriptor", NS)
    assert idp.get("WantAuthnRequestsSigned") == "true"
    assert idp.get("protocolSupportEnumeration") == "urn:oasis:names:tc:SAML:2.0:protocol"

    keys = idp.findall("md:KeyDescriptor", NS)
    assert [key.get("use") for key in keys] == ["signing", "signing"]
    published = [key.findtext("ds:KeyInfo/ds:X509Data/ds:X509Certificate", namespaces=NS) for key in keys]
    assert published == [certificate_base64(pem) for pem in rollover]

    (ars,) = idp.findall("md:ArtifactResolutionService", NS)
    assert (ars.get("Binding"), ars.get("Location"), ars.get("index")) == (
        BINDING_SOAP,
        "https://broker.example/saml/idp/artifact/",
        "0",
    )
    sso = [(s.get("Binding"), s.get("Location")) for s in idp.findall("md:SingleSignOnService", NS)]
    assert sso == [
        (BINDING_REDIRECT, "https://broker.example/saml/idp/sso/"),
        (BINDING_POST, "https://broker.example/saml/idp/sso/"),
    ]
    assert [n.text for n in idp.findall("md:NameIDFormat", NS)] == [
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    ]
    # The schema's order within an IDPSSODescriptor: keys, ArtifactResolutionService, NameIDFormat, SSO.
    order = [etree.QName(child).localname for child in idp]
    assert order == [
        "KeyDescriptor",
        "KeyDescriptor",
        "ArtifactResolutionService",
        "NameIDFormat",
        "NameIDFormat",
        "SingleSignOnService",
        "SingleSignOnService",
    ]


def test_broker_metadata_with_one_certificate_and_the_organisation(rollover: tuple[bytes, bytes]) -> None:
    entity = build_idp_metadata(
        entity_id=broker_entity_id("00000009999999999000", 0),
        sso_url="https://broker.example/sso",
        artifact_resolution_url="https://broker.example/ars",
        certificates=rollover[:1],
        valid_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        organisation_name="Sleutelbos",
        organisation_url="https://broker.example",
    )
    assert [node.text for node in entity.iterfind(".//ds:X509Certificate", NS)] == [certificate_base64(rollover[0])]
    assert entity.findtext("md:Organization/md:OrganizationDisplayName", namespaces=NS) == "Sleutelbos"


@pytest.mark.parametrize("count", [0, 3])
def test_broker_metadata_publishes_one_or_two_certificates(rollover: tuple[bytes, bytes], count: int) -> None:
    with pytest.raises(ValueError, match="one signing certificate"):
        build_idp_metadata(
            entity_id=broker_entity_id("00000009999999999000", 0),
            sso_url="https://broker.example/sso",
            artifact_resolution_url="https://broker.example/ars",
            certificates=(rollover * 2)[:count],
            valid_until=dt.datetime.now(dt.UTC),
        )


@pytest.mark.parametrize(("oin", "index"), [("123", 0), ("0000000999999999900a", 0), ("00000009999999999000", -1)])
def test_broker_entity_id_needs_an_oin_and_an_index(oin: str, index: int) -> None:
    with pytest.raises(ValueError):
        broker_entity_id(oin, index)
