"""Enveloped signatures and the Redirect binding, against hostile messages.

The XML signature wrapping variants XSW1–XSW8 are those of Somorovsky et al., "On Breaking SAML: Be Whoever You Want
to Be" (USENIX Security 2012), as SAML Raider names them. Each attack is built from a genuinely signed message,
serialised and parsed again as the broker would receive it. Whatever element of such a document is handed to
``verify``, the attacker's content never comes back as verified.
"""

from __future__ import annotations

import base64
import copy
import importlib
import re
import types
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus, urlparse

import pytest
import signxml
import xmlsec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from sleutelbos.saml.protocol import keys, signatures, xml
from sleutelbos.saml.protocol.signatures import SignatureError

FIXTURES = Path(__file__).parent / "fixtures" / "messages"
NS = xml.NAMESPACES
EVIL_KVK = "66666666"
EVIL_SERVICE_INDEX = "666"

AUTHN_REQUEST = xml.qname(xml.SAMLP, "AuthnRequest")
ASSERTION = xml.qname(xml.SAML, "Assertion")
SIGNATURE = xml.qname(xml.DS, "Signature")


@pytest.fixture(scope="module")
def dv():
    """The service provider's registered key pair."""
    return keys.generate_development_keypair("dv.example")


@pytest.fixture(scope="module")
def dv_next():
    """The service provider's next key pair, published next to the current one during a rollover."""
    return keys.generate_development_keypair("dv.example 2027")


@pytest.fixture(scope="module")
def attacker():
    return keys.generate_development_keypair("dv.example")  # same name, different key


def load(name: str) -> etree._Element:
    return xml.parse((FIXTURES / name).read_bytes())


def reparse(element: etree._Element) -> etree._Element:
    """What the broker receives: the document as bytes, parsed again."""
    return xml.parse(etree.tostring(element.getroottree()))


def signed_request(key_cert) -> etree._Element:
    request = load("authn-request.xml")
    signatures.sign(request, *key_cert)
    return reparse(request)


def signed_response(key_cert) -> etree._Element:
    """A Response whose Assertion is signed (the Response itself is not)."""
    response = load("response.xml")
    signatures.sign(response.find("saml:Assertion", NS), *key_cert)
    return reparse(response)


def sign_with(
    element: etree._Element,
    key_cert,
    *,
    c14n=xmlsec.Transform.EXCL_C14N,
    method=xmlsec.Transform.RSA_SHA256,
    digest=xmlsec.Transform.SHA256,
    transforms=(xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N),
) -> etree._Element:
    """A cryptographically valid signature with the given algorithms, made by libxmlsec1 itself."""
    key_pem = key_cert[0]
    signature = xmlsec.template.create(element, c14n, method, ns="ds")
    element.insert(1, signature)
    reference = xmlsec.template.add_reference(signature, digest, uri=f"#{element.get('ID')}")
    for transform in transforms:
        xmlsec.template.add_transform(reference, transform)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(key_pem, xmlsec.constants.KeyDataFormatPem)
    context.register_id(element, "ID")
    context.sign(signature)
    return reparse(element)


def without_signature(element: etree._Element) -> etree._Element:
    clone = copy.deepcopy(element)
    for signature in clone.findall("ds:Signature", NS):
        clone.remove(signature)
    return clone


def make_evil_request(request: etree._Element) -> etree._Element:
    request.set("AttributeConsumingServiceIndex", EVIL_SERVICE_INDEX)
    return request


def make_evil_assertion(assertion: etree._Element) -> etree._Element:
    assertion.find("saml:Subject/saml:NameID", NS).text = EVIL_KVK
    return assertion


def assert_nothing_evil_verifies(document: etree._Element, tag: str, certs: list[bytes], marker: str) -> None:
    """Verify every candidate element of the document: each is refused, or what it returns is the genuine content."""
    document = reparse(document)
    for candidate in document.getroottree().iter(tag):
        try:
            verified = signatures.verify(candidate, certs)
        except SignatureError:
            continue
        assert marker.encode() not in xml.tostring(verified)


# ---------------------------------------------------------------------------------------------------------------------
# Signing


def test_the_signature_sits_directly_after_the_issuer_and_references_the_element(dv):
    request = signed_request(dv)

    assert [child.tag for child in request][:2] == [xml.qname(xml.SAML, "Issuer"), SIGNATURE]
    reference = request.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == f"#{request.get('ID')}"
    transforms = [t.get("Algorithm") for t in reference.findall("ds:Transforms/ds:Transform", NS)]
    assert transforms == [signatures.ENVELOPED_SIGNATURE, signatures.EXC_C14N]
    assert request.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == signatures.RSA_SHA256


