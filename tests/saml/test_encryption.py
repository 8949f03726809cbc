"""EncryptedID: our encryption (written with ``cryptography``) against libxmlsec1, in both directions."""

from __future__ import annotations

import base64
import copy

import pytest
import xmlsec
from lxml import etree

from sleutelbos.saml.protocol import encryption, keys, xml
from sleutelbos.saml.protocol.encryption import EncryptionError

NS = xml.NAMESPACES
KVK_NAME_ID = (
    b'<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    b'NameQualifier="urn:etoegang:1.9:EntityConcernedID:KvKnr">12345678</saml:NameID>'
)


@pytest.fixture(scope="module")
def dv():
    """The service provider's encryption key pair."""
    return keys.generate_development_keypair("dv.example encryption")


@pytest.fixture(scope="module")
def other():
    return keys.generate_development_keypair("someone else")


def name_id() -> etree._Element:
    return xml.parse(KVK_NAME_ID)


def received(element: etree._Element) -> etree._Element:
    """The EncryptedID as the DV gets it: inside an attribute value of an assertion, serialised and parsed again."""
    value = etree.Element(xml.qname(xml.SAML, "AttributeValue"), nsmap={"saml": xml.SAML})
    value.append(element)
    return xml.parse(etree.tostring(value))[0]


def xmlsec_decrypt(encrypted_data: etree._Element, key_pem: bytes) -> etree._Element:
    """Decrypt the way the OneLogin toolkit does: a detached copy of the EncryptedData and a keys manager."""
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem))
    return xmlsec.EncryptionContext(manager).decrypt(copy.deepcopy(encrypted_data))


def xmlsec_encrypt(cert_pem: bytes, *, content=xmlsec.Transform.AES256_GCM, transport=xmlsec.Transform.RSA_OAEP):
    """An EncryptedID made by libxmlsec1 (nested EncryptedKey, the layout xmlsec and the OneLogin toolkit write)."""
    holder = xml.parse(
        b'<saml:EncryptedID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">' + KVK_NAME_ID + b"</saml:EncryptedID>"
    )
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem))
    template = xmlsec.template.encrypted_data_create(holder, content, type=xmlsec.EncryptionType.ELEMENT, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    xmlsec.template.encrypted_data_ensure_cipher_value(xmlsec.template.add_encrypted_key(key_info, transport))
    context = xmlsec.EncryptionContext(manager)
    bits = 128 if content == xmlsec.Transform.AES128_GCM else 256
    context.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, bits, xmlsec.constants.KeyDataTypeSession)
    context.encrypt_xml(template, holder[0])
    return received(holder)


def test_an_identifier_round_trips_with_its_qualifier(dv):
    encrypted = received(encryption.encrypt_id(name_id(), dv[1], recipient="urn:etoegang:DV:0000000123:entities:1"))

    decrypted = encryption.decrypt_id(encrypted, dv[0])

    assert decrypted.tag == xml.qname(xml.SAML, "NameID")
    assert decrypted.get("NameQualifier") == "urn:etoegang:1.9:EntityConcernedID:KvKnr"
    assert decrypted.text == "12345678"
    assert b"12345678" not in etree.tostring(encrypted)


def test_the_encrypted_id_uses_aes256_gcm_and_rsa_oaep_for_the_recipient(dv):
    encrypted = encryption.encrypt_id(KVK_NAME_ID, dv[1], recipient="urn:etoegang:DV:0000000123:entities:1")

    data = encrypted.find("xenc:EncryptedData", NS)
    assert data.get("Type") == "http://www.w3.org/2001/04/xmlenc#Element"
    assert data.find("xenc:EncryptionMethod", NS).get("Algorithm") == "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    key = data.find("ds:KeyInfo/xenc:EncryptedKey", NS)
    assert key.get("Recipient") == "urn:etoegang:DV:0000000123:entities:1"
    assert key.find("xenc:EncryptionMethod", NS).get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    assert key.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS).text == keys.certificate_base64(dv[1])


def test_encrypting_the_same_identifier_twice_gives_different_ciphertexts(dv):
    first = encryption.encrypt_id(KVK_NAME_ID, dv[1]).find(".//xenc:CipherValue", NS).text
    second = encryption.encrypt_id(KVK_NAME_ID, dv[1]).find(".//xenc:CipherValue", NS).text

    assert first != second


