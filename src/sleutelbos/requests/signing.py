"""Signing links and the signer's one-time code.

A signing link (from the signature request mail, or the reminder) leads to the signing page. Before a representative
signs or declines, they confirm who they are: their name and date of birth as the KvK extract lists them, and a
six-digit code mailed to the address the link was sent to. A code works 10 minutes; five wrong tries make it void;
at most five codes an hour are mailed to one signer, so the page cannot be used to flood a mailbox.

:func:`link_problem` says why a link cannot be used (each reason has its own page); the services refuse such a link
with :class:`SigningRefused`, which carries that reason.

The applicant's link is another kind: an applicant without an account (a first application) has no login, so the
mails to them carry a signed link (:func:`applicant_link_token`) that opens their request, and only that one, in any
browser for 30 days.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets

from django.conf import settings
from django.core import signing as django_signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.mail.services import mail_queue
from sleutelbos.requests.models import Request, RequestState, Signer
from sleutelbos.requests.signatures import document_hash, same_name

CODE_DIGITS = 6
CODE_VALIDITY = dt.timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
CODES_PER_HOUR = 5

_CODE_KEY_SALT = "sleutelbos.requests.signing.code"

#: How long the link in a mail to an applicant without an account opens their request: longer than a request can
#: wait for signatures (14 days) or for an answer, so the link of the latest mail works while the request can change.
APPLICANT_LINK_VALIDITY = dt.timedelta(days=30)
_APPLICANT_LINK_SALT = "sleutelbos.requests.signing.applicant-link"

WRONG_IDENTITY = gettext_lazy(
    "The name and date of birth do not match the representative this link was sent to. Write them as in the KvK "
    "register."
)
WRONG_CODE = gettext_lazy("That code is not correct. Check the code and try again.")
TOO_MANY_CODES = gettext_lazy(
    "You asked for too many codes in the last hour. Use the last code you received, or try again later."
)
TOO_MANY_ATTEMPTS = gettext_lazy("A wrong code or identity was entered too many times. Ask for a new code.")


class LinkProblem(enum.StrEnum):
    """Why a signing link cannot be used."""

    UNKNOWN = "unknown"
    SUPERSEDED = "superseded"
    SIGNED = "signed"
    DECLINED = "declined"
    EXPIRED = "expired"
    CLOSED = "closed"
    CHANGED = "changed"


class SigningRefused(PermissionDenied):
    """A signing link that cannot be used, and why."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def hash_token(token: str) -> str:
    """How a signing token is stored (the same as ``services.hash_token``)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def signer_by_token(token: str, *, lock: bool = False) -> Signer | None:
    """The signer whose link (first mail or reminder) carries this token, whatever its state."""
    if not token:
        return None
    hashed = hash_token(token)
    signers = Signer.objects.select_related("request", "request__applicant")
    if lock:
        signers = signers.select_for_update(of=("self",))
    return signers.filter(Q(token_hash=hashed) | Q(reminder_token_hash=hashed)).first()


def link_problem(signer: Signer | None, *, now: dt.datetime | None = None) -> LinkProblem | None:
    """Why this signer's link cannot be used now, or None when it can."""
    if signer is None:
        return LinkProblem.UNKNOWN
    if signer.superseded_at is not None:
        return LinkProblem.SUPERSEDED
    if signer.signed_at is not None:
        return LinkProblem.SIGNED
    if signer.declined_at is not None:
        return LinkProblem.DECLINED
    if signer.token_expires_at <= (now or timezone.now()):
        return LinkProblem.EXPIRED
    request = signer.request
    if request.state != RequestState.AWAITING_SIGNATURES:
        return LinkProblem.CLOSED
    if document_hash(request) != request.document_hash:
        return LinkProblem.CHANGED
    return None


def open_signer(token: str, *, lock: bool = False) -> Signer:
    """The signer of a usable link; :class:`SigningRefused` with the reason otherwise."""
    signer = signer_by_token(token, lock=lock)
    problem = link_problem(signer)
    if problem is not None:
        raise SigningRefused(problem)
    assert signer is not None
    return signer


def _actor(signer: Signer) -> Actor:
    return Actor(label=f"signer:{signer.pk}")


def _code_digest(signer: Signer, code: str, secret: str | None = None) -> str:
    # The signer and the moment the code was sent salt the HMAC; the secret key keeps a copied table from being
    # searched offline (a million codes would be tried in no time).
    sent = int(signer.code_sent_at.timestamp()) if signer.code_sent_at else 0
    return salted_hmac(_CODE_KEY_SALT, f"{signer.pk}:{sent}:{code}", secret=secret, algorithm="sha256").hexdigest()


def _code_matches(signer: Signer, code: str) -> bool:
    """Compare in constant time, also against the fallback keys while a secret key is being rotated."""
    code = "".join(code.split()).replace("-", "")
    matched = False
    for key in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        matched |= constant_time_compare(_code_digest(signer, code, key), signer.code_hash)
    return matched


def codes_sent_last_hour(signer: Signer, *, now: dt.datetime | None = None) -> int:
    """How many codes were mailed to this signer in the last hour (from the audit log)."""
    since = (now or timezone.now()) - dt.timedelta(hours=1)
    return AuditEvent.objects.filter(
        action="signer:code_sent", subject_type="requests.signer", subject_id=str(signer.pk), at__gt=since
    ).count()


