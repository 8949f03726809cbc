"""Step-up, forced fresh login, the idle and absolute session limits, and logging out everywhere."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.translation import gettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions, views
from sleutelbos.identity.models import Person
from tests.identity.test_login import (
    add_totp,
    body,
    emailed_code,
    next_code,
    person_with_password,
    post_password,
    session_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def logged_in_eh2_plus(client: Client, person: Person, capture) -> None:
    """Log in with password and an e-mailed code: an EH2+ session."""
    with capture(execute=True):
        post_password(client, person, level="EH2+")
        client.post(reverse("identity:login_factor"), {"method": "send_code"})
    client.post(reverse("identity:login_factor"), {"method": "email", "email-code": emailed_code()})
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH2_PLUS


def request_for(client: Client, person: Person, path: str = "/dienst/"):
    request = RequestFactory().get(path)
    request.user = person
    request.session = SessionStore(session_key=client.session.session_key)
    return request


# --- step-up -----------------------------------------------------------------------------------------------------


def test_step_up_from_eh2_plus_to_eh3_asks_only_for_the_app(client, django_capture_on_commit_callbacks):
    person = person_with_password(Level.EH3)
    totp = add_totp(person)
    logged_in_eh2_plus(client, person, django_capture_on_commit_callbacks)
    login_at = session_of(client)[sessions.LOGIN_AT]
    key_before = client.session.session_key

    response = client.get(reverse("identity:step_up") + "?level=EH3&next=/account/")
    assert response["Location"] == reverse("identity:login_factor")
    page = client.get(response["Location"])
    assert 'name="password"' not in body(page)  # the password is not asked again
    assert 'name="totp-code"' in body(page)
    assert 'value="send_code"' not in body(page)  # an e-mailed code does not reach EH3
    response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": next_code(totp)})

    assert response["Location"] == "/account/"
    session = session_of(client)
    assert session[sessions.AUTH_LEVEL] == Level.EH3
    assert set(session[sessions.AUTH_FACTORS]) == {"password", "one_time_code", "totp"}
    assert session[sessions.LOGIN_AT] == login_at  # a step-up does not extend the 12 hours
    assert client.session.session_key != key_before  # rotated


def test_step_up_above_the_means_is_refused_with_a_sentence(client, django_capture_on_commit_callbacks):
    person = person_with_password(Level.EH2_PLUS)
    logged_in_eh2_plus(client, person, django_capture_on_commit_callbacks)

    response = client.get(reverse("identity:step_up") + "?level=EH3&next=/account/")

    assert response.status_code == 403
    expected = gettext("Your means has level %(means)s; this service asks for %(wanted)s.") % {
        "means": "EH2+",
        "wanted": "EH3",
    }
    assert expected in body(response)
    assert session_of(client)[sessions.AUTH_LEVEL] == Level.EH2_PLUS


def test_step_up_to_eh4_without_a_hardware_key_says_which_key_to_add(client, django_capture_on_commit_callbacks):
    # An authenticator app reaches EH3 only: advising one to someone who needs EH4 would leave them stuck.
    person = person_with_password(Level.EH4)
    add_totp(person)
    logged_in_eh2_plus(client, person, django_capture_on_commit_callbacks)

    client.get(reverse("identity:step_up") + "?level=EH4&next=/account/")
    page = body(client.get(reverse("identity:login_factor")))

    hardware = gettext(
        "You have not set up a way to log in at level %(level)s yet. Add a security key that cannot be copied and "
        "asks for your PIN or fingerprint on your account page first."
    ) % {"level": "EH4"}
    assert hardware in page
    assert (
        gettext("To go on you need level %(level)s. Confirm it is you in one of these ways.") % {"level": "EH4"} in page
    )
    assert 'name="totp-code"' not in page


def test_require_level_passes_a_session_that_holds_the_level_and_redirects_otherwise(client):
    person = person_with_password(Level.EH3)
    post_password(client, person, level="EH2")
    request = request_for(client, person, "/dienst/?x=1")

    assert sessions.session_level(request) == Level.EH2
    assert sessions.require_level(request, Level.EH2) is None
    redirect = sessions.require_level(request, "EH3")
    assert redirect is not None
    assert redirect["Location"] == reverse("identity:step_up") + "?level=EH3&next=%2Fdienst%2F%3Fx%3D1"


def test_require_level_sends_anonymous_visitors_to_the_login_page():
    request = RequestFactory().get("/dienst/")
    request.session = SessionStore()
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()

    redirect = sessions.require_level(request, Level.EH2)

    assert redirect["Location"] == reverse("identity:login") + "?level=EH2&next=%2Fdienst%2F"


def test_forced_authentication_asks_every_factor_again_and_counts_once(client, django_capture_on_commit_callbacks):
    person = person_with_password(Level.EH2_PLUS)
    logged_in_eh2_plus(client, person, django_capture_on_commit_callbacks)
    request = request_for(client, person, "/saml/sso/?id=1")
    redirect = sessions.require_level(request, Level.EH2_PLUS, force=True)
    assert redirect is not None and "force=1" in redirect["Location"]

    page = client.get(redirect["Location"])
    assert 'name="password"' in body(page)  # ForceAuthn: the password again
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(redirect["Location"], {"password": "lange-zin-met-woorden-42-fout"})
    assert response.status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(redirect["Location"], {"password": "groene-beuk-onder-de-brug-42"})
    assert response["Location"] == reverse("identity:login_factor")
    response = client.post(reverse("identity:login_factor"), {"method": "email", "email-code": emailed_code()})
    assert response["Location"] == "/saml/sso/?id=1"

    first = request_for(client, person, "/saml/sso/?id=1")
    assert sessions.require_level(first, "EH2+", force=True) is None
    first.session.save()  # as SessionMiddleware does at the end of the request
    # The fresh login counts once: a second forced request asks again.
    assert sessions.require_level(request_for(client, person, "/saml/sso/?id=1"), "EH2+", force=True) is not None


# --- limits ------------------------------------------------------------------------------------------------------


def test_thirty_minutes_idle_ends_the_session_and_the_login_page_says_so(client):
    person = person_with_password(Level.EH2)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as traveller:
        post_password(client, person)
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("identity:account")).status_code == 200  # activity keeps it alive
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get(reverse("identity:account")).status_code == 200
        traveller.shift(dt.timedelta(minutes=31))

        response = client.get(reverse("identity:account"))

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("identity:login"))
        page = client.get(response["Location"])
        assert str(gettext(str(views.SESSION_ENDED["idle"]))) in body(page)
        assert "_auth_user_id" not in client.session
        # The notice is said once.
        assert str(gettext(str(views.SESSION_ENDED["idle"]))) not in body(client.get(reverse("identity:login")))


def test_twelve_hours_after_login_the_session_ends_even_when_active(client):
    person = person_with_password(Level.EH2)
    with time_machine.travel(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC), tick=False) as traveller:
        post_password(client, person)
        for _ in range(12 * 3):
            traveller.shift(dt.timedelta(minutes=20))
            response = client.get(reverse("identity:account"))
            assert response.status_code == 200
        traveller.shift(dt.timedelta(minutes=1))

        response = client.get(reverse("identity:account"))

        assert response.status_code == 302
        page = client.get(response["Location"])
        assert str(gettext(str(views.SESSION_ENDED["absolute"]))) in body(page)


def test_log_out_everywhere_ends_the_session_on_another_device(client):
    person = person_with_password(Level.EH2)
    laptop = Client()
    post_password(client, person)
    post_password(laptop, person)
    assert laptop.get(reverse("identity:account")).status_code == 200

    response = client.post(reverse("identity:logout_everywhere"))

    assert response["Location"] == reverse("identity:login")
    assert laptop.get(reverse("identity:account")).status_code == 302
    assert client.get(reverse("identity:account")).status_code == 302
    person.refresh_from_db()
    assert person.session_version == 1
    # Logging in again works.
    post_password(laptop, person)
    assert laptop.get(reverse("identity:account")).status_code == 200


def test_log_out_ends_only_this_session(client):
    person = person_with_password(Level.EH2)
    laptop = Client()
    post_password(client, person)
    post_password(laptop, person)

    client.post(reverse("identity:logout"))

    assert client.get(reverse("identity:account")).status_code == 302
    assert laptop.get(reverse("identity:account")).status_code == 200


def test_logout_needs_a_post(client):
    person = person_with_password(Level.EH2)
    post_password(client, person)

    assert client.get(reverse("identity:logout")).status_code == 405
    assert client.get(reverse("identity:account")).status_code == 200
