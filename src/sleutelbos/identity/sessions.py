"""The session contract: which level a session holds, since when, and the limits on its life.

A session that passed login carries, besides Django's own keys:

``auth_level``   the Level (int) reached: the level of the factors used, capped at the person's means level;
``auth_factors`` the Factor values used;
``auth_at``      epoch seconds of the last full authentication (login or step-up);
``login_at``     epoch seconds of the login, for the absolute limit of 12 hours.

Login and step-up rotate the session key (session fixation). :class:`SessionLimitsMiddleware` ends a session after
30 minutes without a request or 12 hours after login (OWASP ASVS 3.3.1/3.3.2 at L2), and tells the person so on
the login page. Raising ``Person.session_version`` ends every session of a person at once ("log out everywhere").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import SESSION_KEY, login, logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from sleutelbos.audit.services import Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.factors import Factor, level_of
from sleutelbos.identity.models import Means, MeansStatus, Person

AUTH_LEVEL = "auth_level"
AUTH_FACTORS = "auth_factors"
AUTH_AT = "auth_at"
LOGIN_AT = "login_at"
LAST_SEEN = "last_seen"
#: Set by a forced (ForceAuthn) authentication: the path it was for and when; consumed by ``require_level``.
FRESH = "auth_fresh"
#: Why the previous session ended ("idle", "absolute"); the login page says so once.
ENDED = "session_ended"

BACKEND = "django.contrib.auth.backends.ModelBackend"
# A forced authentication counts for the page that asked for it, if that page is reached within this time.
FRESH_SECONDS = 300
# The idle clock is written to the session at most this often, to not write the session on every request.
LAST_SEEN_GRANULARITY = 30


def idle_seconds() -> int:
    return int(getattr(settings, "SLEUTELBOS_SESSION_IDLE_SECONDS", 30 * 60))


def absolute_seconds() -> int:
    return int(getattr(settings, "SLEUTELBOS_SESSION_ABSOLUTE_SECONDS", 12 * 3600))


def means_of(person: Person) -> Means | None:
    """The person's means, or None when they have none."""
    return Means.objects.filter(person=person).first()


def means_level(person: Person) -> Level | None:
    """The level of the person's active means; None when they have none or it is suspended or revoked."""
    means = means_of(person)
    if means is None or means.status != MeansStatus.ACTIVE:
        return None
    return Level(means.level)


def reached_level(person: Person, factors: Iterable[Factor]) -> Level | None:
    """The level a login with these factors gives this person: the factors' level, at most their means level.

    A person without a means (supplier staff) reaches at most EH2.
    """
    by_factors = level_of(set(factors))
    if by_factors is None:
        return None
    means = means_of(person)
    cap = Level(means.level) if means is not None else Level.EH2
    return min(by_factors, cap)


def session_level(request: HttpRequest) -> Level | None:
    """The level the session holds, or None when nobody is logged in (or logged in without our login)."""
    if not request.user.is_authenticated:
        return None
    value = request.session.get(AUTH_LEVEL)
    return Level(value) if value in Level.values else None


def session_factors(request: HttpRequest) -> set[Factor]:
    """The factors used in this session."""
    if not request.user.is_authenticated:
        return set()
    return {Factor(value) for value in request.session.get(AUTH_FACTORS, []) if value in Factor._value2member_map_}