def test_an_element_without_issuer_gets_the_signature_first(dv):
    element = xml.parse(
        b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_md"><md:x/></md:EntityDescriptor>'
    )

    signatures.sign(element, *dv)

    assert element[0].tag == SIGNATURE
    assert signatures.verify(reparse(element), [dv[1]]).get("ID") == "_md"


def test_an_element_without_id_or_already_signed_cannot_be_signed(dv):
    with pytest.raises(SignatureError, match="no ID"):
        signatures.sign(xml.parse(b"<r/>"), *dv)
    with pytest.raises(SignatureError, match="already signed"):
        signatures.sign(signed_request(dv), *dv)


def test_signing_with_a_non_rsa_key_is_refused(dv):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SignatureError, match="not an RSA key"):
        signatures.sign(load("authn-request.xml"), ec_key, dv[1])


# ---------------------------------------------------------------------------------------------------------------------
# Verification: what must pass


def test_a_signed_request_verifies_and_the_verified_copy_is_returned(dv):
    request = signed_request(dv)

    verified = signatures.verify(request, [dv[1]])

    assert verified.get("ID") == request.get("ID")
    assert verified.getparent() is None and verified is not request
    assert verified.find("saml:Issuer", NS).text == "urn:etoegang:DV:00000001234567890000:entities:0001"


def test_a_signature_by_the_other_rollover_certificate_is_accepted(dv, dv_next):
    request = signed_request(dv_next)

    assert signatures.verify(request, [dv[1], dv_next[1]]).get("ID") == request.get("ID")


def test_a_signed_assertion_inside_a_response_verifies(dv):
    response = signed_response(dv)

    verified = signatures.verify(response.find("saml:Assertion", NS), [dv[1]])

    assert verified.find("saml:Subject/saml:NameID", NS).text == "12345678"


def test_both_the_assertion_and_the_response_around_it_can_be_signed(dv):
    response = load("response.xml")
    signatures.sign(response.find("saml:Assertion", NS), *dv)
    signatures.sign(response, *dv)
    response = reparse(response)

    assert signatures.verify(response, [dv[1]]).get("ID") == response.get("ID")
    assert signatures.verify(response.find("saml:Assertion", NS), [dv[1]]) is not None


