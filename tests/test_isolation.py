"""The isolation matrix: every URL of Sleutelbos, visited by people who may not see what the URL names.

The test walks the project's whole URL configuration (the resolver, not a list kept by hand), so a page added
tomorrow is in the matrix without anyone remembering it:

* every pattern with ids is called (GET and POST) by the mandate manager of organisation A with the ids of
  organisation B's objects: the answer is 404 or 403 (405 for a method the view does not take, as long as another
  method reaches the check), and nothing of B is in it;
* every manager page is called as well by A's manager with A in the URL but B's objects, and by an ordinary employee
  of A with A's own ids: 404 everywhere;
* the API answers 401 or 403 to a person's session (it takes supplier tokens only), and the back office (admin)
  sends a person who is not supplier staff to its login;
* links that carry a secret token are called with a made-up token: nothing of B, no error;
* a pattern without ids must be in ``NO_IDS`` with the reason it needs none; one missing from it fails the test, and
  so does an id whose name the matrix does not know (``ids_of``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.identity.factors import totp_begin
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import invitation_send, membership_ensure, membership_set_manager
from sleutelbos.requests.models import RequestKind
from sleutelbos.requests.services import MandateWish, request_create_draft
from sleutelbos.saml.models import ServiceProviderEntity
from tests import factories
from tests.requests.approval_world import JAN, extract

pytestmark = pytest.mark.django_db

#: Patterns that take no ids, and why that is safe.
NO_IDS: dict[str, str] = {
    "home": "public start page",
    "set_language": "sets the visitor's own language cookie",
    "my_overview": "the logged-in person's own means, organisations and mandates",
    "my_login_check": "the person's own organisations only; another organisation's KvK number in the query is a 404 "
    "(tests/portal/test_login_check.py)",
    "invitation_answer": "the invitation comes from the visitor's own session, opened by its secret link",
    "identity:account": "the person's own account",
    "identity:login": "public login form",
    "identity:login_factor": "the second factor of the login in the visitor's own session",
    "identity:step_up": "the person's own session",
    "identity:logout": "ends the visitor's own session",
    "identity:logout_everywhere": "ends the person's own sessions",
    "identity:activate_password": "the activation in the visitor's own session",
    "identity:totp_add": "adds a factor to the person's own account",
    "identity:totp_confirm": "confirms the person's own new factor",
    "identity:webauthn_add": "adds a security key to the person's own account",
    "identity:recovery_codes": "the person's own recovery codes",
    "identity:password_change": "the person's own password",
    "saml:idp-metadata": "public SAML metadata",
    "saml:sso": "SAML endpoint: signed AuthnRequests from registered service providers",
    "saml:sso-resume": "resumes the SAML login in the visitor's own session",
    "saml:artifact-resolution": "SOAP endpoint for registered service providers (signed requests, TLS)",
    "requests:list": "the person's own requests",
    "requests:new": "starts the person's own request",
    "requests:apply": "public: a first application (checked against the KvK register)",
    "signing:page": "the signing in the visitor's own session, opened by its secret link",
    "signing:done": "the outcome in the visitor's own session",
    "signing:pdf": "the request of the signer in the visitor's own session",
    "api:schema": "public description of the API",
    "api:docs": "public documentation of the API",
    "api:decisions": "API: supplier token only (asserted below like every API URL)",
    "api:service-provider-list": "API: supplier token only",
    "api:service-definition-list": "API: supplier token only",
    "api:service-instance-list": "API: supplier token only",
    "api:organisation-list": "API: supplier token only",
    "api:person-list": "API: supplier token only",
    "api:mandate-list": "API: supplier token only",
    "api:chain-mandate-list": "API: supplier token only",
    "api:saml-service-provider-list": "API: supplier token only",
    "api:not-found": "API: the answer to any unknown API address",
    "admin:login": "the back office's login form",
    "admin:logout": "ends the visitor's own session",
}

#: Links whose token is the secret that authorises them; called with a made-up token.
TOKEN_LINKS = {
    "identity:activate",
    "saml:continue",
    "signing:sign",
    "signing:link_pdf",
    "invitation_open",
    "requests:applicant_link",
}

#: Ids that are bearer tokens or that name a kind rather than an object.
TOKENS = {"token": "aGVsbG8tdGhpcy1pcy1ub3QtYS10b2tlbi1hdC1hbGw", "uidb64": "MQ"}

DENIED = {403, 404}
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
REGEX_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


@dataclass(frozen=True)
class Pattern:
    """One URL pattern of the project: its name (with namespace), its route text and the names of its ids."""

    name: str
    route: str
    ids: tuple[str, ...]

    def url(self, values: dict[str, object]) -> str:
        """The path of this pattern with ``values`` for its ids."""
        path = ROUTE_PARAMETER.sub(lambda match: str(values[match["name"]]), self.route)
        path = REGEX_GROUP.sub(lambda match: str(values[match["name"]]), path)
        path = path.replace("^", "").replace("$", "").replace(".*", "nothing-here")
        return "/" + path


def _ids(pattern: URLPattern | URLResolver) -> list[str]:
    regex = pattern.pattern.regex
    return list(regex.groupindex)


def walk(patterns: list, prefix: str = "", namespace: str = "", ids: tuple[str, ...] = ()) -> Iterator[Pattern]:
    """Every pattern of the URL configuration, with the route texts and ids of the resolvers around it."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        found = ids + tuple(_ids(pattern))
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, route, inner, found)
        else:
            yield Pattern(f"{namespace}{pattern.name or pattern.callback.__name__}", route, found)


