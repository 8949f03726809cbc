"""The SAML SOAP binding: SOAP 1.1 and 1.2 envelopes in and out, and the envelopes the broker refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from sleutelbos.saml.protocol import keys, messages, signatures, soap, xml
from sleutelbos.saml.protocol.soap import SoapError

FIXTURES = Path(__file__).parent / "fixtures" / "messages"
ARTIFACT_RESOLVE = xml.qname(xml.SAMLP, "ArtifactResolve")
TEXT_XML = "text/xml; charset=utf-8"
SOAP_XML = "application/soap+xml; charset=utf-8"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("soap11-artifact-resolve.xml", "text/xml"),
        ("soap11-artifact-resolve.xml", 'text/xml; charset="UTF-8"'),
        ("soap12-artifact-resolve.xml", SOAP_XML),
        ("soap12-artifact-resolve.xml", 'application/soap+xml; action="urn:oasis:names:tc:SAML:2.0:artifact"'),
    ],
)
def test_the_artifact_resolve_comes_out_of_either_soap_version(name, content_type):
    message = soap.unwrap(fixture(name), content_type)

    assert message.tag == ARTIFACT_RESOLVE
    resolve = messages.read_artifact_resolve(message)
    assert resolve.issuer == "urn:etoegang:DV:00000001234567890000:entities:0001"
    assert resolve.artifact == "AAQAAH/VAW79yW0TRJUjXdJJZb/dWVSqAAECAwQFBgcICQoLDA0ODxAREhM="


def test_the_unwrapped_element_stays_in_its_document_so_signature_checks_see_every_id():
    message = soap.unwrap(fixture("soap11-artifact-resolve.xml"), TEXT_XML)

    assert message.getroottree().getroot().tag == xml.qname(xml.SOAP11, "Envelope")


@pytest.mark.parametrize(("content_type", "version"), [(TEXT_XML, "1.1"), ("Application/SOAP+XML", "1.2")])
def test_the_content_type_names_the_soap_version(content_type, version):
    assert soap.version_of(content_type) == version


@pytest.mark.parametrize("content_type", ["application/xml", "text/html", "", "application/x-www-form-urlencoded"])
def test_a_content_type_that_is_not_soap_is_refused(content_type):
    with pytest.raises(SoapError, match="is not SOAP"):
        soap.unwrap(fixture("soap11-artifact-resolve.xml"), content_type)


@pytest.mark.parametrize(
    ("name", "content_type", "version"),
    [
        ("soap11-artifact-resolve.xml", TEXT_XML, "1.1"),
        ("soap11-artifact-resolve.xml", SOAP_XML, "1.1"),  # what pysaml2 sends
        ("soap12-artifact-resolve.xml", SOAP_XML, "1.2"),
        ("soap12-artifact-resolve.xml", TEXT_XML, "1.2"),
    ],
)
def test_the_envelope_decides_the_version_to_answer_in(name, content_type, version):
    message = soap.unwrap(fixture(name), content_type)

    assert soap.envelope_version(message) == version


def test_an_envelope_of_an_unknown_soap_version_is_a_version_mismatch():
    body = fixture("soap11-artifact-resolve.xml").replace(xml.SOAP11.encode(), b"urn:example:soap-2.0")

    with pytest.raises(SoapError, match=r"is not SOAP 1\.1 or 1\.2") as refused:
        soap.unwrap(body, TEXT_XML)
    assert refused.value.code == soap.FAULT_VERSION_MISMATCH


def test_an_element_outside_an_envelope_has_no_soap_version():
    with pytest.raises(SoapError, match="not inside a SOAP envelope"):
        soap.envelope_version(etree.Element("x"))


def test_two_elements_in_the_body_are_refused():
    # The second ArtifactResolve names another issuer: a reader that took "the last" or "any" would be fooled.
    with pytest.raises(SoapError, match="holds 2 elements instead of one"):
        soap.unwrap(fixture("soap11-two-body-elements.xml"), TEXT_XML)


def test_a_doctype_in_the_soap_message_is_refused():
    with pytest.raises(SoapError, match="document type declaration is not allowed"):
        soap.unwrap(fixture("soap11-doctype.xml"), TEXT_XML)


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("soap11-must-understand.xml", TEXT_XML), ("soap12-must-understand.xml", SOAP_XML)],
)
def test_a_header_block_that_must_be_understood_is_refused(name, content_type):
    with pytest.raises(SoapError, match="must be understood") as refused:
        soap.unwrap(fixture(name), content_type)
    assert refused.value.code == soap.FAULT_MUST_UNDERSTAND


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<SOAP-ENV:Body/>", "holds 0 elements instead of one"),
        (b"<SOAP-ENV:Body>artifact please</SOAP-ENV:Body>", "holds 0 elements instead of one"),
        (b"<SOAP-ENV:Body><a/>and text</SOAP-ENV:Body>", "holds text next to its element"),
        (b"", "an optional Header and one Body"),
        (b"<SOAP-ENV:Body><a/></SOAP-ENV:Body><SOAP-ENV:Body><b/></SOAP-ENV:Body>", "an optional Header and one Body"),
        (b"<SOAP-ENV:Body><a/></SOAP-ENV:Body><extra/>", "an optional Header and one Body"),
        (b"<SOAP-ENV:Body><a/></SOAP-ENV:Body><SOAP-ENV:Header/>", "an optional Header and one Body"),
    ],
)
def test_an_envelope_of_another_shape_is_refused(body, reason):
    envelope = b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">%s</SOAP-ENV:Envelope>'
    with pytest.raises(SoapError, match=reason):
        soap.unwrap(envelope % body, TEXT_XML)


def test_a_bare_saml_message_without_envelope_is_refused():
    with pytest.raises(SoapError, match="not a SOAP envelope"):
        soap.unwrap(etree.tostring(soap.unwrap(fixture("soap11-artifact-resolve.xml"), TEXT_XML)), TEXT_XML)


def test_an_oversized_request_is_refused_before_parsing():
    padding = b"<!--" + b"x" * soap.MAX_REQUEST_BYTES + b"-->"
    with pytest.raises(SoapError, match="more than"):
        soap.unwrap(fixture("soap11-artifact-resolve.xml") + padding, TEXT_XML)


@pytest.mark.parametrize(("version", "content_type"), [("1.1", TEXT_XML), ("1.2", SOAP_XML)])
def test_a_wrapped_signed_message_unwraps_with_its_signature_intact(version, content_type):
    key, cert = keys.generate_development_keypair("broker.example")
    element = messages.build_status_response(
        response_id="_r1",
        in_response_to="_q1",
        destination="https://dv.example/acs",
        issuer="urn:etoegang:HM:00000009876543210000:entities:0001",
        top="Responder",
        sub="AuthnFailed",
        message=None,
        now=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
    )
    signatures.sign(element, key, cert)

    body = soap.wrap(element, version)

    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert soap.CONTENT_TYPES[version] == content_type
    verified = signatures.verify(soap.unwrap(body, content_type), [cert])
    assert verified.get("ID") == "_r1"


def test_wrap_refuses_an_unknown_version():
    with pytest.raises(ValueError, match=r"not 1\.1 or 1\.2"):
        soap.wrap(etree.Element("x"), "1.3")


def test_a_soap_11_fault_names_the_client_and_answers_http_500():
    body = soap.fault(version="1.1", code=soap.FAULT_CLIENT)

    envelope = xml.parse(body)
    found = envelope.find("SOAP-ENV:Body/SOAP-ENV:Fault", xml.NAMESPACES)
    assert found.findtext("faultcode") == "SOAP-ENV:Client"
    assert found.findtext("faultstring") == "The request could not be processed."
    assert soap.fault_http_status("1.1", soap.FAULT_CLIENT) == 500


def test_a_soap_12_fault_names_the_sender_and_answers_http_400():
    body = soap.fault(version="1.2", code=soap.FAULT_CLIENT, message="Bad request.")

    envelope = xml.parse(body)
    found = envelope.find("env:Body/env:Fault", xml.NAMESPACES)
    assert found.findtext("env:Code/env:Value", namespaces=xml.NAMESPACES) == "env:Sender"
    assert found.findtext("env:Reason/env:Text", namespaces=xml.NAMESPACES) == "Bad request."
    assert soap.fault_http_status("1.2", soap.FAULT_CLIENT) == 400
    assert soap.fault_http_status("1.2", soap.FAULT_MUST_UNDERSTAND) == 500


def test_a_refusal_carries_the_fault_to_answer_with():
    with pytest.raises(SoapError) as refused:
        soap.unwrap(fixture("soap12-must-understand.xml"), SOAP_XML)
    body = soap.fault(version=refused.value.version, code=refused.value.code)
    value = xml.parse(body).find("env:Body/env:Fault/env:Code/env:Value", xml.NAMESPACES)
    assert value.text == "env:MustUnderstand"


def test_an_unknown_fault_code_is_refused():
    with pytest.raises(ValueError, match="unknown fault code"):
        soap.fault(code="teapot")
