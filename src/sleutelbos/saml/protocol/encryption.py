"""``saml:EncryptedID``: identifiers encrypted for the service provider's encryption certificate.

eHerkenning sends the identifiers of an assertion (LegalSubjectID, ActingSubjectID, IntermediateEntityID) as
``EncryptedID`` (SAML core 2.2.4): an ``xenc:EncryptedData`` of Type Element with AES-256-GCM content encryption,
whose ``ds:KeyInfo`` holds the ``xenc:EncryptedKey``: the AES key, RSA-OAEP-encrypted for the DV's certificate.

The key transport is ``rsa-oaep-mgf1p`` (OAEP with SHA-1 and MGF1-SHA-1). It is the RSA-OAEP identifier every XML
encryption library decrypts: python-xmlsec, through which the OneLogin toolkit and its fork (what most Dutch DVs run)
decrypt, can only express this one, and libxmlsec1 before 1.3 and older Java stacks do not know the XML Encryption
1.1 ``rsa-oaep`` URI. OAEP with SHA-1 is not weakened by SHA-1's collisions.

Both directions are written with ``cryptography`` so that every algorithm is chosen here, explicitly; the tests check
them against libxmlsec1 (python-xmlsec) in both directions. :func:`decrypt_id` accepts only AES-GCM content and the
two RSA-OAEP key transports, never AES-CBC (padding oracles) or RSA PKCS#1 v1.5.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from . import keys
from .xml import DS, SAML, XENC, XENC11, XMLError, parse, qname

AES256_GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
RSA_OAEP_MGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
RSA_OAEP = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
TYPE_ELEMENT = "http://www.w3.org/2001/04/xmlenc#Element"
TYPE_ENCRYPTED_KEY = "http://www.w3.org/2001/04/xmlenc#EncryptedKey"

_DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": hashes.SHA1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#sha384": hashes.SHA384,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashes.SHA512,
}
_MGFS = {
    "http://www.w3.org/2009/xmlenc11#mgf1sha1": hashes.SHA1,
    "http://www.w3.org/2009/xmlenc11#mgf1sha256": hashes.SHA256,
    "http://www.w3.org/2009/xmlenc11#mgf1sha384": hashes.SHA384,
    "http://www.w3.org/2009/xmlenc11#mgf1sha512": hashes.SHA512,
}
_CONTENT_KEY_BYTES = {AES256_GCM: 32, AES128_GCM: 16}
_GCM_IV_BYTES = 12  # XML Encryption 1.1, 5.2.4: a 96-bit IV precedes the ciphertext and its 128-bit tag

_ENCRYPTED_ID = qname(SAML, "EncryptedID")
_ENCRYPTED_DATA = qname(XENC, "EncryptedData")
_ENCRYPTED_KEY = qname(XENC, "EncryptedKey")
_ENCRYPTION_METHOD = qname(XENC, "EncryptionMethod")
_CIPHER_DATA = qname(XENC, "CipherData")
_CIPHER_VALUE = qname(XENC, "CipherValue")
_KEY_INFO = qname(DS, "KeyInfo")
_RETRIEVAL_METHOD = qname(DS, "RetrievalMethod")
_DIGEST_METHOD = qname(DS, "DigestMethod")
_MGF = qname(XENC11, "MGF")
_OAEP_PARAMS = qname(XENC, "OAEPparams")


class EncryptionError(ValueError):
    """An identifier could not be encrypted or decrypted. ``reason`` is short, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@functools.lru_cache(maxsize=64)
def _recipient_key(cert_pem: bytes) -> tuple[rsa.RSAPublicKey, str]:
    public_key = keys.load_certificate(cert_pem).public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)  # load_certificate refuses other key types
    return public_key, keys.certificate_base64(cert_pem)


@functools.lru_cache(maxsize=32)
def _private_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    return keys.load_private_key(key_pem)


def _new_id() -> str:
    return f"_{secrets.token_hex(16)}"


