"""Loading RSA keys and X.509 certificates from bytes, and a self-signed key pair for development.

The broker signs with one RSA key and may publish two certificates at once (key rollover); a service provider's
metadata carries its certificates as base64 DER inside ``ds:X509Certificate``. These helpers turn all of those
forms into PEM bytes, which is what :mod:`.signatures` and :mod:`.encryption` take.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

MINIMUM_RSA_BITS = 2048
DEVELOPMENT_VALIDITY = datetime.timedelta(days=5 * 365)

_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----\s+.+?-----END CERTIFICATE-----", re.DOTALL)


class KeyLoadError(ValueError):
    """A key or certificate could not be loaded or is unfit for SAML (not RSA, too short)."""


def load_private_key(data: bytes, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """Load an RSA private key of at least 2048 bits from PEM (PKCS#8 or PKCS#1)."""
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise KeyLoadError("not a PEM private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyLoadError("the private key is not an RSA key")
    if key.key_size < MINIMUM_RSA_BITS:
        raise KeyLoadError(f"the RSA key has {key.key_size} bits, fewer than {MINIMUM_RSA_BITS}")
    return key


def load_certificate(data: bytes) -> x509.Certificate:
    """Load one certificate from PEM or DER bytes; its public key must be RSA of at least 2048 bits."""
    try:
        if b"-----BEGIN" in data:
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise KeyLoadError("not an X.509 certificate") from exc
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyLoadError("the certificate's key is not an RSA key")
    if public_key.key_size < MINIMUM_RSA_BITS:
        raise KeyLoadError(f"the certificate's RSA key has {public_key.key_size} bits, fewer than {MINIMUM_RSA_BITS}")
    return certificate


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Load every certificate of a PEM bundle (for instance the current and the next one during a rollover)."""
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise KeyLoadError("no PEM certificate found")
    return [load_certificate(block) for block in blocks]


def certificate_pem(certificate: x509.Certificate) -> bytes:
    """The certificate as PEM bytes."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def certificate_from_base64(text: str) -> bytes:
    """PEM bytes from the base64 DER found in a metadata ``ds:X509Certificate`` element (whitespace ignored)."""
    compact = "".join(text.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyLoadError("the certificate is not valid base64") from exc
    return certificate_pem(load_certificate(der))


def certificate_base64(cert_pem: bytes) -> str:
    """The base64 DER of a PEM certificate, as written in a metadata ``ds:X509Certificate`` element."""
    der = load_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii")


def fingerprint(cert_pem: bytes, algorithm: hashes.HashAlgorithm | None = None) -> str:
    """The certificate's fingerprint as colon-separated upper-case hex (SHA-256 unless another hash is given)."""
    digest = load_certificate(cert_pem).fingerprint(algorithm or hashes.SHA256())
    return ":".join(f"{byte:02X}" for byte in digest)


def key_matches_certificate(key_pem: bytes, cert_pem: bytes) -> bool:
    """Whether the private key belongs to the certificate (a misconfiguration that otherwise shows up at the DV)."""
    private_numbers = load_private_key(key_pem).public_key().public_numbers()
    return load_certificate(cert_pem).public_key().public_numbers() == private_numbers


def generate_development_keypair(
    common_name: str, *, validity: datetime.timedelta = DEVELOPMENT_VALIDITY
) -> tuple[bytes, bytes]:
    """A new RSA-2048 key and a self-signed certificate for it, valid for five years, both as PEM.

    Meant for development, where the broker creates its signing key on first run; production keys come from the
    PKIoverheid chain and are configured by path.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=MINIMUM_RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, certificate_pem(certificate)
