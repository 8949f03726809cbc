"""The SAML refusal page leads to the wizard, pre-filled with the mandate that was missing."""

from __future__ import annotations

import datetime as dt
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.requests.models import Request
from tests import factories as f
from tests.identity.test_login import person_with_password
from tests.saml import test_sso
from tests.saml.test_sso import World, authn_request, log_in, redirect_url

pytestmark = pytest.mark.django_db

#: The broker at its fixed public URL with its development key (autouse), as in the SAML login tests.
_broker = test_sso._broker


@pytest.fixture
def dv() -> World:
    """A service provider in the catalogue, registered from its metadata: Parkeervergunning at EH2 is index 1."""
    return World()


def request_links(page) -> list[str]:
    import re

    return [unescape(href) for href in re.findall(r'data-request-mandate href="([^"]+)"', page.content.decode())]


def test_an_expired_mandate_offers_to_request_it_again_prefilled(client: Client, dv: World) -> None:
    person = person_with_password(Level.EH3, name="Jan de Bakker")
    bakery = f.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="91234567")
    granted = f.mandate(person, bakery)
    type(granted).objects.filter(pk=granted.pk).update(
        valid_from=timezone.now() - dt.timedelta(days=60), valid_until=timezone.now() - dt.timedelta(days=1)
    )

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    assert page.status_code == 403
    (link,) = request_links(page)
    parts = urlsplit(link)
    assert parts.path == reverse("requests:new")
    assert parse_qs(parts.query) == {
        "kvk": ["91234567"],
        "provider": [dv.provider.oin],
        "service": [str(dv.parking.definition.uuid)],
        "level": ["EH2"],
    }
    wizard = client.get(link)
    assert wizard.status_code == 200
    assert f'name="service" value="{dv.parking.definition.uuid}"' in wizard.content.decode()

    client.post(link, {"organisation": "other", "kvk": "91234567", "kind": "mandates", **parse_qs(parts.query)})
    (mandate,) = Request.objects.get().mandates.all()
    assert (mandate.scope_kind, mandate.services, mandate.level) == (
        ScopeKind.SERVICES,
        [str(dv.parking.definition.uuid)],
        Level.EH2,
    )


def test_without_any_mandate_the_request_link_names_the_service(client: Client, dv: World) -> None:
    person = person_with_password(Level.EH3)

    page = log_in(client, client.get(redirect_url(authn_request(service_index=1))), person)

    (link,) = request_links(page)
    query = parse_qs(urlsplit(link).query)
    assert query == {"provider": [dv.provider.oin], "service": [str(dv.parking.definition.uuid)], "level": ["EH2"]}
