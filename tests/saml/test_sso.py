"""The SAML login as a service provider (DV) and a person see it: an AuthnRequest in, a login at the broker, the
answer back at the DV's registered ACS by artifact, resolved over SOAP."""

from __future__ import annotations

import base64
import datetime as dt
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from lxml import etree

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.decisions import decide
from sleutelbos.saml import flow
from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH, SSO_PATH, idp_config
from sleutelbos.saml.models import SeenMessageId
from sleutelbos.saml.protocol import encryption, soap
from sleutelbos.saml.protocol.keys import certificate_base64, generate_development_keypair
from sleutelbos.saml.protocol.metadata import format_datetime
from sleutelbos.saml.protocol.signatures import sign, sign_redirect, verify
from sleutelbos.saml.protocol.xml import NAMESPACES
from sleutelbos.saml.services import sp_register_from_metadata
from tests import factories as f
from tests.identity.test_login import PASSWORD, add_totp, next_code, person_with_password
from tests.saml.conftest import broker_at

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
DV_OIN = "00000009876543210000"
DV_ENTITY_ID = f"urn:etoegang:DV:{DV_OIN}:entities:9001"
ACS_ARTIFACT = "https://eherkenning.voorbeeldgemeente.example/saml/acs"
ACS_POST = "https://eherkenning.voorbeeldgemeente.example/saml/acs/post"
BASE_URL = "https://sleutelbos.example"
SSO_URL = BASE_URL + SSO_PATH
ARS_URL = BASE_URL + ARTIFACT_RESOLUTION_PATH
NS = {**NAMESPACES}

# The DV's keys: made once per test run and put into the metadata fixture in place of its certificates.
DV_SIGN_KEY, DV_SIGN_CERT = generate_development_keypair("dv-signing.example")
DV_ENC_KEY, DV_ENC_CERT = generate_development_keypair("dv-encryption.example")
# The second signing certificate of the metadata (a key rollover), and a key the DV never registered.
NEXT_KEY, NEXT_CERT = generate_development_keypair("dv-signing-next.example")
STRANGER_KEY, _STRANGER_CERT = generate_development_keypair("someone-else.example")


def dv_metadata(entity_id: str = DV_ENTITY_ID) -> bytes:
    """The realistic DV metadata of the fixtures, with certificates whose keys the tests hold."""
    text = (FIXTURES / "dv-eherkenning.xml").read_text()
    replacements = iter(
        [certificate_base64(DV_SIGN_CERT), certificate_base64(NEXT_CERT), certificate_base64(DV_ENC_CERT)]
    )
    text = re.sub(
        r"<ds:X509Certificate>.*?</ds:X509Certificate>",
        lambda _m: f"<ds:X509Certificate>{next(replacements)}</ds:X509Certificate>",
        text,
        flags=re.S,
    )
    return text.replace(DV_ENTITY_ID, entity_id).encode()


@pytest.fixture(autouse=True)
def _broker(settings, tmp_path: Path) -> Iterator[None]:
    """The broker at a fixed public URL, with its own development key; fast password hashes."""
    with broker_at(settings, tmp_path, BASE_URL):
        yield


class World:
    """The DV in the catalogue and registered from its metadata, with its services by index."""

    def __init__(self) -> None:
        self.provider = f.provider(oin=DV_OIN, name="Gemeente Voorbeeld")
        self.parking = f.instance(f.definition(self.provider, level=Level.EH2, name="Parkeervergunning"), index=1)
        self.waste = f.instance(
            f.definition(self.provider, level=Level.EH3, name="Bedrijfsafval", branch_restriction_allowed=True),
            index=2,
        )
        self.entity = sp_register_from_metadata(actor=SYSTEM, data=dv_metadata(), provider=self.provider)


@pytest.fixture
def world() -> World:
    return World()


# --------------------------------------------------------------------------------------------------------------------
# The DV's side: making requests, reading answers