PATTERNS = list(walk(get_resolver().url_patterns))


def _admin(pattern: Pattern) -> bool:
    return pattern.name.startswith("admin:")


def _api(pattern: Pattern) -> bool:
    return pattern.name.startswith("api:")


def _manager_page(pattern: Pattern) -> bool:
    return pattern.route.startswith("my/organisations/<int:organisation>/")


def _manager(organisation, name: str):
    person = factories.person(name=name, level=Level.EH3)
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=Level.EH3)
    return person


def _employee(organisation, name: str):
    person = factories.person(name=name, level=Level.EH3)
    factories.mandate(person, organisation)
    return person


def _objects(organisation, intermediary, manager, employee, prefix: str) -> dict[str, object]:
    """One of everything an organisation has that a URL can name."""
    invitation = invitation_send(
        actor=Actor.for_person(manager),
        organisation=organisation,
        email=f"{prefix.lower()}-invitee@example.nl",
        name=f"{prefix} Invitee",
    )
    request = request_create_draft(
        actor=Actor.for_person(employee),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=employee,
        extract=extract(JAN, kvk=organisation.kvk, name=organisation.name),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH3, years=3)],
    )
    return {
        "organisation": organisation,
        "mandate": factories.mandate(employee, organisation),
        "chain_mandate": factories.chain_mandate(organisation, intermediary),
        "invitation": invitation,
        "person": employee,
        "request": request,
        "totp": totp_begin(person=employee, name=f"{prefix} phone").device,
    }


@pytest.fixture
def world() -> dict[str, object]:
    """Organisations A and B with a manager, an employee and one of everything each; C, an intermediary of both."""
    a = factories.organisation(name="Aardbeienkwekerij Alfa B.V.")
    b = factories.organisation(name="Boterbloem Bravo B.V.")
    c = factories.organisation(name="Cijferaars Charlie B.V.")
    a_manager, b_manager = _manager(a, "Anna Alfa"), _manager(b, "Bert Bravo")
    a_employee, b_employee = _employee(a, "Arie Alfa"), _employee(b, "Bea Bravo")
    provider = factories.provider(name="Kadaster")
    entity = ServiceProviderEntity.objects.create(entity_id="https://dv.example/sp", provider=provider, metadata_xml="")
    return {
        "a": _objects(a, c, a_manager, a_employee, "A"),
        "b": _objects(b, c, b_manager, b_employee, "B"),
        "a_manager": a_manager,
        "a_employee": a_employee,
        "b_names": ("Boterbloem Bravo", "Bert Bravo", "Bea Bravo", "b-invitee@example.nl"),
        "provider": provider,
        "definition": factories.definition(provider),
        "entity": entity,
    }


def ids_of(pattern: Pattern, objects: dict[str, object], world: dict[str, object]) -> dict[str, object]:
    """The values for the pattern's ids, taken from ``objects`` (one organisation's); a new kind of id fails."""
    values: dict[str, object] = {}
    for name in pattern.ids:
        if name in TOKENS:
            values[name] = TOKENS[name]
        elif name in ("organisation", "mandate", "chain_mandate", "invitation", "person"):
            values[name] = objects[name].pk
        elif name == "pk" and pattern.name.startswith(("requests:", "signing:")):
            values[name] = objects["request"].pk
        elif name == "pk" and pattern.name.startswith("identity:factor"):
            values[name] = objects["totp"].pk
        elif name == "kind":
            values[name] = "totp"
        elif name == "pk" and pattern.name.startswith("api:person"):
            values[name] = objects["person"].pk
        elif name == "pk" and pattern.name.startswith("api:mandate"):
            values[name] = objects["mandate"].pk
        elif name == "pk" and pattern.name.startswith("api:chain-mandate"):
            values[name] = objects["chain_mandate"].pk
        elif name == "pk" and pattern.name.startswith("api:saml-service-provider"):
            values[name] = world["entity"].pk
        elif name == "kvk":
            values[name] = objects["organisation"].kvk
        elif name == "oin":
            values[name] = world["provider"].oin
        elif name in ("uuid", "service_id"):
            values[name] = world["definition"].uuid
        elif _admin(pattern) and name == "app_label":
            values[name] = "organisations"
        elif _admin(pattern) and name in ("object_id", "content_type_id", "id"):
            values[name] = objects["organisation"].pk
        elif _admin(pattern) and name == "decision":
            values[name] = "approve"
        elif _admin(pattern) and name == "url":
            values[name] = "nothing-here/"
        else:
            pytest.fail(f"{pattern.name} ({pattern.route}) takes an id the isolation matrix does not know: {name}")
    return values


