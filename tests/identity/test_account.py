"""The account page: my means, my factors, adding and removing them, recovery codes and changing the password."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import factors
from sleutelbos.identity.models import RecoveryCode, TotpDevice, WebAuthnCredential
from tests.identity.test_login import (
    PASSWORD,
    SoftKey,
    add_totp,
    body,
    next_code,
    person_with_password,
    post_password,
    webauthn_options,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_account_page_needs_a_login(client):
    response = client.get(reverse("identity:account"))

    assert response["Location"] == reverse("identity:login") + "?next=/account/"


def test_the_account_page_shows_my_means_and_factors(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    post_password(client, person)
    client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})

    page = body(client.get(reverse("identity:account")))

    assert "<dd data-means-level>EH3</dd>" in page
    assert "<dd data-session-level>EH3</dd>" in page
    assert "Telefoon" in page
    assert gettext("Add a security key") in page


def test_adding_an_authenticator_app(client):
    person = person_with_password(Level.EH2)
    post_password(client, person)

    response = client.post(reverse("identity:totp_add"), {"name": "Werktelefoon"})
    assert response["Location"] == reverse("identity:totp_confirm")
    page = body(client.get(response["Location"]))
    assert "<svg" in page
    secret = re.search(r"<p class=\"mono secret\" data-totp-secret>(\w+)</p>", page).group(1)

    wrong = client.post(reverse("identity:totp_confirm"), {"code": "000000"})
    assert wrong.status_code == 400
    assert gettext(str(factors.FactorError("wrong_code").messages[0])) in body(wrong)
    assert not TotpDevice.objects.filter(person=person, confirmed_at__isnull=False).exists()

    response = client.post(reverse("identity:totp_confirm"), {"code": pyotp.TOTP(secret).now()})

    # The first factor leads to the recovery codes.
    assert response["Location"] == reverse("identity:recovery_codes")
    assert TotpDevice.objects.get(person=person, confirmed_at__isnull=False).name == "Werktelefoon"


def test_adding_a_security_key_through_the_page(client):
    person = person_with_password(Level.EH4)
    post_password(client, person, level="EH2")  # an EH4 person who has no key yet logs in lower
    page = client.get(reverse("identity:webauthn_add"))
    key = SoftKey()

    response = client.post(
        reverse("identity:webauthn_add"), {"name": "Blauwe sleutel", "response": key.register(webauthn_options(page))}
    )

    assert response.status_code == 302, body(response)
    credential = WebAuthnCredential.objects.get(person=person)
    assert credential.name == "Blauwe sleutel"
    assert credential.attestation_format == "none"
    assert credential.user_verified and credential.hardware_bound


def test_a_key_that_can_be_copied_is_refused_for_eh4(client):
    person = person_with_password(Level.EH4)
    post_password(client, person, level="EH2")
    page = client.get(reverse("identity:webauthn_add"))

    response = client.post(
        reverse("identity:webauthn_add"),
        {"name": "Passkey", "response": SoftKey(backup_eligible=True).register(webauthn_options(page))},
    )

    assert response.status_code == 400
    assert gettext(str(factors.FactorError("not_hardware_bound").messages[0])) in body(response)
    assert not WebAuthnCredential.objects.filter(person=person).exists()


def test_the_last_factor_the_level_needs_cannot_be_removed(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    post_password(client, person)
    client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})
    device = TotpDevice.objects.get(person=person)

    response = client.post(reverse("identity:factor_remove", args=["totp", device.pk]), follow=True)

    assert gettext(str(factors.FactorError("last_factor", params={"level": "EH3"}).messages[0])) in body(response)
    assert TotpDevice.objects.filter(pk=device.pk).exists()


def test_a_factor_can_be_removed_when_another_reaches_the_level(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    second = factors.totp_begin(person=person, name="Reserve")
    factors.totp_confirm(
        actor=factors.Actor.for_person(person), device=second.device, code=pyotp.TOTP(second.secret).now()
    )
    post_password(client, person)
    client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})

    client.post(reverse("identity:factor_remove", args=["totp", second.device.pk]))

    assert list(TotpDevice.objects.filter(person=person).values_list("name", flat=True)) == ["Telefoon"]


def test_someone_elses_factor_cannot_be_removed(client):
    owner = person_with_password(Level.EH2)
    device = factors.totp_begin(person=owner, name="Van een ander").device
    person = person_with_password(Level.EH2)
    post_password(client, person)

    response = client.post(reverse("identity:factor_remove", args=["totp", device.pk]))

    assert response.status_code == 404
    assert TotpDevice.objects.filter(pk=device.pk).exists()


def test_new_recovery_codes_are_shown_once_and_replace_the_old(client):
    person = person_with_password(Level.EH2)
    old = factors.recovery_codes_generate(actor=factors.Actor.for_person(person), person=person)
    post_password(client, person)

    response = client.post(reverse("identity:recovery_codes"))

    codes = re.findall(r"<li>([^<]+)</li>", body(response).split("data-recovery-codes>")[1].split("</ol>")[0])
    assert len(codes) == 10
    assert set(codes).isdisjoint(old)
    assert "no-store" in response["Cache-Control"]
    with pytest.raises(factors.FactorError):
        factors.recovery_code_use(person=person, code=old[0])
    assert codes[0] not in body(client.get(reverse("identity:recovery_codes")))
    assert RecoveryCode.objects.filter(person=person, used_at__isnull=True).count() == 10


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(client):
    person = person_with_password(Level.EH2)
    laptop = Client()
    post_password(client, person)
    post_password(laptop, person)
    new = "zilveren-maan-boven-het-veld-9"

    wrong = client.post(
        reverse("identity:password_change"),
        {"current_password": "niet-het-goede", "new_password1": new, "new_password2": new},
    )
    assert wrong.status_code == 400
    assert gettext("Your current password is not correct.") in body(wrong)
    person.refresh_from_db()
    assert person.check_password(PASSWORD)

    response = client.post(
        reverse("identity:password_change"), {"current_password": PASSWORD, "new_password1": new, "new_password2": new}
    )

    assert response["Location"] == reverse("identity:account")
    person.refresh_from_db()
    assert person.check_password(new)
    assert client.get(reverse("identity:account")).status_code == 200  # this session continues
    assert laptop.get(reverse("identity:account")).status_code == 302  # the other one ended
