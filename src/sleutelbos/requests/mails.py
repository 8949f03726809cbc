"""The mails about a request, one function each, in the language the request was made in.

Each function writes its mail to the outbox (``sleutelbos.mail``) in the caller's transaction: the mail commits with
the change it tells of, or not at all. Templates live in ``templates/requests/mail/<name>`` (subject, plain text and
HTML). What a request asks for, and what an approval made active, is described in the words of
:mod:`sleutelbos.requests.summary`, as the wizard, the signing page and the PDF describe it. Dates are written as the
pages write them ("13 December 2026"), and every subject names the request's number, so that mails about two
requests of one organisation are told apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mail.services import absolute_url, mail_queue
from sleutelbos.mandates.services import add_years
from sleutelbos.requests.models import Request, Signer
from sleutelbos.requests.signing import applicant_link_token
from sleutelbos.requests.summary import GrantWords, manager_role, organisation_name, requested_grants

#: Days a signing link is valid, as the mails say it (services.SIGNING_PERIOD).
LINK_DAYS = 14
#: How the pages write a date, and a moment: the mails write them the same way.
DATE_FORMAT = "j F Y"
MOMENT_FORMAT = "j F Y, H:i"


# --------------------------------------------------------------------------------------------------------------------
# Addresses and links


def applicant_address(request: Request) -> str:
    """Where mail for the applicant goes: their account's address, else the one given in the request."""
    if request.applicant_id is not None and request.applicant.email:
        return request.applicant.email
    return request.applicant_email


def applicant_display_name(request: Request) -> str:
    """The applicant's name as the mails greet them."""
    if request.applicant_id is not None:
        return request.applicant.name
    return request.applicant_name


def signing_url(token: str) -> str:
    """The absolute one-time signing link for ``token``."""
    try:
        path = reverse("signing:sign", args=[token])
    except NoReverseMatch:
        path = f"/sign/{token}/"
    return absolute_url(path)


def request_url(request: Request) -> str:
    """The absolute link to the request's page for the applicant."""
    try:
        path = reverse("requests:detail", args=[request.pk])
    except NoReverseMatch:
        path = f"/requests/{request.pk}/"
    return absolute_url(path)


def applicant_url(request: Request) -> str:
    """The link a mail gives the applicant: the request's page; without an account (nothing to log in with), a
    signed link that opens this request, and no other, in any browser for 30 days."""
    if request.applicant_id is not None:
        return request_url(request)
    return absolute_url(reverse("requests:applicant_link", args=[applicant_link_token(request)]))


# --------------------------------------------------------------------------------------------------------------------
# What a request asks for, in plain words (call inside the mail's language): the words of ``summary``


def _date(moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        moment = timezone.localtime(moment).date()
    return formats.date_format(moment, DATE_FORMAT)


def _moment(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment), MOMENT_FORMAT)


def _sentence(request: Request, grant: GrantWords, *, valid_from: dt.datetime | None) -> str:
    if valid_from is None:
        duration = _("valid for %(duration)s") % {"duration": grant.duration}
    else:
        duration = _("valid until %(date)s") % {"date": _date(add_years(valid_from, grant.item.years))}
    words = f"{grant.scope_at_level}, {duration}"
    if grant.branch:
        words = _("%(grant)s, only for branch %(branch)s") % {"grant": words, "branch": grant.branch}
    if grant.chain:
        words = _("%(intermediary)s may act for %(organisation)s: %(grant)s") % {
            "intermediary": grant.intermediary,
            "organisation": organisation_name(request),
            "grant": words,
        }
    return words


def grants_in_words(request: Request, *, valid_from: dt.datetime | None = None) -> list[str]:
    """Each mandate and chain mandate of the request in a sentence; with ``valid_from``, with its valid-until date."""
    return [_sentence(request, grant, valid_from=valid_from) for grant in requested_grants(request)]


def manager_in_words(request: Request) -> str:
    """The manager role the request asks for, in words; empty when it asks for none."""
    return manager_role(request)


# --------------------------------------------------------------------------------------------------------------------
# Sending


def _send(
    *, to: str, request: Request, name: str, purpose: str, extra: Mapping[str, Any] | None = None
) -> OutgoingMail:
    """Queue ``requests/mail/<name>`` about ``request`` in its language; the context is built in that language."""
    with translation.override(request.language):
        context: dict[str, Any] = {
            "request": request,
            "applicant_name": applicant_display_name(request),
            "organisation_name": organisation_name(request),
            "kvk": request.kvk,
            "kind": request.get_kind_display(),
            "number": request.pk,
            "request_url": request_url(request),
            "link_days": LINK_DAYS,
        }
        context.update(extra or {})
    return mail_queue(
        to=to,
        template=f"requests/mail/{name}",
        context=context,
        purpose=f"request:{purpose}",
        language=request.language,
    )


