"""Logging in at every level through the pages: password, then the second factor the level needs."""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import time
from typing import Any

import cbor2
import pyotp
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from webauthn.helpers import bytes_to_base64url

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import factors, sessions, throttle, views
from sleutelbos.identity.models import LoginFailure, MeansStatus, Person, WebAuthnCredential
from sleutelbos.identity.services import means_set_status
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "groene-beuk-onder-de-brug-42"
ORIGIN = "http://testserver"
RP_ID = "testserver"


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    """Argon2 with production parameters makes every login slow; the flow is the same with a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def person_with_password(level: Level | None = Level.EH2, **kwargs: Any) -> Person:
    """An activated person with ``PASSWORD`` and a means at ``level``."""
    person = factories.person(level=level, **kwargs)
    person.set_password(PASSWORD)
    person.activated_at = timezone.now()
    person.save()
    return person


def add_totp(person: Person) -> pyotp.TOTP:
    enrolment = factors.totp_begin(person=person, name="Telefoon")
    totp = pyotp.TOTP(enrolment.secret)
    factors.totp_confirm(actor=Actor.for_person(person), device=enrolment.device, code=totp.now())
    return totp


def next_code(totp: pyotp.TOTP) -> str:
    """A code the app shows in the next time step (the current one was used to confirm the app)."""
    return totp.at(time.time() + 30)


class SoftKey:
    """A software security key: P-256, "none" attestation, a sign counter, optionally user verification."""

    def __init__(self, *, user_verified: bool = True, backup_eligible: bool = False) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.counter = 0
        self.user_verified = user_verified
        self.backup_eligible = backup_eligible

    def _flags(self, *, attested: bool) -> int:
        flags = 0x01 | (0x04 if self.user_verified else 0) | (0x08 if self.backup_eligible else 0)
        return flags | (0x40 if attested else 0)

    def _client_data(self, kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}).encode()

    def register(self, options_json: str, origin: str = ORIGIN) -> str:
        options = json.loads(options_json)
        numbers = self.private_key.public_key().public_numbers()
        cose_key = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        auth_data = (
            hashlib.sha256(options["rp"]["id"].encode()).digest()
            + bytes([self._flags(attested=True)])
            + self.counter.to_bytes(4, "big")
            + bytes(16)
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + cbor2.dumps(cose_key)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps(
            {
                "id": bytes_to_base64url(self.credential_id),
                "rawId": bytes_to_base64url(self.credential_id),
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "attestationObject": bytes_to_base64url(attestation),
                    "transports": ["usb"],
                },
            }
        )

    def assert_(self, options_json: str, origin: str = ORIGIN) -> str:
        options = json.loads(options_json)
        self.counter += 1
        auth_data = (
            hashlib.sha256(options["rpId"].encode()).digest()
            + bytes([self._flags(attested=False)])
            + self.counter.to_bytes(4, "big")
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.private_key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": bytes_to_base64url(self.credential_id),
                "rawId": bytes_to_base64url(self.credential_id),
                "type": "public-key",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                },
            }
        )

    def public_pem(self) -> bytes:  # pragma: no cover - for debugging a failing test
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def add_key(person: Person, *, require_hardware: bool = True, **kwargs: Any) -> SoftKey:
    key = SoftKey(**kwargs)
    options, challenge = factors.webauthn_registration_begin(
        person=person, rp_id=RP_ID, rp_name="Sleutelbos", require_hardware=require_hardware
    )
    factors.webauthn_registration_finish(
        actor=Actor.for_person(person),
        person=person,
        name="Sleutel",
        response=key.register(options),
        challenge=challenge,
        rp_id=RP_ID,
        origin=ORIGIN,
        require_hardware=require_hardware,
    )
    return key


def post_password(client: Client, person: Person | str, password: str = PASSWORD, **extra: str):
    email = person if isinstance(person, str) else person.email
    return client.post(reverse("identity:login"), {"email": email, "password": password, **extra})


def emailed_code() -> str:
    match = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def webauthn_options(response) -> str:
    """The options the second-factor page gave the browser (json_script of a JSON string)."""
    match = re.search(r'<script id="webauthn-options" type="application/json">(.*?)</script>', response.text, re.S)
    assert match, "no WebAuthn options on the page"
    return json.loads(match.group(1))


def body(response) -> str:
    """The page as a person reads it (entities such as &#x27; decoded)."""
    return html.unescape(response.content.decode())


def session_of(client: Client) -> dict[str, Any]:
    return dict(client.session.items())


def message(text: Any) -> str:
    """The text a Dutch visitor sees for a message (the catalogue may translate it)."""
    return gettext(str(text))


# --- the login page ---------------------------------------------------------------------------------------------


def test_login_page_has_labels_autocomplete_and_dutch(client):
    response = client.get(reverse("identity:login"))

    assert response.status_code == 200
    assert '<html lang="nl">' in body(response)
    assert 'autocomplete="username"' in body(response)
    assert 'autocomplete="current-password"' in body(response)
    assert '<label for="id_email">' in body(response)
    assert '<label for="id_password">' in body(response)


def test_wrong_password_and_unknown_account_get_the_same_message(client):
    person = person_with_password()

    wrong_password = post_password(client, person, "niet-het-wachtwoord")
    unknown = post_password(client, "niemand@example.nl", "niet-het-wachtwoord")

    assert wrong_password.status_code == unknown.status_code == 400
    expected = message(views.WRONG_CREDENTIALS)
    assert expected in body(wrong_password) and expected in body(unknown)
    # The error summary links the message to the first field.
    assert '<a href="#id_email">' in body(wrong_password)
    assert LoginFailure.objects.filter(account=person.email).count() == 1
    assert LoginFailure.objects.filter(account="niemand@example.nl").count() == 1
    assert "_auth_user_id" not in client.session


def test_a_person_without_a_password_yet_cannot_log_in(client):
    person = factories.person(level=Level.EH2)

    response = post_password(client, person, "")
    response = post_password(client, person, "iets-anders-dan-niets")

    assert message(views.WRONG_CREDENTIALS) in body(response)
    assert "_auth_user_id" not in client.session


def test_login_rotates_the_session_key(client):
    person = person_with_password()
    client.get(reverse("identity:login"))
    client.session.save()
    before = client.cookies["sessionid"].value

    post_password(client, person)

    assert client.cookies["sessionid"].value != before


# --- every level end to end --------------------------------------------------------------------------------------


def test_eh2_logs_in_with_a_password_alone(client):
    person = person_with_password(Level.EH2)

    response = post_password(client, person)

    assert response.status_code == 302
    assert response["Location"] == reverse("identity:account")
    session = session_of(client)
    assert session[sessions.AUTH_LEVEL] == Level.EH2
    assert session[sessions.AUTH_FACTORS] == ["password"]
    assert abs(session[sessions.LOGIN_AT] - time.time()) < 5
    page = client.get(reverse("identity:account"))
    assert page.status_code == 200
    assert person.email in body(page)


def test_eh2_plus_logs_in_with_a_code_sent_by_email(client, django_capture_on_commit_callbacks):
    person = person_with_password(Level.EH2_PLUS)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_password(client, person)

    assert response["Location"] == reverse("identity:login_factor")
    assert "_auth_user_id" not in client.session  # not logged in before the second factor
    assert mail.outbox[-1].to == [person.email]
    page = client.get(response["Location"])
    assert 'autocomplete="one-time-code"' in body(page)
    assert 'inputmode="numeric"' in body(page)

    response = client.post(reverse("identity:login_factor"), {"method": "email", "email-code": emailed_code()})

    assert response.status_code == 302
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH2_PLUS
    assert sorted(session_of(client)[sessions.AUTH_FACTORS]) == ["one_time_code", "password"]


def test_eh3_logs_in_with_an_authenticator_app(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)

    post_password(client, person)
    page = client.get(reverse("identity:login_factor"))
    # The e-mailed code does not reach EH3 and is not offered to someone who has an app.
    assert 'value="send_code"' not in body(page)
    response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})

    assert response.status_code == 302
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH3


