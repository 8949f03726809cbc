"""The ArtifactResolutionService is called by service providers' servers, never by a browser.

Its requests carry no session, CSRF token or language choice worth reading: a SOAP message is authenticated by its
own signature. :class:`ArtifactResolutionMiddleware`, placed after the security headers and before the session,
hands such a request straight to the view, so that no session or person is loaded (or saved) for it, whatever
cookies the caller sends along.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH


class ArtifactResolutionMiddleware:
    """Answers requests for the ArtifactResolutionService without the browser middleware after it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == ARTIFACT_RESOLUTION_PATH:
            from sleutelbos.saml.views import artifact_resolution

            return artifact_resolution(request)
        return self.get_response(request)
