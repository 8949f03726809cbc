"""The signing pages: a representative opens their one-time link, reads the request, confirms who they are with a
mailed code, and signs or declines. And the request PDF, for the signer and for the applicant.

The link's token does not stay in the address bar: the first visit keeps it in the session and continues on
``/sign/``, so it does not end up in the browser history or a Referer header. Every reason a link cannot be used
has its own page (:class:`sleutelbos.requests.signing.LinkProblem`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET

from sleutelbos.requests.models import Request, Signer
from sleutelbos.requests.pdf import request_pdf
from sleutelbos.requests.services import request_decline, request_sign
from sleutelbos.requests.signing import (
    LinkProblem,
    SigningRefused,
    link_problem,
    signer_by_token,
    signer_code_send,
    signer_identity_confirm,
)
from sleutelbos.requests.signing_forms import CodeForm, DeclineForm, IdentityForm, SignForm
from sleutelbos.requests.summary import summarise

SESSION = "signing"
#: The page a browser without a link in its session gets (a bookmark, an ended session).
NO_LINK = "no_link"

REFUSALS: dict[str, tuple[int, Promise, Promise]] = {
    LinkProblem.UNKNOWN: (
        404,
        gettext_lazy("This signing link does not work"),
        gettext_lazy(
            "The link is not complete or not correct. Open it again from the e-mail, or copy the whole address."
        ),
    ),
    LinkProblem.SUPERSEDED: (
        410,
        gettext_lazy("This signing link has been replaced"),
        gettext_lazy(
            "The request was submitted again, and you were sent a new link. Use the link from the most recent e-mail."
        ),
    ),
    LinkProblem.SIGNED: (
        410,
        gettext_lazy("You have signed this request already"),
        gettext_lazy("Each link works once. Your signature has been recorded; there is nothing more to do."),
    ),
    LinkProblem.DECLINED: (
        410,
        gettext_lazy("You have declined this request already"),
        gettext_lazy("Each link works once. Your answer has been recorded and the applicant can read your reason."),
    ),
    LinkProblem.EXPIRED: (
        410,
        gettext_lazy("This signing link has expired"),
        gettext_lazy(
            "A signing link works 14 days. Ask the applicant to submit the request again; you then get a new link."
        ),
    ),
    LinkProblem.CLOSED: (
        409,
        gettext_lazy("This request no longer waits for signatures"),
        gettext_lazy(
            "It has enough signatures already, it went back to the applicant to be changed, or it was withdrawn, "
            "expired or decided on. Nothing needs to be signed now; if the request is submitted again, you get a new "
            "link."
        ),
    ),
    LinkProblem.CHANGED: (
        409,
        gettext_lazy("This request was changed after it was submitted"),
        gettext_lazy(
            "What you would sign is no longer what was submitted, so it cannot be signed. Ask the applicant to check "
            "the request and submit it again; you then get a new link."
        ),
    ),
    NO_LINK: (
        400,
        gettext_lazy("Open your signing link"),
        gettext_lazy(
            "This page works from the personal link in the e-mail that asked for your signature. Open that link again."
        ),
    ),
}


def _address(request: HttpRequest) -> str | None:
    """The client's address as the server sees it (a proxy in front must set REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


def _user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:500]


def _refused(request: HttpRequest, problem: str) -> HttpResponse:
    status, title, explanation = REFUSALS[problem]
    context = {"problem": problem, "title": title, "explanation": explanation}
    return render(request, "requests/signing/refused.html", context, status=status)


def _masked(email: str) -> str:
    """An address shown so that its owner recognises it: the first letter of the name and the whole domain."""
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else email


