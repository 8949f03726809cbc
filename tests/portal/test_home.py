"""The public front page, the base layout and the error pages, through Django's test client."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.utils import translation
from django.utils.translation import gettext
from django.views.defaults import server_error

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.services import service_definition_create, service_provider_create
from sleutelbos.security import POLICY
from tests import factories

pytestmark = pytest.mark.django_db


class PageParser(HTMLParser):
    """Collects what the tests look at: the html lang, scripts, styles, forms, inline styles and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.html_lang: str | None = None
        self.scripts: list[dict[str, str | None]] = []
        self.style_elements = 0
        self.inline_style_attributes: list[str] = []
        self.event_handlers: list[str] = []
        self.stylesheets: list[str] = []
        self.forms: list[dict[str, str | None]] = []
        self.inputs: list[dict[str, str | None]] = []
        self.main_count = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        elif tag == "script":
            self.scripts.append(attributes)
        elif tag == "style":
            self.style_elements += 1
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")
        elif tag == "form":
            self.forms.append(attributes)
        elif tag in {"input", "button"}:
            self.inputs.append(attributes)
        elif tag == "main":
            self.main_count += 1
        if "style" in attributes:
            self.inline_style_attributes.append(tag)
        self.event_handlers += [f"{tag}[{name}]" for name in attributes if name.startswith("on")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def visible_text(self) -> str:
        return " ".join(" ".join(self.text).split())


def parse(content: bytes) -> PageParser:
    parser = PageParser()
    parser.feed(content.decode())
    return parser


@pytest.fixture
def catalogue() -> dict[str, object]:
    """Two providers with services at different levels, and one provider without services."""
    tax = service_provider_create(
        actor=SYSTEM, oin="00000001003214345000", name_nl="Belastingdienst", name_en="Tax and Customs Administration"
    )
    land = service_provider_create(
        actor=SYSTEM, oin="00000001800866472000", name_nl="Kadaster", name_en="Land Registry"
    )
    empty = service_provider_create(actor=SYSTEM, oin="00000001234567890000", name_nl="Gemeente Voorbeeld")
    return {
        "tax": tax,
        "land": land,
        "empty": empty,
        "vat": service_definition_create(
            actor=SYSTEM, provider=tax, name_nl="Btw-aangifte", name_en="VAT return", level=Level.EH3
        ),
        "payroll": service_definition_create(
            actor=SYSTEM, provider=tax, name_nl="Loonaangifte", name_en="Payroll tax return", level=Level.EH2_PLUS
        ),
        "deeds": service_definition_create(
            actor=SYSTEM, provider=land, name_nl="Akten inzien", name_en="View deeds", level=Level.EH4
        ),
    }


def figure(content: bytes, name: str) -> int:
    """The number shown in one of the catalogue figures on the front page."""
    match = re.search(
        rf'data-figure="{name}">\s*<span class="figures__number">(\d+)</span>', content.decode(), flags=re.S
    )
    assert match, f"figure {name} not on the page"
    return int(match.group(1))


def test_front_page_is_dutch_by_default(client: Client) -> None:
    response = client.get("/")

    assert response.status_code == 200
    page = parse(response.content)
    assert page.html_lang == "nl"
    assert response.headers["Content-Language"] == "nl"
    assert page.main_count == 1
    assert "Sleutelbos" in page.visible_text


def test_front_page_is_english_for_a_browser_that_asks_for_english(client: Client, catalogue: dict) -> None:
    response = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})

    page = parse(response.content)
    assert page.html_lang == "en"
    assert response.headers["Content-Language"] == "en"
    assert "Tax and Customs Administration" in page.visible_text
    assert "VAT return" in page.visible_text
    assert "Belastingdienst" not in page.visible_text


def test_language_switch_posts_with_csrf_and_turns_the_site_english(catalogue: dict) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = parse(browser.get("/").content)
    (form,) = [form for form in page.forms if form.get("action") == "/i18n/setlang/"]
    assert form.get("method") == "post"
    token = next(field["value"] for field in page.inputs if field.get("name") == "csrfmiddlewaretoken")
    languages = {field.get("value") for field in page.inputs if field.get("name") == "language"}
    assert languages == {"nl", "en"}

    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"

    english = browser.get("/")
    assert parse(english.content).html_lang == "en"
    assert "Land Registry" in parse(english.content).visible_text


