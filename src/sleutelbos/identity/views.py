"""Login, second factor, step-up, activation, logout and the management of one's own factors.

A login is a password, then (when the level needs it) a second factor. Between the two steps the session holds a
*pending* authentication (who, which factors so far, for which level, where to go next); only when the factors reach
what is needed does :func:`sessions.session_establish` log the person in. Step-up uses the same second-factor page.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.encoding import force_str
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import factors, forms, sessions, throttle
from sleutelbos.identity.activation import activation_complete, activation_tokens, password_set
from sleutelbos.identity.factors import Factor, FactorError
from sleutelbos.identity.models import MeansStatus, Person, RecoveryCode, TotpDevice, WebAuthnCredential

PENDING = "pending_auth"
# The second step must follow the first within ten minutes; five wrong second factors end the attempt.
PENDING_SECONDS = 600
MAX_FACTOR_FAILURES = 5
ACTIVATION = "activation"
TOTP_ENROLMENT = "totp_enrolment"
WEBAUTHN_REGISTRATION = "webauthn_registration"
RP_NAME = "Sleutelbos"

WRONG_CREDENTIALS = gettext_lazy(
    "The e-mail address or password is not correct. Check both and try again, or ask for a new activation link."
)
MEANS_SUSPENDED = gettext_lazy(
    "Your means is suspended, so you cannot log in with it now. Ask your organisation's authorization manager "
    "or Sleutelbos support."
)
MEANS_REVOKED = gettext_lazy("Your means has been revoked; you can no longer log in with it.")
SESSION_ENDED = {
    "idle": gettext_lazy("You were logged out because you did nothing for 30 minutes. Log in again to continue."),
    "absolute": gettext_lazy("You were logged out because you were logged in for 12 hours. Log in again to continue."),
}
PENDING_EXPIRED = gettext_lazy("Your login took too long or was interrupted. Please start again.")
TOO_MANY_FACTOR_FAILURES = gettext_lazy("Too many wrong codes. Please log in again.")

# The order in which second factors are offered: the strongest first.
FACTOR_ORDER = [
    Factor.WEBAUTHN_HARDWARE_UV,
    Factor.WEBAUTHN,
    Factor.TOTP,
    Factor.ONE_TIME_CODE,
    Factor.RECOVERY_CODE,
]


# --- helpers -----------------------------------------------------------------------------------------------------


def _safe_next(request: HttpRequest, default: str = "") -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default or reverse("identity:account")


def _requested_level(request: HttpRequest) -> Level | None:
    value = request.POST.get("level") or request.GET.get("level")
    if not value:
        return None
    try:
        return Level.parse(value)
    except ValueError:
        return None


def _forced(request: HttpRequest) -> bool:
    return (request.POST.get("force") or request.GET.get("force")) in {"1", "true"}


def _relying_party(request: HttpRequest) -> tuple[str, str]:
    """The WebAuthn relying party id and origin: from settings, else from the host the browser used."""
    host = request.get_host()
    rp_id = getattr(settings, "SLEUTELBOS_WEBAUTHN_RP_ID", "") or (urlsplit(f"//{host}").hostname or host)
    origin = getattr(settings, "SLEUTELBOS_WEBAUTHN_ORIGIN", "") or f"{request.scheme}://{host}"
    return rp_id, origin


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def _check_password(person: Person | None, password: str) -> bool:
    """Check the password; without a real hash to check, hash a dummy so that every answer takes as long."""
    if person is None or not person.is_active or not person.has_usable_password():
        make_password(password)
        return False
    return person.check_password(password)


def _means_refusal(person: Person) -> str:
    means = sessions.means_of(person)
    if means is not None and means.status == MeansStatus.SUSPENDED:
        return str(MEANS_SUSPENDED)
    if means is not None and means.status == MeansStatus.REVOKED:
        return str(MEANS_REVOKED)
    return ""


def _cap(person: Person) -> Level:
    """The highest level this person can log in at: their means level (EH2 for people without a means)."""
    means = sessions.means_of(person)
    return Level(means.level) if means is not None else Level.EH2


def _above_means(request: HttpRequest, person: Person, wanted: Level) -> HttpResponse:
    sentence = _("Your means has level %(means)s; this service asks for %(wanted)s.") % {
        "means": _cap(person).label,
        "wanted": wanted.label,
    }
    return render(request, "identity/refused.html", {"sentence": sentence}, status=403)


def _offered(person: Person, target: Level, *, login: bool) -> list[Factor]:
    """The second factors to offer: those that reach the target level; at login also recovery codes.

    When nothing the person has reaches the target (a means upgraded before a new factor was enrolled), everything
    they have is offered at login, so that they can log in at a lower level and enrol what is missing.
    """
    available = factors.factors_available(person)
    reaching = [
        factor
        for factor in FACTOR_ORDER
        if factor in available and (factors.level_of({Factor.PASSWORD, factor}) or 0) >= target
    ]
    if login:
        if not reaching:
            return [factor for factor in FACTOR_ORDER if factor in available]
        if Factor.RECOVERY_CODE in available and Factor.RECOVERY_CODE not in reaching:
            reaching.append(Factor.RECOVERY_CODE)
    return reaching


# --- pending authentication between the password and the second factor ------------------------------------------


def _pending_start(
    request: HttpRequest, *, person: Person, have: set[Factor], target: Level, next_url: str, force: bool, step_up: bool
) -> None:
    request.session[PENDING] = {
        "person": person.pk,
        "session_version": person.session_version,
        "factors": sorted(str(factor) for factor in have),
        "level": int(target),
        "next": next_url,
        "force": force,
        "step_up": step_up,
        "started": time.time(),
        "failures": 0,
        "code_sent": False,
    }


def _pending(request: HttpRequest) -> tuple[dict[str, Any], Person] | None:
    """The pending authentication and its person, if it is still valid."""
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending.get("started", 0) > PENDING_SECONDS:
        return None
    person = Person.objects.filter(pk=pending["person"], is_active=True).first()
    if person is None or person.session_version != pending["session_version"] or _means_refusal(person):
        return None
    if pending["step_up"] and (not request.user.is_authenticated or request.user.pk != person.pk):
        return None
    return pending, person


def _finish(request: HttpRequest, *, person: Person, used: set[Factor], pending: dict[str, Any]) -> HttpResponse:
    request.session.pop(PENDING, None)
    force = pending["force"]
    sessions.session_establish(
        request=request, person=person, factors=used, fresh=force, fresh_for=pending["next"] if force else ""
    )
    return HttpResponseRedirect(pending["next"])


# --- login -------------------------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    """E-mail address and password; then the second factor when the level needs one."""
    next_url = _safe_next(request)
    wanted = _requested_level(request)
    force = _forced(request)
    if request.user.is_authenticated and request.method == "GET" and wanted is None and not force:
        return HttpResponseRedirect(next_url)
    notice = SESSION_ENDED.get(request.session.pop(sessions.ENDED, ""), "")
    form = forms.LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        response = _login_password(request, form, next_url=next_url, wanted=wanted, force=force)
        if response is not None:
            return response
    context = {
        "form": form,
        "next": next_url,
        "level": wanted.label if wanted else "",
        "force": force,
        "notice": notice,
    }
    return render(request, "identity/login.html", context, status=200 if not form.errors else 400)


def _login_password(
    request: HttpRequest, form: forms.LoginForm, *, next_url: str, wanted: Level | None, force: bool
) -> HttpResponse | None:
    email = form.cleaned_data["email"]
    password = form.cleaned_data["password"]
    address = throttle.client_address(request)
    if throttle.is_throttled(account=email, address=address):
        form.add_error(None, ValidationError(throttle.TOO_MANY_ATTEMPTS, code="throttled"))
        return None
    person = Person.objects.filter(email__iexact=email.strip()).first()
    if not _check_password(person, password):
        throttle.login_failure_record(account=email, address=address, reason="password")
        form.add_error(None, ValidationError(WRONG_CREDENTIALS, code="invalid_login"))
        return None
    assert person is not None
    if refusal := _means_refusal(person):
        form.add_error(None, ValidationError(refusal, code="means_inactive"))
        return None
    target = wanted or _cap(person)
    if target > _cap(person):
        return _above_means(request, person, target)
    have = {Factor.PASSWORD}
    if (sessions.reached_level(person, have) or 0) >= target:
        sessions.session_establish(
            request=request, person=person, factors=have, fresh=force, fresh_for=next_url if force else ""
        )
        return HttpResponseRedirect(next_url)
    _pending_start(request, person=person, have=have, target=target, next_url=next_url, force=force, step_up=False)
    return _to_second_factor(request, person, target, login=True)


def _to_second_factor(request: HttpRequest, person: Person, target: Level, *, login: bool) -> HttpResponse:
    offered = _offered(person, target, login=login)
    # When an e-mailed code is the way in, send it at once rather than asking for one more click.
    if offered and offered[0] == Factor.ONE_TIME_CODE:
        _send_code(request, person)
    return redirect("identity:login_factor")


def _send_code(request: HttpRequest, person: Person) -> bool:
    """Send a login code by e-mail; False (with the reason shown) when none may be sent now."""
    try:
        factors.one_time_code_send(person=person, purpose="login")
    except factors.FactorError as error:
        messages.error(request, error.messages[0])
        return False
    pending = request.session[PENDING]
    pending["code_sent"] = True
    request.session[PENDING] = pending
    return True


@sensitive_post_parameters("totp-code", "email-code", "recovery-code", "response")
@never_cache
def login_factor(request: HttpRequest) -> HttpResponse:
    """The second step: a code from an app or an e-mail, a security key, or a recovery code."""
    found = _pending(request)
    if found is None:
        request.session.pop(PENDING, None)
        messages.warning(request, PENDING_EXPIRED)
        return redirect("identity:login")
    pending, person = found
    target = Level(pending["level"])
    offered = _offered(person, target, login=not pending["step_up"])
    prefixes = {"totp": forms.TotpCodeForm, "email": forms.EmailCodeForm, "recovery": forms.RecoveryCodeForm}
    bound = {name: form_class(prefix=name) for name, form_class in prefixes.items()}
    webauthn_form = forms.WebAuthnResponseForm(prefix="webauthn")
    webauthn_error = ""
    method = request.POST.get("method", "") if request.method == "POST" else ""
    address = throttle.client_address(request)
    if method == "send_code" and Factor.ONE_TIME_CODE in offered:
        if _send_code(request, person):
            messages.info(request, _("We sent a new code to your e-mail address."))
        return redirect("identity:login_factor")
    if method in {"totp", "email", "recovery", "webauthn"}:
        if throttle.is_throttled(account=person.email, address=address):
            messages.error(request, throttle.TOO_MANY_ATTEMPTS)
            request.session.pop(PENDING, None)
            return redirect("identity:login")
        if method == "webauthn":
            form = webauthn_form = forms.WebAuthnResponseForm(request.POST, prefix="webauthn")
        else:
            form = bound[method] = prefixes[method](request.POST, prefix=method)
        error = _malformed() if method == "webauthn" and not form.is_valid() else ""
        if form.is_valid():
            try:
                used = _verify(request, person, pending, method, form.cleaned_data)
            except FactorError as failure:
                error = failure.messages[0]
                throttle.login_failure_record(account=person.email, address=address, reason=f"factor:{failure.code}")
                pending["failures"] += 1
                request.session[PENDING] = pending
                if pending["failures"] >= MAX_FACTOR_FAILURES:
                    request.session.pop(PENDING, None)
                    messages.error(request, TOO_MANY_FACTOR_FAILURES)
                    return redirect("identity:login")
            else:
                have = {Factor(value) for value in pending["factors"]} | {used}
                if (sessions.reached_level(person, have) or 0) >= target or not pending["step_up"]:
                    return _finish(request, person=person, used=have, pending=pending)
                error = _("This way of logging in does not reach %(level)s. Choose another one.") % {
                    "level": target.label
                }
        if error and method == "webauthn":
            webauthn_error = error
        elif error:
            form.add_error("code", ValidationError(error, code="factor"))
    context: dict[str, Any] = {
        "person": person,
        "target": target,
        "step_up": pending["step_up"],
        "offered": offered,
        "forms": bound,
        "webauthn_form": webauthn_form,
        "webauthn_error": webauthn_error,
        "code_sent": pending["code_sent"],
        "show_recovery": request.GET.get("method") == "recovery" or bound["recovery"].is_bound,
    }
    if Factor.WEBAUTHN in offered or Factor.WEBAUTHN_HARDWARE_UV in offered:
        rp_id, _origin = _relying_party(request)
        options, challenge = factors.webauthn_authentication_begin(
            person=person, rp_id=rp_id, user_verification="required" if target >= Level.EH4 else "preferred"
        )
        pending["challenge"] = _b64(challenge)
        request.session[PENDING] = pending
        context["webauthn_options"] = options
    status = 400 if any(f.errors for f in bound.values()) or webauthn_error else 200
    return render(request, "identity/login_factor.html", context, status=status)


def _malformed() -> str:
    """The message for a WebAuthn answer that is missing or cannot be parsed."""
    return FactorError("malformed_response").messages[0]


def _verify(
    request: HttpRequest, person: Person, pending: dict[str, Any], method: str, data: dict[str, Any]
) -> Factor | None:
    """Verify one second factor; returns the factor it counts as, or raises FactorError."""
    if method == "totp":
        factors.totp_verify(person=person, code=data["code"])
        return Factor.TOTP
    if method == "email":
        factors.one_time_code_verify(person=person, code=data["code"], purpose="login")
        return Factor.ONE_TIME_CODE
    if method == "recovery":
        factors.recovery_code_use(person=person, code=data["code"])
        return Factor.RECOVERY_CODE
    challenge = pending.pop("challenge", None)
    request.session[PENDING] = pending
    if not challenge:
        raise FactorError("malformed_response")
    rp_id, origin = _relying_party(request)
    _credential, factor = factors.webauthn_authentication_finish(
        person=person, response=data["response"], challenge=_unb64(challenge), rp_id=rp_id, origin=origin
    )
    return factor


# --- step-up -----------------------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@never_cache
def step_up(request: HttpRequest) -> HttpResponse:
    """Raise the session's level (or authenticate afresh, with ``force``): asks only for what is missing."""
    wanted = _requested_level(request)
    force = _forced(request)
    next_url = _safe_next(request)
    if not request.user.is_authenticated:
        params = {"next": next_url, **({"level": wanted.label} if wanted else {}), **({"force": "1"} if force else {})}
        return HttpResponseRedirect(f"{reverse('identity:login')}?{urlencode(params)}")
    person: Person = request.user
    if refusal := _means_refusal(person):
        return render(request, "identity/refused.html", {"sentence": refusal}, status=403)
    target = wanted or _cap(person)
    if target > _cap(person):
        return _above_means(request, person, target)
    held = sessions.session_level(request)
    if not force and held is not None and held >= target:
        return HttpResponseRedirect(next_url)
    have = set() if force else sessions.session_factors(request)
    if Factor.PASSWORD in have:
        _pending_start(request, person=person, have=have, target=target, next_url=next_url, force=force, step_up=True)
        return _to_second_factor(request, person, target, login=False)
    form = forms.PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        address = throttle.client_address(request)
        if throttle.is_throttled(account=person.email, address=address):
            form.add_error(None, ValidationError(throttle.TOO_MANY_ATTEMPTS, code="throttled"))
        elif not person.check_password(form.cleaned_data["password"]):
            throttle.login_failure_record(account=person.email, address=address, reason="password")
            form.add_error("password", ValidationError(_("This password is not correct."), code="wrong_password"))
        else:
            have = {Factor.PASSWORD}
            pending_args = {"person": person, "have": have, "target": target, "next_url": next_url, "force": force}
            _pending_start(request, step_up=True, **pending_args)
            if (sessions.reached_level(person, have) or 0) >= target:
                return _finish(request, person=person, used=have, pending=request.session[PENDING])
            return _to_second_factor(request, person, target, login=False)
    context = {"form": form, "target": target, "next": next_url, "force": force}
    return render(request, "identity/step_up_password.html", context, status=400 if form.errors else 200)


