"""A sentence that ends in an organisation name ending in an abbreviation ("B.V.") ends with one full stop, on pages
and in mails; nothing else changes."""

from __future__ import annotations

import pytest

from sleutelbos.mail.services import render_mail
from sleutelbos.typography import single_full_stops


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("U hoort nu bij Bakkerij De Korst B.V..", "U hoort nu bij Bakkerij De Korst B.V."),
        ("<p>Welkom bij Anker N.V..</p>", "<p>Welkom bij Anker N.V.</p>"),
        ("Zonen B.V.. Enter this code", "Zonen B.V. Enter this code"),
        ("Coöperatie De Eendracht U.A..\n", "Coöperatie De Eendracht U.A.\n"),
        ("Wacht even...", "Wacht even..."),  # an ellipsis stays
        ('<input value="Naam B.V..">', '<input value="Naam B.V..">'),  # what a form sends back stays
        ("versie 1..2", "versie 1..2"),
        ("Bakkerij De Korst B.V., Utrecht.", "Bakkerij De Korst B.V., Utrecht."),
    ],
)
def test_one_full_stop_after_an_abbreviation_at_the_end_of_a_sentence(text: str, expected: str) -> None:
    assert single_full_stops(text) == expected


def test_every_html_page_gets_one_full_stop_and_other_responses_are_left_alone() -> None:
    from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
    from django.test import RequestFactory

    from sleutelbos.typography import SingleFullStopMiddleware

    def page(_request):
        response = HttpResponse("<p>U hoort nu bij Drukkerij Het Anker B.V..</p>")
        response["Content-Length"] = str(len(response.content))
        return response

    request = RequestFactory().get("/")
    answered = SingleFullStopMiddleware(page)(request)
    data = SingleFullStopMiddleware(lambda _r: JsonResponse({"name": "Anker B.V.."}))(request)
    streamed = SingleFullStopMiddleware(lambda _r: StreamingHttpResponse(iter([b"Anker B.V.. "])))(request)

    assert answered.content == b"<p>U hoort nu bij Drukkerij Het Anker B.V.</p>"
    assert answered["Content-Length"] == str(len(answered.content))
    assert data.content == b'{"name": "Anker B.V.."}'
    assert b"".join(streamed.streaming_content) == b"Anker B.V.. "


def test_a_mail_naming_an_organisation_last_has_one_full_stop(tmp_path, settings) -> None:
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]},
    ]
    (tmp_path / "greeting_subject.txt").write_text("Welkom bij {{ name }}.")
    (tmp_path / "greeting.txt").write_text("U hoort nu bij {{ name }}.\n")
    (tmp_path / "greeting.html").write_text("<p>U hoort nu bij {{ name }}.</p>")

    subject, text, html = render_mail("greeting", {"name": "Drukkerij Het Anker B.V."}, "nl")

    assert subject == "Welkom bij Drukkerij Het Anker B.V."
    assert text == "U hoort nu bij Drukkerij Het Anker B.V.\n"
    assert html == "<p>U hoort nu bij Drukkerij Het Anker B.V.</p>"
