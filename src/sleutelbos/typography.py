"""One full stop where a sentence ends in an abbreviation: "Bakkerij De Korst B.V.", never "B.V..".

Many Dutch organisation names end in the abbreviation of their legal form (B.V., N.V., V.O.F., U.A.), and sentences
in both languages put such a name last ("U hoort nu bij %(organisation)s."). Dutch and English spelling write a
single full stop then. Where the name ends the sentence depends on the translation, so the rule is applied to the
finished text: to every HTML page (:class:`SingleFullStopMiddleware`), to every mail and to the request PDF
(:func:`single_full_stops`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# A full stop right after an abbreviation's own (a single letter and a full stop, such as "V." in "B.V."), where the
# sentence ends: before white space, a tag or the end of the text. Not inside attribute values (a quote follows
# there), so what a form sends back is never changed.
_DOUBLED = re.compile(r"(?<=\b[A-Za-z]\.)\.(?=\s|<|$)")
_DOUBLED_BYTES = re.compile(_DOUBLED.pattern.encode("ascii"))


def single_full_stops(text: str) -> str:
    """``text`` with the second full stop after an abbreviation at a sentence's end removed."""
    return _DOUBLED.sub("", text) if ".." in text else text


class SingleFullStopMiddleware:
    """Applies :func:`single_full_stops` to every HTML page (not to streamed or other responses)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            not response.streaming
            and response.get("Content-Type", "").startswith("text/html")
            and b".." in response.content
        ):
            response.content = _DOUBLED_BYTES.sub(b"", response.content)
            if response.has_header("Content-Length"):
                response["Content-Length"] = str(len(response.content))
        return response
