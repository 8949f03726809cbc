"""Second factors: authenticator apps (TOTP), security keys (WebAuthn), recovery codes and one-time codes.

Which factors reach which level of assurance (the AS levels table, see ``docs``/README):

=====================================  ========
password                               EH2
password + one-time code (e-mail/SMS)  EH2+
password + recovery code               EH2+  (enough to log in and enrol a new factor)
password + authenticator app (TOTP)    EH3
password + security key (WebAuthn)     EH3
password + hardware-bound key with UV  EH4
=====================================  ========

Every write runs inside ``transaction.atomic`` and records an audit event. A refusal raises :class:`FactorError`
with a specific code and a calm message; a refusal changes nothing, except that a wrong one-time code counts as an
attempt (at most five) and a security key whose sign counter went back is recorded in the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import (
    CodeChannel,
    Means,
    OneTimeCode,
    Person,
    RecoveryCode,
    TotpDevice,
    WebAuthnCredential,
)
from sleutelbos.identity.senders import sender_for

# --------------------------------------------------------------------------------------------------------------------
# Errors, factors and levels


_MESSAGES: dict[str, Any] = {
    "wrong_code": gettext_lazy("That code is not correct. Check the code and try again."),
    "replayed_code": gettext_lazy(
        "That code has already been used. Wait until your authenticator app shows a new code and enter that one."
    ),
    "expired_code": gettext_lazy("That code has expired. Ask for a new code and enter it within 10 minutes."),
    "used_code": gettext_lazy("That code has already been used; each code works only once. Use another code."),
    "too_many_attempts": gettext_lazy("A wrong code was entered too many times. Ask for a new code."),
    "too_many_codes": gettext_lazy(
        "You asked for too many codes in the last hour. Use the last code you received, or try again later."
    ),
    "malformed_response": gettext_lazy(
        "The answer from your security key could not be checked. Try again, or use another security key."
    ),
    "unknown_credential": gettext_lazy(
        "This security key is not registered to your account. Use a security key you registered before."
    ),
    "counter_regressed": gettext_lazy(
        "For your safety this security key cannot be used now: it reported fewer uses than before, which can mean "
        "it was copied. Use another factor and contact the service desk."
    ),
    "user_not_verified": gettext_lazy(
        "Your security key did not check that it is you (with a PIN or fingerprint). This level requires that; set "
        "a PIN on the key and try again."
    ),
    "not_hardware_bound": gettext_lazy(
        "This passkey can be copied to other devices, so it is not bound to one piece of hardware. This level "
        "requires a security key that keeps its key on the device."
    ),
    "last_factor": gettext_lazy(
        "This cannot be removed: without it you could no longer log in at the level of your means (%(level)s). Add "
        "another authenticator app or security key first."
    ),
}


class FactorError(ValidationError):
    """A second factor was refused. ``code`` says why; the message says so to the person, calmly."""

    CODES = frozenset(_MESSAGES)

    def __init__(self, code: str, message: str | None = None, params: dict[str, Any] | None = None) -> None:
        if code not in self.CODES:
            raise ValueError(f"Unknown factor error code {code!r}")
        super().__init__(message or _MESSAGES[code], code=code, params=params)


class Factor(StrEnum):
    """What a person proved at login. The password comes first; the others are second factors."""

    PASSWORD = "password"  # noqa: S105 (a factor name, not a secret)
    ONE_TIME_CODE = "one_time_code"
    TOTP = "totp"
    WEBAUTHN = "webauthn"
    WEBAUTHN_HARDWARE_UV = "webauthn_hardware_uv"
    RECOVERY_CODE = "recovery_code"


#: The level a second factor lifts a password login to.
_SECOND_FACTOR_LEVEL: dict[Factor, Level] = {
    Factor.ONE_TIME_CODE: Level.EH2_PLUS,
    Factor.RECOVERY_CODE: Level.EH2_PLUS,
    Factor.TOTP: Level.EH3,
    Factor.WEBAUTHN: Level.EH3,
    Factor.WEBAUTHN_HARDWARE_UV: Level.EH4,
}


def level_of(factors: Iterable[Factor | str]) -> Level | None:
    """The level a login with these factors reaches; ``None`` without a password."""
    used = {Factor(factor) for factor in factors}
    if Factor.PASSWORD not in used:
        return None
    return max([Level.EH2, *(_SECOND_FACTOR_LEVEL[f] for f in used if f in _SECOND_FACTOR_LEVEL)])


def _available(person: Person, *, without_totp: int | None = None, without_webauthn: int | None = None) -> set[Factor]:
    available = {Factor.ONE_TIME_CODE}
    totp = TotpDevice.objects.filter(person=person, confirmed_at__isnull=False)
    if without_totp is not None:
        totp = totp.exclude(pk=without_totp)
    if totp.exists():
        available.add(Factor.TOTP)
    keys = WebAuthnCredential.objects.filter(person=person)
    if without_webauthn is not None:
        keys = keys.exclude(pk=without_webauthn)
    if keys.exists():
        available.add(Factor.WEBAUTHN)
    if keys.filter(user_verified=True, backup_eligible=False).exists():
        available.add(Factor.WEBAUTHN_HARDWARE_UV)
    if RecoveryCode.objects.filter(person=person, used_at__isnull=True).exists():
        available.add(Factor.RECOVERY_CODE)
    return available


def factors_available(person: Person) -> set[Factor]:
    """The second factors this person can use now. A one-time code by e-mail is always available."""
    return _available(person)


def _person_actor(person: Person) -> Actor:
    return Actor.for_person(person)


def _normalise_digits(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "")


# --------------------------------------------------------------------------------------------------------------------
# Hashing of short codes: HMAC-SHA256 with the secret key and a per-code salt. Recovery codes carry ~59 bits and
# one-time codes live ten minutes with five attempts, so a slow password hash would add cost and no safety; the
# secret key keeps a copied table from being searched offline.

_HASH_PREFIX = "hmac_sha256"
_HASH_KEY_SALT = "sleutelbos.identity.factors.code"


def _hash_code(code: str) -> str:
    salt = secrets.token_hex(8)
    digest = salted_hmac(_HASH_KEY_SALT, f"{salt}:{code}", algorithm="sha256").hexdigest()
    return f"{_HASH_PREFIX}${salt}${digest}"


def _code_matches(code: str, code_hash: str) -> bool:
    """Compare in constant time, also against the fallback keys while a secret key is being rotated."""
    prefix, _sep, rest = code_hash.partition("$")
    salt, _sep, expected = rest.partition("$")
    if prefix != _HASH_PREFIX or not salt or not expected:
        return False
    matched = False
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        digest = salted_hmac(_HASH_KEY_SALT, f"{salt}:{code}", secret=key, algorithm="sha256").hexdigest()
        matched |= constant_time_compare(digest, expected)
    return matched


# --------------------------------------------------------------------------------------------------------------------
# Authenticator apps (TOTP, RFC 6238)

TOTP_ISSUER = "Sleutelbos"
TOTP_STEP_SECONDS = 30
TOTP_DIGITS = 6
#: One step either side, for clocks that are a little off (RFC 6238 section 5.2).
TOTP_VALID_WINDOW = 1


@dataclass(frozen=True)
class TotpEnrolment:
    """An authenticator app being added: show ``qr_svg`` (or ``secret``) and ask for a first code."""

    device: TotpDevice
    secret: str
    provisioning_uri: str
    qr_svg: str


def _totp(device: TotpDevice) -> pyotp.TOTP:
    return pyotp.TOTP(device.secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)


def _qr_svg(data: str, title: str) -> str:
    """An inline SVG QR code: a <title> for screen readers, colours as attributes (the CSP forbids inline style)."""
    qr = segno.make(data, error="m")
    return qr.svg_inline(scale=4, border=4, title=title, dark="#000", light="#fff", svgclass="qr-code", lineclass=None)


@transaction.atomic
def totp_begin(*, person: Person, name: str) -> TotpEnrolment:
    """Start adding an authenticator app: an unconfirmed device with a new secret, and its QR code.

    An earlier enrolment that was never confirmed is dropped; the device only counts once ``totp_confirm`` saw a
    code from it.
    """
    TotpDevice.objects.filter(person=person, confirmed_at__isnull=True).delete()
    secret = pyotp.random_base32()
    device = TotpDevice.objects.create(person=person, name=name.strip()[:100] or _("Authenticator app"), secret=secret)
    uri = _totp(device).provisioning_uri(name=person.email, issuer_name=TOTP_ISSUER)
    title = _("QR code for your authenticator app: %(issuer)s (%(account)s)") % {
        "issuer": TOTP_ISSUER,
        "account": person.email,
    }
    audit_record(actor=_person_actor(person), action="factor:totp_started", subject=device, data={"name": device.name})
    return TotpEnrolment(device=device, secret=secret, provisioning_uri=uri, qr_svg=_qr_svg(uri, title))


def _totp_match(device: TotpDevice, code: str, now: float) -> int:
    """The time step ``code`` belongs to on this device; a step used before raises replayed_code."""
    code = _normalise_digits(code)
    if not re.fullmatch(rf"\d{{{TOTP_DIGITS}}}", code):
        raise FactorError("wrong_code")
    totp = _totp(device)
    current = int(now) // TOTP_STEP_SECONDS
    steps = [
        step
        for step in range(current + TOTP_VALID_WINDOW, current - TOTP_VALID_WINDOW - 1, -1)
        if constant_time_compare(code, totp.generate_otp(step))
    ]
    if not steps:
        raise FactorError("wrong_code")
    fresh = [step for step in steps if device.last_step is None or step > device.last_step]
    if not fresh:
        raise FactorError("replayed_code")
    return fresh[0]


def _totp_record_use(device: TotpDevice, step: int) -> None:
    device.last_step = step
    device.last_used_at = timezone.now()
    device.save(update_fields=["last_step", "last_used_at", "confirmed_at"])


@transaction.atomic
def totp_confirm(*, actor: Actor, device: TotpDevice, code: str) -> TotpDevice:
    """Confirm a new authenticator app with a first code from it; from then on it counts as a factor."""
    device = TotpDevice.objects.select_for_update().get(pk=device.pk)
    step = _totp_match(device, code, time.time())
    newly = device.confirmed_at is None
    if newly:
        device.confirmed_at = timezone.now()
    _totp_record_use(device, step)
    if newly:
        audit_record(actor=actor, action="factor:totp_added", subject=device, data={"name": device.name})
    return device


@transaction.atomic
def totp_verify(*, person: Person, code: str) -> TotpDevice:
    """Check a code from one of the person's authenticator apps. Each code (time step) works once per app."""
    devices = list(TotpDevice.objects.select_for_update().filter(person=person, confirmed_at__isnull=False))
    now = time.time()
    replayed = False
    for device in devices:
        try:
            step = _totp_match(device, code, now)
        except FactorError as error:
            replayed |= error.code == "replayed_code"
            continue
        _totp_record_use(device, step)
        audit_record(actor=_person_actor(person), action="factor:totp_used", subject=device)
        return device
    raise FactorError("replayed_code" if replayed else "wrong_code")


