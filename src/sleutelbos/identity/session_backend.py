"""Sessions read together with the person logged in with them: one statement on most requests instead of two.

Django's database session engine reads the session row through the ORM, and the authentication middleware then
reads the person named in it, again through the ORM: two queries built anew on every request of a logged-in person.
:class:`SessionStore` reads the same row of ``django_session`` with one prepared statement and, when this process has
read the session before, the person in that same statement (a ``LEFT JOIN`` on the person the session named last
time; the joined row is used only when the session still names that person, so a wrong guess costs nothing but the
second statement). Otherwise the person is read right after, by the id in the session. Everything else (writes, key
rotation, expiry, the cleanup command) is Django's own ``db`` engine: the table and its rows are unchanged.

:class:`AuthenticationMiddleware` takes the person read with the session instead of reading them again, after the
checks ``django.contrib.auth.get_user`` makes for the model backend: the session was made by that backend, names this
person, the person may log in (is active), and the session's hash matches the person's current one (which covers the
password and ``session_version``, so "log out everywhere" still ends every session at once). In every other case,
including the fallback secrets of a rotated ``SECRET_KEY``, Django's own ``get_user`` decides, as before.
"""

from __future__ import annotations

import functools
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.contrib.auth.middleware import auser
from django.contrib.sessions.backends import db
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from sleutelbos.identity.models import Person

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
#: Sessions whose person this process remembers (to read both in one statement); forgotten all at once when full.
MAX_REMEMBERED = 20_000

# session key -> the person's id the session named when this process last read it. A guess only: see the module.
_person_of_session: dict[str, Any] = {}


@functools.cache
def _statements(vendor: str) -> dict[str, Any]:
    """The statements in the database's quoting (SQLite and PostgreSQL alike); names from the models' metadata."""
    from django.contrib.sessions.models import Session

    quote = connection.ops.quote_name
    session, person = Session._meta, Person._meta
    fields = person.concrete_fields
    key = quote(session.get_field("session_key").column)
    data = quote(session.get_field("session_data").column)
    expires = quote(session.get_field("expire_date").column)
    person_pk = quote(person.pk.column)
    where = f"s.{key} = %s AND s.{expires} > %s"
    return {
        "attnames": [field.attname for field in fields],
        "session": f"SELECT s.{data} FROM {quote(session.db_table)} s WHERE {where}",  # noqa: S608 (names only)
        "joined": (
            f"SELECT s.{data}, {', '.join(f'p.{quote(field.column)}' for field in fields)} "  # noqa: S608 (names only)
            f"FROM {quote(session.db_table)} s LEFT JOIN {quote(person.db_table)} p ON p.{person_pk} = %s "
            f"WHERE {where}"
        ),
        "person": (
            f"SELECT {', '.join(quote(field.column) for field in fields)} "  # noqa: S608 (names only)
            f"FROM {quote(person.db_table)} WHERE {person_pk} = %s"
        ),
    }


class SessionStore(db.SessionStore):
    """Django's database sessions, read with one statement, and the session's person with it (:attr:`person`)."""

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        #: The person the session names, as read with it; None for an anonymous session or one not read yet.
        self.person: Person | None = None

    def load(self) -> dict[str, Any]:
        self.person = None
        if self.session_key is None:
            return {}
        statements = _statements(connection.vendor)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        guess = _person_of_session.get(self.session_key)
        with connection.cursor() as cursor:
            if guess is None:
                cursor.execute(statements["session"], [self.session_key, now])
            else:
                cursor.execute(statements["joined"], [guess, self.session_key, now])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        data = self.decode(row[0])
        person_id = self._person_id(data)
        if person_id is None:
            return data
        if person_id == guess and row[1] is not None:
            self.person = Person.from_db(connection.alias, statements["attnames"], row[1:])
        else:
            self.person = self._read_person(person_id)
            if len(_person_of_session) >= MAX_REMEMBERED:
                _person_of_session.clear()
            _person_of_session[self.session_key] = person_id
        return data

    def clear(self) -> None:
        super().clear()
        self.person = None

    @staticmethod
    def _person_id(data: dict[str, Any]) -> Any:
        """The id of the person the session names, for the model backend only; None otherwise."""
        if data.get(BACKEND_SESSION_KEY) != MODEL_BACKEND or USER_SESSION_KEY not in data:
            return None
        try:
            return Person._meta.pk.to_python(data[USER_SESSION_KEY])
        except ValidationError:
            return None

    @staticmethod
    def _read_person(person_id: Any) -> Person | None:
        statements = _statements(connection.vendor)
        with connection.cursor() as cursor:
            cursor.execute(statements["person"], [person_id])
            row = cursor.fetchone()
        return Person.from_db(connection.alias, statements["attnames"], row) if row is not None else None


def get_user(request: HttpRequest) -> Any:
    """The person of the request's session: the one read with the session when Django's checks hold, else whatever
    ``django.contrib.auth.get_user`` says."""
    session = request.session
    user_id = session.get(USER_SESSION_KEY)  # loads the session, and with it the person
    person = getattr(session, "person", None)
    if (
        person is None
        or user_id is None
        or session.get(BACKEND_SESSION_KEY) != MODEL_BACKEND
        or MODEL_BACKEND not in settings.AUTHENTICATION_BACKENDS
        or user_id != person._meta.pk.value_to_string(person)
        or not ModelBackend().user_can_authenticate(person)
    ):
        return auth.get_user(request)
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, person.get_session_auth_hash()):
        return auth.get_user(request)  # a fallback secret, or the end of the session: as Django decides
    return person


def _cached_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's authentication middleware, taking the person read with the session (see the module)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(partial(_cached_user, request))
        request.auser = partial(auser, request)