# --- logout ------------------------------------------------------------------------------------------------------


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    """End this session."""
    logout(request)
    messages.success(request, _("You are logged out."))
    return redirect("identity:login")


@require_POST
@login_required
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """End every session of this person, on every device, this one included."""
    person: Person = request.user
    sessions.sessions_end_all(actor=Actor.for_person(person), person=person)
    logout(request)
    messages.success(request, _("You are logged out everywhere: on this device and on every other one."))
    return redirect("identity:login")


# --- the account page and factor management ---------------------------------------------------------------------


@never_cache
@login_required
def account(request: HttpRequest) -> HttpResponse:
    """My means (level, status), my factors and the ways to manage them."""
    person: Person = request.user
    means = sessions.means_of(person)
    cap = _cap(person)
    available = factors.factors_available(person)
    best = max(
        (factors.level_of({Factor.PASSWORD, factor}) or Level.EH2 for factor in available - {Factor.RECOVERY_CODE}),
        default=Level.EH2,
    )
    context = {
        "person": person,
        "means": means,
        "session_level": sessions.session_level(request),
        "totp_devices": person.totp_devices.filter(confirmed_at__isnull=False),
        "webauthn_credentials": person.webauthn_credentials.all(),
        "recovery_codes_left": person.recovery_codes.filter(used_at__isnull=True).count(),
        "needs_factor": means is not None and best < cap,
        "needs_hardware": cap >= Level.EH4,
        "cap": cap,
    }
    return render(request, "identity/account.html", context)


