"""What the personal-page tests share: an English-reading visitor, and a page read as text."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils import translation


@pytest.fixture
def english(client: Client) -> Client:
    """The test client of a visitor whose browser asks for English; expected sentences are built in English too."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield client


def text(response) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, white space collapsed."""
    content = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


def squeeze(sentence: str) -> str:
    return " ".join(sentence.split())