def _client(person, *, level: Level = Level.EH4) -> Client:
    """A browser of ``person`` whose session holds ``level``, so that no step-up stands before the check."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(person)
    session = client.session
    session[sessions.AUTH_LEVEL] = int(level)
    session.save()
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _assert_denied(client: Client, pattern: Pattern, url: str, world: dict[str, object]) -> None:
    """GET and POST both refuse (403/404; 405 for a method the view does not take), and nothing of B shows."""
    assert resolve(url).url_name == pattern.name.rsplit(":", 1)[-1], f"{url} is not {pattern.name}"
    answers = {}
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        answers[method] = response.status_code
        body = _body(response)
        for name in world["b_names"]:
            assert name.encode() not in body, f"{method.upper()} {url} ({pattern.name}) shows {name}"
    assert set(answers.values()) <= DENIED | {405}, f"{pattern.name}: {url} answered {answers}"
    assert set(answers.values()) & DENIED, f"{pattern.name}: {url} answered only {answers}"


def test_every_pattern_is_in_the_matrix():
    """A pattern without ids needs a reason in NO_IDS; and NO_IDS names no pattern that is gone."""
    names = {pattern.name for pattern in PATTERNS}
    unexplained = [
        f"{pattern.name} ({pattern.route})"
        for pattern in PATTERNS
        if not pattern.ids and not _admin(pattern) and pattern.name not in NO_IDS
    ]
    assert unexplained == [], "patterns without ids, add them to NO_IDS with a reason"
    assert set(NO_IDS) - names == set(), "NO_IDS names patterns that no longer exist"
    assert any(_manager_page(pattern) for pattern in PATTERNS)


def test_a_manager_of_a_gets_nothing_of_b_anywhere(world):
    client = _client(world["a_manager"])
    checked = []
    for pattern in PATTERNS:
        if not pattern.ids or _admin(pattern) or _api(pattern) or pattern.name in TOKEN_LINKS:
            continue
        _assert_denied(client, pattern, pattern.url(ids_of(pattern, world["b"], world)), world)
        checked.append(pattern.name)
    assert "manage_mandate_revoke" in checked and "requests:detail" in checked


def test_a_manager_of_a_reaches_no_object_of_b_through_a_page_of_a(world):
    """A's own organisation in the URL, B's mandate, chain mandate, invitation or person after it."""
    client = _client(world["a_manager"])
    checked = []
    for pattern in PATTERNS:
        if not _manager_page(pattern) or pattern.ids == ("organisation",):
            continue
        values = ids_of(pattern, world["b"], world) | {"organisation": world["a"]["organisation"].pk}
        _assert_denied(client, pattern, pattern.url(values), world)
        checked.append(pattern.name)
    assert "manage_mandate_renew" in checked and "manage_chain_mandate_revoke" in checked


def test_an_employee_who_is_not_a_manager_gets_no_manager_page_of_their_own_organisation(world):
    client = _client(world["a_employee"])
    checked = []
    for pattern in PATTERNS:
        if not _manager_page(pattern):
            continue
        url = pattern.url(ids_of(pattern, world["a"], world))
        assert resolve(url).url_name == pattern.name
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in DENIED, f"{method.upper()} {url} ({pattern.name}): {response.status_code}"
        checked.append(pattern.name)
    assert {"manage_dashboard", "manage_audit_export", "manage_people"} <= set(checked)


def test_the_api_takes_no_persons_session(world):
    client = _client(world["a_manager"])
    for pattern in PATTERNS:
        if not _api(pattern) or pattern.name in ("api:schema", "api:docs"):
            continue
        url = pattern.url(ids_of(pattern, world["b"], world))
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in {401, 403, 404}, f"{method.upper()} {url}: {response.status_code}"
            for name in world["b_names"]:
                assert name.encode() not in response.content


def test_the_back_office_sends_people_who_are_not_staff_to_its_login(world):
    client = _client(world["a_manager"])
    for pattern in PATTERNS:
        if not _admin(pattern) or pattern.name in NO_IDS:
            continue
        url = pattern.url(ids_of(pattern, world["b"], world))
        response = client.get(url, follow=True)
        final = response.redirect_chain[-1][0] if response.redirect_chain else url
        assert final.startswith("/admin/login/"), f"{pattern.name}: {url} ended at {final} ({response.status_code})"
        for name in world["b_names"]:
            assert name.encode() not in response.content


def test_secret_links_with_a_made_up_token_show_nothing(world):
    client = _client(world["a_manager"])
    for name in sorted(TOKEN_LINKS):
        pattern = next(pattern for pattern in PATTERNS if pattern.name == name)
        url = pattern.url(ids_of(pattern, world["b"], world))
        response = client.get(url)
        assert response.status_code in {200, 302, 400, 404, 410}, f"{url}: {response.status_code}"
        body = _body(response)
        assert b"%PDF" not in body[:8], f"{url} gave a PDF for a made-up token"
        for who in world["b_names"]:
            assert who.encode() not in body, f"{url} shows {who}"