def test_an_inclusive_namespaces_prefix_list_is_accepted(dv):
    # The OneLogin toolkit and others keep the xs prefix of xsi:type values this way.
    response = load("response.xml")
    assertion = response.find("saml:Assertion", NS)
    signature = xmlsec.template.create(assertion, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    assertion.insert(1, signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{assertion.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    c14n = xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.transform_add_c14n_inclusive_namespaces(c14n, ["xs"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(dv[0], xmlsec.constants.KeyDataFormatPem)
    context.register_id(assertion, "ID")
    context.sign(signature)

    assert signatures.verify(reparse(response).find("saml:Assertion", NS), [dv[1]]) is not None


def test_a_libxmlsec1_signature_between_indentation_and_comments_verifies_and_the_document_is_left_as_received(dv):
    # The enveloped-signature transform removes the signature element only: the line break and indentation after
    # it, and a comment before it, stay where they are in what was digested.
    response = load("response.xml")
    assertion = response.find("saml:Assertion", NS)
    issuer = assertion.find("saml:Issuer", NS)
    issuer.addnext(etree.Comment(" signed below "))
    signature = xmlsec.template.create(assertion, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns="ds")
    issuer.getnext().addnext(signature)
    signature.tail = "\n    "
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{assertion.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(dv[0], xmlsec.constants.KeyDataFormatPem)
    context.register_id(assertion, "ID")
    context.sign(signature)
    received = reparse(response)
    before = etree.tostring(received)

    verified = signatures.verify(received.find("saml:Assertion", NS), [dv[1]])

    assert verified.get("ID") == assertion.get("ID")
    assert etree.tostring(received) == before


def test_a_changed_indentation_after_the_signature_is_refused(dv):
    request = signed_request(dv)
    request.find("ds:Signature", NS).tail = "\n  "

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify(reparse(request), [dv[1]])


def libxmlsec1_signed_assertion(dv, *, prefixes=None, signed_info_prefixes=None, ns="ds") -> bytes:
    """The fixture Response with its Assertion signed by libxmlsec1, optionally with InclusiveNamespaces."""
    response = load("response.xml")
    assertion = response.find("saml:Assertion", NS)
    signature = xmlsec.template.create(assertion, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256, ns=ns)
    assertion.insert(1, signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri=f"#{assertion.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    c14n = xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    if prefixes:
        xmlsec.template.transform_add_c14n_inclusive_namespaces(c14n, prefixes)
    if signed_info_prefixes:
        method = signature.find("ds:SignedInfo/ds:CanonicalizationMethod", NS)
        xmlsec.template.transform_add_c14n_inclusive_namespaces(method, signed_info_prefixes)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(dv[0], xmlsec.constants.KeyDataFormatPem)
    context.register_id(assertion, "ID")
    context.sign(signature)
    return etree.tostring(response)


DSIG_URI = b"http://www.w3.org/2000/09/xmldsig#"


@pytest.mark.parametrize("ns", ["ds", None], ids=["ds-prefix", "default-namespace-signature"])
def test_the_signature_namespace_declared_above_under_another_prefix_changes_nothing(dv, ns):
    # An unused declaration of the XML-DSig namespace on an ancestor is not signed and may be added in transit; it
    # must neither break the signature nor make verification rewrite the signature's prefixes.
    document = libxmlsec1_signed_assertion(dv, ns=ns).replace(
        b"<samlp:Response ", b'<samlp:Response xmlns:dsig="' + DSIG_URI + b'" xmlns:ds="' + DSIG_URI + b'" '
    )
    received = xml.parse(document)
    before = etree.tostring(received)

    verified = signatures.verify(received.find("saml:Assertion", NS), [dv[1]])

    assert verified.get("ID") == received.find("saml:Assertion", NS).get("ID")
    assert etree.tostring(received) == before


def test_a_namespace_declaration_added_to_a_signature_with_a_prefix_list_is_refused(dv):
    document = libxmlsec1_signed_assertion(dv, signed_info_prefixes=["xs"]).replace(
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"',
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#" xmlns:xs="urn:not-the-schema"',
    )

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify(xml.parse(document).find("saml:Assertion", NS), [dv[1]])


def test_the_default_namespace_in_a_prefix_list_is_refused(dv):
    # "#default" would make the default namespace part of the signed form; the profile's signers never use it.
    document = libxmlsec1_signed_assertion(dv, prefixes=["#default", "xs"])

    with pytest.raises(SignatureError, match="prefix '#default'"):
        signatures.verify(xml.parse(document).find("saml:Assertion", NS), [dv[1]])


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (b"<ds:DigestValue>", b"<ds:DigestValue><!---->", "digest value holds more than text"),
        (b"<ds:SignatureValue>", b"<ds:SignatureValue>&#160;", "signature value is not valid base64"),
    ],
    ids=["comment-in-digest", "non-breaking-space-in-signature"],
)
def test_digest_and_signature_values_are_base64_with_xml_whitespace_only(dv, before, after, reason):
    document = etree.tostring(signed_request(dv)).replace(before, after, 1)

    with pytest.raises(SignatureError, match=reason):
        signatures.verify(xml.parse(document), [dv[1]])


def test_the_text_after_a_verified_element_is_not_returned_with_it(dv):
    response = load("response.xml")
    assertion = response.find("saml:Assertion", NS)
    signatures.sign(assertion, *dv)
    assertion.tail = "not signed"

    verified = signatures.verify(reparse(response).find("saml:Assertion", NS), [dv[1]])

    assert verified.tail is None


MUTATIONS = {
    "none": lambda d: d,
    "name-id-text": lambda d: d.replace(b"</saml:NameID>", b"x</saml:NameID>", 1),
    "attribute-on-assertion": lambda d: d.replace(b"<saml:Assertion ", b'<saml:Assertion Extra="1" ', 1),
    "xml-lang-on-assertion": lambda d: d.replace(b"<saml:Assertion ", b'<saml:Assertion xml:lang="nl" ', 1),
    "xml-lang-above": lambda d: d.replace(b"<samlp:Response ", b'<samlp:Response xml:lang="nl" ', 1),
    "text-after-signature": lambda d: d.replace(b"</ds:Signature>", b"</ds:Signature> ", 1),
    "comment-in-issuer": lambda d: d.replace(b"</saml:Issuer>", b"<!-- c --></saml:Issuer>", 2),
    "comment-after-signature": lambda d: d.replace(b"</ds:Signature>", b"</ds:Signature><!-- c -->", 1),
    "carriage-return-entity": lambda d: d.replace(b"\n    <saml:Subject>", b"&#13;\n    <saml:Subject>", 1),
    "namespace-above": lambda d: d.replace(b"<samlp:Response ", b'<samlp:Response xmlns:x="urn:x" ', 1),
    "namespace-on-assertion": lambda d: d.replace(b"<saml:Assertion ", b'<saml:Assertion xmlns:x="urn:x" ', 1),
    "default-namespace-above": lambda d: d.replace(b"<samlp:Response ", b'<samlp:Response xmlns="urn:x" ', 1),
    "xs-redeclared-on-assertion": lambda d: d.replace(
        b"<saml:Assertion ", b'<saml:Assertion xmlns:xs="urn:not-the-schema" ', 1
    ),
    "line-breaks-in-digest": lambda d: d.replace(b"<ds:DigestValue>", b"<ds:DigestValue>\n", 1),  # signed
    "line-breaks-in-signature-value": lambda d: d.replace(b"<ds:SignatureValue>", b"<ds:SignatureValue>\n ", 1),
    "signature-moved-last": lambda d: re.sub(
        rb"(<ds:Signature .*?</ds:Signature>)(.*)(</saml:Assertion>)", rb"\2\1\3", d, count=1, flags=re.S
    ),
}


def libxmlsec1_accepts(assertion: etree._Element, cert: bytes) -> bool:
    """libxmlsec1's verdict, restricted to the profile's algorithms as python-xmlsec users configure it."""
    signature = assertion.find("ds:Signature", NS)
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(cert, xmlsec.constants.KeyDataFormatCertPem)
    for transform in (xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.SHA256):
        context.enable_reference_transform(transform)
    for transform in (xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256):
        context.enable_signature_transform(transform)
    context.register_id(assertion, "ID")
    try:
        context.verify(signature)
    except xmlsec.Error:
        return False
    return True


@pytest.mark.parametrize("prefixes", [None, ["xs"]], ids=["no-prefix-list", "prefix-list-xs"])
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_nothing_libxmlsec1_refuses_is_accepted_and_what_it_accepts_unchanged_is_accepted(dv, mutation, prefixes):
    document = MUTATIONS[mutation](libxmlsec1_signed_assertion(dv, prefixes=prefixes))
    ours = xml.parse(document).find("saml:Assertion", NS)
    try:
        signatures.verify(ours, [dv[1]])
        accepted = True
    except SignatureError:
        accepted = False

    theirs = libxmlsec1_accepts(xml.parse(document).find("saml:Assertion", NS), dv[1])

    assert not accepted or theirs, "accepted what libxmlsec1 refuses"
    if mutation in (
        "none",
        "line-breaks-in-signature-value",
        "namespace-above",
        "xml-lang-above",
        "signature-moved-last",
    ):
        assert accepted and theirs


# ---------------------------------------------------------------------------------------------------------------------
# Interoperability with signxml, an independent implementation


def test_a_request_signed_by_signxml_verifies(dv):
    request = load("authn-request.xml")
    signer = signxml.XMLSigner(
        method=signxml.methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(
        request, key=dv[0], cert=dv[1].decode(), reference_uri=f"#{request.get('ID')}", id_attribute="ID"
    )

    assert signatures.verify(reparse(signed), [dv[1]]).get("ID") == request.get("ID")


def test_our_signature_verifies_in_signxml_under_a_strict_configuration(dv):
    request = signed_request(dv)

    result = signxml.XMLVerifier().verify(
        xml.tostring(request),
        x509_cert=dv[1].decode(),
        id_attribute="ID",
        expect_config=signxml.SignatureConfiguration(
            signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
            digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        ),
    )

    assert result.signed_xml.get("ID") == request.get("ID")


# ---------------------------------------------------------------------------------------------------------------------
# Verification: what must be refused


def test_an_unsigned_request_is_refused(dv):
    with pytest.raises(SignatureError, match="not signed"):
        signatures.verify(load("authn-request.xml"), [dv[1]])


def test_a_request_tampered_with_after_signing_is_refused(dv):
    request = make_evil_request(signed_request(dv))

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify(reparse(request), [dv[1]])


def test_a_signature_by_an_unregistered_key_is_refused_although_its_certificate_is_embedded(dv, attacker):
    request = signed_request(attacker)
    assert request.find(".//ds:X509Certificate", NS) is not None  # the attacker's certificate travels along

    with pytest.raises(SignatureError, match="not valid for any registered certificate"):
        signatures.verify(request, [dv[1]])


def test_an_attacker_signature_carrying_the_registered_certificate_is_refused(dv, attacker):
    request = signed_request(attacker)
    request.find(".//ds:X509Certificate", NS).text = keys.certificate_base64(dv[1])

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify(reparse(request), [dv[1]])


def test_verification_without_any_registered_certificate_is_refused(dv):
    with pytest.raises(SignatureError, match="no certificate"):
        signatures.verify(signed_request(dv), [])


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"method": xmlsec.Transform.RSA_SHA1}, "signature method"),
        ({"method": xmlsec.Transform.RSA_SHA512}, "signature method"),
        ({"digest": xmlsec.Transform.SHA1}, "digest method"),
        ({"c14n": xmlsec.Transform.C14N}, "canonicalization method"),
        ({"c14n": xmlsec.Transform.EXCL_C14N_COMMENTS}, "canonicalization method"),
        ({"transforms": (xmlsec.Transform.ENVELOPED,)}, "transforms"),
        ({"transforms": (xmlsec.Transform.ENVELOPED, xmlsec.Transform.C14N)}, "transforms"),
        (
            {"transforms": (xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.EXCL_C14N)},
            "transforms",
        ),
        ({"transforms": (xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N_COMMENTS)}, "transforms"),
    ],
)
def test_a_valid_signature_with_algorithms_outside_the_profile_is_refused(dv, options, reason):
    request = sign_with(load("authn-request.xml"), dv, **options)
    # libxmlsec1 itself accepts these signatures: the refusal is the profile's, not a broken signature.
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_memory(dv[1], xmlsec.constants.KeyDataFormatCertPem)
    context.register_id(request, "ID")
    context.verify(request.find("ds:Signature", NS))

    with pytest.raises(SignatureError, match=reason):
        signatures.verify(request, [dv[1]])


@pytest.mark.parametrize(
    "transform",
    [
        (
            "http://www.w3.org/TR/1999/REC-xslt-19991116",
            '<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0">'
            '<xsl:template match="/"><xsl:copy-of select="document(\'file:///etc/passwd\')"/></xsl:template>'
            "</xsl:stylesheet>",
        ),
        ("http://www.w3.org/TR/1999/REC-xpath-19991116", "<ds:XPath>not(ancestor-or-self::saml:Issuer)</ds:XPath>"),
        ("http://www.w3.org/2002/06/xmldsig-filter2", ""),
        ("http://www.w3.org/2000/09/xmldsig#base64", ""),
    ],
)
def test_xslt_xpath_and_other_transforms_are_refused_before_anything_runs(dv, transform):
    algorithm, body = transform
    request = signed_request(dv)
    transforms = request.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    extra = etree.fromstring(
        f'<ds:Transform xmlns:ds="{xml.DS}" xmlns:saml="{xml.SAML}" Algorithm="{algorithm}">{body}</ds:Transform>'
    )
    transforms.append(extra)

    with pytest.raises(SignatureError, match="only the enveloped-signature and exclusive c14n transforms"):
        signatures.verify(reparse(request), [dv[1]])


def test_the_transforms_in_another_order_are_refused(dv):
    request = signed_request(dv)
    transforms = request.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms", NS)
    transforms.append(transforms[0])  # enveloped-signature moves behind exclusive c14n

    with pytest.raises(SignatureError, match="only the enveloped-signature and exclusive c14n transforms"):
        signatures.verify(reparse(request), [dv[1]])


def test_a_signature_with_parameters_on_the_enveloped_transform_is_refused(dv):
    request = signed_request(dv)
    enveloped = request.find("ds:Signature/ds:SignedInfo/ds:Reference/ds:Transforms/ds:Transform", NS)
    etree.SubElement(enveloped, xml.qname(xml.DS, "XPath")).text = "true()"

    with pytest.raises(SignatureError, match="parameters"):
        signatures.verify(reparse(request), [dv[1]])


def test_two_references_are_refused(dv):
    request = signed_request(dv)
    signed_info = request.find("ds:Signature/ds:SignedInfo", NS)
    signed_info.append(copy.deepcopy(signed_info.find("ds:Reference", NS)))

    with pytest.raises(SignatureError, match="exactly one reference"):
        signatures.verify(reparse(request), [dv[1]])


def test_an_empty_reference_uri_meaning_the_whole_document_is_refused(dv):
    request = signed_request(dv)
    request.find("ds:Signature/ds:SignedInfo/ds:Reference", NS).set("URI", "")

    with pytest.raises(SignatureError, match="references ''"):
        signatures.verify(reparse(request), [dv[1]])


def test_two_signatures_on_one_element_are_refused(dv):
    request = signed_request(dv)
    request.insert(2, copy.deepcopy(request.find("ds:Signature", NS)))

    with pytest.raises(SignatureError, match="more than one signature"):
        signatures.verify(reparse(request), [dv[1]])


# ---------------------------------------------------------------------------------------------------------------------
# Comments inside signed text


def test_a_comment_injected_into_signed_text_does_not_truncate_the_verified_value(dv):
    # The attack of CVE-2017-11427 and friends: the signed NameID is "12345678.evil.example"; exclusive c14n without
    # comments digests the same text with a comment in it, and a consumer reading lxml's .text would see "12345678".
    response = load("response.xml")
    name_id = response.find("saml:Assertion/saml:Subject/saml:NameID", NS)
    name_id.text = "12345678.evil.example"
    signatures.sign(response.find("saml:Assertion", NS), *dv)
    data = etree.tostring(response).replace(b"12345678.evil.example", b"12345678<!---->.evil.example")
    received = xml.parse(data)
    assert received.find("saml:Assertion/saml:Subject/saml:NameID", NS).text == "12345678"

    verified = signatures.verify(received.find("saml:Assertion", NS), [dv[1]])

    assert verified.find("saml:Subject/saml:NameID", NS).text == "12345678.evil.example"
    assert not list(verified.iter(etree.Comment))


def test_text_changed_around_an_injected_comment_is_refused(dv):
    response = signed_response(dv)
    data = etree.tostring(response).replace(b">12345678<", b">1234<!---->0000<")

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify(xml.parse(data).find("saml:Assertion", NS), [dv[1]])


# ---------------------------------------------------------------------------------------------------------------------
# XML signature wrapping on a protocol message (the AuthnRequest, the ArtifactResolve): XSW1, XSW2 and relatives


def xsw1(request: etree._Element, same_id: bool) -> etree._Element:
    """XSW1: an altered clone becomes the message; the original hides inside the copied Signature."""
    evil = make_evil_request(without_signature(request))
    if not same_id:
        evil.set("ID", "_evil")
    signature = copy.deepcopy(request.find("ds:Signature", NS))
    signature.append(request)
    evil.insert(1, signature)
    return evil


def xsw2(request: etree._Element, same_id: bool) -> etree._Element:
    """XSW2: as XSW1, with the original placed before the Signature (a detached signature)."""
    evil = make_evil_request(without_signature(request))
    if not same_id:
        evil.set("ID", "_evil")
    signature = copy.deepcopy(request.find("ds:Signature", NS))
    evil.insert(1, signature)
    evil.insert(1, request)
    return evil


def signature_moved_into_extensions(request: etree._Element, same_id: bool) -> etree._Element:
    """The original's signature moves into samlp:Extensions of an altered message with the same ID."""
    evil = make_evil_request(without_signature(request))
    extensions = etree.SubElement(evil, xml.qname(xml.SAMLP, "Extensions"))
    extensions.append(copy.deepcopy(request.find("ds:Signature", NS)))
    extensions.append(request)
    if not same_id:
        request.set("ID", "_orig")
    return evil


def two_messages_in_one_soap_body(request: etree._Element, same_id: bool) -> etree._Element:
    """An unsigned altered message before the signed one in a SOAP Body (the binding takes the first child)."""
    envelope = etree.Element(xml.qname(xml.SOAP11, "Envelope"), nsmap={"SOAP-ENV": xml.SOAP11})
    body = etree.SubElement(envelope, xml.qname(xml.SOAP11, "Body"))
    evil = make_evil_request(without_signature(request))
    if not same_id:
        evil.set("ID", "_evil")
    body.append(evil)
    body.append(request)
    return envelope


def signature_referencing_another_element(request: etree._Element, same_id: bool) -> etree._Element:
    """The altered message carries a signature whose reference points at the genuine one, appended after it."""
    evil = make_evil_request(without_signature(request))
    evil.set("ID", "_evil" if not same_id else request.get("ID"))
    evil.insert(1, copy.deepcopy(request.find("ds:Signature", NS)))
    holder = etree.SubElement(evil, xml.qname(xml.SAMLP, "Extensions"))
    holder.append(without_signature(request))
    return evil


MESSAGE_WRAPPINGS = [
    xsw1,
    xsw2,
    signature_moved_into_extensions,
    two_messages_in_one_soap_body,
    signature_referencing_another_element,
]


@pytest.mark.parametrize("same_id", [True, False], ids=["same-id", "new-id"])
@pytest.mark.parametrize("wrap", MESSAGE_WRAPPINGS, ids=lambda wrap: wrap.__name__)
def test_message_wrapping_never_yields_the_attackers_request(dv, wrap, same_id):
    document = reparse(wrap(signed_request(dv), same_id))

    # The binding hands over the message element: the root, or the first child of a SOAP Body.
    message = document if document.tag == AUTHN_REQUEST else document.find("SOAP-ENV:Body", NS)[0]
    assert message.get("AttributeConsumingServiceIndex") == EVIL_SERVICE_INDEX
    with pytest.raises(SignatureError):
        signatures.verify(message, [dv[1]])
    assert_nothing_evil_verifies(
        document, AUTHN_REQUEST, [dv[1]], f'AttributeConsumingServiceIndex="{EVIL_SERVICE_INDEX}"'
    )


# ---------------------------------------------------------------------------------------------------------------------
# XML signature wrapping on an assertion inside a response: XSW3 to XSW8


def xsw3(response: etree._Element) -> etree._Element:
    """XSW3: an unsigned altered clone of the Assertion (same ID) before the original."""
    assertion = response.find("saml:Assertion", NS)
    assertion.addprevious(make_evil_assertion(without_signature(assertion)))
    return response


def xsw3_new_id(response: etree._Element) -> etree._Element:
    assertion = response.find("saml:Assertion", NS)
    evil = make_evil_assertion(without_signature(assertion))
    evil.set("ID", "_evil")
    assertion.addprevious(evil)
    return response


def xsw4(response: etree._Element) -> etree._Element:
    """XSW4: the altered clone wraps the original Assertion."""
    assertion = response.find("saml:Assertion", NS)
    evil = make_evil_assertion(without_signature(assertion))
    assertion.addprevious(evil)
    evil.append(assertion)
    return response


def xsw5(response: etree._Element) -> etree._Element:
    """XSW5: the signed Assertion is altered; an unsigned copy of the original goes to the end of the Response."""
    assertion = response.find("saml:Assertion", NS)
    original = without_signature(assertion)
    make_evil_assertion(assertion)
    response.append(original)
    return response


def xsw6(response: etree._Element) -> etree._Element:
    """XSW6: the signed Assertion is altered; a copy of the original hides inside its Signature."""
    assertion = response.find("saml:Assertion", NS)
    original = without_signature(assertion)
    make_evil_assertion(assertion)
    assertion.find("ds:Signature", NS).append(original)
    return response


def xsw7(response: etree._Element) -> etree._Element:
    """XSW7: an unsigned altered clone in an Extensions block of the Response."""
    assertion = response.find("saml:Assertion", NS)
    extensions = etree.Element(xml.qname(xml.SAMLP, "Extensions"))
    extensions.append(make_evil_assertion(without_signature(assertion)))
    response.find("saml:Issuer", NS).addnext(extensions)
    return response


def xsw8(response: etree._Element) -> etree._Element:
    """XSW8: the signed Assertion is altered; the original, unsigned, sits in a ds:Object of its Signature."""
    assertion = response.find("saml:Assertion", NS)
    original = without_signature(assertion)
    make_evil_assertion(assertion)
    signature_object = etree.SubElement(assertion.find("ds:Signature", NS), xml.qname(xml.DS, "Object"))
    signature_object.append(original)
    return response


ASSERTION_WRAPPINGS = [xsw3, xsw3_new_id, xsw4, xsw5, xsw6, xsw7, xsw8]


@pytest.mark.parametrize("wrap", ASSERTION_WRAPPINGS, ids=lambda wrap: wrap.__name__)
def test_assertion_wrapping_never_yields_the_attackers_assertion(dv, wrap):
    document = reparse(wrap(signed_response(dv)))

    # A naive consumer takes the first Assertion in document order; it carries the attacker's identifier.
    first = next(document.iter(ASSERTION))
    assert first.find("saml:Subject/saml:NameID", NS).text == EVIL_KVK
    with pytest.raises(SignatureError):
        signatures.verify(first, [dv[1]])
    assert_nothing_evil_verifies(document, ASSERTION, [dv[1]], EVIL_KVK)


def test_a_duplicate_id_elsewhere_in_the_document_is_refused_even_for_the_genuine_element(dv):
    document = reparse(xsw3(signed_response(dv)))
    genuine = document.findall("saml:Assertion", NS)[1]

    with pytest.raises(SignatureError, match="occurs more than once"):
        signatures.verify(genuine, [dv[1]])


def test_an_xml_id_attribute_duplicating_the_signed_id_is_refused(dv):
    response = signed_response(dv)
    assertion_id = response.find("saml:Assertion", NS).get("ID")
    evil = etree.SubElement(response, "Decoy")
    evil.set(xml.qname(xml.XML, "id"), assertion_id)

    with pytest.raises(SignatureError, match="occurs more than once"):
        signatures.verify(reparse(response).find("saml:Assertion", NS), [dv[1]])


# ---------------------------------------------------------------------------------------------------------------------
# HTTP-Redirect binding


REQUEST_XML = (FIXTURES / "authn-request.xml").read_bytes()


def test_a_signed_redirect_verifies_and_yields_message_and_relay_state(dv):
    query = signatures.sign_redirect(REQUEST_XML, dv[0], relay_state="back to /aanvraag?id=3")

    received = signatures.verify_redirect(query, [dv[1]])

    assert received == signatures.RedirectMessage(
        parameter="SAMLRequest", message=REQUEST_XML, relay_state="back to /aanvraag?id=3"
    )


def test_a_redirect_without_relay_state_and_a_response_redirect_verify(dv, dv_next):
    query = signatures.sign_redirect(b"<r/>", dv_next[0], parameter="SAMLResponse")

    received = signatures.verify_redirect("?" + query, [dv[1], dv_next[1]])

    assert (received.parameter, received.message, received.relay_state) == ("SAMLResponse", b"<r/>", None)


def lower_escapes(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda escape: escape.group().lower(), text)


def test_the_signature_is_checked_over_the_values_as_received_not_as_re_encoded(dv):
    # Another implementation may percent-encode differently (lower-case hex, %20 instead of +, safe characters
    # escaped). The signature covers its octets, so re-encoding on our side would break valid signatures.
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    message = base64.b64encode(deflater.compress(REQUEST_XML) + deflater.flush()).decode()
    signed = (
        f"SAMLRequest={lower_escapes(quote(message, safe=''))}"
        f"&RelayState={quote('a b/c', safe='')}"
        f"&SigAlg={lower_escapes(quote(signatures.RSA_SHA256, safe=''))}"
    )
    value = keys.load_private_key(dv[0]).sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    query = f"{signed}&Signature={quote(base64.b64encode(value).decode(), safe='')}"

    received = signatures.verify_redirect(query, [dv[1]])

    assert (received.message, received.relay_state) == (REQUEST_XML, "a b/c")


def test_a_changed_relay_state_is_refused(dv):
    query = signatures.sign_redirect(REQUEST_XML, dv[0], relay_state="one")

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify_redirect(query.replace("RelayState=one", "RelayState=two"), [dv[1]])


def test_a_relay_state_added_after_signing_is_refused(dv):
    query = signatures.sign_redirect(REQUEST_XML, dv[0])

    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify_redirect(query + "&RelayState=https%3A%2F%2Fevil.example", [dv[1]])


def test_a_redirect_signed_with_rsa_sha1_is_refused(dv):
    sha1 = quote_plus("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    signed = f"SAMLRequest=abc&SigAlg={sha1}"
    value = keys.load_private_key(dv[0]).sign(signed.encode(), padding.PKCS1v15(), hashes.SHA1())  # noqa: S303
    query = f"{signed}&Signature={quote_plus(base64.b64encode(value).decode())}"

    with pytest.raises(SignatureError, match=r"rsa-sha1.* is not allowed"):
        signatures.verify_redirect(query, [dv[1]])


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda query: query.split("&Signature=")[0], "not signed"),
        (lambda query: query + "&SAMLRequest=abc", "more than once"),
        (lambda query: query.replace("SAMLRequest=", "SAMLResponse=") + "&SAMLRequest=abc", "exactly one"),
        (lambda query: query.replace("&Signature=", "&Signature=%25%25"), "base64"),
    ],
)
def test_malformed_redirects_are_refused(dv, mutate, reason):
    query = signatures.sign_redirect(REQUEST_XML, dv[0], relay_state="x")

    with pytest.raises(SignatureError, match=reason):
        signatures.verify_redirect(mutate(query), [dv[1]])


