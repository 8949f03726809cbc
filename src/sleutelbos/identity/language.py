"""The language a person uses Sleutelbos in, remembered so mail to them (expiry warnings, approvals) is in it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from sleutelbos.identity.models import Person


def person_language(person: Person | None) -> str:
    """The language to write to ``person`` in: the one they last used, else the default (Dutch)."""
    if person is not None and person.language in dict(settings.LANGUAGES):
        return person.language
    return settings.LANGUAGE_CODE


class RememberLanguageMiddleware:
    """After the response, store the logged-in person's active language when it changed (one UPDATE, rarely)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and isinstance(user, Person):
            language = getattr(request, "LANGUAGE_CODE", None)
            language = language if language in dict(settings.LANGUAGES) else None
            if language and language != user.language:
                Person.objects.filter(pk=user.pk).update(language=language)
                user.language = language
        return response
