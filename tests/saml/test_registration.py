"""The broker's SAML identity and metadata endpoint, and service providers registered from their metadata: by the
service, from a URL, in the back office and over the API."""

from __future__ import annotations

import http.server
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client
from django.urls import reverse
from lxml import etree
from rest_framework.test import APIClient

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.identity.models import Person
from sleutelbos.saml import services
from sleutelbos.saml.idp import DEVELOPMENT_KEY_NAME, idp_config, idp_entity_id
from sleutelbos.saml.models import ServiceProviderEntity
from sleutelbos.saml.protocol.keys import certificate_base64, generate_development_keypair
from sleutelbos.saml.protocol.metadata import BINDING_ARTIFACT, BINDING_POST, parse_sp_metadata
from sleutelbos.saml.protocol.signatures import verify
from sleutelbos.saml.services import sp_register_from_metadata, sp_register_from_url
from tests import factories as f
from tests.api.conftest import problem

FIXTURES = Path(__file__).parent / "fixtures" / "metadata"
DV_METADATA = (FIXTURES / "dv-eherkenning.xml").read_bytes()
DV_OIN = "00000009876543210000"
DV_ENTITY_ID = f"urn:etoegang:DV:{DV_OIN}:entities:9001"
NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "ds": "http://www.w3.org/2000/09/xmldsig#"}


@pytest.fixture(autouse=True)
def _fresh_idp(settings, tmp_path: Path) -> Iterator[None]:
    """Every test starts without a loaded IdP configuration, with its own var/ directory."""
    settings.VAR_DIR = tmp_path / "var"
    idp_config.cache_clear()
    yield
    idp_config.cache_clear()


# --------------------------------------------------------------------------------------------------------------------
# The broker's identity and keys


def test_development_key_is_generated_once_private_and_reused(settings, tmp_path: Path) -> None:
    settings.SAML_IDP_OIN = "00000009999999999000"
    settings.SAML_IDP_ENTITY_INDEX = 2
    first = idp_config()
    key_file = tmp_path / "var" / "saml" / DEVELOPMENT_KEY_NAME

    assert idp_entity_id() == "urn:etoegang:HM:00000009999999999000:entities:2"
    assert key_file.read_bytes() == first.key_pem
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.certificates == (first.cert_pem,)
    # Another process (a fresh cache) reuses the same key rather than making a new one.
    idp_config.cache_clear()
    assert idp_config().key_pem == first.key_pem
    assert idp_config() is idp_config()


def test_configured_key_and_next_certificate_are_used(settings, tmp_path: Path) -> None:
    key_pem, cert_pem = generate_development_keypair("current")
    _next_key, next_pem = generate_development_keypair("next")
    for name, data in (("key.pem", key_pem), ("cert.pem", cert_pem), ("next.pem", next_pem)):
        (tmp_path / name).write_bytes(data)
    settings.SAML_IDP_SIGNING_KEY = str(tmp_path / "key.pem")
    settings.SAML_IDP_SIGNING_CERT = str(tmp_path / "cert.pem")
    settings.SAML_IDP_NEXT_CERT = str(tmp_path / "next.pem")

    config = idp_config()

    assert (config.key_pem, config.certificates) == (key_pem, (cert_pem, next_pem))
    assert not (tmp_path / "var" / "saml").exists()