def encrypt_id(
    name_id: etree._Element | bytes,
    cert_pem: bytes,
    *,
    recipient: str | None = None,
    key_outside: bool = False,
) -> etree._Element:
    """Encrypt a ``saml:NameID`` (an element or its XML) for ``cert_pem`` and return the ``saml:EncryptedID``.

    The ``xenc:EncryptedKey`` goes inside the EncryptedData's ``ds:KeyInfo``: the OneLogin toolkit and its forks hand
    only the detached EncryptedData to libxmlsec1, so a key next to it would be out of their reach. With
    ``key_outside`` it becomes a sibling inside the EncryptedID, referenced through a ``ds:RetrievalMethod`` (the
    layout of the example in SAML core 2.2.4). ``recipient`` (the DV's entity ID) goes into the EncryptedKey's
    ``Recipient`` attribute.
    """
    plaintext = name_id if isinstance(name_id, bytes) else etree.tostring(name_id, encoding="utf-8")
    try:
        public_key, certificate = _recipient_key(cert_pem)
    except keys.KeyLoadError as exc:
        raise EncryptionError(f"the encryption certificate could not be loaded: {exc}") from exc

    content_key = AESGCM.generate_key(bit_length=256)
    iv = secrets.token_bytes(_GCM_IV_BYTES)
    ciphertext = iv + AESGCM(content_key).encrypt(iv, plaintext, None)
    # rsa-oaep-mgf1p fixes SHA-1; OAEP's security rests on SHA-1 as a random oracle, not on collision resistance.
    sha1 = hashes.SHA1()  # noqa: S303
    wrapped_key = public_key.encrypt(content_key, padding.OAEP(mgf=padding.MGF1(sha1), algorithm=sha1, label=None))

    data_id, key_id = _new_id(), _new_id()
    encrypted_id = etree.Element(_ENCRYPTED_ID, nsmap={"saml": SAML, "xenc": XENC, "ds": DS})
    data = etree.SubElement(encrypted_id, _ENCRYPTED_DATA, Id=data_id, Type=TYPE_ELEMENT)
    etree.SubElement(data, _ENCRYPTION_METHOD, Algorithm=AES256_GCM)
    data_key_info = etree.SubElement(data, _KEY_INFO)
    etree.SubElement(etree.SubElement(data, _CIPHER_DATA), _CIPHER_VALUE).text = base64.b64encode(ciphertext)

    attributes = {"Id": key_id}
    if recipient:
        attributes["Recipient"] = recipient
    if key_outside:
        etree.SubElement(data_key_info, _RETRIEVAL_METHOD, Type=TYPE_ENCRYPTED_KEY, URI=f"#{key_id}")
        encrypted_key = etree.SubElement(encrypted_id, _ENCRYPTED_KEY, attributes)
    else:
        encrypted_key = etree.SubElement(data_key_info, _ENCRYPTED_KEY, attributes)
    method = etree.SubElement(encrypted_key, _ENCRYPTION_METHOD, Algorithm=RSA_OAEP_MGF1P)
    etree.SubElement(method, _DIGEST_METHOD, Algorithm="http://www.w3.org/2000/09/xmldsig#sha1")
    x509_data = etree.SubElement(etree.SubElement(encrypted_key, _KEY_INFO), qname(DS, "X509Data"))
    etree.SubElement(x509_data, qname(DS, "X509Certificate")).text = certificate
    etree.SubElement(etree.SubElement(encrypted_key, _CIPHER_DATA), _CIPHER_VALUE).text = base64.b64encode(wrapped_key)
    if key_outside:
        reference_list = etree.SubElement(encrypted_key, qname(XENC, "ReferenceList"))
        etree.SubElement(reference_list, qname(XENC, "DataReference"), URI=f"#{data_id}")
    return encrypted_id


