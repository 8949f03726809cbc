"""The encryption certificates service providers give per service instance in the catalogue (ServiceCertificate):
registered from PEM or DER with their validity read from the certificate, shown in the back office, and used for a
login when the provider's SAML metadata has no encryption certificate."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.models import ServiceCertificate
from sleutelbos.catalogue.services import service_certificate_create, service_certificate_remove
from sleutelbos.identity.models import Person
from sleutelbos.saml import selectors
from sleutelbos.saml.services import sp_register_from_metadata
from tests import factories as f

pytestmark = pytest.mark.django_db

DV_OIN = "00000009876543210000"
METADATA = Path(__file__).parents[1] / "saml" / "fixtures" / "metadata" / "dv-eherkenning.xml"
NOW = dt.datetime.now(dt.UTC)
_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(name: str, start: dt.datetime, end: dt.datetime) -> bytes:
    """A self-signed PEM certificate valid from ``start`` to ``end``."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(_KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .sign(_KEY, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


CURRENT = certificate("current.dv.example", NOW - dt.timedelta(days=30), NOW + dt.timedelta(days=700))
LONGER = certificate("longer.dv.example", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=900))
EXPIRED = certificate("expired.dv.example", NOW - dt.timedelta(days=900), NOW - dt.timedelta(days=1))
NOT_YET = certificate("future.dv.example", NOW + dt.timedelta(days=10), NOW + dt.timedelta(days=2000))


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def test_a_certificate_is_registered_from_pem_or_der_with_its_validity_read_from_it() -> None:
    instance = f.instance()

    from_pem = service_certificate_create(actor=SYSTEM, instance=instance, certificate=CURRENT, key_name="enc-1")
    from_der = service_certificate_create(actor=SYSTEM, instance=instance, certificate=der(LONGER))

    assert from_pem.subject == "CN=current.dv.example"
    assert from_pem.not_after == x509.load_pem_x509_certificate(CURRENT).not_valid_after_utc
    assert from_pem.not_before < NOW < from_pem.not_after
    assert from_der.pem.startswith("-----BEGIN CERTIFICATE-----")
    assert from_der.subject == "CN=longer.dv.example"
    assert len(from_der.fingerprint) == 95
    event = AuditEvent.objects.get(action="service_certificate:created", subject_id=str(from_pem.pk))
    assert event.data["service_id"] == instance.service_id


def test_a_der_certificate_whose_last_byte_reads_as_whitespace_is_registered_whole() -> None:
    # DER is binary: its signature ends in any byte, also one that a text trim would cut off (0x09-0x0D, 0x20).
    for attempt in range(2000):
        pem = certificate(f"edge{attempt}.dv.example", NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=300))
        if der(pem)[-1:] in (b"\t", b"\n", b"\x0b", b"\x0c", b"\r", b" "):
            break
    else:  # pragma: no cover - six byte values out of 256 over 2 000 signatures
        raise AssertionError("no certificate ended in a whitespace byte")

    registered = service_certificate_create(actor=SYSTEM, instance=f.instance(), certificate=der(pem))

    assert registered.subject == f"CN=edge{attempt}.dv.example"
    assert registered.pem.encode() == x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.PEM)


def test_what_is_not_a_certificate_is_refused_by_field() -> None:
    instance = f.instance()

    with pytest.raises(ValidationError) as excinfo:
        service_certificate_create(actor=SYSTEM, instance=instance, certificate=b"-----BEGIN CERTIFICATE-----\nxx")

    assert set(excinfo.value.error_dict) == {"pem"}
    assert not ServiceCertificate.objects.exists()


def test_the_same_certificate_twice_for_one_instance_is_refused() -> None:
    instance = f.instance()
    service_certificate_create(actor=SYSTEM, instance=instance, certificate=CURRENT)

    with pytest.raises(ValidationError) as excinfo:
        service_certificate_create(actor=SYSTEM, instance=instance, certificate=der(CURRENT))

    assert set(excinfo.value.error_dict) == {"pem"}
    assert instance.certificates.count() == 1


def test_removing_a_certificate_is_audited() -> None:
    row = service_certificate_create(actor=SYSTEM, instance=f.instance(), certificate=CURRENT)
    pk = row.pk

    service_certificate_remove(actor=SYSTEM, certificate=row)

    assert not ServiceCertificate.objects.exists()
    assert AuditEvent.objects.filter(action="service_certificate:removed", subject_id=str(pk)).exists()