def test_eh4_logs_in_with_a_hardware_key_that_verifies_the_user(client):
    person = person_with_password(Level.EH4)
    key = add_key(person)

    post_password(client, person)
    page = client.get(reverse("identity:login_factor"))
    response = client.post(
        reverse("identity:login_factor"),
        {"method": "webauthn", "webauthn-response": key.assert_(webauthn_options(page))},
    )

    assert response.status_code == 302, response.text
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH4
    assert WebAuthnCredential.objects.get(person=person).sign_count == 1


def test_a_key_without_user_verification_does_not_give_eh4(client):
    person = person_with_password(Level.EH4)
    key = add_key(person, require_hardware=False, user_verified=False)

    post_password(client, person)
    page = client.get(reverse("identity:login_factor"))

    # Nothing the person has reaches EH4: everything is offered, and the key gives EH3.
    response = client.post(
        reverse("identity:login_factor"),
        {"method": "webauthn", "webauthn-response": key.assert_(webauthn_options(page))},
    )
    assert response.status_code == 302
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH3


def test_a_recovery_code_logs_in_at_eh2_plus(client):
    person = person_with_password(Level.EH3)
    add_totp(person)
    codes = factors.recovery_codes_generate(actor=SYSTEM, person=person)

    post_password(client, person)
    page = client.get(reverse("identity:login_factor") + "?method=recovery")
    assert 'name="recovery-code"' in body(page)
    response = client.post(
        reverse("identity:login_factor") + "?method=recovery", {"method": "recovery", "recovery-code": codes[0]}
    )

    assert response.status_code == 302
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH2_PLUS