def test_language_switch_without_csrf_token_is_refused() -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")

    response = browser.post("/i18n/setlang/", {"language": "en", "next": "/"})

    assert response.status_code == 403
    assert parse(browser.get("/").content).html_lang == "nl"


def test_front_page_lists_the_catalogue_from_the_database(client: Client, catalogue: dict) -> None:
    response = client.get("/")

    text = parse(response.content).visible_text
    assert figure(response.content, "providers") == 3
    assert figure(response.content, "services") == 3
    for name in ("Belastingdienst", "Kadaster", "Gemeente Voorbeeld", "Btw-aangifte", "Loonaangifte", "Akten inzien"):
        assert name in text
    # Each service is shown with the level it requires.
    html = " ".join(response.content.decode().split())
    assert "<td>Btw-aangifte</td> <td>EH3</td>" in html
    assert "<td>Loonaangifte</td> <td>EH2+</td>" in html
    assert "<td>Akten inzien</td> <td>EH4</td>" in html
    assert gettext("This service provider has no services in the catalogue yet.") in text


def test_front_page_figures_follow_the_catalogue(client: Client, catalogue: dict) -> None:
    factories.definition(catalogue["empty"], name="Parkeervergunning", level=Level.EH2)

    response = client.get("/")

    assert figure(response.content, "providers") == 3
    assert figure(response.content, "services") == 4
    assert "Parkeervergunning" in parse(response.content).visible_text


def test_front_page_with_an_empty_catalogue(client: Client) -> None:
    response = client.get("/")

    assert figure(response.content, "providers") == 0
    assert figure(response.content, "services") == 0
    assert gettext("No service providers are registered yet.") in parse(response.content).visible_text


def test_front_page_explains_means_levels_and_mandates(client: Client) -> None:
    text = parse(client.get("/").content).visible_text

    for level in Level:
        assert level.label in text
    for scope in (
        gettext("All services of all service providers"),
        gettext("All services of chosen service providers"),
        gettext("Specific services"),
    ):
        assert scope in text


def test_front_page_links_to_the_api_documentation(client: Client) -> None:
    assert 'href="/api/v1/docs/"' in client.get("/").content.decode()


def test_front_page_sends_the_content_security_policy(client: Client) -> None:
    policy = client.get("/").headers["Content-Security-Policy"]

    assert policy == POLICY
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/", "/bestaat-niet/"])
def test_pages_have_no_inline_script_or_style(client: Client, catalogue: dict, path: str) -> None:
    page = parse(client.get(path).content)

    assert all(script.get("src") for script in page.scripts), "inline <script> would be blocked by the CSP"
    assert page.style_elements == 0
    assert page.inline_style_attributes == []
    assert page.event_handlers == []


def test_stylesheet_is_served_from_our_own_origin(client: Client) -> None:
    page = parse(client.get("/").content)

    assert page.stylesheets == ["/static/css/sleutelbos.css", "/static/css/identity.css", "/static/css/portal.css"]
    for stylesheet in page.stylesheets:
        assert finders.find(stylesheet.removeprefix("/static/")), f"{stylesheet} is not found by staticfiles"


def test_unknown_page_is_our_dutch_404(client: Client) -> None:
    response = client.get("/bestaat-niet/")

    assert response.status_code == 404
    page = parse(response.content)
    assert page.html_lang == "nl"
    assert gettext("Page not found") in page.visible_text
    assert page.main_count == 1
    assert response.headers["Content-Security-Policy"] == POLICY


def test_unknown_page_in_english(client: Client) -> None:
    response = client.get("/does-not-exist/", headers={"Accept-Language": "en"})

    assert response.status_code == 404
    assert parse(response.content).html_lang == "en"
    assert "Page not found" in parse(response.content).visible_text


def test_server_error_page_renders_without_a_request_context() -> None:
    # Django renders 500.html without context processors; the page must still work, in the active language.
    with translation.override("nl"):
        response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    page = parse(response.content)
    assert page.html_lang == "nl"
    assert gettext("Something went wrong") in page.visible_text
    assert page.forms == []
    assert page.main_count == 1