# --------------------------------------------------------------------------------------------------------------------
# Security keys (WebAuthn)


def _user_handle(person: Person) -> bytes:
    """A stable user handle that reveals nothing about the person (WebAuthn section 14.6.1)."""
    return salted_hmac("sleutelbos.identity.webauthn.user", str(person.pk), algorithm="sha256").digest()


def _descriptors(person: Person) -> list[PublicKeyCredentialDescriptor]:
    descriptors = []
    for credential in WebAuthnCredential.objects.filter(person=person):
        transports = []
        for transport in credential.transports or []:
            try:
                transports.append(AuthenticatorTransport(transport))
            except ValueError:
                continue
        descriptors.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(credential.credential_id), transports=transports or None
            )
        )
    return descriptors


def webauthn_registration_begin(
    *, person: Person, rp_id: str, rp_name: str, require_hardware: bool = False
) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.create()`` (as JSON) and the challenge to keep in the session.

    For EH4 (``require_hardware``) the key must verify the user and is asked for a direct attestation, so its
    format and AAGUID can be recorded.
    """
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=_user_handle(person),
        user_name=person.email,
        user_display_name=person.name,
        attestation=AttestationConveyancePreference.DIRECT
        if require_hardware
        else AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=(
                UserVerificationRequirement.REQUIRED if require_hardware else UserVerificationRequirement.PREFERRED
            ),
        ),
        exclude_credentials=_descriptors(person),
    )
    return options_to_json(options), options.challenge


@transaction.atomic
def webauthn_registration_finish(
    *,
    actor: Actor,
    person: Person,
    name: str,
    response: str,
    challenge: bytes,
    rp_id: str,
    origin: str,
    require_hardware: bool = False,
) -> WebAuthnCredential:
    """Check the browser's answer to ``navigator.credentials.create()`` and register the security key."""
    try:
        parsed = parse_registration_credential_json(response)
        verified = verify_registration_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id, expected_origin=origin
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise FactorError("malformed_response") from error
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if require_hardware and not verified.user_verified:
        raise FactorError("user_not_verified")
    if require_hardware and backup_eligible:
        raise FactorError("not_hardware_bound")
    credential_id = bytes_to_base64url(verified.credential_id)
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise FactorError("malformed_response", _("This security key is already registered."))
    credential = WebAuthnCredential.objects.create(
        person=person,
        name=name.strip()[:100] or _("Security key"),
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[transport.value for transport in parsed.response.transports or []],
        aaguid=verified.aaguid,
        attestation_format=str(getattr(verified.fmt, "value", verified.fmt)),
        user_verified=verified.user_verified,
        backup_eligible=backup_eligible,
    )
    audit_record(
        actor=actor,
        action="factor:webauthn_added",
        subject=credential,
        data={
            "name": credential.name,
            "aaguid": credential.aaguid,
            "attestation_format": credential.attestation_format,
            "user_verified": credential.user_verified,
            "hardware_bound": credential.hardware_bound,
        },
    )
    return credential