def _pdf_response(request: Request) -> HttpResponse:
    response = HttpResponse(request_pdf(request), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="sleutelbos-request-{request.pk}.pdf"'
    return response


def _add_errors(form: Any, error: ValidationError) -> None:
    """Put a service's errors on the form: on the field they name, else above the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        for item in errors:
            if item.code == "attempts_left" or field not in form.fields:
                form.add_error(None, item)
            else:
                form.add_error(field, item)


# --- the link and the session ------------------------------------------------------------------------------------


@never_cache
@require_GET
def sign_link(request: HttpRequest, token: str) -> HttpResponse:
    """Open a signing link: check it, keep it in the session, and continue on a page without the token."""
    problem = link_problem(signer_by_token(token))
    if problem is not None:
        return _refused(request, problem)
    request.session[SESSION] = {"token": token}
    request.session.cycle_key()
    return redirect("signing:page")


def _current(request: HttpRequest) -> tuple[dict[str, Any], Signer] | HttpResponse:
    state = request.session.get(SESSION) or {}
    token = state.get("token")
    if not token:
        return _refused(request, NO_LINK)
    signer = signer_by_token(token)
    problem = link_problem(signer)
    if problem is not None:
        return _refused(request, problem)
    assert signer is not None
    return state, signer


def _save(request: HttpRequest, state: dict[str, Any]) -> None:
    request.session[SESSION] = state
    request.session.modified = True


# --- the signing page --------------------------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters("code")
def signing_page(request: HttpRequest) -> HttpResponse:
    """The request in words and the two steps: confirm who you are with a mailed code, then sign or decline."""
    current = _current(request)
    if isinstance(current, HttpResponse):
        return current
    state, signer = current
    token = state["token"]
    confirmed = state.get("confirmed") == signer.pk and signer.identity_confirmed_at is not None
    identity_initial = {"name": state.get("name", ""), "date_of_birth": state.get("date_of_birth", "")}
    identity_form = IdentityForm(initial=identity_initial)
    code_form = CodeForm(initial=identity_initial)
    sign_form = SignForm()
    decline_form = DeclineForm()
    send_errors: list[str] = []
    action = request.POST.get("action", "") if request.method == "POST" else ""
    try:
        if action == "send_code" and not confirmed:
            resend = "name" not in request.POST and state.get("name")
            identity_form = IdentityForm(None if resend else request.POST, initial=identity_initial)
            if resend or identity_form.is_valid():
                if not resend:
                    state["name"] = identity_form.cleaned_data["name"]
                    state["date_of_birth"] = identity_form.cleaned_data["date_of_birth"].isoformat()
                try:
                    signer_code_send(token=token, address=_address(request))
                except ValidationError as error:
                    send_errors = error.messages
                else:
                    state["code_sent"] = True
                    _save(request, state)
                    messages.success(
                        request,
                        _("We sent a code to %(email)s. It works for 10 minutes.") % {"email": _masked(signer.email)},
                    )
                    return redirect("signing:page")
        elif action == "confirm" and not confirmed:
            code_form = CodeForm(request.POST)
            if code_form.is_valid():
                data = code_form.cleaned_data
                try:
                    signer_identity_confirm(
                        token=token,
                        name=data["name"],
                        date_of_birth=data["date_of_birth"],
                        code=data["code"],
                        address=_address(request),
                    )
                except ValidationError as error:
                    _add_errors(code_form, error)
                else:
                    state.update(
                        confirmed=signer.pk, name=data["name"], date_of_birth=data["date_of_birth"].isoformat()
                    )
                    _save(request, state)
                    messages.success(request, _("Thank you: you have confirmed who you are. Now sign or decline."))
                    return redirect("signing:page")
        elif action == "sign" and confirmed:
            sign_form = SignForm(request.POST)
            if sign_form.is_valid():
                try:
                    signed = request_sign(
                        token=token,
                        name=state["name"],
                        date_of_birth=dt.date.fromisoformat(state["date_of_birth"]),
                        address=_address(request),
                        user_agent=_user_agent(request),
                    )
                except ValidationError as error:
                    if getattr(error, "code", None) == "changed":
                        return _refused(request, LinkProblem.CHANGED)
                    _add_errors(sign_form, error)
                else:
                    return _finish(request, token, signed, "signed")
        elif action == "decline" and confirmed:
            decline_form = DeclineForm(request.POST)
            if decline_form.is_valid():
                try:
                    declined = request_decline(token=token, reason=decline_form.cleaned_data["reason"])
                except ValidationError as error:
                    _add_errors(decline_form, error)
                else:
                    return _finish(request, token, declined, "declined")
        elif action:
            # A step that no longer fits (the page was open in two tabs): show the page as it is now.
            return redirect("signing:page")
    except PermissionDenied as refusal:
        # The link stopped working between showing the page and the answer (it expired, or another signer's
        # signature completed the request).
        problem = refusal.problem if isinstance(refusal, SigningRefused) else link_problem(signer_by_token(token))
        return _refused(request, problem or LinkProblem.CLOSED)
    failed = send_errors or any(form.errors for form in (identity_form, code_form, sign_form, decline_form))
    context = {
        "signer": signer,
        "summary": summarise(signer.request),
        "confirmed": confirmed,
        # The code step shows once a code was sent, or when a code was entered (and refused).
        "code_sent": bool(state.get("code_sent")) or code_form.is_bound,
        "send_errors": send_errors,
        "email": _masked(signer.email),
        "identity_form": identity_form,
        "code_form": code_form,
        "sign_form": sign_form,
        "decline_form": decline_form,
    }
    return render(request, "requests/signing/sign.html", context, status=400 if failed else 200)


def _finish(request: HttpRequest, token: str, signer: Signer, outcome: str) -> HttpResponse:
    # The token stays: opening the signing page again says the link has been used.
    request.session[SESSION] = {
        "token": token,
        "done": outcome,
        "organisation": signer.request.kvk_extract.get("name", signer.request.kvk),
    }
    return redirect("signing:done")


@never_cache
@require_GET
def signing_done(request: HttpRequest) -> HttpResponse:
    """What happened: signed, or declined."""
    state = request.session.get(SESSION) or {}
    if state.get("done") not in {"signed", "declined"}:
        return _refused(request, NO_LINK)
    return render(
        request, "requests/signing/done.html", {"outcome": state["done"], "organisation": state.get("organisation")}
    )


# --- the PDF -----------------------------------------------------------------------------------------------------


@never_cache
@require_GET
def signing_pdf(request: HttpRequest) -> HttpResponse:
    """The PDF of the request the link in this session is about."""
    current = _current(request)
    if isinstance(current, HttpResponse):
        return current
    _state, signer = current
    return _pdf_response(signer.request)


@never_cache
@require_GET
def signing_link_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The PDF of the request a signing link is about, straight from the link."""
    signer = signer_by_token(token)
    problem = link_problem(signer)
    if problem is not None:
        return _refused(request, problem)
    assert signer is not None
    return _pdf_response(signer.request)


@never_cache
@require_GET
@login_required
def applicant_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The applicant's own request as a PDF; any other request is not found."""
    own = get_object_or_404(Request, pk=pk, applicant=request.user)
    return _pdf_response(own)