def test_a_key_that_does_not_belong_to_the_certificate_is_refused(settings, tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(generate_development_keypair("one")[0])
    (tmp_path / "cert.pem").write_bytes(generate_development_keypair("other")[1])
    settings.SAML_IDP_SIGNING_KEY = str(tmp_path / "key.pem")
    settings.SAML_IDP_SIGNING_CERT = str(tmp_path / "cert.pem")
    with pytest.raises(ImproperlyConfigured, match="does not belong"):
        idp_config()


def test_a_key_without_its_certificate_is_refused(settings, tmp_path: Path) -> None:
    settings.SAML_IDP_SIGNING_KEY = str(tmp_path / "key.pem")
    with pytest.raises(ImproperlyConfigured, match="both"):
        idp_config()


def test_metadata_endpoint_serves_signed_metadata_with_both_certificates(settings, tmp_path: Path) -> None:
    _next_key, next_pem = generate_development_keypair("next")
    (tmp_path / "next.pem").write_bytes(next_pem)
    settings.SAML_IDP_NEXT_CERT = str(tmp_path / "next.pem")
    config = idp_config()

    response = Client().get("/saml/idp/metadata/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    root = etree.fromstring(response.content)
    assert root.get("entityID") == config.entity_id
    published = root.findall("md:IDPSSODescriptor/md:KeyDescriptor/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert [node.text for node in published] == [certificate_base64(config.cert_pem), certificate_base64(next_pem)]
    sso = {node.get("Location") for node in root.iterfind("md:IDPSSODescriptor/md:SingleSignOnService", NS)}
    assert sso == {"http://testserver/saml/idp/sso/"}
    # Signed with the current key: a service provider holding only the current certificate can check it.
    signed = verify(root, [config.cert_pem])
    assert signed.get("entityID") == config.entity_id


def test_metadata_endpoint_names_the_public_base_url(settings) -> None:
    settings.SAML_IDP_BASE_URL = "https://broker.example/"
    root = etree.fromstring(Client().get(reverse("saml:idp-metadata")).content)
    ars = root.find("md:IDPSSODescriptor/md:ArtifactResolutionService", NS)
    assert ars.get("Location") == "https://broker.example/saml/idp/artifact/"


def test_metadata_endpoint_only_answers_get() -> None:
    assert Client().post("/saml/idp/metadata/").status_code == 405


def test_a_tampered_metadata_document_fails_verification() -> None:
    config = idp_config()
    content = Client().get("/saml/idp/metadata/").content
    tampered = content.replace(b"/saml/idp/sso/", b"/evil/sso/")
    with pytest.raises(ValueError):
        verify(etree.fromstring(tampered), [config.cert_pem])


# --------------------------------------------------------------------------------------------------------------------
# Registration


@pytest.mark.django_db
def test_registration_keeps_certificates_and_endpoints_and_is_audited() -> None:
    provider = f.provider(oin=DV_OIN, name="Gemeente Voorbeeld")
    staff = Actor(label="person:7")

    entity = sp_register_from_metadata(actor=staff, data=DV_METADATA, provider=provider)

    assert entity.entity_id == DV_ENTITY_ID
    assert entity.provider == provider
    assert entity.name == "Gemeente Voorbeeld"
    assert entity.artifact_resolution_url == "https://eherkenning.voorbeeldgemeente.example/saml/ars"
    certificates = list(entity.certificates.order_by("use", "subject").values_list("use", "subject"))
    assert certificates == [
        ("encryption", "CN=saml-encryption.voorbeeldgemeente.example,O=Voorbeeldgemeente,C=NL"),
        ("signing", "CN=saml-signing-2025.voorbeeldgemeente.example,O=Voorbeeldgemeente,C=NL"),
        ("signing", "CN=saml-signing-2026.voorbeeldgemeente.example,O=Voorbeeldgemeente,C=NL"),
    ]
    acs = list(entity.assertion_consumer_services.values_list("index", "binding", "is_default"))
    assert acs == [(0, BINDING_ARTIFACT, True), (1, BINDING_POST, False)]
    event = AuditEvent.objects.get(action="saml_sp:registered")
    assert event.actor == "person:7"
    assert event.subject_id == str(entity.pk)
    assert event.data["provider"] == DV_OIN
    assert len(event.data["signing_certificates"]) == 2


@pytest.mark.django_db
def test_an_eherkenning_entity_is_linked_to_its_provider_by_oin() -> None:
    provider = f.provider(oin=DV_OIN)
    entity = sp_register_from_metadata(actor=SYSTEM, data=DV_METADATA, provider=None)
    assert entity.provider == provider


@pytest.mark.django_db
def test_registering_again_replaces_what_the_metadata_no_longer_lists() -> None:
    first = sp_register_from_metadata(actor=SYSTEM, data=DV_METADATA, provider=f.provider(oin=DV_OIN))
    # The provider finished its key rollover (the 2025 key is gone) and withdrew its POST endpoint.
    withdrawn = DV_METADATA.split(b'<md:KeyDescriptor use="signing">', 2)
    changed = withdrawn[0] + b'<md:KeyDescriptor use="signing">' + withdrawn[2]
    post_start = changed.index(b'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST')
    changed = changed[:post_start] + changed[changed.index(b"/>", post_start) + 2 :]

    second = sp_register_from_metadata(actor=SYSTEM, data=changed, provider=None)

    assert second.pk == first.pk
    assert second.provider.oin == DV_OIN  # kept
    assert list(second.certificates.filter(use="signing").values_list("subject", flat=True)) == [
        "CN=saml-signing-2026.voorbeeldgemeente.example,O=Voorbeeldgemeente,C=NL"
    ]
    assert list(second.assertion_consumer_services.values_list("index", flat=True)) == [0]
    event = AuditEvent.objects.get(action="saml_sp:updated")
    assert set(event.data) == {"entity_id", "signing_certificates", "assertion_consumer_services"}
    assert ServiceProviderEntity.objects.count() == 1


@pytest.mark.django_db
def test_an_eherkenning_entity_of_another_oin_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        sp_register_from_metadata(actor=SYSTEM, data=DV_METADATA, provider=f.provider(oin="00000001111111111000"))
    assert refused.value.message_dict.keys() == {"provider"}
    assert not ServiceProviderEntity.objects.exists()


@pytest.mark.django_db
def test_bad_metadata_is_refused_under_metadata_with_its_reason() -> None:
    with pytest.raises(ValidationError) as refused:
        sp_register_from_metadata(actor=SYSTEM, data=DV_METADATA.replace(b"https://eh", b"http://eh"), provider=None)
    assert refused.value.error_dict["metadata"][0].code == "not_https"
    assert "http://eherkenning.voorbeeldgemeente.example/saml/acs" in refused.value.messages[0]
    assert not AuditEvent.objects.filter(action__startswith="saml_sp:").exists()


# --------------------------------------------------------------------------------------------------------------------
# Metadata from a URL


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1)
        code, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """A metadata server on 127.0.0.1; routes answer with metadata, a huge body, redirects or nothing fast."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_port}"
    _Handler.routes = {
        "/metadata.xml": (200, {"Content-Type": "application/samlmetadata+xml"}, DV_METADATA),
        # No Content-Length: the size shows only while reading.
        "/huge.xml": (200, {}, b"<x>" + b" " * 1_000_001 + b"</x>"),
        "/huge-declared.xml": (200, {"Content-Length": "5000000"}, b""),
        "/to-https": (302, {"Location": "https://127.0.0.1:1/metadata.xml"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/to-metadata": (302, {"Location": f"{base}/metadata.xml"}, b""),
        "/slow": (200, {}, DV_METADATA),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.django_db
def test_metadata_is_fetched_from_a_local_url_when_developing(settings, server: str) -> None:
    settings.DEBUG = True
    entity = sp_register_from_url(actor=SYSTEM, url=f"{server}/to-metadata", provider=None)
    assert entity.entity_id == DV_ENTITY_ID
    assert entity.metadata_url == f"{server}/to-metadata"
    assert entity.certificates.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/huge.xml", "too_large"),
        ("/huge-declared.xml", "too_large"),
        ("/to-https", "redirect"),
        ("/to-file", "redirect"),
        ("/missing.xml", "fetch_failed"),
    ],
)
def test_fetching_metadata_is_bounded(settings, server: str, path: str, code: str) -> None:
    settings.DEBUG = True
    with pytest.raises(ValidationError) as refused:
        sp_register_from_url(actor=SYSTEM, url=f"{server}{path}", provider=None)
    assert refused.value.error_dict["metadata_url"][0].code == code
    assert not ServiceProviderEntity.objects.exists()


@pytest.mark.django_db
def test_fetching_metadata_gives_up_after_the_timeout(settings, server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.DEBUG = True
    monkeypatch.setattr(services, "FETCH_TIMEOUT_SECONDS", 0.2)
    with pytest.raises(ValidationError) as refused:
        sp_register_from_url(actor=SYSTEM, url=f"{server}/slow", provider=None)
    assert refused.value.error_dict["metadata_url"][0].code == "fetch_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "url", ["http://eherkenning.voorbeeldgemeente.example/metadata", "ftp://127.0.0.1/metadata", "file:///etc/passwd"]
)
def test_metadata_is_never_fetched_in_the_clear_from_the_network(settings, url: str, debug: bool) -> None:
    settings.DEBUG = debug
    with pytest.raises(ValidationError) as refused:
        sp_register_from_url(actor=SYSTEM, url=url, provider=None)
    assert refused.value.error_dict["metadata_url"][0].code == "not_https"


@pytest.mark.django_db
def test_plain_http_to_localhost_is_refused_outside_development(settings, server: str) -> None:
    settings.DEBUG = False
    with pytest.raises(ValidationError) as refused:
        sp_register_from_url(actor=SYSTEM, url=f"{server}/metadata.xml", provider=None)
    assert refused.value.error_dict["metadata_url"][0].code == "not_https"


# --------------------------------------------------------------------------------------------------------------------
# Back office


@pytest.fixture
def staff_client(db: None) -> Client:
    client = Client()
    client.force_login(Person.objects.create_superuser("staf@sleutelbos.example", "Staf Lid", "a long test password"))
    return client


def _upload(name: str, data: bytes) -> object:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/xml")


def test_back_office_upload_registers_and_shows_certificates_and_endpoints(staff_client: Client) -> None:
    provider = f.provider(oin=DV_OIN)
    add = reverse("admin:saml_serviceproviderentity_add")

    response = staff_client.post(
        add, {"metadata_file": _upload("dv.xml", DV_METADATA), "metadata_url": "", "provider": provider.pk}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    entity = ServiceProviderEntity.objects.get()
    assert entity.provider == provider
    assert AuditEvent.objects.get(action="saml_sp:registered").actor_person.email == "staf@sleutelbos.example"
    page = staff_client.get(reverse("admin:saml_serviceproviderentity_change", args=[entity.pk])).content.decode()
    metadata = parse_sp_metadata(DV_METADATA)
    for certificate in (*metadata.signing_certificates, *metadata.encryption_certificates):
        assert certificate.fingerprint in page
    assert "https://eherkenning.voorbeeldgemeente.example/saml/acs/post" in page
    assert "2045" in page  # the certificates' expiry


def test_back_office_names_what_is_wrong_with_an_upload(staff_client: Client) -> None:
    response = staff_client.post(
        reverse("admin:saml_serviceproviderentity_add"),
        {"metadata_file": _upload("dv.xml", DV_METADATA.replace(b'use="signing"', b'use="encryption"'))},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["metadata_file"] == [
        "De metadata heeft geen ondertekeningscertificaat."
    ]
    assert not ServiceProviderEntity.objects.exists()


def test_back_office_refresh_refuses_metadata_of_another_entity(staff_client: Client) -> None:
    entity = sp_register_from_metadata(actor=SYSTEM, data=DV_METADATA, provider=None)
    other = (FIXTURES / "generic-sp-localhost.xml").read_bytes()
    response = staff_client.post(
        reverse("admin:saml_serviceproviderentity_change", args=[entity.pk]),
        {"metadata_file": _upload("other.xml", other), "metadata_url": ""},
    )
    assert response.status_code == 200
    assert "metadata_file" in response.context["adminform"].form.errors
    assert ServiceProviderEntity.objects.count() == 1


# --------------------------------------------------------------------------------------------------------------------
# API


@pytest.fixture
def api(db: None) -> APIClient:
    from sleutelbos.api.models import ApiToken

    _token, key = ApiToken.issue("registratie")
    client = APIClient()
    client.default_format = "json"
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_api_registers_then_updates_and_lists(api: APIClient) -> None:
    f.provider(oin=DV_OIN)
    body = {"metadata": DV_METADATA.decode(), "provider": DV_OIN}

    created = api.post("/api/v1/saml-service-providers", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["entity_id"] == DV_ENTITY_ID
    assert data["provider"] == DV_OIN
    assert [acs["index"] for acs in data["assertion_consumer_services"]] == [0, 1]
    assert sorted(c["use"] for c in data["certificates"]) == ["encryption", "signing", "signing"]
    assert created["Location"].endswith(f"/api/v1/saml-service-providers/{data['id']}")
    assert AuditEvent.objects.get(action="saml_sp:registered").actor == "api:registratie"

    again = api.post("/api/v1/saml-service-providers", body)
    assert again.status_code == 200
    assert again.json()["id"] == data["id"]

    assert api.get(f"/api/v1/saml-service-providers/{data['id']}").json()["name"] == "Gemeente Voorbeeld"
    listed = api.get("/api/v1/saml-service-providers", {"provider": DV_OIN}).json()
    assert [item["entity_id"] for item in listed["results"]] == [DV_ENTITY_ID]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metadata": "<md:EntityDescriptor"}, "metadata"),
        ({"metadata": DV_METADATA.decode().replace('index="1"/>', 'index="0"/>')}, "metadata"),
        ({}, "metadata"),
        ({"metadata": DV_METADATA.decode(), "metadata_url": "https://dv.example/md"}, "metadata"),
        ({"metadata_url": "http://dv.example/metadata.xml"}, "metadata_url"),
        ({"metadata": DV_METADATA.decode(), "provider": "00000001111111111000"}, "provider"),
    ],
)
def test_api_bad_registration_names_the_field(api: APIClient, body: dict, field: str) -> None:
    problem(api.post("/api/v1/saml-service-providers", body), 400, field)
    assert not ServiceProviderEntity.objects.exists()


def test_api_requires_a_token(db: None) -> None:
    client = APIClient()
    client.default_format = "json"
    assert client.post("/api/v1/saml-service-providers", {"metadata": DV_METADATA.decode()}).status_code == 401
    assert client.get("/api/v1/saml-service-providers").status_code == 401
    assert not ServiceProviderEntity.objects.exists()
