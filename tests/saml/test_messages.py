"""The eHerkenning messages: AuthnRequests in, Responses and ArtifactResponses out, checked against pysaml2.

pysaml2 plays the service provider (DV): it makes signed AuthnRequests and ArtifactResolves, and it accepts our
Response the way a DV would, verifying the assertion's signature with the broker's certificate from metadata and
decrypting the EncryptedIDs with its own key (both through the ``xmlsec1`` program).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from lxml import etree
from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_POST
from saml2 import saml as pysaml
from saml2 import samlp as pysamlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.pack import http_redirect_message
from saml2.samlp import RequestedAuthnContext
from saml2.sigver import SignatureError as PysamlSignatureError
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from sleutelbos.saml.protocol import artifacts, encryption, keys, messages, metadata, signatures, soap, xml
from sleutelbos.saml.protocol.messages import Identifier, LoginAttributes, MessageError

FIXTURES = Path(__file__).parent / "fixtures" / "messages"
NS = xml.NAMESPACES

BROKER = "urn:etoegang:HM:00000009876543210000:entities:0001"
DV = "urn:etoegang:DV:00000001234567890000:entities:0001"
SSO_URL = "https://sleutelbos.example/saml/sso"
ARS_URL = "https://sleutelbos.example/saml/ars"
ACS_URL = "https://dv.example/saml/acs"
LOA3 = "urn:etoegang:core:assurance-class:loa3"
LOA2PLUS = "urn:etoegang:core:assurance-class:loa2plus"
SERVICE = "urn:etoegang:DV:00000001234567890000:services:1"
SERVICE_2 = "urn:etoegang:DV:00000001234567890000:services:2"
SERVICE_UUID = "0f5a3b1e-6c2d-4e8f-9a7b-1c3d5e7f9a0b"
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)

DIRECT = LoginAttributes(
    service_id=SERVICE,
    service_uuid=SERVICE_UUID,
    legal_subject=(Identifier("12345678", messages.QUALIFIER_KVK), Identifier("123456789", messages.QUALIFIER_RSIN)),
    acting_subject=Identifier("c2VsZWN0IHBzZXVkb255bQ", messages.QUALIFIER_PSEUDO),
    company_name="Bakkerij De Korenschoof B.V.",
)
PORTAL = replace(DIRECT, service_id=(SERVICE, SERVICE_2), service_uuid=None)
BRANCH = replace(DIRECT, branch="000012345678")
CHAIN = replace(
    DIRECT,
    legal_subject=(Identifier("30111222", messages.QUALIFIER_KVK),),
    intermediate=Identifier("55443322", messages.QUALIFIER_KVK),
    intermediate_company_name="Administratiekantoor Telgen",
    company_name="Hoveniersbedrijf Groen & Zn.",
)


@pytest.fixture(scope="module")
def broker():
    return keys.generate_development_keypair("sleutelbos.example")


@pytest.fixture(scope="module")
def dv():
    return keys.generate_development_keypair("dv.example")


@pytest.fixture(scope="module")
def stranger():
    return keys.generate_development_keypair("sleutelbos.example")  # same name, another key


def build(broker, dv, attributes: LoginAttributes = DIRECT, *, now: datetime = NOW, **overrides):
    arguments = {
        "response_id": "_response1",
        "assertion_id": "_assertion1",
        "in_response_to": "_request1",
        "destination": ACS_URL,
        "issuer": BROKER,
        "audience": DV,
        "recipient": ACS_URL,
        "level_uri": LOA3,
        "attributes": attributes,
        "encryption_cert": dv[1],
        "sign_key": broker[0],
        "sign_cert": broker[1],
        "now": now,
        "session_index": "_session1",
    }
    arguments.update(overrides)
    return messages.build_response(**arguments)


def received(element: etree._Element) -> etree._Element:
    """What the DV receives: the document serialised and parsed again."""
    return xml.parse(etree.tostring(element.getroottree()))


def verified_assertion(response: etree._Element, cert: bytes) -> etree._Element:
    return signatures.verify(received(response).find("saml:Assertion", NS), [cert])


def attribute_values(assertion: etree._Element, dv_key: bytes) -> dict[str, list]:
    """Every attribute by name: strings as they are, EncryptedIDs decrypted to (NameQualifier, value)."""
    found: dict[str, list] = {}
    for attribute in assertion.iterfind("saml:AttributeStatement/saml:Attribute", NS):
        values = found.setdefault(attribute.get("Name"), [])
        for value in attribute.iterfind("saml:AttributeValue", NS):
            encrypted = value.find("saml:EncryptedID", NS)
            if encrypted is None:
                values.append(value.text)
            else:
                name_id = encryption.decrypt_id(encrypted, dv_key)
                assert name_id.tag == xml.qname(xml.SAML, "NameID")
                values.append((name_id.get("NameQualifier"), name_id.text))
    return found


# The Response


EXPECTED = {
    "direct": (
        DIRECT,
        {
            messages.ATTRIBUTE_SERVICE_ID: [SERVICE],
            messages.ATTRIBUTE_SERVICE_UUID: [SERVICE_UUID],
            messages.ATTRIBUTE_LEGAL_SUBJECT_ID: [
                (messages.QUALIFIER_KVK, "12345678"),
                (messages.QUALIFIER_RSIN, "123456789"),
            ],
            messages.ATTRIBUTE_ACTING_SUBJECT_ID: [(messages.QUALIFIER_PSEUDO, "c2VsZWN0IHBzZXVkb255bQ")],
            messages.ATTRIBUTE_COMPANY_NAME: ["Bakkerij De Korenschoof B.V."],
        },
    ),
    "portal": (
        PORTAL,
        {
            messages.ATTRIBUTE_SERVICE_ID: [SERVICE, SERVICE_2],
            messages.ATTRIBUTE_LEGAL_SUBJECT_ID: [
                (messages.QUALIFIER_KVK, "12345678"),
                (messages.QUALIFIER_RSIN, "123456789"),
            ],
            messages.ATTRIBUTE_ACTING_SUBJECT_ID: [(messages.QUALIFIER_PSEUDO, "c2VsZWN0IHBzZXVkb255bQ")],
            messages.ATTRIBUTE_COMPANY_NAME: ["Bakkerij De Korenschoof B.V."],
        },
    ),
    "branch": (
        BRANCH,
        {
            messages.ATTRIBUTE_SERVICE_ID: [SERVICE],
            messages.ATTRIBUTE_SERVICE_UUID: [SERVICE_UUID],
            messages.ATTRIBUTE_LEGAL_SUBJECT_ID: [
                (messages.QUALIFIER_KVK, "12345678"),
                (messages.QUALIFIER_RSIN, "123456789"),
            ],
            messages.ATTRIBUTE_ACTING_SUBJECT_ID: [(messages.QUALIFIER_PSEUDO, "c2VsZWN0IHBzZXVkb255bQ")],
            messages.ATTRIBUTE_COMPANY_NAME: ["Bakkerij De Korenschoof B.V."],
            messages.ATTRIBUTE_BRANCH: ["000012345678"],
        },
    ),
    "chain": (
        CHAIN,
        {
            messages.ATTRIBUTE_SERVICE_ID: [SERVICE],
            messages.ATTRIBUTE_SERVICE_UUID: [SERVICE_UUID],
            messages.ATTRIBUTE_LEGAL_SUBJECT_ID: [(messages.QUALIFIER_KVK, "30111222")],
            messages.ATTRIBUTE_ACTING_SUBJECT_ID: [(messages.QUALIFIER_PSEUDO, "c2VsZWN0IHBzZXVkb255bQ")],
            messages.ATTRIBUTE_INTERMEDIATE_ENTITY_ID: [(messages.QUALIFIER_KVK, "55443322")],
            messages.ATTRIBUTE_COMPANY_NAME: ["Hoveniersbedrijf Groen & Zn."],
            messages.ATTRIBUTE_INTERMEDIATE_COMPANY_NAME: ["Administratiekantoor Telgen"],
        },
    ),
}


@pytest.mark.parametrize("case", EXPECTED)
def test_the_assertion_carries_exactly_the_attributes_of_the_login(broker, dv, case):
    attributes, expected = EXPECTED[case]

    assertion = verified_assertion(build(broker, dv, attributes), broker[1])

    assert attribute_values(assertion, dv[0]) == expected


def test_identifiers_are_encrypted_for_the_dv_with_aes_gcm_and_never_readable_in_the_message(broker, dv):
    body = etree.tostring(build(broker, dv, CHAIN))

    for secret in (b"30111222", b"55443322", b"c2VsZWN0IHBzZXVkb255bQ"):
        assert secret not in body
    assertion = verified_assertion(build(broker, dv, CHAIN), broker[1])
    encrypted = assertion.findall(".//saml:EncryptedID", NS)
    assert len(encrypted) == 3
    for element in encrypted:
        method = element.find("xenc:EncryptedData/xenc:EncryptionMethod", NS)
        assert method.get("Algorithm") == encryption.AES256_GCM
        assert element.find(".//xenc:EncryptedKey", NS).get("Recipient") == DV


def test_another_key_cannot_decrypt_the_identifiers(broker, dv, stranger):
    assertion = verified_assertion(build(broker, dv), broker[1])

    with pytest.raises(encryption.EncryptionError):
        encryption.decrypt_id(assertion.find(".//saml:EncryptedID", NS), stranger[0])


def test_the_assertion_is_signed_by_the_broker_and_no_one_else(broker, dv, stranger):
    response = build(broker, dv)

    assert verified_assertion(response, broker[1]).get("ID") == "_assertion1"
    with pytest.raises(signatures.SignatureError, match="not valid for any registered certificate"):
        verified_assertion(response, stranger[1])


def test_a_changed_attribute_breaks_the_signature(broker, dv):
    response = received(build(broker, dv))
    name = response.find(f".//saml:Attribute[@Name='{messages.ATTRIBUTE_COMPANY_NAME}']/saml:AttributeValue", NS)
    name.text = "Someone Else B.V."

    with pytest.raises(signatures.SignatureError):
        signatures.verify(response.find("saml:Assertion", NS), [broker[1]])


def test_the_response_is_a_success_for_the_request_at_the_acs(broker, dv):
    response = received(build(broker, dv))

    assert response.tag == xml.qname(xml.SAMLP, "Response")
    assert response.get("ID") == "_response1"
    assert response.get("Version") == "2.0"
    assert response.get("InResponseTo") == "_request1"
    assert response.get("Destination") == ACS_URL
    assert response.get("IssueInstant") == "2026-03-03T10:00:00Z"
    assert response.findtext("saml:Issuer", namespaces=NS) == BROKER
    assert response.find("samlp:Status/samlp:StatusCode", NS).get("Value") == messages.STATUS_SUCCESS
    assert len(response.findall("saml:Assertion", NS)) == 1
    assert response.find("ds:Signature", NS) is None  # the ArtifactResponse around it is signed


def test_the_assertion_is_for_the_dv_only_and_only_for_its_lifetime(broker, dv):
    later = NOW + timedelta(seconds=30)
    assertion = verified_assertion(build(broker, dv, now=later, lifetime=timedelta(minutes=3)), broker[1])

    conditions = assertion.find("saml:Conditions", NS)
    assert conditions.get("NotBefore") == "2026-03-03T10:00:30Z"
    assert conditions.get("NotOnOrAfter") == "2026-03-03T10:03:30Z"
    assert [a.text for a in conditions.iterfind("saml:AudienceRestriction/saml:Audience", NS)] == [DV]
    confirmation = assertion.find("saml:Subject/saml:SubjectConfirmation", NS)
    assert confirmation.get("Method") == messages.BEARER
    data = confirmation.find("saml:SubjectConfirmationData", NS)
    assert data.attrib == {"InResponseTo": "_request1", "NotOnOrAfter": "2026-03-03T10:03:30Z", "Recipient": ACS_URL}
    assert assertion.findtext("saml:Issuer", namespaces=NS) == BROKER
    assert assertion.get("IssueInstant") == "2026-03-03T10:00:30Z"


def test_the_authn_statement_names_the_level_reached_and_the_session(broker, dv):
    authenticated = NOW - timedelta(minutes=7)
    assertion = verified_assertion(
        build(broker, dv, level_uri=LOA2PLUS, session_index="_s42", authn_instant=authenticated), broker[1]
    )

    statement = assertion.find("saml:AuthnStatement", NS)
    assert statement.get("SessionIndex") == "_s42"
    assert statement.get("AuthnInstant") == "2026-03-03T09:53:00Z"
    assert statement.findtext("saml:AuthnContext/saml:AuthnContextClassRef", namespaces=NS) == LOA2PLUS


def test_the_subject_is_a_fresh_transient_name_each_time(broker, dv):
    first = verified_assertion(build(broker, dv), broker[1]).find("saml:Subject/saml:NameID", NS)
    second = verified_assertion(build(broker, dv), broker[1]).find("saml:Subject/saml:NameID", NS)

    assert first.get("Format") == messages.NAMEID_TRANSIENT
    assert first.text != second.text
    given = verified_assertion(build(broker, dv, name_id="_chosen"), broker[1])
    assert given.findtext("saml:Subject/saml:NameID", namespaces=NS) == "_chosen"


def test_a_response_without_the_organisation_or_a_service_is_refused(broker, dv):
    with pytest.raises(MessageError, match="LegalSubjectID"):
        build(broker, dv, replace(DIRECT, legal_subject=()))
    with pytest.raises(MessageError, match="ServiceID"):
        build(broker, dv, replace(DIRECT, service_id=()))


def test_an_unusable_encryption_certificate_is_refused(broker, dv):
    with pytest.raises(MessageError, match="could not be encrypted"):
        build(broker, dv, encryption_cert=b"not a certificate")


# Status responses: cancel and errors


def test_a_cancel_is_answered_with_responder_and_authn_failed():
    response = received(
        messages.build_status_response(
            response_id="_r2",
            in_response_to="_request1",
            destination=ACS_URL,
            issuer=BROKER,
            top="Responder",
            sub="AuthnFailed",
            message="The person cancelled the login.",
            now=NOW,
        )
    )

    code = response.find("samlp:Status/samlp:StatusCode", NS)
    assert code.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Responder"
    assert code.find("samlp:StatusCode", NS).get("Value") == "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
    assert response.findtext("samlp:Status/samlp:StatusMessage", namespaces=NS) == "The person cancelled the login."
    assert response.find("saml:Assertion", NS) is None
    assert response.get("InResponseTo") == "_request1"
    assert response.get("Destination") == ACS_URL


def test_a_status_without_second_level_or_message_has_neither():
    response = messages.build_status_response(
        response_id="_r3",
        in_response_to="_request1",
        destination=ACS_URL,
        issuer=BROKER,
        top="Requester",
        sub=None,
        message=None,
        now=NOW,
    )

    code = response.find("samlp:Status/samlp:StatusCode", NS)
    assert code.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Requester"
    assert len(code) == 0
    assert response.find("samlp:Status/samlp:StatusMessage", NS) is None


@pytest.mark.parametrize(("top", "sub"), [("Success", None), ("Denied", None), ("Responder", "NotAllowed")])
def test_an_unknown_status_code_is_refused(top, sub):
    with pytest.raises(MessageError, match="status"):
        messages.build_status_response(
            response_id="_r4",
            in_response_to="_q",
            destination=ACS_URL,
            issuer=BROKER,
            top=top,
            sub=sub,
            message=None,
            now=NOW,
        )


# The ArtifactResponse


def artifact_response(broker, message):
    return messages.build_artifact_response(
        response_id="_ar1",
        in_response_to="_resolve1",
        issuer=BROKER,
        message=message,
        now=NOW,
        sign_key=broker[0],
        sign_cert=broker[1],
    )


@pytest.mark.parametrize(("version", "content_type"), [("1.1", "text/xml"), ("1.2", "application/soap+xml")])
def test_the_artifact_response_is_signed_and_carries_the_response_with_its_signed_assertion(
    broker, dv, version, content_type
):
    body = soap.wrap(artifact_response(broker, build(broker, dv)), version)

    outer = signatures.verify(soap.unwrap(body, content_type), [broker[1]])
    assert outer.tag == xml.qname(xml.SAMLP, "ArtifactResponse")
    assert outer.get("InResponseTo") == "_resolve1"
    assert outer.find("samlp:Status/samlp:StatusCode", NS).get("Value") == messages.STATUS_SUCCESS
    inner = outer.find("samlp:Response", NS)
    assert inner.get("ID") == "_response1"
    assertion = signatures.verify(inner.find("saml:Assertion", NS), [broker[1]])
    assert attribute_values(assertion, dv[0]) == EXPECTED["direct"][1]


def test_the_artifact_response_is_success_around_a_failed_login(broker):
    cancel = messages.build_status_response(
        response_id="_r5",
        in_response_to="_request1",
        destination=ACS_URL,
        issuer=BROKER,
        top="Responder",
        sub="AuthnFailed",
        message=None,
        now=NOW,
    )

    outer = signatures.verify(received(artifact_response(broker, cancel)), [broker[1]])

    assert outer.find("samlp:Status/samlp:StatusCode", NS).get("Value") == messages.STATUS_SUCCESS
    inner_code = outer.find("samlp:Response/samlp:Status/samlp:StatusCode", NS)
    assert inner_code.get("Value") == "urn:oasis:names:tc:SAML:2.0:status:Responder"


def test_an_unknown_or_used_artifact_gets_an_empty_signed_success(broker):
    outer = signatures.verify(received(artifact_response(broker, None)), [broker[1]])

    assert outer.find("samlp:Status/samlp:StatusCode", NS).get("Value") == messages.STATUS_SUCCESS
    assert outer.find("samlp:Response", NS) is None
    assert [child.tag for child in outer] == [
        xml.qname(xml.SAML, "Issuer"),
        xml.qname(xml.DS, "Signature"),
        xml.qname(xml.SAMLP, "Status"),
    ]


def test_the_message_handed_to_the_artifact_response_goes_in_unchanged_with_its_assertion_signature(broker, dv):
    response = build(broker, dv)
    before = etree.tostring(response)

    outer = artifact_response(broker, response)

    assert response.getparent() is outer  # moved in, not copied
    assert etree.tostring(response) == before
    assert signatures.verify(response.find("saml:Assertion", NS), [broker[1]]) is not None


# The ArtifactResolve


def resolve_xml(artifact: str, **attributes: str) -> etree._Element:
    element = etree.Element(xml.qname(xml.SAMLP, "ArtifactResolve"), nsmap={"samlp": xml.SAMLP, "saml": xml.SAML})
    element.attrib.update({"ID": "_resolve1", "Version": "2.0", "IssueInstant": "2026-03-03T10:00:06Z", **attributes})
    etree.SubElement(element, xml.qname(xml.SAML, "Issuer")).text = DV
    etree.SubElement(element, xml.qname(xml.SAMLP, "Artifact")).text = artifact
    return element


def test_an_artifact_resolve_is_read():
    artifact = artifacts.make_artifact(BROKER, 0)

    resolve = messages.read_artifact_resolve(resolve_xml(artifact, Destination=ARS_URL))

    assert resolve == messages.ArtifactResolve(
        id="_resolve1",
        issuer=DV,
        artifact=artifact,
        issue_instant=datetime(2026, 3, 3, 10, 0, 6, tzinfo=UTC),
        destination=ARS_URL,
    )


@pytest.mark.parametrize(
    ("artifact", "reason"),
    [
        ("", "not valid base64|has 0 bytes"),
        ("AAQAAA==", "has 4 bytes"),
        (base64.b64encode(b"\x00\x01" + bytes(42)).decode(), "type 0x0001 is not supported"),
    ],
)
def test_an_artifact_resolve_with_a_bad_artifact_is_refused(artifact, reason):
    with pytest.raises(MessageError, match=reason):
        messages.read_artifact_resolve(resolve_xml(artifact))


def test_an_artifact_resolve_with_two_artifacts_is_refused():
    element = resolve_xml(artifacts.make_artifact(BROKER, 0))
    element.append(copy.deepcopy(element[-1]))

    with pytest.raises(MessageError, match="exactly one Artifact"):
        messages.read_artifact_resolve(element)


def test_an_artifact_resolve_must_be_fresh_and_for_our_service():
    resolve = messages.read_artifact_resolve(resolve_xml(artifacts.make_artifact(BROKER, 0), Destination=ARS_URL))

    messages.check_artifact_resolve(resolve, destination=ARS_URL, now=NOW)
    with pytest.raises(MessageError, match=r"not 'https://elsewhere\.example/ars'"):
        messages.check_artifact_resolve(resolve, destination="https://elsewhere.example/ars", now=NOW)
    with pytest.raises(MessageError, match="too old"):
        messages.check_artifact_resolve(resolve, destination=ARS_URL, now=NOW + timedelta(minutes=8))


# The AuthnRequest


def load(name: str) -> etree._Element:
    return xml.parse((FIXTURES / name).read_bytes())


def test_the_fixture_authn_request_is_read():
    request = messages.read_authn_request(load("authn-request.xml"))

    assert request == messages.AuthnRequest(
        id="_5f1a8c3e0b7d4c2a9e6f1b3d5a7c9e0f",
        issuer="urn:etoegang:DV:00000001234567890000:entities:0001",
        destination="https://sleutelbos.example/saml/sso",
        issue_instant=NOW,
        force_authn=True,
        is_passive=False,
        acs_index=1,
        acs_url=None,
        protocol_binding=None,
        attribute_consuming_service_index=1,
        requested_levels=(LOA3,),
        comparison="minimum",
    )


def altered(change) -> etree._Element:
    element = load("authn-request.xml")
    change(element)
    return element


def _remove(path):
    def change(element):
        target = element.find(path, NS)
        target.getparent().remove(target)

    return change


def _set(name, value):
    def change(element):
        if value is None:
            del element.attrib[name]
        else:
            element.set(name, value)

    return change


def _rename_root(element):
    element.tag = xml.qname(xml.SAMLP, "LogoutRequest")


def _decl_ref(element):
    context = element.find("samlp:RequestedAuthnContext", NS)
    context[0].tag = xml.qname(xml.SAML, "AuthnContextDeclRef")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_rename_root, "expected AuthnRequest"),
        (_set("Version", "1.1"), "Version '1.1' is not 2.0"),
        (_set("Version", None), "Version None is not 2.0"),
        (_set("ID", None), "no usable ID"),
        (_set("ID", " "), "no usable ID"),
        (_set("IssueInstant", None), "no IssueInstant"),
        (_set("IssueInstant", "yesterday"), "is not a date and time"),
        (_remove("saml:Issuer"), "has no Issuer"),
        (_set("ForceAuthn", "yes"), "ForceAuthn 'yes' is not a boolean"),
        (_set("AssertionConsumerServiceIndex", "-1"), "not an index"),
        (_set("AttributeConsumingServiceIndex", "70000"), "not an index"),
        (_set("AssertionConsumerServiceURL", "https://evil.example/acs"), "are both given"),
        (_decl_ref, "AuthnContextDeclRef is not supported"),
    ],
)
def test_a_malformed_authn_request_is_refused(change, reason):
    with pytest.raises(MessageError, match=reason):
        messages.read_authn_request(altered(change))


def test_an_issuer_of_another_format_is_refused():
    element = load("authn-request.xml")
    element.find("saml:Issuer", NS).set("Format", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")

    with pytest.raises(MessageError, match="not entity"):
        messages.read_authn_request(element)


def test_a_request_without_requested_authn_context_asks_no_level():
    request = messages.read_authn_request(altered(_remove("samlp:RequestedAuthnContext")))

    assert request.requested_levels == ()
    assert request.comparison is None


def test_a_requested_authn_context_without_comparison_is_exact():
    request = messages.read_authn_request(altered(_remove_comparison))

    assert request.comparison == "exact"


def _remove_comparison(element):
    del element.find("samlp:RequestedAuthnContext", NS).attrib["Comparison"]


def fresh(**changes) -> messages.AuthnRequest:
    return replace(messages.read_authn_request(load("authn-request.xml")), **changes)


@pytest.mark.parametrize(
    "now",
    [NOW, NOW + timedelta(minutes=7), NOW - timedelta(minutes=2)],  # at once; late, within skew; clock ahead
)
def test_a_fresh_request_for_our_sso_url_is_accepted(now):
    messages.check_authn_request(fresh(), destination=SSO_URL, now=now)


@pytest.mark.parametrize(
    ("request_", "now", "reason"),
    [
        (fresh(destination="https://other-broker.example/sso"), NOW, "not 'https://sleutelbos.example/saml/sso'"),
        (fresh(destination=None), NOW, "has no Destination"),
        (fresh(), NOW + timedelta(minutes=7, seconds=1), "too old"),
        (fresh(), NOW - timedelta(minutes=2, seconds=1), "issued in the future"),
        (fresh(comparison="better"), NOW, "comparison 'better' is not supported"),
        (fresh(comparison="maximum"), NOW, "comparison 'maximum' is not supported"),
    ],
)
def test_a_request_for_elsewhere_stale_from_the_future_or_with_an_odd_comparison_is_refused(request_, now, reason):
    with pytest.raises(MessageError, match=reason):
        messages.check_authn_request(request_, destination=SSO_URL, now=now)


def test_the_age_limits_can_be_tightened():
    with pytest.raises(MessageError, match="too old"):
        messages.check_authn_request(
            fresh(), destination=SSO_URL, now=NOW + timedelta(minutes=2), max_age=timedelta(minutes=1), skew=timedelta()
        )


# pysaml2 as the service provider


@pytest.fixture(scope="module")
def client(broker, dv, tmp_path_factory):
    """A pysaml2 SP configured as an eHerkenning DV: its own key pair, the broker's metadata."""
    folder = tmp_path_factory.mktemp("pysaml2")
    (folder / "dv.key").write_bytes(dv[0])
    (folder / "dv.crt").write_bytes(dv[1])
    broker_metadata = metadata.build_idp_metadata(
        entity_id=BROKER,
        sso_url=SSO_URL,
        artifact_resolution_url=ARS_URL,
        certificates=[broker[1]],
        valid_until=datetime.now(UTC) + timedelta(days=1),
    )
    (folder / "broker.xml").write_bytes(etree.tostring(broker_metadata))
    config = SPConfig().load(
        {
            "entityid": DV,
            "key_file": str(folder / "dv.key"),
            "cert_file": str(folder / "dv.crt"),
            "encryption_keypairs": [{"key_file": str(folder / "dv.key"), "cert_file": str(folder / "dv.crt")}],
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": [str(folder / "broker.xml")]},
            "accepted_time_diff": 5,
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(ACS_URL, BINDING_HTTP_ARTIFACT), (ACS_URL, BINDING_HTTP_POST)]
                    },
                    "authn_requests_signed": True,
                    "want_response_signed": False,
                    "want_assertions_signed": True,
                }
            },
        }
    )
    return Saml2Client(config)


