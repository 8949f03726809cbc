"""Whole logins against a real pysaml2 service provider (DV).

pysaml2 plays the DV as an eHerkenning DV would run it: it reads the broker's metadata from the broker's metadata
URL, is registered at the broker from the metadata pysaml2 itself publishes, sends a signed AuthnRequest by
HTTP-Redirect, and resolves the artifact the broker sends to its ACS over SOAP (posted to the broker in-process),
checking the signatures with ``xmlsec1`` and decrypting the identifiers with its own key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from lxml import etree
from saml2 import BINDING_HTTP_ARTIFACT, BINDING_HTTP_REDIRECT
from saml2 import saml as pysaml
from saml2 import samlp as pysamlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.response import StatusAuthnFailed
from saml2.samlp import STATUS_AUTHN_FAILED, STATUS_RESPONDER, RequestedAuthnContext
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH, SSO_PATH, idp_config
from sleutelbos.saml.protocol.keys import generate_development_keypair
from sleutelbos.saml.protocol.xml import NAMESPACES
from sleutelbos.saml.services import sp_register_from_metadata
from tests import factories as f
from tests.identity.test_login import add_totp, person_with_password
from tests.saml.conftest import broker_at
from tests.saml.etoegang import (
    ACTING_SUBJECT,
    BRANCH,
    COMPANY_NAME,
    INTERMEDIATE,
    INTERMEDIATE_NAME,
    KVK,
    LEGAL_SUBJECT,
    PSEUDONYM,
    RSIN,
    SERVICE_ID,
    SERVICE_UUID,
)
from tests.saml.test_sso import artifact_of, log_in

pytestmark = pytest.mark.django_db

OIN = "00000001234567890000"
ENTITY_ID = f"urn:etoegang:DV:{OIN}:entities:1"
ACS = "https://dv.example/saml/acs"
BASE_URL = "https://sleutelbos.example"
METADATA_PATH = "/saml/idp/metadata/"


DV_KEY, DV_CERT = generate_development_keypair("dv.example")


@pytest.fixture(autouse=True)
def _broker(settings, tmp_path: Path) -> Iterator[None]:
    """The broker at a fixed public URL with its own development key; fast password hashes."""
    with broker_at(settings, tmp_path, BASE_URL):
        yield


def sp_config(folder: Path, idp_metadata: str | None) -> SPConfig:
    """The DV's pysaml2 configuration: its key pair for signing and decryption, the broker's metadata inline."""
    (folder / "dv.key").write_bytes(DV_KEY)
    (folder / "dv.crt").write_bytes(DV_CERT)
    config: dict[str, Any] = {
        "entityid": ENTITY_ID,
        "key_file": str(folder / "dv.key"),
        "cert_file": str(folder / "dv.crt"),
        "encryption_keypairs": [{"key_file": str(folder / "dv.key"), "cert_file": str(folder / "dv.crt")}],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "accepted_time_diff": 5,
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "name": "Gemeente Voorbeeld",
                "endpoints": {"assertion_consumer_service": [(ACS, BINDING_HTTP_ARTIFACT)]},
                "authn_requests_signed": True,
                "want_response_signed": False,
                "want_assertions_signed": True,
            }
        },
    }
    if idp_metadata is not None:
        config["metadata"] = {"inline": [idp_metadata]}
    return SPConfig().load(config)


class Dv:
    """The DV: a pysaml2 client, registered at the broker from its own metadata and linked to its catalogue entry."""

    def __init__(self, browser: Client, folder: Path) -> None:
        self.browser = browser
        self.provider = f.provider(oin=OIN, name="Gemeente Voorbeeld")
        self.parking = f.instance(f.definition(self.provider, level=Level.EH2, name="Parkeervergunning"), index=1)
        self.waste = f.instance(
            f.definition(self.provider, level=Level.EH3, name="Bedrijfsafval", branch_restriction_allowed=True),
            index=2,
        )
        own_metadata = create_metadata_string(None, config=sp_config(folder, None), valid=24)
        self.entity = sp_register_from_metadata(actor=SYSTEM, data=own_metadata, provider=self.provider)
        published = browser.get(METADATA_PATH)
        assert published.status_code == 200
        self.client = Saml2Client(sp_config(folder, published.content.decode()))
        self.client.send = self._send  # SOAP goes to the broker in-process instead of over the network

    def _send(self, url: str, method: str = "GET", **kwargs: Any) -> SimpleNamespace:
        assert method == "POST" and url == BASE_URL + ARTIFACT_RESOLUTION_PATH
        # pysaml2 labels its SOAP 1.1 envelope application/soap+xml; the broker answers in the envelope's version.
        content_type = dict(kwargs["headers"])["content-type"]
        answer = self.browser.post(ARTIFACT_RESOLUTION_PATH, kwargs["data"], content_type=content_type)
        return SimpleNamespace(status_code=answer.status_code, text=answer.content.decode(), headers=answer.headers)

    def login_url(self, *, service_index: int, level: Level) -> tuple[str, str]:
        """The broker's SSO URL with a signed AuthnRequest (HTTP-Redirect), and the request's ID."""
        request_id, info = self.client.prepare_for_authenticate(
            binding=BINDING_HTTP_REDIRECT,
            response_binding=BINDING_HTTP_ARTIFACT,
            relay_state="/permits/new",
            sign=True,
            sigalg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            requested_authn_context=RequestedAuthnContext(
                authn_context_class_ref=[pysaml.AuthnContextClassRef(text=level.uri)], comparison="minimum"
            ),
            attribute_consuming_service_index=str(service_index),
        )
        location = urlsplit(dict(info["headers"])["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == BASE_URL + SSO_PATH
        return f"{location.path}?{location.query}", request_id

    def resolve(self, artifact: str, request_id: str):
        """The pysaml2 Response behind the artifact, every signature checked by pysaml2."""
        answer = self.client.artifact2message(
            artifact, "idpsso", sign=True, sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256
        )
        # pysaml2 verifies the ArtifactResponse's signature; the Response inside is then read as it was received,
        # not as pysaml2's object model writes it again (that changes the signed assertion's bytes).
        inner = self.client.parse_artifact_resolve_response(answer.text)
        assert isinstance(inner, pysamlp.Response)
        code = inner.status.status_code
        self.status = [code.value, *([code.status_code.value] if code.status_code else [])]
        received = etree.fromstring(answer.text.encode()).find(".//samlp:ArtifactResponse/samlp:Response", NAMESPACES)
        return self.client.parse_authn_request_response(
            base64.b64encode(etree.tostring(received)).decode(),
            BINDING_HTTP_ARTIFACT,
            outstanding={request_id: "/permits/new"},
        )


@pytest.fixture
def dv(client: Client, tmp_path: Path, pysaml2_prefixes) -> Dv:
    return Dv(client, tmp_path)


def identifiers(dv: Dv, response) -> dict[str, list[tuple[str, str]]]:
    """The EncryptedIDs in the attribute values, decrypted by pysaml2's own crypto backend with the DV's key."""
    found: dict[str, list[tuple[str, str]]] = {}
    for statement in response.assertion.attribute_statement:
        for attribute in statement.attribute:
            for value in attribute.attribute_value:
                for extension in value.extension_elements:
                    encrypted = pysaml.encrypted_id_from_string(extension.to_string())
                    plaintext = dv.client.sec.decrypt_keys(encrypted.encrypted_data.to_string(), keys=[DV_KEY])
                    name_id = pysaml.name_id_from_string(plaintext)
                    found.setdefault(attribute.name, []).append((name_id.name_qualifier, name_id.text))
    return found


def strings(response) -> dict[str, list[str]]:
    """The plain string attributes pysaml2 read (an EncryptedID shows in ``ava`` as an empty value)."""
    return {name: values for name, values in response.ava.items() if all(values)}


def check_success(response, request_id: str, level: Level) -> None:
    assert response is not None
    assert response.in_response_to == request_id
    assert response.assertion.signature is not None  # want_assertions_signed: checked by pysaml2 with xmlsec1
    assert response.assertion.issuer.text == idp_config().entity_id
    assert [a.audience[0].text for a in response.assertion.conditions.audience_restriction] == [ENTITY_ID]
    assert response.assertion.authn_statement[0].authn_context.authn_context_class_ref.text == level.uri


def test_a_direct_login_reaches_the_dv_with_the_organisation_and_a_pseudonym(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    company = f.organisation(name="Bakkerij De Korst B.V.")
    f.mandate(person, company)

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    answer = log_in(client, client.get(url), person)
    response = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    check_success(response, request_id, Level.EH2)
    assert strings(response) == {
        SERVICE_ID: [dv.parking.service_id],
        SERVICE_UUID: [str(dv.parking.definition.uuid)],
        COMPANY_NAME: ["Bakkerij De Korst B.V."],
    }
    found = identifiers(dv, response)
    assert found[LEGAL_SUBJECT] == [(KVK, company.kvk), (RSIN, company.rsin)]
    [(qualifier, pseudonym)] = found[ACTING_SUBJECT]
    assert qualifier == PSEUDONYM and pseudonym and person.email not in pseudonym
    assert set(found) == {LEGAL_SUBJECT, ACTING_SUBJECT}


def test_a_chain_mandate_login_names_the_client_and_the_intermediary(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    accountant = f.organisation(name="Administratiekantoor Telwerk B.V.")
    client_org = f.organisation(name="Bloemisterij Roos B.V.")
    f.mandate(person, accountant)
    f.chain_mandate(client_org, accountant)

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    choose = log_in(client, client.get(url), person)
    assert choose.status_code == 200
    answer = client.post(choose.wsgi_request.path, {"option": f"{client_org.pk}:{accountant.pk}:"})
    response = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    check_success(response, request_id, Level.EH2)
    assert strings(response)[COMPANY_NAME] == ["Bloemisterij Roos B.V."]
    assert strings(response)[INTERMEDIATE_NAME] == ["Administratiekantoor Telwerk B.V."]
    found = identifiers(dv, response)
    assert found[LEGAL_SUBJECT][0] == (KVK, client_org.kvk)
    assert found[INTERMEDIATE] == [(KVK, accountant.kvk)]


def test_a_branch_login_names_the_branch(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    company = f.organisation()
    shop = f.branch(company)
    f.mandate(person, company)

    url, request_id = dv.login_url(service_index=2, level=Level.EH3)
    choose = log_in(client, client.get(url), person, totp=totp)
    answer = client.post(choose.wsgi_request.path, {"option": f"{company.pk}::{shop.number}"})
    response = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    check_success(response, request_id, Level.EH3)
    assert strings(response)[BRANCH] == [shop.number]
    assert strings(response)[SERVICE_ID] == [dv.waste.service_id]
    assert identifiers(dv, response)[LEGAL_SUBJECT][0] == (KVK, company.kvk)


def test_a_portal_request_gets_every_service_of_the_dv_the_person_may_use(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    f.mandate(person, f.organisation())
    other = f.instance(f.definition(f.provider(), level=Level.EH2))  # another provider's service

    url, request_id = dv.login_url(service_index=0, level=Level.EH3)
    answer = log_in(client, client.get(url), person, totp=totp)
    response = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    check_success(response, request_id, Level.EH3)
    services = strings(response)[SERVICE_ID]
    assert sorted(services) == sorted([dv.parking.service_id, dv.waste.service_id])
    assert other.service_id not in services


def test_a_cancelled_login_reaches_the_dv_as_authn_failed(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    f.mandate(person, f.organisation())

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    choose = log_in(client, client.get(url), person)
    answer = client.post(choose.wsgi_request.path, {"action": "cancel"})

    with pytest.raises(StatusAuthnFailed):
        dv.resolve(artifact_of(answer, acs=ACS), request_id)
    assert dv.status == [STATUS_RESPONDER, STATUS_AUTHN_FAILED]


def test_a_person_without_a_mandate_is_refused_and_the_dv_hears_only_of_the_cancel(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    page = log_in(client, client.get(url), person)

    assert page.status_code == 403  # the refusal page, no redirect to the DV
    assert "SAMLart" not in page.content.decode()
    answer = client.post(page.wsgi_request.path, {"action": "cancel"})
    with pytest.raises(StatusAuthnFailed):
        dv.resolve(artifact_of(answer, acs=ACS), request_id)
    assert dv.status == [STATUS_RESPONDER, STATUS_AUTHN_FAILED]


def test_pysaml2_resolves_the_artifact_with_its_own_content_type(client: Client, dv: Dv) -> None:
    """pysaml2 posts its SOAP 1.1 envelope as application/soap+xml: the answer must still be SOAP 1.1."""
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    answer = log_in(client, client.get(url), person)

    check_success(dv.resolve(artifact_of(answer, acs=ACS), request_id), request_id, Level.EH2)