def webauthn_authentication_begin(
    *, person: Person, rp_id: str, user_verification: str = "preferred"
) -> tuple[str, bytes]:
    """Options for ``navigator.credentials.get()`` (as JSON) and the challenge to keep in the session."""
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(person),
        user_verification=UserVerificationRequirement(user_verification),
    )
    return options_to_json(options), options.challenge


def webauthn_authentication_finish(
    *, person: Person, response: str, challenge: bytes, rp_id: str, origin: str
) -> tuple[WebAuthnCredential, Factor]:
    """Check the browser's answer to ``navigator.credentials.get()``.

    Returns the credential and the factor proven: ``WEBAUTHN_HARDWARE_UV`` when the key verified the user and is
    hardware-bound, else ``WEBAUTHN``. A sign counter that does not go up means the key may have been cloned: the
    login is refused and the audit log records it.
    """
    refusal: FactorError | None = None
    with transaction.atomic():
        try:
            parsed = parse_authentication_credential_json(response)
        except (WebAuthnException, ValueError, TypeError, KeyError) as error:
            raise FactorError("malformed_response") from error
        credential = (
            WebAuthnCredential.objects.select_for_update()
            .filter(person=person, credential_id=bytes_to_base64url(parsed.raw_id))
            .first()
        )
        if credential is None:
            raise FactorError("unknown_credential")
        try:
            # The counter is checked below, after the signature, so that only a genuine answer can report a clone.
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=rp_id,
                expected_origin=origin,
                credential_public_key=bytes(credential.public_key),
                credential_current_sign_count=0,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as error:
            raise FactorError("malformed_response") from error
        new_count = verified.new_sign_count
        if (new_count > 0 or credential.sign_count > 0) and new_count <= credential.sign_count:
            audit_record(
                actor=_person_actor(person),
                action="factor:webauthn_counter_regressed",
                subject=credential,
                data={"stored": credential.sign_count, "received": new_count},
            )
            refusal = FactorError("counter_regressed")
        else:
            credential.sign_count = new_count
            credential.last_used_at = timezone.now()
            if verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE:
                # A key that now says it can sync is no longer treated as hardware-bound.
                credential.backup_eligible = True
            credential.save(update_fields=["sign_count", "last_used_at", "backup_eligible"])
            factor = (
                Factor.WEBAUTHN_HARDWARE_UV if verified.user_verified and credential.hardware_bound else Factor.WEBAUTHN
            )
            audit_record(
                actor=_person_actor(person),
                action="factor:webauthn_used",
                subject=credential,
                data={"user_verified": verified.user_verified, "factor": factor.value},
            )
    if refusal is not None:
        raise refusal
    return credential, factor