@transaction.atomic
def session_establish(
    *, request: HttpRequest, person: Person, factors: Iterable[Factor], fresh: bool = False, fresh_for: str = ""
) -> Level:
    """Log the person in, or step an existing session up, with the factors just verified; returns the level.

    A step-up adds the new factors to those of the session, unless ``fresh`` (ForceAuthn): then only the factors
    just verified count. Either way the session key changes. ``fresh_for`` names the page a forced authentication
    was for (see :func:`require_level`).
    """
    used = set(factors)
    now = time.time()
    same_person = request.user.is_authenticated and request.user.pk == person.pk
    if same_person:
        if not fresh:
            used |= session_factors(request)
        login_at = request.session.get(LOGIN_AT, now)
        request.session.cycle_key()
        action = "login:stepped_up"
    else:
        login(request, person, backend=BACKEND)  # flushes another person's session, rotates the key
        login_at = now
        action = "login:succeeded"
    level = reached_level(person, used)
    if level is None:  # pragma: no cover - callers always pass the password or a session that has it
        raise ValueError("a session needs a password among its factors")
    request.session[AUTH_LEVEL] = int(level)
    request.session[AUTH_FACTORS] = sorted(str(factor) for factor in used)
    request.session[AUTH_AT] = now
    request.session[LOGIN_AT] = login_at
    request.session[LAST_SEEN] = now
    if fresh_for:
        request.session[FRESH] = {"path": fresh_for, "at": now}
    audit_record(
        actor=Actor.for_person(person),
        action=action,
        subject=person,
        data={"level": level.label, "factors": request.session[AUTH_FACTORS], "fresh": fresh},
    )
    return level


def _with_query(url_name: str, params: dict[str, str]) -> str:
    return f"{reverse(url_name)}?{urlencode(params)}"


def require_level(request: HttpRequest, level: Level | str, *, force: bool = False) -> HttpResponse | None:
    """None when the session holds ``level``; else a redirect that asks only for what is missing, then returns here.

    Anonymous visitors go to the login page, logged-in people to the step-up page. With ``force`` (ForceAuthn) the
    person authenticates afresh with every factor; the fresh authentication counts once, for this same page
    (``request.get_full_path()``), within five minutes.
    """
    wanted = Level.parse(level)
    here = request.get_full_path()
    held = session_level(request)
    if force:
        fresh = request.session.get(FRESH) if request.user.is_authenticated else None
        if (
            fresh
            and fresh.get("path") == here
            and time.time() - fresh.get("at", 0) <= FRESH_SECONDS
            and held is not None
            and held >= wanted
        ):
            del request.session[FRESH]
            return None
    elif held is not None and held >= wanted:
        return None
    params = {"level": wanted.label, "next": here}
    if force:
        params["force"] = "1"
    if not request.user.is_authenticated:
        return HttpResponseRedirect(_with_query("identity:login", params))
    return HttpResponseRedirect(_with_query("identity:step_up", params))


@transaction.atomic
def sessions_end_all(*, actor: Actor, person: Person) -> None:
    """End every session of the person at once, this one included ("log out everywhere", or a revoked means)."""
    locked = Person.objects.select_for_update().get(pk=person.pk)
    locked.session_version += 1
    locked.save(update_fields=["session_version"])
    person.session_version = locked.session_version
    audit_record(actor=actor, action="sessions:ended", subject=locked, data={"session_version": locked.session_version})


class SessionLimitsMiddleware:
    """Ends a logged-in session after 30 minutes idle or 12 hours after login, and sends the person to log in.

    Placed after AuthenticationMiddleware. The next page (the login page) says why the session ended.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SESSION_KEY in request.session and request.user.is_authenticated:
            ended = self._check(request)
            if ended:
                logout(request)
                request.session[ENDED] = ended
                login_url = reverse("identity:login")
                if request.path != login_url:
                    return HttpResponseRedirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)

    @staticmethod
    def _check(request: HttpRequest) -> str:
        now = time.time()
        session = request.session
        login_at = session.get(LOGIN_AT)
        last_seen = session.get(LAST_SEEN)
        if login_at is not None and now - login_at > absolute_seconds():
            return "absolute"
        if last_seen is not None and now - last_seen > idle_seconds():
            return "idle"
        if login_at is None:  # logged in elsewhere (the admin's login form): the clocks start now
            session[LOGIN_AT] = now
        if last_seen is None or now - last_seen >= LAST_SEEN_GRANULARITY:
            session[LAST_SEEN] = now
        return ""