def pysaml2_request(client, *, sign: bool = True):
    return client.create_authn_request(
        SSO_URL,
        binding=BINDING_HTTP_ARTIFACT,
        sign=sign,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        force_authn="true",
        attribute_consuming_service_index="2",
        assertion_consumer_service_index="1",
        requested_authn_context=RequestedAuthnContext(
            authn_context_class_ref=[pysaml.AuthnContextClassRef(text=LOA2PLUS)], comparison="minimum"
        ),
    )


def test_a_signed_pysaml2_authn_request_by_post_is_verified_and_read(client, dv):
    request_id, request_xml = pysaml2_request(client)

    element = signatures.verify(xml.parse(request_xml.encode()), [dv[1]])
    request = messages.read_authn_request(element)

    assert request.id == request_id
    assert request.issuer == DV
    assert request.destination == SSO_URL
    assert request.force_authn is True
    assert request.acs_index == 1
    assert request.acs_url is None
    assert request.attribute_consuming_service_index == 2
    assert request.requested_levels == (LOA2PLUS,)
    assert request.comparison == "minimum"
    messages.check_authn_request(request, destination=SSO_URL, now=datetime.now(UTC))


def test_a_pysaml2_authn_request_by_redirect_is_verified_and_read(client, dv):
    request_id, request = pysaml2_request(client, sign=False)
    message = http_redirect_message(
        str(request),
        SSO_URL,
        relay_state="/home",
        typ="SAMLRequest",
        sign=True,
        sigalg=SIG_RSA_SHA256,
        backend=client.sec.sec_backend,
    )
    url = dict(message["headers"])["Location"]

    received_message = signatures.verify_redirect(urlsplit(url).query, [dv[1]])
    parsed = messages.read_authn_request(xml.parse(received_message.message))

    assert received_message.relay_state == "/home"
    assert parsed.id == request_id
    assert parsed.attribute_consuming_service_index == 2
    assert parsed.requested_levels == (LOA2PLUS,)