# --------------------------------------------------------------------------------------------------------------------
# Recovery codes

RECOVERY_CODE_COUNT = 10
#: Lower-case letters and digits without the look-alikes 0/o, 1/l/i.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP_LENGTH = 4


def _recovery_normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "").lower())


@transaction.atomic
def recovery_codes_generate(*, actor: Actor, person: Person) -> list[str]:
    """Ten new recovery codes, to be shown once; every earlier code stops working."""
    RecoveryCode.objects.filter(person=person).delete()
    codes = [
        "-".join(
            "".join(secrets.choice(RECOVERY_ALPHABET) for _i in range(_RECOVERY_GROUP_LENGTH))
            for _g in range(_RECOVERY_GROUPS)
        )
        for _n in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(person=person, code_hash=_hash_code(_recovery_normalise(code))) for code in codes
    )
    audit_record(actor=actor, action="recovery_codes:generated", subject=person, data={"count": len(codes)})
    return codes


@transaction.atomic
def recovery_code_use(*, person: Person, code: str) -> None:
    """Log in with a recovery code; it then stops working."""
    normalised = _recovery_normalise(code)
    if len(normalised) != _RECOVERY_GROUPS * _RECOVERY_GROUP_LENGTH:
        raise FactorError("wrong_code")
    match = None
    # Every code is compared, so the time taken does not tell which one matched.
    for candidate in RecoveryCode.objects.select_for_update().filter(person=person).order_by("pk"):
        if _code_matches(normalised, candidate.code_hash) and match is None:
            match = candidate
    if match is None:
        raise FactorError("wrong_code")
    if match.used_at is not None:
        raise FactorError("used_code")
    match.used_at = timezone.now()
    match.save(update_fields=["used_at"])
    remaining = RecoveryCode.objects.filter(person=person, used_at__isnull=True).count()
    audit_record(
        actor=_person_actor(person), action="recovery_code:used", subject=person, data={"remaining": remaining}
    )