@never_cache
@login_required
def totp_add(request: HttpRequest) -> HttpResponse:
    """Start adding an authenticator app: a name, then the QR code."""
    form = forms.FactorNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        enrolment = factors.totp_begin(person=request.user, name=form.cleaned_data["name"])
        request.session[TOTP_ENROLMENT] = {
            "device": enrolment.device.pk,
            "secret": enrolment.secret,
            "uri": enrolment.provisioning_uri,
            "svg": enrolment.qr_svg,
        }
        return redirect("identity:totp_confirm")
    return render(request, "identity/totp_add.html", {"form": form}, status=400 if form.errors else 200)


@sensitive_post_parameters("code")
@never_cache
@login_required
def totp_confirm(request: HttpRequest) -> HttpResponse:
    """Scan the QR code, then confirm with the first code the app shows."""
    enrolment = request.session.get(TOTP_ENROLMENT)
    device = None
    if enrolment:
        device = TotpDevice.objects.filter(
            pk=enrolment["device"], person=request.user, confirmed_at__isnull=True
        ).first()
    if device is None:
        request.session.pop(TOTP_ENROLMENT, None)
        return redirect("identity:totp_add")
    form = forms.TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            factors.totp_confirm(actor=Actor.for_person(request.user), device=device, code=form.cleaned_data["code"])
        except FactorError as error:
            form.add_error("code", error)
        else:
            request.session.pop(TOTP_ENROLMENT, None)
            messages.success(request, _("Your authenticator app is added."))
            return _after_enrolment(request)
    context = {"form": form, "enrolment": enrolment, "device": device}
    return render(request, "identity/totp_confirm.html", context, status=400 if form.errors else 200)