# --- The login's encryption certificate -----------------------------------------------------------------------------


def register(*, with_encryption: bool, provider: object) -> object:
    text = METADATA.read_text()
    if not with_encryption:
        text = re.sub(r'<md:KeyDescriptor use="encryption">.*?</md:KeyDescriptor>', "", text, flags=re.S)
    entity = sp_register_from_metadata(actor=SYSTEM, data=text.encode(), provider=provider)
    return selectors.entity_by_issuer(entity.entity_id)


def test_without_an_encryption_certificate_in_the_metadata_the_catalogues_is_used() -> None:
    provider = f.provider(oin=DV_OIN)
    first = f.instance(f.definition(provider))
    second = f.instance(f.definition(provider))
    entity = register(with_encryption=False, provider=provider)
    assert selectors.encryption_certificate(entity) is None

    service_certificate_create(actor=SYSTEM, instance=first, certificate=CURRENT)
    service_certificate_create(actor=SYSTEM, instance=second, certificate=LONGER)
    service_certificate_create(actor=SYSTEM, instance=second, certificate=EXPIRED)
    service_certificate_create(actor=SYSTEM, instance=first, certificate=NOT_YET)

    # Valid now, and valid longest; never the expired one, nor the one not valid yet (though it lasts longer).
    assert (
        selectors.encryption_certificate(entity)
        == ServiceCertificate.objects.get(subject__contains="longer").pem.encode()
    )


def test_only_expired_or_future_catalogue_certificates_give_none() -> None:
    provider = f.provider(oin=DV_OIN)
    instance = f.instance(f.definition(provider))
    service_certificate_create(actor=SYSTEM, instance=instance, certificate=EXPIRED)
    service_certificate_create(actor=SYSTEM, instance=instance, certificate=NOT_YET)

    assert selectors.encryption_certificate(register(with_encryption=False, provider=provider)) is None


def test_the_metadatas_encryption_certificate_comes_first() -> None:
    provider = f.provider(oin=DV_OIN)
    service_certificate_create(actor=SYSTEM, instance=f.instance(f.definition(provider)), certificate=CURRENT)
    entity = register(with_encryption=True, provider=provider)

    chosen = selectors.encryption_certificate(entity)

    assert chosen is not None
    assert chosen != CURRENT
    assert chosen == next(c.pem for c in entity.certificates.all() if c.use == "encryption").encode()


def test_certificates_of_another_providers_services_are_never_used() -> None:
    provider = f.provider(oin=DV_OIN)
    service_certificate_create(actor=SYSTEM, instance=f.instance(), certificate=CURRENT)

    assert selectors.encryption_certificate(register(with_encryption=False, provider=provider)) is None


# --- Back office ----------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client() -> Client:
    staff = Person.objects.create_superuser("staf@sleutelbos.example", "Staf Lid", "a long test password")
    client = Client()
    client.force_login(staff)
    return client


def test_staff_add_a_certificate_by_file_through_the_service_and_see_it_read_only(staff_client: Client) -> None:
    instance = f.instance()
    add_url = reverse("admin:catalogue_servicecertificate_add")

    response = staff_client.post(
        add_url,
        {
            "instance": instance.pk,
            "pem": "",
            "key_name": "enc-2026",
            "certificate_file": SimpleUploadedFile("enc.der", der(CURRENT)),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    row = ServiceCertificate.objects.get()
    assert (row.instance, row.key_name, row.subject) == (instance, "enc-2026", "CN=current.dv.example")
    assert AuditEvent.objects.filter(action="service_certificate:created").count() == 1
    page = staff_client.get(reverse("admin:catalogue_servicecertificate_change", args=[row.pk]))
    assert page.status_code == 200
    assert b"current.dv.example" in page.content
    assert b'name="key_name"' not in page.content  # read-only
    instance_page = staff_client.get(reverse("admin:catalogue_serviceinstance_change", args=[instance.pk]))
    assert b"current.dv.example" in instance_page.content


def test_staff_see_why_a_pasted_certificate_is_refused(staff_client: Client) -> None:
    instance = f.instance()

    response = staff_client.post(
        reverse("admin:catalogue_servicecertificate_add"),
        {"instance": instance.pk, "pem": "not a certificate", "key_name": ""},
    )

    assert response.status_code == 200
    assert "pem" in response.context["adminform"].form.errors
    assert not ServiceCertificate.objects.exists()