def test_libxmlsec1_decrypts_our_encrypted_id_as_the_onelogin_toolkit_would(dv):
    encrypted = received(encryption.encrypt_id(name_id(), dv[1]))

    decrypted = xmlsec_decrypt(encrypted.find("xenc:EncryptedData", NS), dv[0])

    assert (decrypted.get("NameQualifier"), decrypted.text) == ("urn:etoegang:1.9:EntityConcernedID:KvKnr", "12345678")


def test_the_key_outside_layout_round_trips_and_libxmlsec1_decrypts_it_once_the_key_is_moved_in(dv):
    encrypted = received(encryption.encrypt_id(name_id(), dv[1], key_outside=True))
    data = encrypted.find("xenc:EncryptedData", NS)
    assert data.find("ds:KeyInfo/ds:RetrievalMethod", NS).get("URI") == "#" + encrypted.find(
        "xenc:EncryptedKey", NS
    ).get("Id")

    assert encryption.decrypt_id(encrypted, dv[0]).text == "12345678"
    key_info = data.find("ds:KeyInfo", NS)
    key_info.remove(key_info[0])
    key_info.append(encrypted.find("xenc:EncryptedKey", NS))
    assert xmlsec_decrypt(data, dv[0]).text == "12345678"


@pytest.mark.parametrize("content", [xmlsec.Transform.AES256_GCM, xmlsec.Transform.AES128_GCM])
def test_we_decrypt_what_libxmlsec1_encrypts(dv, content):
    encrypted = xmlsec_encrypt(dv[1], content=content)

    decrypted = encryption.decrypt_id(encrypted, dv[0])

    assert (decrypted.get("NameQualifier"), decrypted.text) == ("urn:etoegang:1.9:EntityConcernedID:KvKnr", "12345678")


def test_the_wrong_private_key_is_refused(dv, other):
    encrypted = received(encryption.encrypt_id(name_id(), dv[1]))

    with pytest.raises(EncryptionError, match="could not be decrypted with this key"):
        encryption.decrypt_id(encrypted, other[0])


def test_an_altered_ciphertext_is_refused(dv):
    encrypted = received(encryption.encrypt_id(name_id(), dv[1]))
    value = encrypted.find("xenc:EncryptedData/xenc:CipherData/xenc:CipherValue", NS)
    raw = bytearray(base64.b64decode(value.text))
    raw[20] ^= 0x01
    value.text = base64.b64encode(bytes(raw))

    with pytest.raises(EncryptionError, match="altered"):
        encryption.decrypt_id(encrypted, dv[0])


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"content": xmlsec.Transform.AES256}, "content encryption .*aes256-cbc.* is not allowed"),
        ({"transport": xmlsec.Transform.RSA_PKCS1}, "key transport .*rsa-1_5.* is not allowed"),
    ],
)
def test_cbc_content_and_pkcs1_key_transport_are_refused(dv, options, reason):
    encrypted = xmlsec_encrypt(dv[1], **options)
    # libxmlsec1 decrypts these, so the refusal is ours: CBC and PKCS#1 v1.5 invite padding-oracle attacks.
    assert xmlsec_decrypt(encrypted.find("xenc:EncryptedData", NS), dv[0]).text == "12345678"

    with pytest.raises(EncryptionError, match=reason):
        encryption.decrypt_id(encrypted, dv[0])


def test_a_doctype_inside_the_encrypted_content_is_refused(dv):
    hostile = (
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b'<saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">&e;</saml:NameID>'
    )
    encrypted = received(encryption.encrypt_id(hostile, dv[1]))

    with pytest.raises(EncryptionError, match="document type declaration"):
        encryption.decrypt_id(encrypted, dv[0])


def test_plaintext_without_its_namespace_declaration_uses_the_encrypted_ids_scope(dv):
    # Some encrypters serialise the NameID without the saml declaration it inherited in their document.
    encrypted = received(encryption.encrypt_id(b'<saml:NameID Format="x">12345678</saml:NameID>', dv[1]))

    decrypted = encryption.decrypt_id(encrypted, dv[0])

    assert decrypted.tag == xml.qname(xml.SAML, "NameID")


def test_two_elements_in_the_plaintext_are_refused(dv):
    two = KVK_NAME_ID + KVK_NAME_ID
    encrypted = received(encryption.encrypt_id(two, dv[1]))

    with pytest.raises(EncryptionError, match="not a single element"):
        encryption.decrypt_id(encrypted, dv[0])


def test_an_encrypted_id_without_encrypted_data_is_refused(dv):
    with pytest.raises(EncryptionError, match="exactly one EncryptedData"):
        encryption.decrypt_id(
            xml.parse(b'<saml:EncryptedID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>'), dv[0]
        )