def _after_enrolment(request: HttpRequest) -> HttpResponse:
    """After the first factor, the recovery codes; else back to the account page."""
    if not RecoveryCode.objects.filter(person=request.user).exists():
        return redirect("identity:recovery_codes")
    return redirect("identity:account")


@never_cache
@login_required
def webauthn_add(request: HttpRequest) -> HttpResponse:
    """Add a security key or passkey; an EH4 means needs a hardware-bound key with user verification."""
    person: Person = request.user
    require_hardware = _cap(person) >= Level.EH4
    rp_id, origin = _relying_party(request)
    form = forms.WebAuthnRegisterForm(request.POST or None)
    error = ""
    if request.method == "POST":
        challenge = request.session.pop(WEBAUTHN_REGISTRATION, None)
        if form.is_valid() and challenge:
            try:
                factors.webauthn_registration_finish(
                    actor=Actor.for_person(person),
                    person=person,
                    name=form.cleaned_data["name"],
                    response=form.cleaned_data["response"],
                    challenge=_unb64(challenge),
                    rp_id=rp_id,
                    origin=origin,
                    require_hardware=require_hardware,
                )
            except FactorError as failure:
                error = failure.messages[0]
            else:
                messages.success(request, _("Your security key is added."))
                return _after_enrolment(request)
        elif form.is_valid() or "response" in form.errors:
            error = _malformed()
    options, challenge = factors.webauthn_registration_begin(
        person=person, rp_id=rp_id, rp_name=RP_NAME, require_hardware=require_hardware
    )
    request.session[WEBAUTHN_REGISTRATION] = _b64(challenge)
    context = {"form": form, "options": options, "error": error, "require_hardware": require_hardware}
    return render(request, "identity/webauthn_add.html", context, status=400 if (form.errors or error) else 200)


