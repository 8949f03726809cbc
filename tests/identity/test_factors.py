"""Tests of the second factors: real TOTP codes, real signed WebAuthn data, recovery and one-time codes."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import cbor2
import pyotp
import pytest
import time_machine
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail
from django.utils import timezone, translation

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.factors import (
    Factor,
    FactorError,
    factor_remove,
    factors_available,
    level_of,
    one_time_code_send,
    one_time_code_verify,
    recovery_code_use,
    recovery_codes_generate,
    totp_begin,
    totp_confirm,
    totp_verify,
    webauthn_authentication_begin,
    webauthn_authentication_finish,
    webauthn_registration_begin,
    webauthn_registration_finish,
)
from sleutelbos.identity.models import CodeChannel, OneTimeCode, RecoveryCode, TotpDevice, WebAuthnCredential
from tests import factories

pytestmark = pytest.mark.django_db

RP_ID = "sleutelbos.example"
ORIGIN = "https://sleutelbos.example"
T0 = dt.datetime(2026, 3, 2, 9, 0, 0, tzinfo=dt.UTC)


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


@contextlib.contextmanager
def refused(code: str) -> Iterator[pytest.ExceptionInfo[FactorError]]:
    """Expect a FactorError with this code and a message for the person."""
    with pytest.raises(FactorError) as info:
        yield info
    assert info.value.code == code, info.value
    assert info.value.messages[0].strip()


# --------------------------------------------------------------------------------------------------------------------
# Levels


@pytest.mark.parametrize(
    ("factors", "level"),
    [
        ({Factor.PASSWORD}, Level.EH2),
        ({Factor.PASSWORD, Factor.ONE_TIME_CODE}, Level.EH2_PLUS),
        ({Factor.PASSWORD, Factor.RECOVERY_CODE}, Level.EH2_PLUS),
        ({Factor.PASSWORD, Factor.TOTP}, Level.EH3),
        ({Factor.PASSWORD, Factor.WEBAUTHN}, Level.EH3),
        ({Factor.PASSWORD, Factor.WEBAUTHN_HARDWARE_UV}, Level.EH4),
        ({Factor.PASSWORD, Factor.ONE_TIME_CODE, Factor.WEBAUTHN_HARDWARE_UV}, Level.EH4),
        (["password", "totp"], Level.EH3),
        ({Factor.TOTP}, None),
        ({Factor.WEBAUTHN_HARDWARE_UV}, None),
        (set(), None),
    ],
)
def test_level_of(factors, level) -> None:
    assert level_of(factors) == level


def test_factor_errors_speak_the_persons_language() -> None:
    error = FactorError("replayed_code")
    with translation.override("en"):
        assert "already been used" in error.messages[0]
    with pytest.raises(ValueError):
        FactorError("no_such_code")


# --------------------------------------------------------------------------------------------------------------------
# Authenticator apps


def wrong_code(app: pyotp.TOTP, at: dt.datetime) -> str:
    """A six-digit code that no step in the window around ``at`` produces."""
    window = {app.at(at + dt.timedelta(seconds=offset)) for offset in (-30, 0, 30)}
    return next(code for code in (f"{n:06d}" for n in range(10**6)) if code not in window)


def enrolled_totp(person) -> tuple[TotpDevice, pyotp.TOTP]:
    with time_machine.travel(T0 - dt.timedelta(hours=1), tick=False):
        enrolment = totp_begin(person=person, name="Telefoon")
        app = pyotp.TOTP(enrolment.secret)
        device = totp_confirm(actor=Actor.for_person(person), device=enrolment.device, code=app.now())
    return device, app


def test_totp_enrolment_shows_a_qr_code_and_counts_once_confirmed() -> None:
    person = factories.person(level=Level.EH3, email="jan@example.nl")
    with translation.override("en"):
        enrolment = totp_begin(person=person, name="Telefoon")
    assert enrolment.secret in enrolment.provisioning_uri
    assert enrolment.provisioning_uri.startswith("otpauth://totp/Sleutelbos:jan%40example.nl?")
    svg = enrolment.qr_svg
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    title = re.search(r"<title>(.*?)</title>", svg).group(1)
    assert "jan@example.nl" in title and "Sleutelbos" in title
    assert enrolment.secret not in svg
    assert "style" not in svg.lower()
    # Not confirmed yet: not a factor.
    assert Factor.TOTP not in factors_available(person)

    app = pyotp.TOTP(enrolment.secret)
    with time_machine.travel(T0, tick=False):
        with refused("wrong_code"):
            totp_confirm(actor=Actor.for_person(person), device=enrolment.device, code=wrong_code(app, T0))
        assert Factor.TOTP not in factors_available(person)
        device = totp_confirm(actor=Actor.for_person(person), device=enrolment.device, code=app.at(T0))
    assert device.confirmed_at is not None
    assert Factor.TOTP in factors_available(person)
    assert actions()[-2:] == ["factor:totp_started", "factor:totp_added"]


def test_a_new_enrolment_replaces_an_unconfirmed_one() -> None:
    person = factories.person()
    first = totp_begin(person=person, name="Oud")
    second = totp_begin(person=person, name="Nieuw")
    assert list(TotpDevice.objects.filter(person=person)) == [second.device]
    assert first.secret != second.secret


def test_totp_verify_accepts_the_current_code_once() -> None:
    person = factories.person()
    device, app = enrolled_totp(person)
    with time_machine.travel(T0, tick=False):
        code = app.at(T0)
        assert totp_verify(person=person, code=code) == device
        with refused("replayed_code"):
            totp_verify(person=person, code=code)
    assert actions()[-1] == "factor:totp_used"


def test_totp_verify_refuses_a_wrong_code_and_changes_nothing() -> None:
    person = factories.person()
    device, app = enrolled_totp(person)
    with time_machine.travel(T0, tick=False):
        before = actions()
        for code in (wrong_code(app, T0), "12345", "abcdef", ""):
            with refused("wrong_code"):
                totp_verify(person=person, code=code)
        assert actions() == before
    device.refresh_from_db()
    assert device.last_used_at is None or device.last_used_at < T0


def test_totp_code_of_the_previous_step_is_accepted_once() -> None:
    person = factories.person()
    _device, app = enrolled_totp(person)
    previous = app.at(T0 - dt.timedelta(seconds=30))
    with time_machine.travel(T0 + dt.timedelta(seconds=5), tick=False):
        totp_verify(person=person, code=previous)
        with refused("replayed_code"):
            totp_verify(person=person, code=previous)
        # The current step is newer than the one used, so its code still works.
        totp_verify(person=person, code=app.at(T0))


def test_totp_code_older_than_the_window_is_wrong() -> None:
    person = factories.person()
    _device, app = enrolled_totp(person)
    with time_machine.travel(T0, tick=False), refused("wrong_code"):
        totp_verify(person=person, code=app.at(T0 - dt.timedelta(seconds=90)))


def test_after_a_newer_code_an_older_step_is_a_replay() -> None:
    person = factories.person()
    _device, app = enrolled_totp(person)
    with time_machine.travel(T0, tick=False):
        totp_verify(person=person, code=app.at(T0 + dt.timedelta(seconds=30)))
        with refused("replayed_code"):
            totp_verify(person=person, code=app.at(T0))


def test_totp_of_an_unconfirmed_device_does_not_log_in() -> None:
    person = factories.person()
    enrolment = totp_begin(person=person, name="Half")
    with refused("wrong_code"):
        totp_verify(person=person, code=pyotp.TOTP(enrolment.secret).now())


# --------------------------------------------------------------------------------------------------------------------
# Security keys: a software authenticator that signs real WebAuthn data


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


@dataclass
class SoftwareAuthenticator:
    """An EC P-256 authenticator as a browser would talk to it, with flags chosen by the test."""

    user_verification: bool = True
    backup_eligible: bool = False
    attestation: str = "none"
    sign_count: int = 0
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    aaguid: bytes = bytes.fromhex("cb69481e8ff7403993ec0a2729a154a8")

    def _flags(self, extra: int = 0) -> int:
        flags = UP | extra
        if self.user_verification:
            flags |= UV
        if self.backup_eligible:
            flags |= BE
        return flags

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    @staticmethod
    def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": b64url(challenge), "origin": origin, "crossOrigin": False}
        ).encode()

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def create(self, options_json: str, *, origin: str = ORIGIN, rp_id: str | None = None) -> str:
        options = json.loads(options_json)
        challenge = b64url_decode(options["challenge"])
        rp_hash = hashlib.sha256((rp_id or options["rp"]["id"]).encode()).digest()
        attested = self.aaguid + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([self._flags(AT)]) + self.sign_count.to_bytes(4, "big") + attested
        client_data = self._client_data("webauthn.create", challenge, origin)
        statement = {}
        if self.attestation == "packed":
            statement = {"alg": -7, "sig": self._sign(auth_data + hashlib.sha256(client_data).digest())}
        attestation_object = cbor2.dumps({"fmt": self.attestation, "attStmt": statement, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation_object),
                    "transports": ["usb", "nfc"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(
        self, options_json: str, *, origin: str = ORIGIN, counter: int | None = None, user_verification: bool = True
    ) -> str:
        options = json.loads(options_json)
        allowed = [item["id"] for item in options.get("allowCredentials", [])]
        assert b64url(self.credential_id) in allowed
        challenge = b64url_decode(options["challenge"])
        if counter is None:
            self.sign_count += 1
            counter = self.sign_count
        rp_hash = hashlib.sha256(options["rpId"].encode()).digest()
        flags = UP | (UV if user_verification and self.user_verification else 0) | (BE if self.backup_eligible else 0)
        auth_data = rp_hash + bytes([flags]) + counter.to_bytes(4, "big")
        client_data = self._client_data("webauthn.get", challenge, origin)
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(self._sign(auth_data + hashlib.sha256(client_data).digest())),
                },
                "clientExtensionResults": {},
            }
        )


def register(person, authenticator: SoftwareAuthenticator, *, require_hardware: bool = False, **kwargs):
    options, challenge = webauthn_registration_begin(
        person=person, rp_id=RP_ID, rp_name="Sleutelbos", require_hardware=require_hardware
    )
    return webauthn_registration_finish(
        actor=Actor.for_person(person),
        person=person,
        name="Sleutel",
        response=authenticator.create(options, **kwargs),
        challenge=challenge,
        rp_id=RP_ID,
        origin=ORIGIN,
        require_hardware=require_hardware,
    )


def authenticate(person, authenticator: SoftwareAuthenticator, *, user_verification: str = "preferred", **kwargs):
    options, challenge = webauthn_authentication_begin(person=person, rp_id=RP_ID, user_verification=user_verification)
    return webauthn_authentication_finish(
        person=person,
        response=authenticator.get(options, **kwargs),
        challenge=challenge,
        rp_id=RP_ID,
        origin=ORIGIN,
    )


def test_webauthn_registration_options_ask_what_the_level_needs() -> None:
    person = factories.person(level=Level.EH4, email="key@example.nl")
    options, challenge = webauthn_registration_begin(
        person=person, rp_id=RP_ID, rp_name="Sleutelbos", require_hardware=True
    )
    parsed = json.loads(options)
    assert parsed["rp"] == {"id": RP_ID, "name": "Sleutelbos"}
    assert parsed["user"]["name"] == "key@example.nl"
    # The user handle is an opaque 32-byte HMAC, never the person's id or e-mail address (WebAuthn 14.6.1).
    handle = b64url_decode(parsed["user"]["id"])
    assert len(handle) == 32
    assert handle not in (str(person.pk).encode(), person.email.encode())
    assert parsed["attestation"] == "direct"
    assert parsed["authenticatorSelection"]["userVerification"] == "required"
    assert b64url_decode(parsed["challenge"]) == challenge and len(challenge) >= 16

    relaxed = json.loads(webauthn_registration_begin(person=person, rp_id=RP_ID, rp_name="Sleutelbos")[0])
    assert relaxed["attestation"] == "none"
    assert relaxed["authenticatorSelection"]["userVerification"] == "preferred"


@pytest.mark.parametrize("attestation", ["none", "packed"])
def test_webauthn_register_and_log_in_with_a_hardware_key(attestation: str) -> None:
    person = factories.person(level=Level.EH4)
    key = SoftwareAuthenticator(attestation=attestation)
    credential = register(person, key, require_hardware=True)
    assert credential.credential_id == b64url(key.credential_id)
    assert credential.attestation_format == attestation
    assert credential.aaguid == "cb69481e-8ff7-4039-93ec-0a2729a154a8"
    assert credential.user_verified and credential.hardware_bound
    assert credential.transports == ["usb", "nfc"]
    assert actions()[-1] == "factor:webauthn_added"
    assert {Factor.WEBAUTHN, Factor.WEBAUTHN_HARDWARE_UV} <= factors_available(person)

    # The registration options now exclude this key, so it is not registered twice.
    options = json.loads(webauthn_registration_begin(person=person, rp_id=RP_ID, rp_name="S")[0])
    assert [item["id"] for item in options["excludeCredentials"]] == [credential.credential_id]

    used, factor = authenticate(person, key, user_verification="required")
    assert used == credential and factor == Factor.WEBAUTHN_HARDWARE_UV
    credential.refresh_from_db()
    assert credential.sign_count == 1 and credential.last_used_at is not None
    assert actions()[-1] == "factor:webauthn_used"
    assert level_of({Factor.PASSWORD, factor}) == Level.EH4


def test_webauthn_without_user_verification_reaches_eh3_only() -> None:
    person = factories.person(level=Level.EH3)
    key = SoftwareAuthenticator(user_verification=False)
    credential = register(person, key)
    assert not credential.user_verified
    assert Factor.WEBAUTHN_HARDWARE_UV not in factors_available(person)
    _used, factor = authenticate(person, key)
    assert factor == Factor.WEBAUTHN


def test_webauthn_synced_passkey_is_recorded_as_not_hardware_bound() -> None:
    person = factories.person(level=Level.EH3)
    key = SoftwareAuthenticator(backup_eligible=True)
    credential = register(person, key)
    assert credential.backup_eligible and not credential.hardware_bound
    _used, factor = authenticate(person, key)
    assert factor == Factor.WEBAUTHN


def test_webauthn_hardware_requirement_refuses_a_synced_passkey() -> None:
    person = factories.person(level=Level.EH4)
    with refused("not_hardware_bound"):
        register(person, SoftwareAuthenticator(backup_eligible=True), require_hardware=True)
    assert not WebAuthnCredential.objects.exists()


def test_webauthn_hardware_requirement_refuses_a_key_without_user_verification() -> None:
    person = factories.person(level=Level.EH4)
    with refused("user_not_verified"):
        register(person, SoftwareAuthenticator(user_verification=False), require_hardware=True)
    assert not WebAuthnCredential.objects.exists()


def test_webauthn_registration_from_another_origin_or_rp_is_refused() -> None:
    person = factories.person()
    with refused("malformed_response"):
        register(person, SoftwareAuthenticator(), origin="https://evil.example")
    with refused("malformed_response"):
        register(person, SoftwareAuthenticator(), rp_id="evil.example")
    assert not WebAuthnCredential.objects.exists()


def test_webauthn_registration_with_another_challenge_is_refused() -> None:
    person = factories.person()
    key = SoftwareAuthenticator()
    options, _challenge = webauthn_registration_begin(person=person, rp_id=RP_ID, rp_name="Sleutelbos")
    response = key.create(options)
    _other_options, other_challenge = webauthn_registration_begin(person=person, rp_id=RP_ID, rp_name="Sleutelbos")
    with refused("malformed_response"):
        webauthn_registration_finish(
            actor=SYSTEM,
            person=person,
            name="x",
            response=response,
            challenge=other_challenge,
            rp_id=RP_ID,
            origin=ORIGIN,
        )


@pytest.mark.parametrize("garbage", ["", "not json", "{}", '{"id": "AA", "rawId": "AA", "response": {}}', "[1]"])
def test_webauthn_garbage_is_malformed(garbage: str) -> None:
    person = factories.person()
    with refused("malformed_response"):
        webauthn_registration_finish(
            actor=SYSTEM, person=person, name="x", response=garbage, challenge=b"x" * 32, rp_id=RP_ID, origin=ORIGIN
        )
    with refused("malformed_response"):
        webauthn_authentication_finish(person=person, response=garbage, challenge=b"x" * 32, rp_id=RP_ID, origin=ORIGIN)


def test_webauthn_authentication_with_wrong_challenge_origin_or_signature_is_refused() -> None:
    person = factories.person()
    key = SoftwareAuthenticator()
    credential = register(person, key)
    options, challenge = webauthn_authentication_begin(person=person, rp_id=RP_ID)

    wrong_origin = key.get(options, origin="https://evil.example")
    with refused("malformed_response"):
        webauthn_authentication_finish(
            person=person, response=wrong_origin, challenge=challenge, rp_id=RP_ID, origin=ORIGIN
        )

    genuine = key.get(options)
    with refused("malformed_response"):
        webauthn_authentication_finish(
            person=person, response=genuine, challenge=b"other" * 8, rp_id=RP_ID, origin=ORIGIN
        )

    forged = json.loads(key.get(options))
    forged["response"]["signature"] = b64url(SoftwareAuthenticator().key.sign(b"x", ec.ECDSA(hashes.SHA256())))
    with refused("malformed_response"):
        webauthn_authentication_finish(
            person=person, response=json.dumps(forged), challenge=challenge, rp_id=RP_ID, origin=ORIGIN
        )
    credential.refresh_from_db()
    assert credential.sign_count == 0 and credential.last_used_at is None


def test_webauthn_key_of_someone_else_is_unknown() -> None:
    owner, other = factories.person(), factories.person()
    key = SoftwareAuthenticator()
    register(owner, key)
    register(other, SoftwareAuthenticator())
    options, challenge = webauthn_authentication_begin(person=owner, rp_id=RP_ID)
    with refused("unknown_credential"):
        webauthn_authentication_finish(
            person=other, response=key.get(options), challenge=challenge, rp_id=RP_ID, origin=ORIGIN
        )


def test_webauthn_sign_counter_must_go_up() -> None:
    person = factories.person()
    key = SoftwareAuthenticator()
    credential = register(person, key)
    authenticate(person, key, counter=5)
    with refused("counter_regressed"):
        authenticate(person, key, counter=5)
    with refused("counter_regressed"):
        authenticate(person, key, counter=3)
    credential.refresh_from_db()
    assert credential.sign_count == 5
    assert actions()[-1] == "factor:webauthn_counter_regressed"
    authenticate(person, key, counter=6)
    credential.refresh_from_db()
    assert credential.sign_count == 6


def test_webauthn_key_without_a_counter_keeps_working() -> None:
    """Keys that never count (always 0, like many passkeys) are allowed by the spec."""
    person = factories.person()
    key = SoftwareAuthenticator()
    register(person, key)
    authenticate(person, key, counter=0)
    authenticate(person, key, counter=0)


def test_webauthn_key_cannot_be_registered_twice() -> None:
    person = factories.person()
    key = SoftwareAuthenticator()
    register(person, key)
    with refused("malformed_response"):
        register(person, key)
    assert WebAuthnCredential.objects.count() == 1


# --------------------------------------------------------------------------------------------------------------------
# Recovery codes


def test_recovery_codes_are_ten_single_use_and_hashed() -> None:
    person = factories.person()
    codes = recovery_codes_generate(actor=Actor.for_person(person), person=person)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}-[a-hjkmnp-z2-9]{4}", code) for code in codes)
    stored = list(RecoveryCode.objects.filter(person=person).values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert all(code not in value and code.replace("-", "") not in value for value in stored)
    assert Factor.RECOVERY_CODE in factors_available(person)

    recovery_code_use(person=person, code=codes[3])
    with refused("used_code"):
        recovery_code_use(person=person, code=codes[3])
    # Typed in capitals with spaces still works.
    recovery_code_use(person=person, code=codes[4].upper().replace("-", " "))
    with refused("wrong_code"):
        recovery_code_use(person=person, code="aaaa-bbbb-cccc")
    with refused("wrong_code"):
        recovery_code_use(person=person, code="short")
    assert RecoveryCode.objects.filter(person=person, used_at__isnull=False).count() == 2
    assert actions()[-1] == "recovery_code:used"


def test_regenerating_recovery_codes_invalidates_the_old_ones() -> None:
    person = factories.person()
    old = recovery_codes_generate(actor=SYSTEM, person=person)
    new = recovery_codes_generate(actor=SYSTEM, person=person)
    assert not set(old) & set(new)
    with refused("wrong_code"):
        recovery_code_use(person=person, code=old[0])
    recovery_code_use(person=person, code=new[0])
    assert RecoveryCode.objects.filter(person=person).count() == 10
    assert actions().count("recovery_codes:generated") == 2


def test_recovery_codes_of_another_person_do_not_work() -> None:
    alice, bob = factories.person(), factories.person()
    codes = recovery_codes_generate(actor=SYSTEM, person=alice)
    with refused("wrong_code"):
        recovery_code_use(person=bob, code=codes[0])


def test_all_recovery_codes_used_is_no_factor() -> None:
    person = factories.person()
    for code in recovery_codes_generate(actor=SYSTEM, person=person):
        recovery_code_use(person=person, code=code)
    assert Factor.RECOVERY_CODE not in factors_available(person)


# --------------------------------------------------------------------------------------------------------------------
# One-time codes


def sent_code(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


def test_one_time_code_by_email_in_the_persons_language(django_capture_on_commit_callbacks) -> None:
    person = factories.person(level=Level.EH2_PLUS, email="piet@example.nl")
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        one_time_code = one_time_code_send(person=person)
    assert one_time_code.channel == CodeChannel.EMAIL
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["piet@example.nl"]
    assert "valid for 10 minutes" in message.body
    code = sent_code(message.body)
    assert code not in one_time_code.code_hash
    assert actions()[-1] == "login:code_sent"
    one_time_code_verify(person=person, code=code)
    assert actions()[-1] == "login:code_used"
    with refused("used_code"):
        one_time_code_verify(person=person, code=code)


def test_one_time_code_by_text_message_lands_in_the_sms_file(
    settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    settings.SLEUTELBOS_SMS_FILE = tmp_path / "sms" / "sms.log"
    person = factories.person(email="sms@example.nl")
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person, channel=CodeChannel.SMS)
    lines = settings.SLEUTELBOS_SMS_FILE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    at, number, message = lines[0].split("\t")
    assert dt.datetime.fromisoformat(at)
    assert number == "sms@example.nl"
    assert mail.outbox == []
    one_time_code_verify(person=person, code=sent_code(message))


def test_no_message_when_the_transaction_rolls_back(django_capture_on_commit_callbacks) -> None:
    person = factories.person()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        one_time_code_send(person=person)
    assert len(callbacks) == 1 and mail.outbox == []


def test_one_time_code_expires_after_ten_minutes(django_capture_on_commit_callbacks) -> None:
    person = factories.person()
    with time_machine.travel(T0, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            one_time_code_send(person=person)
        code = sent_code(mail.outbox[-1].body)
    with time_machine.travel(T0 + dt.timedelta(minutes=10, seconds=1), tick=False), refused("expired_code"):
        one_time_code_verify(person=person, code=code)
    with time_machine.travel(T0 + dt.timedelta(minutes=9, seconds=59), tick=False):
        one_time_code_verify(person=person, code=code)


def test_one_time_code_allows_five_wrong_attempts(django_capture_on_commit_callbacks) -> None:
    person = factories.person()
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person)
    code = sent_code(mail.outbox[-1].body)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _attempt in range(4):
        with refused("wrong_code"):
            one_time_code_verify(person=person, code=wrong)
    with refused("too_many_attempts"):
        one_time_code_verify(person=person, code=wrong)
    # Even the right code no longer works; a new code does.
    with refused("too_many_attempts"):
        one_time_code_verify(person=person, code=code)
    assert OneTimeCode.objects.get(person=person).attempts == 5
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person)
    one_time_code_verify(person=person, code=sent_code(mail.outbox[-1].body))


def test_a_new_one_time_code_replaces_the_previous_one(django_capture_on_commit_callbacks) -> None:
    person = factories.person()
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person)
        one_time_code_send(person=person)
    first, second = (sent_code(message.body) for message in mail.outbox)
    if first != second:
        with refused("wrong_code"):
            one_time_code_verify(person=person, code=first)
    one_time_code_verify(person=person, code=second)


def test_one_time_code_is_bound_to_its_purpose(django_capture_on_commit_callbacks) -> None:
    person = factories.person()
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person, purpose="step_up")
    code = sent_code(mail.outbox[-1].body)
    with refused("wrong_code"):
        one_time_code_verify(person=person, code=code, purpose="login")
    one_time_code_verify(person=person, code=code, purpose="step_up")


# --------------------------------------------------------------------------------------------------------------------
# Removing factors


def test_factor_remove_keeps_the_last_factor_an_eh3_means_needs() -> None:
    person = factories.person(level=Level.EH3)
    first, _app = enrolled_totp(person)
    second, _app2 = enrolled_totp(person)
    # enrolled_totp drops unconfirmed devices only; both are confirmed.
    assert TotpDevice.objects.filter(person=person, confirmed_at__isnull=False).count() == 2
    factor_remove(actor=Actor.for_person(person), person=person, factor=first)
    assert actions()[-1] == "factor:removed"
    with refused("last_factor") as error:
        factor_remove(actor=Actor.for_person(person), person=person, factor=second)
    assert "EH3" in error.value.messages[0]
    assert TotpDevice.objects.filter(pk=second.pk).exists()


def test_factor_remove_counts_a_security_key_for_eh3() -> None:
    person = factories.person(level=Level.EH3)
    device, _app = enrolled_totp(person)
    register(person, SoftwareAuthenticator())
    factor_remove(actor=SYSTEM, person=person, factor=device)
    with refused("last_factor"):
        factor_remove(actor=SYSTEM, person=person, factor=WebAuthnCredential.objects.get(person=person))


def test_factor_remove_for_eh4_keeps_the_hardware_key() -> None:
    person = factories.person(level=Level.EH4)
    device, _app = enrolled_totp(person)
    hardware = register(person, SoftwareAuthenticator(), require_hardware=True)
    synced = register(person, SoftwareAuthenticator(backup_eligible=True))
    factor_remove(actor=SYSTEM, person=person, factor=synced)
    factor_remove(actor=SYSTEM, person=person, factor=device)
    with refused("last_factor"):
        factor_remove(actor=SYSTEM, person=person, factor=hardware)


def test_factor_remove_at_eh2_plus_may_remove_every_app() -> None:
    """A code by e-mail is always there, so EH2+ never depends on an app."""
    person = factories.person(level=Level.EH2_PLUS)
    device, _app = enrolled_totp(person)
    factor_remove(actor=SYSTEM, person=person, factor=device)
    assert not TotpDevice.objects.filter(person=person).exists()


def test_factor_remove_refuses_someone_elses_factor() -> None:
    owner, other = factories.person(), factories.person()
    device, _app = enrolled_totp(owner)
    enrolled_totp(owner)
    with refused("unknown_credential"):
        factor_remove(actor=SYSTEM, person=other, factor=device)
    assert TotpDevice.objects.filter(pk=device.pk).exists()


def test_every_write_is_audited(django_capture_on_commit_callbacks) -> None:
    person = factories.person(level=Level.EH3)
    start = AuditEvent.objects.count()
    device, app = enrolled_totp(person)
    with time_machine.travel(timezone.now(), tick=False):
        totp_verify(person=person, code=app.now())
    key = SoftwareAuthenticator()
    register(person, key)
    authenticate(person, key)
    codes = recovery_codes_generate(actor=SYSTEM, person=person)
    recovery_code_use(person=person, code=codes[0])
    with django_capture_on_commit_callbacks(execute=True):
        one_time_code_send(person=person)
    one_time_code_verify(person=person, code=sent_code(mail.outbox[-1].body))
    factor_remove(actor=SYSTEM, person=person, factor=device)
    assert actions()[start:] == [
        "factor:totp_started",
        "factor:totp_added",
        "factor:totp_used",
        "factor:webauthn_added",
        "factor:webauthn_used",
        "recovery_codes:generated",
        "recovery_code:used",
        "login:code_sent",
        "login:code_used",
        "factor:removed",
    ]
    assert all(str(code) not in json.dumps(event.data) for event in AuditEvent.objects.all() for code in codes)


def test_at_most_ten_codes_an_hour_are_sent_to_one_person(django_capture_on_commit_callbacks) -> None:
    person = factories.person(level=Level.EH2_PLUS)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(10):
            one_time_code_send(person=person)
        with refused("too_many_codes"):
            one_time_code_send(person=person)
    assert len(mail.outbox) == 10
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1, seconds=1)):
        one_time_code_send(person=person)