def test_a_redirect_signed_by_an_unregistered_key_is_refused(dv, attacker):
    with pytest.raises(SignatureError, match="not valid"):
        signatures.verify_redirect(signatures.sign_redirect(REQUEST_XML, attacker[0]), [dv[1]])


def test_a_deflate_bomb_is_refused(dv):
    query = signatures.sign_redirect(b"<r>" + b" " * 5_000_000 + b"</r>", dv[0])
    assert len(query) < 20_000

    with pytest.raises(SignatureError, match="exceeds"):
        signatures.verify_redirect(query, [dv[1]])


def test_a_relay_state_over_80_bytes_is_refused(dv):
    with pytest.raises(SignatureError, match="RelayState exceeds 80 bytes"):
        signatures.sign_redirect(REQUEST_XML, dv[0], relay_state="x" * 81)
    signed = f"SAMLRequest=abc&RelayState={'x' * 81}&SigAlg={quote_plus(signatures.RSA_SHA256)}"
    value = keys.load_private_key(dv[0]).sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    query = f"{signed}&Signature={quote_plus(base64.b64encode(value).decode())}"

    with pytest.raises(SignatureError, match="RelayState exceeds 80 bytes"):
        signatures.verify_redirect(query, [dv[1]])


def test_redirects_interoperate_with_pysaml2_in_both_directions(dv):
    pack = importlib.import_module("saml2.pack")
    sigver = importlib.import_module("saml2.sigver")
    private_key = keys.load_private_key(dv[0])
    backend = types.SimpleNamespace(get_signer=lambda alg, key=None: sigver.RSASigner(hashes.SHA256(), private_key))

    sent = pack.http_redirect_message(
        REQUEST_XML.decode(),
        "https://hm.example/sso",
        relay_state="state",
        sigalg=signatures.RSA_SHA256,
        sign=True,
        backend=backend,
    )
    location = dict(sent["headers"])["Location"]
    received = signatures.verify_redirect(urlparse(location).query, [dv[1]])
    assert (received.message, received.relay_state) == (REQUEST_XML, "state")

    ours = signatures.sign_redirect(REQUEST_XML, dv[0], relay_state="state")
    from urllib.parse import parse_qsl

    assert sigver.verify_redirect_signature(dict(parse_qsl(ours)), backend, cert=keys.certificate_base64(dv[1]))
