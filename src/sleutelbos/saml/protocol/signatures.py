"""XML signatures of the eHerkenning profile: enveloped RSA-SHA256 over exclusive c14n, and the Redirect binding.

The profile allows exactly one signature shape, and that shape is all this module accepts: before any cryptography,
:func:`verify` checks the whole signature against it (one signature, a direct child of the element, one reference
to that element's own unique ID, only the enveloped-signature and exclusive c14n transforms, RSA-SHA256 and SHA-256
only, an InclusiveNamespaces PrefixList of plain prefixes only). Everything else, among it XSLT and XPath
transforms, ``ds:Object`` and references elsewhere, is refused unprocessed. What is left to compute is small: the
digest of the element's exclusive canonical form without its signature (libxml2's c14n, through lxml, the same code
libxmlsec1 uses), compared in constant time, and the RSA check of the canonical ``ds:SignedInfo`` with
``cryptography``; never with a key from the message, and without changing the received document. A differential
test against libxmlsec1 over mutated messages found no message accepted here that libxmlsec1 refuses.

Signing (:func:`sign`) is the same computation in the other direction: the element is signed where it sits in the
document, so the ``ds:Signature`` can go directly after the ``saml:Issuer`` as the SAML schema requires, and nothing
is serialised or parsed again. The tests check signatures made here with libxmlsec1 (the library behind pysaml2 and
the OneLogin toolkit the service providers run) and with signxml, and signatures made by both of them verify here.

The HTTP-Redirect binding signs the query string instead of the XML (SAML bindings 3.4.4.1); that is plain RSA over
the octets exactly as received, done with ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import hashlib
import hmac
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote_plus, unquote_plus

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from . import keys
from .xml import DS, EC, SAML, elements_with_id, parse, qname

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED_SIGNATURE = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

#: The transforms a reference must list, in this order (eHerkenning: enveloped signature, then exclusive c14n).
REQUIRED_TRANSFORMS = (ENVELOPED_SIGNATURE, EXC_C14N)

#: SAML bindings 3.4.3 and 3.5.3: RelayState MUST NOT exceed 80 bytes.
MAX_RELAY_STATE_BYTES = 80
#: An inflated Redirect message larger than this is refused (a deflate bomb is tiny on the wire).
MAX_INFLATED_BYTES = 256_000

_SIGNATURE = qname(DS, "Signature")
_SIGNED_INFO = qname(DS, "SignedInfo")
_SIGNATURE_VALUE = qname(DS, "SignatureValue")
_KEY_INFO = qname(DS, "KeyInfo")
_CANONICALIZATION_METHOD = qname(DS, "CanonicalizationMethod")
_SIGNATURE_METHOD = qname(DS, "SignatureMethod")
_REFERENCE = qname(DS, "Reference")
_TRANSFORMS = qname(DS, "Transforms")
_TRANSFORM = qname(DS, "Transform")
_DIGEST_METHOD = qname(DS, "DigestMethod")
_DIGEST_VALUE = qname(DS, "DigestValue")
_INCLUSIVE_NAMESPACES = qname(EC, "InclusiveNamespaces")
_ISSUER = qname(SAML, "Issuer")
#: A namespace prefix (an XML NCName, ASCII letters, digits, ``_ . -``, not starting with a digit, dot or hyphen).
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
#: The whitespace XML allows in base64 content (XML-DSig writes line breaks there).
_XML_WHITESPACE = re.compile(r"[ \t\r\n]+")


class SignatureError(ValueError):
    """A signature was refused or could not be made. ``reason`` is short, for the log; never show it to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=32)
def _private_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    return keys.load_private_key(key_pem)


@functools.lru_cache(maxsize=64)
def _public_key(cert_pem: bytes) -> rsa.RSAPublicKey:
    public_key = keys.load_certificate(cert_pem).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)  # load_certificate refuses other key types
    return public_key