def authn_request(
    *,
    request_id: str | None = None,
    issuer: str = DV_ENTITY_ID,
    destination: str = SSO_URL,
    issued: dt.datetime | None = None,
    service_index: int | None = 1,
    acs_index: int | None = None,
    acs_url: str | None = None,
    force: bool = False,
    level: Level | None = None,
) -> etree._Element:
    attributes = {
        "ID": request_id or f"_{secrets.token_hex(16)}",
        "Version": "2.0",
        "IssueInstant": format_datetime(issued or timezone.now()),
        "Destination": destination,
    }
    if force:
        attributes["ForceAuthn"] = "true"
    if service_index is not None:
        attributes["AttributeConsumingServiceIndex"] = str(service_index)
    if acs_index is not None:
        attributes["AssertionConsumerServiceIndex"] = str(acs_index)
    if acs_url is not None:
        attributes["AssertionConsumerServiceURL"] = acs_url
    root = etree.Element(f"{{{NS['samlp']}}}AuthnRequest", attributes, nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
    etree.SubElement(root, f"{{{NS['saml']}}}Issuer").text = issuer
    if level is not None:
        context = etree.SubElement(root, f"{{{NS['samlp']}}}RequestedAuthnContext", Comparison="minimum")
        etree.SubElement(context, f"{{{NS['saml']}}}AuthnContextClassRef").text = level.uri
    return root


def redirect_url(request: etree._Element, *, relay_state: str | None = None, key: bytes = DV_SIGN_KEY) -> str:
    """The SSO URL with the request signed for the HTTP-Redirect binding."""
    query = sign_redirect(etree.tostring(request), key, relay_state=relay_state)
    return f"{SSO_PATH}?{query}"


def post_request(client: Client, request: etree._Element, *, relay_state: str | None = None):
    """The DV's page posting the signed request (HTTP-POST binding)."""
    sign(request, DV_SIGN_KEY, DV_SIGN_CERT)
    data = {"SAMLRequest": base64.b64encode(etree.tostring(request)).decode()}
    if relay_state is not None:
        data["RelayState"] = relay_state
    return client.post(SSO_PATH, data)


def log_in(client: Client, response, person, *, totp=None):
    """Follow the broker to its login page and log in there (password, and the app's code when asked)."""
    assert response.status_code in (302, 303), response
    location = response["Location"]
    while location.startswith(("/saml/idp/continue/", SSO_PATH)):
        response = client.get(location)
        assert response.status_code == 302, response.content[:500]
        location = response["Location"]
    parts = urlsplit(location)
    params = {key: values[0] for key, values in parse_qs(parts.query).items()}
    if parts.path == reverse("identity:login"):
        response = client.post(location, {"email": person.email, "password": PASSWORD, **params})
    elif parts.path == reverse("identity:step_up"):
        response = client.get(location)
    else:  # pragma: no cover - a test's mistake
        raise AssertionError(f"not a login page: {location}")
    if response["Location"].startswith(reverse("identity:login_factor")):
        response = client.post(response["Location"], {"method": "totp", "totp-code": next_code(totp)})
    assert response.status_code == 302
    return client.get(response["Location"])


def artifact_of(response, *, acs: str = ACS_ARTIFACT) -> str:
    assert response.status_code == 302, response.content[:800]
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == acs
    return parse_qs(location.query)["SAMLart"][0]


def artifact_resolve(artifact: str, *, issuer: str = DV_ENTITY_ID, key: bytes = DV_SIGN_KEY) -> etree._Element:
    root = etree.Element(
        f"{{{NS['samlp']}}}ArtifactResolve",
        {
            "ID": f"_{secrets.token_hex(16)}",
            "Version": "2.0",
            "IssueInstant": format_datetime(timezone.now()),
            "Destination": ARS_URL,
        },
        nsmap={"samlp": NS["samlp"], "saml": NS["saml"]},
    )
    etree.SubElement(root, f"{{{NS['saml']}}}Issuer").text = issuer
    etree.SubElement(root, f"{{{NS['samlp']}}}Artifact").text = artifact
    return sign(root, key, DV_SIGN_CERT if key == DV_SIGN_KEY else NEXT_CERT)


def resolve(client: Client, artifact: str, *, version: str = soap.SOAP_1_1, **kwargs: Any) -> etree._Element:
    """Resolve the artifact as the DV does; the ArtifactResponse, its signature verified with the broker's
    certificate."""
    body = soap.wrap(artifact_resolve(artifact, **kwargs), version)
    answer = client.post(ARTIFACT_RESOLUTION_PATH, body, content_type=soap.CONTENT_TYPES[version])
    assert answer.status_code == 200, answer.content
    envelope = etree.fromstring(answer.content)
    artifact_response = envelope.find(".//samlp:ArtifactResponse", NS)
    return verify(artifact_response, [idp_config().cert_pem])


def inner_response(artifact_response: etree._Element) -> etree._Element:
    response = artifact_response.find("samlp:Response", NS)
    assert response is not None, "the ArtifactResponse is empty"
    return response


def status_of(response: etree._Element) -> list[str]:
    codes = response.findall(".//samlp:StatusCode", NS)
    return [code.get("Value").rsplit(":", 1)[1] for code in codes]


def attributes_of(response: etree._Element) -> dict[str, list[Any]]:
    """The assertion's attributes as the DV reads them: strings, and decrypted NameIDs as (qualifier, value)."""
    assertion = verify(response.find("saml:Assertion", NS), [idp_config().cert_pem])
    found: dict[str, list[Any]] = {}
    for attribute in assertion.iterfind(".//saml:Attribute", NS):
        values = found.setdefault(attribute.get("Name"), [])
        for value in attribute.iterfind("saml:AttributeValue", NS):
            encrypted = value.find("saml:EncryptedID", NS)
            if encrypted is None:
                values.append(value.text)
            else:
                name_id = encryption.decrypt_id(encrypted, DV_ENC_KEY)
                values.append((name_id.get("NameQualifier"), name_id.text))
    found["level"] = [assertion.findtext(".//saml:AuthnContextClassRef", namespaces=NS)]
    found["audience"] = [assertion.findtext(".//saml:Audience", namespaces=NS)]
    return found


KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --------------------------------------------------------------------------------------------------------------------
# Logins that succeed


def test_a_direct_login_ends_at_the_dv_with_the_organisation_and_a_pseudonym(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    company = f.organisation(name="Bakkerij De Korst B.V.")
    f.mandate(person, company)

    started = client.get(redirect_url(authn_request(service_index=1), relay_state="/permits/new"))
    answer = log_in(client, started, person)

    location = urlsplit(answer["Location"])
    assert parse_qs(location.query)["RelayState"] == ["/permits/new"]
    response = inner_response(resolve(client, artifact_of(answer)))
    assert status_of(response) == ["Success"]
    attributes = attributes_of(response)
    assert attributes["urn:etoegang:core:ServiceID"] == [world.parking.service_id]
    assert attributes["urn:etoegang:core:ServiceUUID"] == [str(world.parking.definition.uuid)]
    assert attributes["urn:etoegang:core:LegalSubjectID"] == [(KVK, company.kvk), (RSIN, company.rsin)]
    assert attributes["urn:etoegang:1.11:attribute-represented:CompanyName"] == ["Bakkerij De Korst B.V."]
    assert attributes["level"] == [Level.EH2.uri]
    assert attributes["audience"] == [DV_ENTITY_ID]
    [(_, pseudonym)] = attributes["urn:etoegang:core:ActingSubjectID"]
    assert person.email not in pseudonym and str(person.pk) != pseudonym
    [event] = events("saml:login_allowed")
    assert (event.organisation, event.data["services"]) == (company, [world.parking.service_id])


def test_the_pseudonym_is_stable_per_dv_and_differs_between_dvs() -> None:
    person = f.person()
    company = f.organisation()

    def pseudonym(entity_id: str = DV_ENTITY_ID, organisation=company) -> str:
        return flow.pseudonym(entity_id=entity_id, person=person, organisation=organisation)

    assert pseudonym() == pseudonym()
    assert pseudonym() != pseudonym("urn:etoegang:DV:00000001111111111000:entities:1")
    assert pseudonym() != pseudonym(organisation=f.organisation())


def test_a_service_above_the_session_level_asks_for_a_step_up(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    f.mandate(person, f.organisation())
    logged_in = client.post(reverse("identity:login"), {"email": person.email, "password": PASSWORD, "level": "EH2"})
    assert logged_in["Location"] == reverse("identity:account")  # EH2: the password alone

    started = client.get(redirect_url(authn_request(service_index=2)))
    waiting = client.get(started["Location"])

    assert waiting["Location"].startswith(reverse("identity:step_up"))
    answer = log_in(client, started, person, totp=totp)
    assert attributes_of(inner_response(resolve(client, artifact_of(answer))))["level"] == [Level.EH3.uri]


def test_force_authn_asks_a_logged_in_person_to_authenticate_again(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    client.post(reverse("identity:login"), {"email": person.email, "password": PASSWORD, "level": "EH2"})

    started = client.get(redirect_url(authn_request(service_index=1, force=True)))
    waiting = client.get(started["Location"])

    assert waiting["Location"].startswith(reverse("identity:step_up")) and "force=1" in waiting["Location"]
    step_up = client.get(waiting["Location"])
    answer = client.post(step_up.wsgi_request.get_full_path(), {"password": PASSWORD})
    assert answer.status_code == 302
    back = client.get(answer["Location"])
    assert status_of(inner_response(resolve(client, artifact_of(back)))) == ["Success"]


def test_a_chain_mandate_login_names_the_client_and_the_intermediary(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    accountant = f.organisation(name="Administratiekantoor Telwerk B.V.")
    client_org = f.organisation(name="Bloemisterij Roos B.V.")
    f.mandate(person, accountant)
    f.chain_mandate(client_org, accountant)

    choose = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)
    assert choose.status_code == 200
    page = choose.content.decode()
    assert 'type="radio"' in page and "Bloemisterij Roos B.V." in page and "<legend>" in page
    option = f"{client_org.pk}:{accountant.pk}:"
    answer = client.post(choose.wsgi_request.path, {"option": option})

    attributes = attributes_of(inner_response(resolve(client, artifact_of(answer))))
    assert attributes["urn:etoegang:core:LegalSubjectID"][0] == (KVK, client_org.kvk)
    assert attributes["urn:etoegang:1.9:IntermediateEntityID:KvKnr"] == [(KVK, accountant.kvk)]
    assert attributes["urn:etoegang:1.13:attribute-intermediate:CompanyName"] == ["Administratiekantoor Telwerk B.V."]
    assert attributes["urn:etoegang:1.11:attribute-represented:CompanyName"] == ["Bloemisterij Roos B.V."]


def test_a_branch_can_be_chosen_where_the_service_accepts_it(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    company = f.organisation()
    shop = f.branch(company)
    f.mandate(person, company)

    choose = log_in(client, client.get(redirect_url(authn_request(service_index=2))), person, totp=totp)
    assert shop.number in choose.content.decode()
    answer = client.post(choose.wsgi_request.path, {"option": f"{company.pk}::{shop.number}"})

    attributes = attributes_of(inner_response(resolve(client, artifact_of(answer))))
    assert attributes["urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"] == [shop.number]


def test_a_portal_login_carries_every_service_the_person_may_use(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    f.mandate(person, f.organisation())
    other = f.instance(f.definition(f.provider(), level=Level.EH2))  # another provider's service: not in the portal

    answer = log_in(
        client, client.get(redirect_url(authn_request(service_index=None, level=Level.EH3))), person, totp=totp
    )

    attributes = attributes_of(inner_response(resolve(client, artifact_of(answer))))
    assert sorted(attributes["urn:etoegang:core:ServiceID"]) == sorted(
        [world.parking.service_id, world.waste.service_id]
    )
    assert other.service_id not in attributes["urn:etoegang:core:ServiceID"]


def test_a_request_by_post_continues_in_the_persons_session(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    posted = post_request(client, authn_request(service_index=1), relay_state="abc")

    assert posted.status_code == 303
    answer = log_in(client, posted, person)
    assert parse_qs(urlsplit(answer["Location"]).query)["RelayState"] == ["abc"]
    assert status_of(inner_response(resolve(client, artifact_of(answer)))) == ["Success"]


def test_an_acs_that_takes_only_post_gets_the_signed_response_in_a_form(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1, acs_index=1))), person)

    assert page.status_code == 200
    html = page.content.decode()
    assert f'action="{ACS_POST}"' in html and "js/autosubmit.js" in html and "<button" in html
    assert "<script>" not in html  # no inline script: the strict CSP stays
    assert "form-action 'self' https://eherkenning.voorbeeldgemeente.example" in page["Content-Security-Policy"]
    value = re.search(r'name="SAMLResponse" value="([^"]+)"', html).group(1)
    response = verify(etree.fromstring(base64.b64decode(value)), [idp_config().cert_pem])
    assert status_of(response) == ["Success"]


# --------------------------------------------------------------------------------------------------------------------
# Refusal and cancel


def test_a_refused_person_reads_why_and_cancelling_tells_the_dv_authn_failed(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    company = f.organisation()
    granted = f.mandate(person, company)
    # The mandate ran out yesterday (a grant cannot be made in the past, so it is moved there).
    type(granted).objects.filter(pk=granted.pk).update(
        valid_from=timezone.now() - dt.timedelta(days=60), valid_until=timezone.now() - dt.timedelta(days=1)
    )

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 403
    expected = decide(person, company, world.parking, level=Level.EH2).reasons
    assert any(reason.code == "mandate_expired" for reason in expected)
    for reason in expected:
        assert reason.message in page.content.decode()
    assert events("saml:login_refused")
    answer = client.post(page.wsgi_request.path, {"action": "cancel"})
    assert status_of(inner_response(resolve(client, artifact_of(answer)))) == ["Responder", "AuthnFailed"]
    assert events("saml:cancelled")
    # The login is spent: its page cannot answer the DV a second time.
    assert client.post(page.wsgi_request.path, {"action": "cancel"}).status_code == 400


def test_someone_without_any_mandate_is_told_so(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 403
    assert "Cancel" in page.content.decode() or "Annuleren" in page.content.decode()


def test_cancel_on_the_choice_page_answers_authn_failed(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    f.mandate(person, f.organisation())

    choose = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)
    answer = client.post(choose.wsgi_request.path, {"action": "cancel"})

    assert status_of(inner_response(resolve(client, artifact_of(answer)))) == ["Responder", "AuthnFailed"]


def test_a_level_above_the_catalogue_is_answered_request_unsupported(client: Client, world: World) -> None:
    answer = client.get(redirect_url(authn_request(service_index=1, level=Level.EH4)))

    assert status_of(inner_response(resolve(client, artifact_of(answer)))) == ["Requester", "RequestUnsupported"]


def test_a_lower_level_than_the_catalogue_may_be_asked(client: Client, world: World) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    answer = log_in(client, client.get(redirect_url(authn_request(service_index=2, level=Level.EH2))), person)

    assert attributes_of(inner_response(resolve(client, artifact_of(answer))))["level"] == [Level.EH2.uri]


# --------------------------------------------------------------------------------------------------------------------
# A login that cannot be answered: the generic page and the reason in the log, never a server error


def test_a_dv_removed_during_the_login_gets_no_answer_and_the_person_a_generic_page(
    client: Client, world: World, monkeypatch, caplog
) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    real = flow.login_attributes

    def removed_meanwhile(**kwargs: Any):  # the back office deletes the DV while the person chooses
        world.entity.delete()
        return real(**kwargs)

    monkeypatch.setattr(flow, "login_attributes", removed_meanwhile)

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 400
    assert "saml/error.html" in [template.name for template in page.templates]
    assert "removed during the login" in caplog.text
    assert not events("saml:login_allowed")
    assert client.get(page.wsgi_request.path).status_code == 400  # the login is spent


def test_cancelling_after_the_dv_was_removed_shows_the_generic_page(client: Client, world: World, caplog) -> None:
    started = client.get(redirect_url(authn_request(service_index=1)))
    world.entity.delete()

    page = client.post(started["Location"], {"action": "cancel"})

    assert page.status_code == 400
    assert "saml/error.html" in [template.name for template in page.templates]
    assert "removed during the login" in caplog.text
    assert not events("saml:cancelled")


def test_an_answer_that_cannot_be_built_shows_the_generic_page_and_logs_why(
    client: Client, world: World, monkeypatch, caplog
) -> None:
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())

    def broken(**kwargs: Any):
        raise ValueError("the DV's encryption certificate cannot be used")

    monkeypatch.setattr(flow.messages, "build_response", broken)

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 500
    assert "saml/error.html" in [template.name for template in page.templates]
    assert "building the answer failed" in caplog.text and "encryption certificate cannot be used" in caplog.text
    assert not events("saml:login_allowed")
    assert client.get(page.wsgi_request.path).status_code == 400  # the login is spent


# --------------------------------------------------------------------------------------------------------------------
# Hostile requests: refused with a generic page, nothing sent anywhere


def test_a_replayed_request_is_refused(client: Client, world: World) -> None:
    url = redirect_url(authn_request(service_index=1))

    assert client.get(url).status_code == 302
    replay = client.get(url)

    assert replay.status_code == 400
    assert SeenMessageId.objects.filter(issuer=DV_ENTITY_ID).count() == 1


@pytest.mark.parametrize(
    "request_kwargs",
    [
        pytest.param({"acs_url": "https://attacker.example/acs"}, id="unregistered-acs-url"),
        pytest.param({"acs_index": 7}, id="unregistered-acs-index"),
        pytest.param({"issued": timezone.now() - dt.timedelta(minutes=30)}, id="expired"),
        pytest.param({"issued": timezone.now() + dt.timedelta(minutes=30)}, id="from-the-future"),
        pytest.param({"destination": "https://other-broker.example/sso"}, id="wrong-destination"),
        pytest.param({"issuer": "urn:etoegang:DV:00000001111111111000:entities:1"}, id="unknown-issuer"),
    ],
)
def test_hostile_requests_get_a_generic_page(client: Client, world: World, request_kwargs: dict[str, Any]) -> None:
    response = client.get(redirect_url(authn_request(**request_kwargs)))

    assert response.status_code == 400
    assert "SAMLart" not in response.get("Location", "")
    assert "attacker" not in response.content.decode()


def test_a_request_signed_with_an_unregistered_key_is_refused(client: Client, world: World) -> None:
    assert client.get(redirect_url(authn_request(), key=STRANGER_KEY)).status_code == 400


def test_a_request_signed_with_the_next_key_of_a_rollover_is_accepted(client: Client, world: World) -> None:
    assert client.get(redirect_url(authn_request(), key=NEXT_KEY)).status_code == 302


def test_an_unsigned_post_request_is_refused(client: Client, world: World) -> None:
    unsigned = base64.b64encode(etree.tostring(authn_request())).decode()

    assert client.post(SSO_PATH, {"SAMLRequest": unsigned}).status_code == 400


def test_a_registered_acs_url_is_accepted(client: Client, world: World) -> None:
    response = client.get(redirect_url(authn_request(acs_url=ACS_ARTIFACT)))

    assert response.status_code == 302
    assert response["Location"].startswith("/saml/idp/continue/")


def test_an_overlong_relay_state_is_refused(client: Client, world: World) -> None:
    posted = post_request(client, authn_request(), relay_state="x" * 81)

    assert posted.status_code == 400


def test_the_refusal_is_in_the_persons_language(client: Client, world: World, settings) -> None:
    person = person_with_password(Level.EH3)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 403
    assert "You have no mandate from this organisation that covers this service." in page.content.decode()


def test_the_sso_request_and_the_artifact_resolution_read_the_dv_once(
    client: Client, world: World, django_assert_max_num_queries
) -> None:
    """The entity with its certificates and endpoints is read once per request, not again for each step (the
    counts include the session, the person and the savepoints of the test's transaction). With the session at the
    level and one organisation, the SSO request itself answers."""
    person = person_with_password(Level.EH3)
    f.mandate(person, f.organisation())
    log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)  # logged in at the broker

    with django_assert_max_num_queries(14):
        answer = client.get(redirect_url(authn_request(service_index=1)))
    body = soap.wrap(artifact_resolve(artifact_of(answer)), soap.SOAP_1_1)
    with django_assert_max_num_queries(5):
        resolved = client.post(ARTIFACT_RESOLUTION_PATH, body, content_type=soap.CONTENT_TYPES[soap.SOAP_1_1])

    envelope = etree.fromstring(resolved.content)
    artifact_response = verify(envelope.find(".//samlp:ArtifactResponse", NS), [idp_config().cert_pem])
    assert status_of(inner_response(artifact_response)) == ["Success"]