def _to_applicant(request: Request, name: str, purpose: str, **extra: Any) -> OutgoingMail | None:
    to = applicant_address(request)
    if not to:
        return None
    return _send(
        to=to, request=request, name=name, purpose=purpose, extra={"request_url": applicant_url(request), **extra}
    )


def mail_submitted(request: Request, *, mailed: Sequence[str], signed: Sequence[str] = ()) -> OutgoingMail | None:
    """Confirm to the applicant what was submitted and who must sign: the representatives ``mailed`` a link now,
    and those who ``signed`` this very document before (submitted again unchanged), whose signature still counts."""
    with translation.override(request.language):
        grants = grants_in_words(request)
        manager = manager_in_words(request)
    return _to_applicant(
        request, "submitted", "submitted", grants=grants, manager=manager, signers=list(mailed), signed=list(signed)
    )


def mail_signature_request(request: Request, signer: Signer, token: str) -> OutgoingMail:
    """Ask a representative to sign, with their one-time link."""
    with translation.override(request.language):
        grants = grants_in_words(request)
        manager = manager_in_words(request)
        valid_until = _date(signer.token_expires_at)
    return _send(
        to=signer.email,
        request=request,
        name="signature_request",
        purpose="signature_request",
        extra={
            "signer": signer,
            "url": signing_url(token),
            "valid_until": valid_until,
            "grants": grants,
            "manager": manager,
        },
    )


def mail_reminder(request: Request, signer: Signer, token: str) -> OutgoingMail:
    """Remind a representative who has not answered yet, with a second link (the first stays valid)."""
    with translation.override(request.language):
        grants = grants_in_words(request)
        manager = manager_in_words(request)
        valid_until = _date(signer.token_expires_at)
    return _send(
        to=signer.email,
        request=request,
        name="reminder",
        purpose="signature_reminder",
        extra={
            "signer": signer,
            "url": signing_url(token),
            "valid_until": valid_until,
            "grants": grants,
            "manager": manager,
        },
    )


def mail_ready_for_verification(request: Request, *, resubmitted: bool = False) -> OutgoingMail | None:
    """Tell the applicant every signature is in and the supplier now verifies the request.

    ``resubmitted``: the applicant submitted the request again and the signatures given before still count (it did
    not change), so this mail also confirms the submission; no representative is asked again.
    """
    return _to_applicant(request, "ready_for_verification", "ready_for_verification", resubmitted=resubmitted)


def mail_signature_declined(request: Request, signer: Signer, *, returned: bool) -> OutgoingMail | None:
    """Tell the applicant who declined to sign, when and why; ``returned``: the signatures still possible are not
    enough any more, so the request is back with the applicant to change and submit again."""
    with translation.override(request.language):
        declined_at = _moment(signer.declined_at or timezone.now())
    return _to_applicant(
        request,
        "signature_declined",
        "signature_declined",
        signer_name=signer.functionary_name,
        reason=signer.decline_reason,
        declined_at=declined_at,
        returned=returned,
    )


def mail_rejected(request: Request) -> OutgoingMail | None:
    """Tell the applicant the request was rejected, and why."""
    return _to_applicant(request, "rejected", "rejected", reason=request.reason)


def mail_information_requested(request: Request) -> OutgoingMail | None:
    """Ask the applicant staff's question, with a link to the request to answer it."""
    return _to_applicant(request, "information_requested", "information_requested", question=request.reason)


def mail_expired(request: Request) -> OutgoingMail | None:
    """Tell the applicant the signatures were not complete within 14 days, so the request expired."""
    return _to_applicant(request, "expired", "expired")


def mail_approved(request: Request) -> OutgoingMail | None:
    """Tell the applicant the request was approved and what is now active, each mandate with its valid-until date.

    Call it inside ``request_approve``, after the approval transition (the mandates run from the decision).
    """
    valid_from = request.decided_at or timezone.now()
    with translation.override(request.language):
        grants = grants_in_words(request, valid_from=valid_from)
        manager = manager_in_words(request)
    return _to_applicant(request, "approved", "approved", grants=grants, manager=manager)
