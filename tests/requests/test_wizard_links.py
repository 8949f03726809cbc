"""The request wizard started from a link (the mail that a mandate expires, a refusal page), and the branch
restriction only for services that accept one. The KvK register is the demo file register, as in test_wizard."""

from __future__ import annotations

import re
import uuid
from html import unescape
from urllib.parse import urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.mandates.expiry import request_renewal_url
from sleutelbos.mandates.models import Mandate, ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from sleutelbos.requests.models import Request
from tests import factories as f
from tests.requests.test_wizard import BAKERY, JAN_BORN, add_mandate, english, person, start, submit, text

pytestmark = pytest.mark.django_db

CENTRE = "000045678901"  # branches of the bakery in the demo KvK register
NORTH = "000045678902"
NOT_ACCEPTED = "does not accept a branch restriction: leave the branch empty, or leave this service out of the mandate."


@pytest.fixture
def jan(client: Client):
    jan = person("Jan de Bakker", born=JAN_BORN)
    english(client).force_login(jan)
    return jan


@pytest.fixture
def bakery():
    return f.organisation(name="Bakkerij De Gouden Korst B.V.", kvk=BAKERY)


def follow(client: Client, link: str):
    """Open the link, then look up the organisation as the page offers it (with what the page carries along)."""
    url = urlsplit(link)
    page = client.get(f"{url.path}?{url.query}")
    assert page.status_code == 200, text(page)
    carried = [
        (name, unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.content.decode())
        if name != "csrfmiddlewaretoken"
    ]
    data: dict[str, list[str]] = {"organisation": ["other"], "kvk": [BAKERY], "kind": ["mandates"]}
    for name, value in carried:
        data.setdefault(name, []).append(value)
    return client.post(reverse("requests:new"), data, follow=True)


def link(**query: object) -> str:
    return f"{reverse('requests:new')}?{urlencode({'kvk': BAKERY, **query}, doseq=True)}"


# --------------------------------------------------------------------------------------------------------------------
# The renewal link asks for the whole mandate


def test_the_renewal_link_asks_for_exactly_the_expiring_services_level_and_branch(client, jan, bakery):
    kadaster = f.provider(name="Kadaster")
    services = [
        f.definition(kadaster, name="Mijn Kadaster", branch_restriction_allowed=True),
        f.definition(kadaster, name="Kadastrale kaart inzien", branch_restriction_allowed=True),
    ]
    f.definition(kadaster, name="Akten inzien", branch_restriction_allowed=True)  # not in the mandate
    expiring = f.mandate(
        jan,
        bakery,
        scope=Scope.of_services(*(s.uuid for s in services)),
        level=Level.EH2_PLUS,
        branch_=f.branch(bakery, number=NORTH),
    )

    response = follow(client, request_renewal_url(expiring))

    assert response.status_code == 200
    (asked,) = Request.objects.get().mandates.all()
    assert (asked.scope_kind, sorted(asked.services), asked.level, asked.branch_number) == (
        ScopeKind.SERVICES,
        sorted(str(s.uuid) for s in services),
        Level.EH2_PLUS,
        NORTH,
    )
    step2 = text(client.get(reverse("requests:mandates", args=[asked.request_id])))
    assert "Mijn Kadaster" in step2 and "Kadastrale kaart inzien" in step2 and "Akten inzien" not in step2


def test_the_renewal_link_asks_for_all_providers_of_the_mandate(client, jan, bakery):
    providers = [f.provider(name="Kadaster"), f.provider(name="Belastingdienst")]
    f.provider(name="RVO")
    expiring = f.mandate(jan, bakery, scope=Scope.of_providers(*providers), level=Level.EH3)

    follow(client, request_renewal_url(expiring))

    (asked,) = Request.objects.get().mandates.all()
    assert (asked.scope_kind, sorted(asked.providers), asked.level, asked.branch_number) == (
        ScopeKind.PROVIDERS,
        sorted(p.oin for p in providers),
        Level.EH3,
        "",
    )


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        (
            {"scope": "providers", "providers": ["KNOWN", "00000000000000000999"]},
            "00000000000000000999 is not a service provider in the catalogue.",
        ),
        (
            {"scope": "services", "services": [str(uuid.UUID(int=7))]},
            f"{uuid.UUID(int=7)} is not a service in the catalogue.",
        ),
        ({"scope": "services", "services": ["not-a-uuid"]}, "not-a-uuid is not a service in the catalogue."),
        ({"scope": "everything"}, "Choose which services the mandate is for: one of the three kinds."),
        ({"scope": "all", "branch_number": "000099999999"}, "Choose one of the organisation's branches"),
        ({"scope": "all", "level": "EH9"}, "“EH9” is not a level of assurance"),
    ],
)
def test_a_link_that_cannot_be_asked_for_as_it_is_adds_nothing_and_says_why(client, jan, query, problem):
    known = f.provider(name="Kadaster")
    query = {"level": "EH3", **query}
    if "providers" in query:
        query["providers"] = [known.oin if oin == "KNOWN" else oin for oin in query["providers"]]

    page = text(follow(client, link(**query)))

    assert "The mandate in the link cannot be requested as it is:" in page
    assert problem in page
    assert "Choose the mandates yourself." in page
    assert not Request.objects.get().mandates.exists()  # never less than the link asks for