# --- refusals -----------------------------------------------------------------------------------------------------


def test_a_replayed_app_code_is_refused(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    code = next_code(totp)
    post_password(client, person)
    client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": code})
    client.post(reverse("identity:logout"))

    other = Client()
    post_password(other, person)
    response = other.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": code})

    assert response.status_code == 400
    assert message(factors.FactorError("replayed_code").messages[0]) in body(response)
    assert "_auth_user_id" not in other.session


def test_wrong_codes_are_counted_and_five_end_the_attempt(client):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    post_password(client, person)
    wrong = f"{(int(next_code(totp)) + 1) % 1_000_000:06d}"

    response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": wrong})
    assert response.status_code == 400
    assert message(factors.FactorError("wrong_code").messages[0]) in body(response)
    assert '<a href="#id_totp-code">' in body(response)
    for _ in range(4):
        response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": wrong})

    assert response["Location"] == reverse("identity:login")
    assert LoginFailure.objects.filter(account=person.email).count() == 5
    # The right code no longer helps: the attempt has ended.
    response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})
    assert response["Location"] == reverse("identity:login")
    assert "_auth_user_id" not in client.session


def test_a_malformed_security_key_answer_gets_a_calm_message_and_changes_nothing(client):
    person = person_with_password(Level.EH4)
    add_key(person)
    post_password(client, person)
    client.get(reverse("identity:login_factor"))

    response = client.post(reverse("identity:login_factor"), {"method": "webauthn", "webauthn-response": "{niet json"})

    assert response.status_code == 400
    assert message(factors.FactorError("malformed_response").messages[0]) in body(response)
    assert WebAuthnCredential.objects.get(person=person).sign_count == 0
    assert "_auth_user_id" not in client.session


def test_the_second_step_needs_the_first(client):
    response = client.get(reverse("identity:login_factor"))

    assert response["Location"] == reverse("identity:login")


@pytest.mark.parametrize("status", [MeansStatus.SUSPENDED, MeansStatus.REVOKED])
def test_a_suspended_or_revoked_means_is_refused_with_a_sentence(client, status):
    person = person_with_password(Level.EH2)
    means_set_status(actor=SYSTEM, person=person, status=status)

    right = post_password(client, person)
    wrong = post_password(client, person, "niet-het-wachtwoord")

    sentence = message(views.MEANS_SUSPENDED if status == MeansStatus.SUSPENDED else views.MEANS_REVOKED)
    assert sentence in body(right)
    assert sentence not in body(wrong)  # a wrong password learns nothing about the means
    assert message(views.WRONG_CREDENTIALS) in body(wrong)
    assert "_auth_user_id" not in client.session


def test_login_from_a_service_asking_above_the_means_is_refused_with_a_sentence(client):
    person = person_with_password(Level.EH2_PLUS)

    response = post_password(client, person, level="EH3", next="/ergens/")

    assert response.status_code == 403
    expected = gettext("Your means has level %(means)s; this service asks for %(wanted)s.") % {
        "means": "EH2+",
        "wanted": "EH3",
    }
    assert expected in body(response)
    assert "_auth_user_id" not in client.session


def test_throttled_login_message_is_the_throttle_message(client):
    person = person_with_password()
    LoginFailure.objects.bulk_create([LoginFailure(account=person.email) for _ in range(100)])

    response = post_password(client, person)

    assert message(throttle.TOO_MANY_ATTEMPTS) in body(response)


def test_asking_for_an_eleventh_code_in_an_hour_gets_a_calm_message(client, django_capture_on_commit_callbacks):
    person = person_with_password(Level.EH2_PLUS)
    with django_capture_on_commit_callbacks(execute=True):
        post_password(client, person)  # the first code goes out at once
        for _ in range(9):
            client.post(reverse("identity:login_factor"), {"method": "send_code"})
        page = client.post(reverse("identity:login_factor"), {"method": "send_code"}, follow=True)
    assert len(mail.outbox) == 10
    expected = message(
        "You asked for too many codes in the last hour. Use the last code you received, or try again later."
    )
    assert expected in body(page)