@transaction.atomic
def signer_code_send(*, token: str, address: str | None = None) -> Signer:
    """Mail the signer a new six-digit code, valid 10 minutes; an earlier code stops working.

    The mail goes to the address the link was sent to, in the request's language. At most five codes an hour.
    """
    signer = open_signer(token, lock=True)
    now = timezone.now()
    if codes_sent_last_hour(signer, now=now) >= CODES_PER_HOUR:
        raise ValidationError({"code": ValidationError(TOO_MANY_CODES, code="too_many_codes")})
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    signer.code_sent_at = now
    signer.code_hash = _code_digest(signer, code)
    signer.code_expires_at = now + CODE_VALIDITY
    signer.code_attempts = 0
    signer.save(update_fields=["code_sent_at", "code_hash", "code_expires_at", "code_attempts"])
    request = signer.request
    mail_queue(
        to=signer.email,
        template="requests/mail/signer_code",
        context={
            "name": signer.functionary_name,
            "code": code,
            "minutes": int(CODE_VALIDITY.total_seconds() // 60),
            "organisation": request.kvk_extract.get("name", request.kvk),
            "number": request.pk,
        },
        purpose="request:signer_code",
        language=request.language,
    )
    audit_record(
        actor=_actor(signer),
        action="signer:code_sent",
        subject=signer,
        organisation=request.organisation,
        data={"request": request.pk, "email": signer.email, "address": address},
    )
    return signer


def signer_identity_confirm(
    *, token: str, name: str, date_of_birth: dt.date, code: str, address: str | None = None
) -> Signer:
    """The signer confirms who they are: name and date of birth as in the KvK extract, and the mailed code.

    A wrong answer counts as a try and is committed before it is refused: after five the code is void and the signer
    asks for a new one. Runs in its own transaction, so the count is kept even when the answer is refused.
    """
    refusal: ValidationError | None = None
    with transaction.atomic():
        signer = open_signer(token, lock=True)
        request = signer.request
        now = timezone.now()
        if not signer.code_hash or signer.code_expires_at is None:
            raise ValidationError(
                {"code": ValidationError(_("Ask for a code first: we send it to your e-mail address."), code="no_code")}
            )
        if signer.code_attempts >= CODE_MAX_ATTEMPTS:
            raise ValidationError({"code": ValidationError(TOO_MANY_ATTEMPTS, code="too_many_attempts")})
        if signer.code_expires_at <= now:
            raise ValidationError(
                {
                    "code": ValidationError(
                        _("That code has expired. Ask for a new code and enter it within 10 minutes."),
                        code="expired_code",
                    )
                }
            )
        identity_ok = same_name(signer.functionary_name, name) and signer.date_of_birth == date_of_birth
        code_ok = _code_matches(signer, code)
        if identity_ok and code_ok:
            signer.identity_confirmed_at = now
            signer.code_hash = ""
            signer.code_expires_at = None
            signer.code_attempts = 0
            signer.save(update_fields=["identity_confirmed_at", "code_hash", "code_expires_at", "code_attempts"])
            audit_record(
                actor=_actor(signer),
                action="signer:identity_confirmed",
                subject=signer,
                organisation=request.organisation,
                data={"request": request.pk, "address": address},
            )
            return signer
        signer.code_attempts += 1
        signer.save(update_fields=["code_attempts"])
        audit_record(
            actor=_actor(signer),
            action="signer:identity_refused",
            subject=signer,
            organisation=request.organisation,
            data={
                "request": request.pk,
                "identity": identity_ok,
                "code": code_ok,
                "attempts": signer.code_attempts,
                "address": address,
            },
        )
        left = CODE_MAX_ATTEMPTS - signer.code_attempts
        errors: dict[str, ValidationError] = {}
        if left <= 0:
            errors["code"] = ValidationError(TOO_MANY_ATTEMPTS, code="too_many_attempts")
        else:
            if not identity_ok:
                errors["identity"] = ValidationError(WRONG_IDENTITY, code="identity")
            if not code_ok:
                errors["code"] = ValidationError(WRONG_CODE, code="wrong_code")
            errors["attempts"] = ValidationError(
                ngettext("You can try %(count)d more time.", "You can try %(count)d more times.", left)
                % {"count": left},
                code="attempts_left",
            )
        refusal = ValidationError(errors)
    raise refusal


# --------------------------------------------------------------------------------------------------------------------
# The applicant's link


def applicant_link_token(request: Request) -> str:
    """A token that opens ``request`` for its applicant for 30 days; signed with the secret key, so not forged."""
    return django_signing.dumps({"request": request.pk}, salt=_APPLICANT_LINK_SALT)


def request_by_applicant_token(token: str) -> Request | None:
    """The request an applicant's link opens; None when the token is forged, changed or older than 30 days."""
    try:
        data = django_signing.loads(token, salt=_APPLICANT_LINK_SALT, max_age=APPLICANT_LINK_VALIDITY)
    except django_signing.BadSignature:  # SignatureExpired is one
        return None
    pk = data.get("request") if isinstance(data, dict) else None
    if not isinstance(pk, int):
        return None
    return Request.objects.filter(pk=pk).select_related("applicant").first()