def test_a_pysaml2_authn_request_signed_by_someone_else_is_refused(client, stranger):
    _, request_xml = pysaml2_request(client)

    with pytest.raises(signatures.SignatureError):
        signatures.verify(xml.parse(request_xml.encode()), [stranger[1]])


def _pysaml2_identifiers(client, response, dv_key: bytes) -> dict[str, list[tuple[str, str]]]:
    """The EncryptedIDs inside attribute values, decrypted by pysaml2's own crypto backend (xmlsec1)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for statement in response.assertion.attribute_statement:
        for attribute in statement.attribute:
            for value in attribute.attribute_value:
                for extension in value.extension_elements:
                    encrypted = pysaml.encrypted_id_from_string(extension.to_string())
                    plaintext = client.sec.decrypt_keys(encrypted.encrypted_data.to_string(), keys=[dv_key])
                    name_id = pysaml.name_id_from_string(plaintext)
                    found.setdefault(attribute.name, []).append((name_id.name_qualifier, name_id.text))
    return found


@pytest.mark.parametrize("case", EXPECTED)
def test_pysaml2_accepts_the_response_verifies_the_assertion_and_decrypts_the_identifiers(broker, dv, client, case):
    attributes, expected = EXPECTED[case]
    now = datetime.now(UTC)
    response_xml = etree.tostring(build(broker, dv, attributes, now=now))

    response = client.parse_authn_request_response(
        base64.b64encode(response_xml).decode(), BINDING_HTTP_POST, outstanding={"_request1": "/"}
    )

    assert response is not None
    assert response.assertion.signature is not None  # want_assertions_signed: pysaml2 checked it with xmlsec1
    assert response.in_response_to == "_request1"
    assert response.assertion.authn_statement[0].authn_context.authn_context_class_ref.text == LOA3
    strings = {name: values for name, values in response.ava.items() if all(values)}
    assert strings == {name: values for name, values in expected.items() if isinstance(values[0], str)}
    identifiers = _pysaml2_identifiers(client, response, dv[0])
    assert identifiers == {name: values for name, values in expected.items() if isinstance(values[0], tuple)}


def test_pysaml2_refuses_an_assertion_signed_by_another_key(dv, client, stranger):
    response_xml = etree.tostring(build(stranger, dv, now=datetime.now(UTC)))

    with pytest.raises(PysamlSignatureError, match="Failed to verify signature"):
        client.parse_authn_request_response(
            base64.b64encode(response_xml).decode(), BINDING_HTTP_POST, outstanding={"_request1": "/"}
        )


def test_pysaml2_refuses_an_assertion_for_another_audience(broker, dv, client):
    response_xml = etree.tostring(
        build(broker, dv, now=datetime.now(UTC), audience="urn:etoegang:DV:00000006666666666666:entities:0001")
    )

    with pytest.raises(Exception, match="AudienceRestrictions conditions not satisfied"):
        client.parse_authn_request_response(
            base64.b64encode(response_xml).decode(), BINDING_HTTP_POST, outstanding={"_request1": "/"}
        )


@pytest.fixture
def pysaml2_prefixes(monkeypatch):
    """The namespace prefixes a pysaml2 SP must register to resolve artifacts from any IdP.

    pysaml2 takes the ArtifactResponse out of the SOAP envelope with ElementTree and serialises it again before
    checking its signature. ElementTree writes the prefixes it knows (``ns0``, ``ns1``, … for unknown namespaces),
    and exclusive c14n keeps prefixes, so the digest of a message signed with the usual ``samlp``/``saml``/``ds``
    prefixes no longer matches unless those prefixes are registered with ElementTree.
    """
    monkeypatch.setattr(ElementTree, "_namespace_map", dict(ElementTree._namespace_map))
    for prefix, uri in {"samlp": xml.SAMLP, "saml": xml.SAML, "ds": xml.DS, "xenc": xml.XENC}.items():
        ElementTree.register_namespace(prefix, uri)


def pysaml2_soap_request(client, resolve: str, version: str) -> tuple[bytes, str]:
    """The SOAP request pysaml2 would post: its envelope (SOAP 1.1) and its Content-Type (application/soap+xml).

    pysaml2 signs an ArtifactResolve into a string that ``use_soap`` cannot envelope, so the signed string is put
    into an envelope of the same shape here. For SOAP 1.2 (some DVs) the envelope namespace is swapped.
    """
    headers = dict(client.use_soap(client.create_artifact_resolve("AAQA", ARS_URL, "_s")[1], ARS_URL)["headers"])
    signed = resolve.split("?>", 1)[1] if resolve.startswith("<?xml") else resolve
    namespace = xml.SOAP11 if version == "1.1" else xml.SOAP12
    envelope = f'<ns0:Envelope xmlns:ns0="{namespace}"><ns0:Body>{signed}</ns0:Body></ns0:Envelope>'
    return envelope.encode(), headers["content-type"]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_signed_pysaml2_artifact_resolve_round_trips_over_soap(broker, dv, client, pysaml2_prefixes, version):
    artifact = artifacts.make_artifact(BROKER, 0)
    resolve_id, resolve = client.create_artifact_resolve(
        artifact, ARS_URL, "_session", sign=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
    )
    request_body, content_type = pysaml2_soap_request(client, resolve, version)

    element = soap.unwrap(request_body, content_type)
    parsed = messages.read_artifact_resolve(signatures.verify(element, [dv[1]]))
    messages.check_artifact_resolve(parsed, destination=ARS_URL, now=datetime.now(UTC))
    answer = messages.build_artifact_response(
        response_id=messages.new_id(),
        in_response_to=parsed.id,
        issuer=BROKER,
        message=build(broker, dv, now=datetime.now(UTC)),
        now=datetime.now(UTC),
        sign_key=broker[0],
        sign_cert=broker[1],
    )
    response_body = soap.wrap(answer, soap.envelope_version(element))

    assert content_type == "application/soap+xml"
    assert parsed.id == resolve_id
    assert parsed.artifact == artifact
    assert parsed.issuer == DV
    if version == "1.1":
        # pysaml2 verifies the ArtifactResponse's signature with the broker's certificate from its metadata.
        inner = client.parse_artifact_resolve_response(response_body.decode())
        assert isinstance(inner, pysamlp.Response)
        assert inner.in_response_to == "_request1"
    outer = signatures.verify(soap.unwrap(response_body, soap.CONTENT_TYPES[version]), [broker[1]])
    assert outer.get("InResponseTo") == resolve_id
    assert xml.parse(response_body).tag == xml.qname(xml.SOAP11 if version == "1.1" else xml.SOAP12, "Envelope")


def test_pysaml2_refuses_an_artifact_response_signed_by_another_key(broker, dv, client, pysaml2_prefixes, stranger):
    answer = artifact_response(stranger, build(broker, dv, now=datetime.now(UTC)))

    with pytest.raises(PysamlSignatureError, match="Failed to verify signature"):
        client.parse_artifact_resolve_response(soap.wrap(answer, "1.1").decode())