@require_POST
@login_required
def factor_remove(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Remove an authenticator app or a security key, unless the means level needs it."""
    model = {"totp": TotpDevice, "webauthn": WebAuthnCredential}.get(kind)
    if model is None:
        return redirect("identity:account")
    factor = get_object_or_404(model, pk=pk, person=request.user)
    try:
        factors.factor_remove(actor=Actor.for_person(request.user), person=request.user, factor=factor)
    except FactorError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, _("“%(name)s” is removed.") % {"name": factor.name})
    return redirect("identity:account")


@never_cache
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """Make ten new recovery codes, shown once; the old ones stop working."""
    codes: list[str] = []
    if request.method == "POST":
        codes = factors.recovery_codes_generate(actor=Actor.for_person(request.user), person=request.user)
    left = request.user.recovery_codes.filter(used_at__isnull=True).count()
    response = render(request, "identity/recovery_codes.html", {"codes": codes, "left": left})
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("current_password", "new_password1", "new_password2")
@never_cache
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    """Change the password: the current one first. Other sessions end; this one continues."""
    person: Person = request.user
    form = forms.PasswordChangeForm(request.POST or None, person=person)
    if request.method == "POST":
        address = throttle.client_address(request)
        if throttle.is_throttled(account=person.email, address=address):
            form.is_valid()
            form.add_error(None, ValidationError(throttle.TOO_MANY_ATTEMPTS, code="throttled"))
        elif form.is_valid():
            password_set(actor=Actor.for_person(person), person=person, password=form.cleaned_data["new_password1"])
            update_session_auth_hash(request, person)
            messages.success(request, _("Your password is changed. You are logged out on your other devices."))
            return redirect("identity:account")
        elif "current_password" in form.errors:
            throttle.login_failure_record(account=person.email, address=address, reason="password_change")
    return render(request, "identity/password_change.html", {"form": form}, status=400 if form.errors else 200)


# --- activation --------------------------------------------------------------------------------------------------


def _activation_person(uidb64: str) -> Person | None:
    try:
        pk = force_str(urlsafe_base64_decode(uidb64))
        return Person.objects.filter(pk=int(pk), is_active=True).first()
    except (ValueError, TypeError, OverflowError):
        return None


@never_cache
def activate(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Open an activation link: check it, then continue on a page whose address does not hold the token."""
    person = _activation_person(uidb64)
    if person is None or not activation_tokens.check_token(person, token):
        return render(request, "identity/activation_invalid.html", status=400)
    request.session[ACTIVATION] = {"person": person.pk, "token": token}
    return redirect("identity:activate_password")


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
def activate_password(request: HttpRequest) -> HttpResponse:
    """Choose a password; then the person is logged in and sets up the factors their level needs."""
    state = request.session.get(ACTIVATION) or {}
    person = Person.objects.filter(pk=state.get("person"), is_active=True).first() if state else None
    if person is None or not activation_tokens.check_token(person, state.get("token")):
        request.session.pop(ACTIVATION, None)
        return render(request, "identity/activation_invalid.html", status=400)
    form = forms.NewPasswordForm(request.POST or None, person=person)
    if request.method == "POST" and form.is_valid():
        activation_complete(person=person, password=form.cleaned_data["new_password1"])
        request.session.pop(ACTIVATION, None)
        sessions.session_establish(request=request, person=person, factors={Factor.PASSWORD})
        messages.success(request, _("Your account is active. Now set up how you log in."))
        return redirect("identity:account")
    context = {"form": form, "person": person}
    return render(request, "identity/activate_password.html", context, status=400 if form.errors else 200)
