"""Whole logins against a real python3-saml service provider (DV): maykin-python3-saml, the OneLogin toolkit's fork
with the artifact binding.

The toolkit runs in its own virtualenv (``scripts/python3-saml-venv``, built here when missing) as a separate program,
``tests/saml/python3_saml_sp.py``: it cannot share a virtualenv with pysaml2. The broker runs on pytest-django's live
server, so the DV reads the broker's metadata from its URL and resolves artifacts over real HTTP, exactly as a DV
runs it. The DV is registered at the broker from the metadata the toolkit writes; it sends a signed AuthnRequest by
HTTP-Redirect, and checks the ArtifactResponse's and the assertion's signatures and decrypts the identifiers with its
own key, all with the toolkit's own code. The person's browser is Django's test client.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from lxml import etree

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.saml.idp import SSO_PATH, idp_config
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

ROOT = Path(__file__).resolve().parents[2]
SP_PROGRAM = Path(__file__).with_name("python3_saml_sp.py")
VENV_SCRIPT = ROOT / "scripts" / "python3-saml-venv"
VENV_PYTHON = ROOT / "var" / "python3-saml-venv" / "bin" / "python"

OIN = "00000001234567890000"
ENTITY_ID = f"urn:etoegang:DV:{OIN}:entities:2"
ACS = "https://dv.example/saml/artifact"
METADATA_PATH = "/saml/idp/metadata/"

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"

DV_KEY, DV_CERT = generate_development_keypair("python3-saml.dv.example")


@pytest.fixture(scope="session")
def python3_saml() -> Path:
    """The virtualenv's interpreter; building it may take a minute the first time. A failure fails the tests."""
    built = subprocess.run([str(VENV_SCRIPT)], capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, f"scripts/python3-saml-venv failed:\n{built.stdout}\n{built.stderr}"
    return VENV_PYTHON


@pytest.fixture(autouse=True)
def _broker(settings, tmp_path: Path, live_server) -> Iterator[None]:
    """The broker on the live server, with its own development key; fast password hashes."""
    with broker_at(settings, tmp_path, live_server.url):
        yield


class Dv:
    """The DV: the python3-saml program, registered at the broker from its own metadata and linked to its catalogue
    entry. Each step starts the program anew; it keeps nothing but what the test hands it (the request's ID)."""

    def __init__(self, python: Path, base_url: str) -> None:
        self.python = python
        self.idp_metadata_url = base_url + METADATA_PATH
        self.base_url = base_url
        self.sp = {"entity_id": ENTITY_ID, "acs": ACS, "key": DV_KEY.decode(), "cert": DV_CERT.decode()}
        self.provider = f.provider(oin=OIN, name="Gemeente Voorbeeld")
        self.parking = f.instance(f.definition(self.provider, level=Level.EH2, name="Parkeervergunning"), index=1)
        self.waste = f.instance(
            f.definition(self.provider, level=Level.EH3, name="Bedrijfsafval", branch_restriction_allowed=True),
            index=2,
        )
        own_metadata = self.run("metadata")["metadata"]
        self.entity = sp_register_from_metadata(actor=SYSTEM, data=own_metadata.encode(), provider=self.provider)

    def run(self, command: str, **fields: Any) -> dict[str, Any]:
        """One step of the DV program: the JSON command in, the JSON answer out."""
        payload = json.dumps({"command": command, "sp": self.sp, "idp_metadata_url": self.idp_metadata_url, **fields})
        done = subprocess.run(
            [str(self.python), str(SP_PROGRAM)], input=payload, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def login_url(self, *, service_index: int, level: Level) -> tuple[str, str]:
        """The path and query of the broker's SSO URL with the DV's signed AuthnRequest, and the request's ID."""
        answer = self.run("login", service_index=service_index, level=level.uri, relay_state="/permits/new")
        request = etree.fromstring(answer["request"].encode())
        assert request.get("AttributeConsumingServiceIndex") == str(service_index)
        assert request.get("ProtocolBinding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
        wanted = request.find("samlp:RequestedAuthnContext", NAMESPACES)
        assert wanted.get("Comparison") == "minimum"
        assert wanted.findtext("saml:AuthnContextClassRef", namespaces=NAMESPACES) == level.uri
        location = urlsplit(answer["url"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.base_url + SSO_PATH
        return f"{location.path}?{location.query}", answer["request_id"]

    def resolve(self, artifact: str, request_id: str, **fields: Any) -> dict[str, Any]:
        """What the toolkit made of the broker's answer behind the artifact."""
        return self.run("resolve", artifact=artifact, request_id=request_id, **fields)


@pytest.fixture
def dv(python3_saml: Path, live_server) -> Dv:
    return Dv(python3_saml, live_server.url)


def check_success(seen: dict[str, Any], request_id: str, level: Level) -> dict[str, Any]:
    """The toolkit accepted the login; its attributes."""
    assert "refused_at" not in seen, seen
    assert seen["status"] == [SUCCESS]
    assert seen["in_response_to"] == request_id
    assert seen["issuers"] == [idp_config().entity_id]
    assert seen["audiences"] == [ENTITY_ID]
    assert seen["authn_contexts"] == [level.uri]
    return seen["attributes"]


def identifiers(attributes: dict[str, Any], name: str) -> list[tuple[str, str]]:
    """The decrypted NameIDs of an attribute, as (qualifier, value)."""
    values = attributes[name]
    assert all(isinstance(value, dict) for value in values), values
    return [(value["NameID"]["NameQualifier"], value["NameID"]["value"]) for value in values]


def test_a_direct_login_reaches_the_dv_with_the_organisation_and_a_pseudonym(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    company = f.organisation(name="Bakkerij De Korst B.V.")
    f.mandate(person, company)

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    answer = log_in(client, client.get(url), person)
    seen = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    attributes = check_success(seen, request_id, Level.EH2)
    assert attributes[SERVICE_ID] == [dv.parking.service_id]
    assert attributes[SERVICE_UUID] == [str(dv.parking.definition.uuid)]
    assert attributes[COMPANY_NAME] == ["Bakkerij De Korst B.V."]
    assert identifiers(attributes, LEGAL_SUBJECT) == [(KVK, company.kvk), (RSIN, company.rsin)]
    [(qualifier, pseudonym)] = identifiers(attributes, ACTING_SUBJECT)
    assert qualifier == PSEUDONYM and pseudonym and person.email not in pseudonym
    assert set(attributes) == {SERVICE_ID, SERVICE_UUID, COMPANY_NAME, LEGAL_SUBJECT, ACTING_SUBJECT}


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
    attributes = check_success(dv.resolve(artifact_of(answer, acs=ACS), request_id), request_id, Level.EH2)

    assert attributes[COMPANY_NAME] == ["Bloemisterij Roos B.V."]
    assert attributes[INTERMEDIATE_NAME] == ["Administratiekantoor Telwerk B.V."]
    assert identifiers(attributes, LEGAL_SUBJECT) == [(KVK, client_org.kvk), (RSIN, client_org.rsin)]
    assert identifiers(attributes, INTERMEDIATE) == [(KVK, accountant.kvk)]
    [(qualifier, _)] = identifiers(attributes, ACTING_SUBJECT)
    assert qualifier == PSEUDONYM
    assert attributes[SERVICE_ID] == [dv.parking.service_id]


def test_a_branch_login_names_the_branch(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    company = f.organisation()
    shop = f.branch(company)
    f.mandate(person, company)

    url, request_id = dv.login_url(service_index=2, level=Level.EH3)
    choose = log_in(client, client.get(url), person, totp=totp)
    answer = client.post(choose.wsgi_request.path, {"option": f"{company.pk}::{shop.number}"})
    attributes = check_success(dv.resolve(artifact_of(answer, acs=ACS), request_id), request_id, Level.EH3)

    assert attributes[BRANCH] == [shop.number]
    assert attributes[SERVICE_ID] == [dv.waste.service_id]
    assert identifiers(attributes, LEGAL_SUBJECT)[0] == (KVK, company.kvk)
    assert INTERMEDIATE not in attributes


def test_a_portal_request_gets_every_service_of_the_dv_the_person_may_use(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    company = f.organisation()
    f.mandate(person, company)
    other = f.instance(f.definition(f.provider(), level=Level.EH2))  # another provider's service

    url, request_id = dv.login_url(service_index=0, level=Level.EH3)
    answer = log_in(client, client.get(url), person, totp=totp)
    attributes = check_success(dv.resolve(artifact_of(answer, acs=ACS), request_id), request_id, Level.EH3)

    assert sorted(attributes[SERVICE_ID]) == sorted([dv.parking.service_id, dv.waste.service_id])
    assert other.service_id not in attributes[SERVICE_ID]
    assert identifiers(attributes, LEGAL_SUBJECT)[0] == (KVK, company.kvk)


def test_a_cancelled_login_reaches_the_dv_as_authn_failed(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    f.mandate(person, f.organisation())

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    choose = log_in(client, client.get(url), person)
    answer = client.post(choose.wsgi_request.path, {"action": "cancel"})
    seen = dv.resolve(artifact_of(answer, acs=ACS), request_id)

    assert seen["status"] == [RESPONDER, AUTHN_FAILED]
    assert seen["in_response_to"] == request_id
    assert (seen["refused_at"], seen["error_code"]) == ("Response", "STATUS_CODE_AUTHNFAILED")
    assert "attributes" not in seen


def test_a_person_without_a_mandate_is_refused_and_the_dv_hears_only_of_the_cancel(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    page = log_in(client, client.get(url), person)

    assert page.status_code == 403  # the refusal page, no way back to the DV but Cancel
    assert "SAMLart" not in page.content.decode()
    answer = client.post(page.wsgi_request.path, {"action": "cancel"})
    seen = dv.resolve(artifact_of(answer, acs=ACS), request_id)
    assert seen["status"] == [RESPONDER, AUTHN_FAILED]
    assert (seen["refused_at"], seen["error_code"]) == ("Response", "STATUS_CODE_AUTHNFAILED")


def test_an_artifact_resolves_once(client: Client, dv: Dv) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    artifact = artifact_of(log_in(client, client.get(url), person), acs=ACS)

    check_success(dv.resolve(artifact, request_id), request_id, Level.EH2)
    assert dv.resolve(artifact, request_id) == {"empty": True}


def test_the_dv_refuses_an_answer_not_signed_with_the_certificate_it_trusts(client: Client, dv: Dv) -> None:
    """The toolkit really checks the ArtifactResponse's signature: pinned to another certificate, it refuses."""
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    _, stranger = generate_development_keypair("not-the-broker.example")

    url, request_id = dv.login_url(service_index=1, level=Level.EH2)
    artifact = artifact_of(log_in(client, client.get(url), person), acs=ACS)
    seen = dv.resolve(artifact, request_id, idp_cert=stranger.decode())

    assert (seen["refused_at"], seen["error_code"]) == ("ArtifactResponse", "INVALID_SIGNATURE")
