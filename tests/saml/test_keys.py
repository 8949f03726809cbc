"""Loading keys and certificates, and the development key pair."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from sleutelbos.saml.protocol import keys


@pytest.fixture(scope="module")
def pair():
    return keys.generate_development_keypair("sleutelbos development")


def test_the_development_pair_is_rsa_2048_self_signed_for_five_years(pair):
    key_pem, cert_pem = pair

    key = keys.load_private_key(key_pem)
    certificate = keys.load_certificate(cert_pem)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert certificate.subject == certificate.issuer
    assert certificate.subject.rfc4514_string() == "CN=sleutelbos development"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 5 * 365 <= lifetime.days <= 5 * 365 + 1
    assert keys.key_matches_certificate(key_pem, cert_pem)


def test_a_key_and_someone_elses_certificate_do_not_match(pair):
    _, other_cert = keys.generate_development_keypair("other")

    assert not keys.key_matches_certificate(pair[0], other_cert)


def test_a_rollover_bundle_loads_both_certificates(pair):
    _, next_cert = keys.generate_development_keypair("next")

    loaded = keys.load_certificates(pair[1] + b"\n" + next_cert)

    assert [c.subject.rfc4514_string() for c in loaded] == ["CN=sleutelbos development", "CN=next"]


def test_metadata_base64_converts_to_pem_and_back(pair):
    text = keys.certificate_base64(pair[1])
    wrapped = "\n".join(text[i : i + 64] for i in range(0, len(text), 64))

    assert keys.certificate_from_base64(f"\n  {wrapped}\n") == pair[1]


def test_the_fingerprint_is_colon_separated_sha256(pair):
    certificate = x509.load_pem_x509_certificate(pair[1])

    assert keys.fingerprint(pair[1]) == certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert len(keys.fingerprint(pair[1], hashes.SHA1())) == 59  # noqa: S303


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: keys.load_private_key(b"garbage"), "not a PEM private key"),
        (lambda: keys.load_certificate(b"garbage"), "not an X.509 certificate"),
        (lambda: keys.load_certificates(b"garbage"), "no PEM certificate"),
        (lambda: keys.certificate_from_base64("%%%"), "not valid base64"),
    ],
)
def test_garbage_is_refused_with_a_reason(call, reason):
    with pytest.raises(keys.KeyLoadError, match=reason):
        call()


def test_non_rsa_and_short_rsa_keys_are_refused():
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    short_pem = rsa.generate_private_key(public_exponent=65537, key_size=1024).private_bytes(  # noqa: S505 - the point of the test
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    with pytest.raises(keys.KeyLoadError, match="not an RSA key"):
        keys.load_private_key(ec_pem)
    with pytest.raises(keys.KeyLoadError, match="1024 bits"):
        keys.load_private_key(short_pem)