# --------------------------------------------------------------------------------------------------------------------
# One-time codes by e-mail or text message (EH2+)

ONE_TIME_CODE_DIGITS = 6
ONE_TIME_CODE_VALIDITY = dt.timedelta(minutes=10)
ONE_TIME_CODE_MAX_ATTEMPTS = 5


def _deliver(person: Person, channel: CodeChannel, code: str, purpose: str, language: str | None) -> Callable[[], None]:
    def send() -> None:
        with translation.override(language):
            sender_for(channel).send(person, code, purpose)

    return send


ONE_TIME_CODES_PER_HOUR = 10


@transaction.atomic
def one_time_code_send(
    *, person: Person, channel: CodeChannel = CodeChannel.EMAIL, purpose: str = "login"
) -> OneTimeCode:
    """Send a new six-digit code, valid for 10 minutes; an earlier code for the same purpose stops working.

    The message goes out once the transaction commits, in the language active now.
    """
    channel = CodeChannel(channel)
    now = timezone.now()
    # Every code is a mail or a text message: a limit per person keeps the login page from being used to flood them.
    sent = OneTimeCode.objects.filter(person=person, created_at__gt=now - dt.timedelta(hours=1)).count()
    if sent >= ONE_TIME_CODES_PER_HOUR:
        raise FactorError("too_many_codes")
    OneTimeCode.objects.filter(person=person, purpose=purpose, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    code = f"{secrets.randbelow(10**ONE_TIME_CODE_DIGITS):0{ONE_TIME_CODE_DIGITS}d}"
    one_time_code = OneTimeCode.objects.create(
        person=person,
        channel=channel,
        purpose=purpose,
        code_hash=_hash_code(code),
        created_at=now,
        expires_at=now + ONE_TIME_CODE_VALIDITY,
    )
    audit_record(
        actor=_person_actor(person),
        action="login:code_sent",
        subject=one_time_code,
        data={"channel": channel.value, "purpose": purpose},
    )
    transaction.on_commit(_deliver(person, channel, code, purpose, translation.get_language()))
    return one_time_code


def one_time_code_verify(*, person: Person, code: str, purpose: str = "login") -> None:
    """Check the latest code sent for ``purpose``. After five wrong tries the code stops working."""
    refusal: FactorError | None = None
    with transaction.atomic():
        latest = (
            OneTimeCode.objects.select_for_update()
            .filter(person=person, purpose=purpose)
            .order_by("-created_at", "-pk")
            .first()
        )
        if latest is None:
            raise FactorError("wrong_code")
        if latest.used_at is not None:
            raise FactorError("used_code")
        if latest.attempts >= ONE_TIME_CODE_MAX_ATTEMPTS:
            raise FactorError("too_many_attempts")
        if latest.expires_at <= timezone.now():
            raise FactorError("expired_code")
        if _code_matches(_normalise_digits(code), latest.code_hash):
            latest.used_at = timezone.now()
            latest.save(update_fields=["used_at"])
            audit_record(
                actor=_person_actor(person),
                action="login:code_used",
                subject=latest,
                data={"channel": latest.channel, "purpose": purpose},
            )
        else:
            # The attempt is counted and committed; only then is the code refused.
            latest.attempts += 1
            latest.save(update_fields=["attempts"])
            audit_record(
                actor=_person_actor(person),
                action="login:code_refused",
                subject=latest,
                data={"attempts": latest.attempts, "purpose": purpose},
            )
            exhausted = latest.attempts >= ONE_TIME_CODE_MAX_ATTEMPTS
            refusal = FactorError("too_many_attempts" if exhausted else "wrong_code")
    if refusal is not None:
        raise refusal


# --------------------------------------------------------------------------------------------------------------------
# Removing a factor


@transaction.atomic
def factor_remove(*, actor: Actor, person: Person, factor: TotpDevice | WebAuthnCredential) -> None:
    """Remove an authenticator app or security key, unless the person's means level would become unreachable.

    What remains (with the password) must still reach the level of the means; a removal may never lower the
    reachable level below it. An enrolment that was never confirmed can always go.
    """
    if factor.person_id != person.pk:
        raise FactorError("unknown_credential")
    if isinstance(factor, TotpDevice):
        kind, remaining = "totp", _available(person, without_totp=factor.pk)
    else:
        kind, remaining = "webauthn", _available(person, without_webauthn=factor.pk)
    means_level = Means.objects.filter(person=person).values_list("level", flat=True).first()
    if means_level is not None:
        needed = Level(means_level)
        before = level_of({Factor.PASSWORD, *_available(person)})
        after = level_of({Factor.PASSWORD, *remaining})
        if after < needed and after < before:
            raise FactorError("last_factor", params={"level": needed.label})
    data = {"kind": kind, "id": factor.pk, "name": factor.name}
    factor.delete()
    audit_record(actor=actor, action="factor:removed", subject=person, data=data)