def _children(element: etree._Element) -> list[etree._Element]:
    """Element children only: comments and processing instructions are not part of the structure."""
    return [child for child in element if isinstance(child.tag, str)]


@functools.lru_cache(maxsize=32)
def _certificate_text(cert_pem: bytes) -> str:
    return keys.certificate_base64(cert_pem)


def _c14n(element: etree._Element, inclusive_prefixes: Sequence[str] | None = None) -> bytes:
    """Exclusive XML canonicalisation 1.0 without comments of ``element`` and its descendants, in its document;
    ``inclusive_prefixes``: an ``InclusiveNamespaces`` PrefixList (``#default`` for the default namespace)."""
    return etree.tostring(
        element, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=inclusive_prefixes or None
    )


def _inclusive_prefixes(method: etree._Element) -> list[str]:
    """The PrefixList of the ``InclusiveNamespaces`` of an exclusive c14n method or transform, if any."""
    prefixes: list[str] = []
    for child in _children(method):
        prefixes.extend((child.get("PrefixList") or "").split())
    return prefixes


def _ds(parent: etree._Element, local: str, algorithm: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, qname(DS, local))
    if algorithm is not None:
        child.set("Algorithm", algorithm)
    return child


def sign(element: etree._Element, key_pem: bytes, cert_pem: bytes) -> etree._Element:
    """Sign ``element`` in place with an enveloped signature and return it.

    RSA-SHA256 over a SHA-256 digest of the exclusive canonical form, ``Reference URI="#<ID>"``, the certificate in
    ``KeyInfo``. The ``ds:Signature`` goes directly after the element's ``saml:Issuer`` (SAML core 3.2.1, 2.3.3),
    or first when the element has no Issuer (metadata, the service catalogue).

    The signature is made in the tree, as XML-DSig prescribes it, with lxml's (libxml2's) exclusive c14n and
    ``cryptography``'s RSA: the digest of the element is taken before the signature is inserted, which is what the
    enveloped-signature transform gives back to a verifier; then the ``ds:SignedInfo`` is canonicalised where it
    sits and signed. Nothing is serialised and parsed again. The tests verify the result with libxmlsec1 and with
    signxml.
    """
    element_id = element.get("ID")
    if not element_id:
        raise SignatureError("the element to sign has no ID attribute")
    if any(child.tag == _SIGNATURE for child in element):
        raise SignatureError("the element is already signed")
    try:
        private_key = _private_key(key_pem)
        certificate = _certificate_text(cert_pem)
    except keys.KeyLoadError as exc:
        raise SignatureError(f"the signing key could not be loaded: {exc}") from exc

    digest = hashlib.sha256(_c14n(element)).digest()
    signature = etree.Element(_SIGNATURE, nsmap={"ds": DS})
    signed_info = _ds(signature, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", EXC_C14N)
    _ds(signed_info, "SignatureMethod", RSA_SHA256)
    reference = _ds(signed_info, "Reference")
    reference.set("URI", f"#{element_id}")
    transforms = _ds(reference, "Transforms")
    for transform in REQUIRED_TRANSFORMS:
        _ds(transforms, "Transform", transform)
    _ds(reference, "DigestMethod", SHA256)
    _ds(reference, "DigestValue").text = base64.b64encode(digest).decode("ascii")
    signature_value = _ds(signature, "SignatureValue")
    _ds(_ds(_ds(signature, "KeyInfo"), "X509Data"), "X509Certificate").text = certificate

    children = _children(element)
    position = element.index(children[0]) + 1 if children and children[0].tag == _ISSUER else 0
    element.insert(position, signature)
    try:
        value = private_key.sign(_c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    except ValueError as exc:  # pragma: no cover - a loaded RSA key signs
        element.remove(signature)
        raise SignatureError(f"signing failed: {exc}") from exc
    signature_value.text = base64.b64encode(value).decode("ascii")
    return element


def _check_algorithm(node: etree._Element, expected: str, what: str) -> None:
    algorithm = node.get("Algorithm")
    if algorithm != expected:
        raise SignatureError(f"{what} {algorithm!r} is not allowed, only {expected!r}")


def _check_exclusive_c14n(node: etree._Element, what: str) -> None:
    _check_algorithm(node, EXC_C14N, what)
    # An InclusiveNamespaces PrefixList is part of exclusive c14n (SAML signers use it for xsi:type prefixes): at
    # most one, naming prefixes only. "#default" (the default namespace) is not used by SAML signers and is refused.
    children = _children(node)
    if any(child.tag != _INCLUSIVE_NAMESPACES for child in children):
        raise SignatureError(f"unexpected content in {what}")
    if len(children) > 1:
        raise SignatureError(f"more than one InclusiveNamespaces in {what}")
    for prefix in _inclusive_prefixes(node):
        if not _NCNAME.fullmatch(prefix):
            raise SignatureError(f"InclusiveNamespaces prefix {prefix[:40]!r} in {what} is not allowed")


def _check_shape(element: etree._Element, element_id: str) -> etree._Element:
    """Refuse anything but the one signature shape the profile allows; return the ``ds:Signature``."""
    signatures = [child for child in element if child.tag == _SIGNATURE]
    if not signatures:
        raise SignatureError("the element is not signed")
    if len(signatures) > 1:
        raise SignatureError("the element has more than one signature")
    signature = signatures[0]

    parts = [child.tag for child in _children(signature)]
    if parts not in ([_SIGNED_INFO, _SIGNATURE_VALUE], [_SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO]):
        # Among others this refuses ds:Object, the hiding place of XSW variants 7 and 8.
        raise SignatureError("the signature has unexpected parts")
    signed_info = _children(signature)[0]

    info = _children(signed_info)
    if len(info) < 3 or info[0].tag != _CANONICALIZATION_METHOD or info[1].tag != _SIGNATURE_METHOD:
        raise SignatureError("SignedInfo is malformed")
    _check_exclusive_c14n(info[0], "canonicalization method")
    _check_algorithm(info[1], RSA_SHA256, "signature method")
    if _children(info[1]):
        raise SignatureError("the signature method has parameters")
    references = info[2:]
    if len(references) != 1 or references[0].tag != _REFERENCE:
        raise SignatureError("the signature must have exactly one reference")
    reference = references[0]

    uri = reference.get("URI")
    if uri != f"#{element_id}":
        raise SignatureError(f"the signature references {uri!r}, not the element it sits in (#{element_id})")
    parts = _children(reference)
    if [part.tag for part in parts] != [_TRANSFORMS, _DIGEST_METHOD, _DIGEST_VALUE]:
        raise SignatureError("the reference is malformed")
    transforms = _children(parts[0])
    if (
        any(transform.tag != _TRANSFORM for transform in transforms)
        or tuple(transform.get("Algorithm") for transform in transforms) != REQUIRED_TRANSFORMS
    ):
        raise SignatureError("only the enveloped-signature and exclusive c14n transforms are allowed")
    if _children(transforms[0]):
        raise SignatureError("the enveloped-signature transform has parameters")
    _check_exclusive_c14n(transforms[1], "transform")
    _check_algorithm(parts[1], SHA256, "digest method")
    return signature


def _without_comments(element: etree._Element) -> etree._Element:
    """The element with its comments removed and the text around them joined.

    Exclusive c14n without comments leaves comments out of the digest, so ``<NameID>a<!---->b</NameID>`` carries the
    signed value ``ab``; lxml's ``.text`` would say ``a``. After this, ``.text`` is the signed text.
    """
    for comment in list(element.iter(etree.Comment)):
        parent = comment.getparent()
        previous = comment.getprevious()
        if comment.tail:
            if previous is not None:
                previous.tail = (previous.tail or "") + comment.tail
            else:
                parent.text = (parent.text or "") + comment.tail
        parent.remove(comment)
    return element


def verify(element: etree._Element, certs: Sequence[bytes]) -> etree._Element:
    """Verify the enveloped signature of ``element`` and return a copy of exactly what was signed.

    ``certs`` are the sender's registered certificates (PEM); one of them must have made the signature (two are
    registered during a key rollover). A certificate inside the message is never used. The element must carry its
    own signature as a direct child, referencing its own ``ID``, and that ID must occur once in the whole document;
    so the signature of another element, or a second element with the same ID, can never vouch for this one
    (XML signature wrapping). Use only the returned element afterwards: it is detached from the document, and
    comments (not covered by the signature) are removed from it.
    """
    if not certs:
        raise SignatureError("no certificate to verify with")
    element_id = element.get("ID")
    if not element_id:
        raise SignatureError("the signed element has no ID attribute")
    signature = _check_shape(element, element_id)
    if len(elements_with_id(element, element_id)) != 1:
        raise SignatureError(f"ID {element_id!r} occurs more than once in the document")

    signed_info = _children(signature)[0]
    canonicalization, _method, reference = _children(signed_info)
    transforms, _digest_method, digest_value = _children(reference)
    expected_digest = _b64decode_xml(digest_value, "the digest value")
    signature_value = _b64decode_xml(_children(signature)[1], "the signature value")

    digest = hashlib.sha256(_enveloped_c14n(element, _inclusive_prefixes(_children(transforms)[1]))).digest()
    if not hmac.compare_digest(digest, expected_digest):
        raise SignatureError("the signature is not valid: the digest does not match (changed after signing)")
    signed = _c14n(signed_info, _inclusive_prefixes(canonicalization))
    for cert_pem in certs:
        try:
            public_key = _public_key(cert_pem)
        except keys.KeyLoadError as exc:
            raise SignatureError(f"a registered certificate could not be loaded: {exc}") from exc
        try:
            public_key.verify(signature_value, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        verified = _without_comments(copy.deepcopy(element))
        verified.tail = None  # the text after the element is not part of it, nor signed
        return verified
    raise SignatureError("the signature is not valid for any registered certificate")


def _enveloped_c14n(element: etree._Element, inclusive_prefixes: list[str]) -> bytes:
    """The enveloped-signature transform followed by exclusive c14n: the canonical form of the element without its
    ``ds:Signature``, as a verifier of the received document computes it. The received tree is never changed.

    The element is canonicalised where it sits (the namespaces declared above it in scope), that canonical form is
    parsed again as a document of its own, which holds exactly the namespace declarations the canonical form
    renders, and the signature is taken out of that copy (the text after it stays); canonicalising the copy once
    more gives the same form without the signature, since a canonical form is canonical again.
    """
    canonical = _c14n(element, inclusive_prefixes)
    copy_root = parse(canonical, max_bytes=len(canonical) + 1)
    signature = next(child for child in copy_root if child.tag == _SIGNATURE)
    if signature.tail:
        previous = signature.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + signature.tail
        else:
            copy_root.text = (copy_root.text or "") + signature.tail
    copy_root.remove(signature)
    return _c14n(copy_root, inclusive_prefixes)


def _b64decode_xml(node: etree._Element, what: str) -> bytes:
    """The base64 content of a DigestValue or SignatureValue: text only (no comment or element inside), with the
    XML whitespace XML-DSig allows between the characters and nothing else."""
    if len(node):
        raise SignatureError(f"{what} holds more than text")
    return _b64decode(_XML_WHITESPACE.sub("", node.text or ""), what)


@dataclass(frozen=True)
class RedirectMessage:
    """A message received over the HTTP-Redirect binding whose query-string signature was verified."""

    parameter: str  # "SAMLRequest" or "SAMLResponse"
    message: bytes  # the inflated XML, still to be parsed with xml.parse
    relay_state: str | None


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj(-15)
    try:
        inflated = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise SignatureError("the message is not DEFLATE-compressed") from exc
    if inflater.unconsumed_tail:
        raise SignatureError(f"the inflated message exceeds {MAX_INFLATED_BYTES} bytes")
    return inflated


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{what} is not valid base64") from exc


def _query_parameters(query_string: str) -> dict[str, str]:
    """Raw (still URL-encoded) values by name; a parameter given twice is refused."""
    parameters: dict[str, str] = {}
    for pair in query_string.lstrip("?").split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name)
        if name in parameters:
            raise SignatureError(f"parameter {name} occurs more than once")
        parameters[name] = value
    return parameters


def verify_redirect(query_string: str, certs: Iterable[bytes]) -> RedirectMessage:
    """Verify the signature of an HTTP-Redirect binding query string and return the message it carries.

    The signature covers ``SAMLRequest=…&RelayState=…&SigAlg=…`` (or ``SAMLResponse``) with the values exactly as
    they were received, still URL-encoded, since re-encoding may differ between implementations (SAML bindings
    3.4.4.1). Only RSA-SHA256 is accepted.
    """
    parameters = _query_parameters(query_string)
    kinds = [name for name in ("SAMLRequest", "SAMLResponse") if name in parameters]
    if len(kinds) != 1:
        raise SignatureError("the query string must carry exactly one of SAMLRequest and SAMLResponse")
    kind = kinds[0]
    if "SigAlg" not in parameters or "Signature" not in parameters:
        raise SignatureError("the message is not signed")
    if unquote_plus(parameters["SigAlg"]) != RSA_SHA256:
        raise SignatureError(f"signature algorithm {unquote_plus(parameters['SigAlg'])!r} is not allowed")
    signed = f"{kind}={parameters[kind]}"
    if "RelayState" in parameters:
        signed += f"&RelayState={parameters['RelayState']}"
    signed += f"&SigAlg={parameters['SigAlg']}"
    signature_value = _b64decode(unquote_plus(parameters["Signature"]), "the signature")

    certs = list(certs)
    if not certs:
        raise SignatureError("no certificate to verify with")
    for cert_pem in certs:
        try:
            public_key = _public_key(cert_pem)
        except keys.KeyLoadError as exc:
            raise SignatureError(f"a registered certificate could not be loaded: {exc}") from exc
        try:
            public_key.verify(signature_value, signed.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            continue
        break
    else:
        raise SignatureError("the signature is not valid for any registered certificate")

    relay_state = None
    if "RelayState" in parameters:
        relay_state = unquote_plus(parameters["RelayState"])
        if len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
            raise SignatureError(f"RelayState exceeds {MAX_RELAY_STATE_BYTES} bytes")
    message = _inflate(_b64decode(unquote_plus(parameters[kind]), "the message"))
    return RedirectMessage(parameter=kind, message=message, relay_state=relay_state)


def sign_redirect(
    message: bytes, key_pem: bytes, *, parameter: str = "SAMLRequest", relay_state: str | None = None
) -> str:
    """The signed HTTP-Redirect binding query string (without ``?``) for ``message``: DEFLATE, base64, RSA-SHA256."""
    if parameter not in ("SAMLRequest", "SAMLResponse"):
        raise SignatureError(f"unknown parameter {parameter!r}")
    if relay_state is not None and len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
        raise SignatureError(f"RelayState exceeds {MAX_RELAY_STATE_BYTES} bytes")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = deflater.compress(message) + deflater.flush()
    query = f"{parameter}={quote_plus(base64.b64encode(deflated).decode('ascii'))}"
    if relay_state is not None:
        query += f"&RelayState={quote_plus(relay_state)}"
    query += f"&SigAlg={quote_plus(RSA_SHA256)}"
    try:
        private_key = _private_key(key_pem)
    except keys.KeyLoadError as exc:
        raise SignatureError(f"the signing key could not be loaded: {exc}") from exc
    signature_value = private_key.sign(query.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return f"{query}&Signature={quote_plus(base64.b64encode(signature_value).decode('ascii'))}"