def test_a_level_above_the_means_is_kept_named_and_refused_on_submission(client, bakery):
    english(client).force_login(person("Jan de Bakker", born=JAN_BORN, level=Level.EH2_PLUS))

    page = text(follow(client, link(scope="all", level="EH3")))

    problem = "Your means has level EH2+, lower than EH3: change the level, or have your means upgraded first."
    assert problem in page
    obj = Request.objects.get()
    assert obj.mandates.get().level == Level.EH3
    refused = submit(client, obj)
    assert refused.status_code == 400
    assert "You cannot request EH3: your means has level EH2+. Upgrade your means first." in text(refused)


def test_a_single_service_from_a_refusal_page_is_still_asked_for(client, jan):
    service = f.definition(f.provider(name="Kadaster"), name="Mijn Kadaster", level=Level.EH2)

    follow(client, link(service=str(service.uuid), provider=service.provider.oin, level="EH2"))

    asked = Request.objects.get().mandates.get()
    assert (asked.scope_kind, asked.services, asked.level) == (ScopeKind.SERVICES, [str(service.uuid)], Level.EH2)


# --------------------------------------------------------------------------------------------------------------------
# A branch restriction only for services that accept one


def test_a_branch_is_refused_for_chosen_services_that_do_not_accept_one(client, jan):
    tax = f.provider(name="Belastingdienst")
    vat = f.definition(tax, name="Aangifte omzetbelasting")
    payroll = f.definition(tax, name="Aangifte loonheffingen")
    permits = f.definition(
        f.provider(name="Gemeente Sleutelstad"), name="Vergunningen", branch_restriction_allowed=True
    )
    obj = start(client)
    url = reverse("requests:mandates", args=[obj.pk])
    chosen = {"action": "save", "scope": "services", "level": int(Level.EH3), "years": 1, "branch_number": CENTRE}

    one = client.post(url, {**chosen, "services": [str(vat.uuid), str(permits.uuid)]})
    two = client.post(url, {**chosen, "services": [str(vat.uuid), str(payroll.uuid)]})

    assert one.status_code == 400
    assert f"Aangifte omzetbelasting of Belastingdienst {NOT_ACCEPTED}" in text(one)
    assert (
        "Aangifte loonheffingen of Belastingdienst and Aangifte omzetbelasting of Belastingdienst do not accept a "
        "branch restriction: leave the branch empty, or leave these services out of the mandate."
    ) in text(two)
    assert not obj.mandates.exists()
    # Without the branch, or with only services that accept one, the mandate is added.
    add_mandate(client, obj, scope="services", services=[str(vat.uuid)], branch_number="")
    add_mandate(client, obj, scope="services", services=[str(permits.uuid)], branch_number=CENTRE)
    assert [m.branch_number for m in obj.mandates.all()] == ["", CENTRE]


def test_a_manager_cannot_grant_a_branch_for_a_service_that_does_not_accept_one(bakery):
    manager = person("Mirjam Beheer", born=None)
    membership_ensure(actor=SYSTEM, person=manager, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=manager, organisation=bakery, level=Level.EH3)
    centre = f.branch(bakery, number=CENTRE)
    vat = f.definition(f.provider(name="Belastingdienst"), name="Aangifte omzetbelasting")
    client = english(Client())
    client.force_login(manager)
    session = client.session
    session[sessions.AUTH_LEVEL] = int(Level.EH3)  # stepped up to the manager's level
    session.save()
    grant = reverse("manage_mandate_grant", kwargs={"organisation": bakery.pk})

    refused = client.post(
        grant,
        {
            "holder": manager.pk,
            "scope": "services",
            "services": [str(vat.uuid)],
            "level": int(Level.EH3),
            "years": 1,
            "branch_number": centre.number,
        },
    )

    assert refused.status_code == 400
    assert f"Aangifte omzetbelasting of Belastingdienst {NOT_ACCEPTED}" in text(refused)
    assert not Mandate.objects.exists()