def _cipher_value(parent: etree._Element, what: str) -> bytes:
    value = parent.find(f"{_CIPHER_DATA}/{_CIPHER_VALUE}")
    if value is None or not value.text:
        raise EncryptionError(f"{what} has no CipherValue")
    try:
        return base64.b64decode("".join(value.text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncryptionError(f"the CipherValue of {what} is not valid base64") from exc


def _find_encrypted_key(encrypted_id: etree._Element, data: etree._Element) -> etree._Element:
    """The EncryptedKey inside the EncryptedData's KeyInfo, or the sibling its RetrievalMethod points at."""
    key_info = data.find(_KEY_INFO)
    if key_info is not None:
        inner = key_info.findall(_ENCRYPTED_KEY)
        if len(inner) == 1:
            return inner[0]
        retrieval = key_info.find(_RETRIEVAL_METHOD)
        if retrieval is not None:
            uri = retrieval.get("URI", "")
            matches = [key for key in encrypted_id.findall(_ENCRYPTED_KEY) if f"#{key.get('Id')}" == uri]
            if len(matches) != 1:
                raise EncryptionError(f"the RetrievalMethod {uri!r} does not name one EncryptedKey")
            return matches[0]
    siblings = encrypted_id.findall(_ENCRYPTED_KEY)
    if len(siblings) != 1:
        raise EncryptionError("no single EncryptedKey for the EncryptedData")
    return siblings[0]


def _oaep(method: etree._Element) -> padding.OAEP:
    algorithm = method.get("Algorithm")
    if method.find(_OAEP_PARAMS) is not None:
        raise EncryptionError("OAEPparams are not supported")
    digest_method = method.find(_DIGEST_METHOD)
    digest_uri = (
        digest_method.get("Algorithm") if digest_method is not None else "http://www.w3.org/2000/09/xmldsig#sha1"
    )
    if digest_uri not in _DIGESTS:
        raise EncryptionError(f"OAEP digest {digest_uri!r} is not supported")
    if algorithm == RSA_OAEP_MGF1P:
        mgf_hash = hashes.SHA1  # the identifier fixes MGF1 with SHA-1
    elif algorithm == RSA_OAEP:
        mgf = method.find(_MGF)
        mgf_uri = mgf.get("Algorithm") if mgf is not None else "http://www.w3.org/2009/xmlenc11#mgf1sha1"
        if mgf_uri not in _MGFS:
            raise EncryptionError(f"OAEP mask generation {mgf_uri!r} is not supported")
        mgf_hash = _MGFS[mgf_uri]
    else:
        raise EncryptionError(f"key transport {algorithm!r} is not allowed")
    return padding.OAEP(mgf=padding.MGF1(mgf_hash()), algorithm=_DIGESTS[digest_uri](), label=None)


def decrypt_id(encrypted_id: etree._Element, key_pem: bytes) -> etree._Element:
    """Decrypt a ``saml:EncryptedID`` (or any element holding one EncryptedData) and return the element inside.

    The decrypted XML is parsed as untrusted input, with the in-scope namespaces of ``encrypted_id`` available to it
    (some encrypters leave inherited namespace declarations out of the plaintext).
    """
    datas = encrypted_id.findall(_ENCRYPTED_DATA)
    if len(datas) != 1:
        raise EncryptionError("there must be exactly one EncryptedData")
    data = datas[0]
    if data.get("Type") not in (None, TYPE_ELEMENT):
        raise EncryptionError(f"EncryptedData of type {data.get('Type')!r} is not an element")
    method = data.find(_ENCRYPTION_METHOD)
    content_algorithm = method.get("Algorithm") if method is not None else None
    if content_algorithm not in _CONTENT_KEY_BYTES:
        raise EncryptionError(f"content encryption {content_algorithm!r} is not allowed")

    encrypted_key = _find_encrypted_key(encrypted_id, data)
    key_method = encrypted_key.find(_ENCRYPTION_METHOD)
    if key_method is None:
        raise EncryptionError("the EncryptedKey has no EncryptionMethod")
    oaep = _oaep(key_method)
    try:
        private_key = _private_key(key_pem)
    except keys.KeyLoadError as exc:
        raise EncryptionError(f"the decryption key could not be loaded: {exc}") from exc
    try:
        content_key = private_key.decrypt(_cipher_value(encrypted_key, "the EncryptedKey"), oaep)
    except ValueError as exc:
        if isinstance(exc, EncryptionError):
            raise
        raise EncryptionError("the content key could not be decrypted with this key") from exc
    if len(content_key) != _CONTENT_KEY_BYTES[content_algorithm]:
        raise EncryptionError("the content key has the wrong length")

    ciphertext = _cipher_value(data, "the EncryptedData")
    if len(ciphertext) < _GCM_IV_BYTES + 16:
        raise EncryptionError("the ciphertext is too short")
    try:
        plaintext = AESGCM(content_key).decrypt(ciphertext[:_GCM_IV_BYTES], ciphertext[_GCM_IV_BYTES:], None)
    except InvalidTag as exc:
        raise EncryptionError("the ciphertext was altered or the key is wrong") from exc

    wrapper = etree.Element("wrapper", nsmap={prefix: uri for prefix, uri in encrypted_id.nsmap.items() if prefix})
    declarations = etree.tostring(wrapper, encoding="utf-8").removesuffix(b"/>")
    try:
        root = parse(declarations + b">" + plaintext + b"</wrapper>")
    except XMLError as exc:
        raise EncryptionError(f"the decrypted content is not acceptable XML: {exc.reason}") from exc
    elements = [child for child in root if isinstance(child.tag, str)]
    if len(elements) != 1 or (root.text or "").strip() or (elements[0].tail or "").strip():
        raise EncryptionError("the decrypted content is not a single element")
    result = copy.deepcopy(elements[0])
    etree.cleanup_namespaces(result)  # drop the wrapper's declarations the element does not use
    return result
