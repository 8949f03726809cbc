"""A mandate manager grants, renews, revokes and re-activates mandates, and revokes chain mandates, of their
organisation only, within their manager level."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from sleutelbos.requests.models import Request, RequestKind
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db


def manager_of(organisation, level: Level = Level.EH3):
    person = factories.person(level=level, name="Mirjam Beheer")
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=level)
    return person


def member_of(organisation, *, level: Level | None = Level.EH3, name: str = "Joost Medewerker"):
    person = factories.person(level=level, name=name)
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    return person


def logged_in(person, level: Level | None = None) -> Client:
    """An English-reading browser session of ``person``, stepped up to ``level`` (their means' level)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(person)
    session = client.session
    session[sessions.AUTH_LEVEL] = int(level or sessions.means_level(person))
    session.save()
    return client


def url(name: str, organisation, **kwargs) -> str:
    return reverse(name, kwargs={"organisation": organisation.pk, **kwargs})


@pytest.fixture
def bakery():
    return factories.organisation(name="Bakkerij Brood B.V.")


def test_the_list_says_what_each_mandate_is_for_and_offers_what_can_be_done(bakery):
    manager = manager_of(bakery)
    joost = member_of(bakery)
    kadaster = factories.provider(name="Kadaster")
    current = factories.mandate(joost, bakery, scope=Scope.of_providers(kadaster))
    expiring = factories.mandate(joost, bakery, valid_until=timezone.now() + dt.timedelta(days=20))
    expired = factories.mandate(
        joost, bakery, valid_from=timezone.now() - dt.timedelta(days=400), valid_until=timezone.now() + dt.timedelta(1)
    )
    Mandate.objects.filter(pk=expired.pk).update(valid_until=timezone.now() - dt.timedelta(days=2))

    page = logged_in(manager).get(url("manage_mandates", bakery))

    assert page.status_code == 200
    words = text(page)
    assert "All services of Kadaster at level EH3, including new services" in words
    assert "1 mandate expires within 60 days" in words
    html = page.content.decode()
    assert url("manage_mandate_renew", bakery, mandate=current.pk) in html
    assert url("manage_mandate_revoke", bakery, mandate=expiring.pk) in html
    assert url("manage_mandate_reactivate", bakery, mandate=expired.pk) in html
    assert url("manage_mandate_renew", bakery, mandate=expired.pk) not in html


def test_a_manager_grants_a_mandate_within_their_level(bakery):
    manager = manager_of(bakery, Level.EH3)
    joost = member_of(bakery, level=Level.EH3)
    kadaster = factories.provider(name="Kadaster")
    client = logged_in(manager)

    form = client.get(url("manage_mandate_grant", bakery))
    assert form.status_code == 200
    assert "Joost Medewerker" in text(form)
    assert 'value="40"' not in form.content.decode()  # EH4 is above the manager's level: not offered

    done = client.post(
        url("manage_mandate_grant", bakery),
        {"holder": joost.pk, "scope": "providers", "providers": [kadaster.oin], "level": 30, "years": 3},
    )

    assert done.status_code == 302 and done["Location"] == url("manage_mandates", bakery)
    mandate = Mandate.objects.get(holder=joost, organisation=bakery)
    assert mandate.scope_kind == ScopeKind.PROVIDERS and list(mandate.providers.all()) == [kadaster]
    assert mandate.granted_by == f"person:{manager.pk}"
    assert dt.timedelta(days=3 * 365 - 1) < mandate.valid_until - timezone.now() <= dt.timedelta(days=3 * 366)
    assert "Joost Medewerker has the mandate now." in text(client.get(url("manage_mandates", bakery)))


def test_a_grant_above_the_holders_means_is_refused_at_the_level_field(bakery):
    manager = manager_of(bakery, Level.EH3)
    joost = member_of(bakery, level=Level.EH2)

    page = logged_in(manager).post(
        url("manage_mandate_grant", bakery), {"holder": joost.pk, "scope": "all", "level": 30, "years": 1}
    )

    assert page.status_code == 400
    assert "A mandate cannot exceed the level of the holder's means (EH2)." in text(page)
    assert 'href="#id_level"' in page.content.decode()
    assert not Mandate.objects.filter(holder=joost).exists()


def test_a_level_above_the_manager_level_is_refused(bakery):
    manager = manager_of(bakery, Level.EH2_PLUS)
    joost = member_of(bakery, level=Level.EH3)

    page = logged_in(manager).post(
        url("manage_mandate_grant", bakery), {"holder": joost.pk, "scope": "all", "level": 30, "years": 1}
    )

    assert page.status_code == 400
    assert "Choose a level up to EH2+, the level up to which you manage mandates." in text(page)
    assert not Mandate.objects.filter(holder=joost).exists()


def test_a_person_of_another_organisation_cannot_be_chosen(bakery):
    manager = manager_of(bakery)
    stranger = member_of(factories.organisation(), name="Vreemde Snoeper")

    page = logged_in(manager).post(
        url("manage_mandate_grant", bakery), {"holder": stranger.pk, "scope": "all", "level": 30, "years": 1}
    )

    assert page.status_code == 400
    assert "Choose one of the people of this organisation." in text(page)
    assert not Mandate.objects.filter(holder=stranger).exists()


def test_writing_pages_ask_a_step_up_to_the_manager_level(bakery):
    manager = manager_of(bakery, Level.EH3)
    mandate = factories.mandate(member_of(bakery), bakery)
    client = logged_in(manager, level=Level.EH2)

    for name, kwargs in [("manage_mandate_grant", {}), ("manage_mandate_revoke", {"mandate": mandate.pk})]:
        page = client.get(url(name, bakery, **kwargs))
        assert page.status_code == 302 and page["Location"].startswith(reverse("identity:step_up"))
    refused = client.post(url("manage_mandate_revoke", bakery, mandate=mandate.pk))
    assert refused.status_code == 302
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None


def test_revoking_asks_for_confirmation_then_ends_the_mandate_at_once(bakery):
    manager = manager_of(bakery)
    mandate = factories.mandate(member_of(bakery), bakery)
    client = logged_in(manager)

    confirm = client.get(url("manage_mandate_revoke", bakery, mandate=mandate.pk))
    assert "Revoke the mandate of Joost Medewerker?" in text(confirm)
    assert "This cannot be undone." in text(confirm)
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None

    done = client.post(url("manage_mandate_revoke", bakery, mandate=mandate.pk), {"reason": "left the company"})

    assert done.status_code == 302
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="mandate:revoked", subject_id=str(mandate.pk))
    assert event.actor == f"person:{manager.pk}" and event.data["reason"] == "left the company"
    listed = client.get(url("manage_mandates", bakery))
    assert "None: revocation is final" in text(listed)


def test_a_manager_cannot_revoke_a_mandate_above_their_level(bakery):
    manager = manager_of(bakery, Level.EH2_PLUS)
    mandate = factories.mandate(member_of(bakery, level=Level.EH3), bakery, level=Level.EH3)
    client = logged_in(manager)

    assert "Above your level EH2+" in text(client.get(url("manage_mandates", bakery)))
    page = client.post(url("manage_mandate_revoke", bakery, mandate=mandate.pk))

    assert page.status_code == 400
    assert "cannot revoke a mandate at EH3" in text(page)
    assert Mandate.objects.get(pk=mandate.pk).revoked_at is None


def test_renewing_moves_the_end_to_the_chosen_years_from_today(bakery):
    manager = manager_of(bakery)
    mandate = factories.mandate(member_of(bakery), bakery, valid_until=timezone.now() + dt.timedelta(days=10))
    client = logged_in(manager)

    assert "Renew the mandate of Joost Medewerker" in text(
        client.get(url("manage_mandate_renew", bakery, mandate=mandate.pk))
    )
    done = client.post(url("manage_mandate_renew", bakery, mandate=mandate.pk), {"years": 5})

    assert done.status_code == 302
    renewed = Mandate.objects.get(pk=mandate.pk)
    assert renewed.valid_from == mandate.valid_from
    assert renewed.valid_until > timezone.now() + dt.timedelta(days=5 * 365 - 1)
    event = AuditEvent.objects.get(action="mandate:renewed", subject_id=str(mandate.pk))
    assert event.data["years"] == 5
    # One sentence, with its end date in words and a single full stop.
    message = text(client.get(done["Location"]))
    assert re.search(r"The mandate of Joost Medewerker is renewed: valid until \d{1,2} \w+ \d{4}\.(?!\.)", message)


def test_renewing_never_shortens_a_mandate(bakery):
    manager = manager_of(bakery)
    mandate = factories.mandate(member_of(bakery), bakery, valid_until=factories.years_from_now(4))

    page = logged_in(manager).post(url("manage_mandate_renew", bakery, mandate=mandate.pk), {"years": 1})

    assert page.status_code == 400
    assert "renewing it for 1 year would not extend it" in text(page)
    assert Mandate.objects.get(pk=mandate.pk).valid_until == mandate.valid_until


def test_an_expired_mandate_is_reactivated_once_as_the_same_mandate_from_today(bakery):
    manager = manager_of(bakery)
    branch = factories.branch(bakery)
    joost = member_of(bakery)
    service = factories.definition(name="Kadastrale kaart", level=Level.EH2, branch_restriction_allowed=True)
    old = factories.mandate(
        joost,
        bakery,
        scope=Scope.of_services(service.uuid),
        level=Level.EH2,
        branch_=branch,
        valid_from=timezone.now() - dt.timedelta(days=400),
        valid_until=timezone.now() + dt.timedelta(days=1),
    )
    ended = timezone.now() - dt.timedelta(days=3)
    Mandate.objects.filter(pk=old.pk).update(valid_until=ended)
    client = logged_in(manager)

    done = client.post(url("manage_mandate_reactivate", bakery, mandate=old.pk), {"years": 1})

    assert done.status_code == 302
    new = Mandate.objects.get(previous=old)
    assert (new.holder, new.organisation, new.level, new.branch) == (joost, bakery, Level.EH2, branch)
    assert list(new.service_links.values_list("service_uuid", flat=True)) == [service.uuid]
    assert new.valid_from <= timezone.now() < new.valid_until
    assert Mandate.objects.get(pk=old.pk).valid_until == ended  # the gap stays a gap
    page = client.get(url("manage_mandates", bakery))
    assert "Re-activated" in text(page)
    assert url("manage_mandate_reactivate", bakery, mandate=old.pk) not in page.content.decode()
    again = client.post(url("manage_mandate_reactivate", bakery, mandate=old.pk), {"years": 1})
    assert again.status_code == 400 and "This mandate was already re-activated." in text(again)
    assert Mandate.objects.filter(holder=joost).count() == 2


def test_another_organisations_mandate_is_not_found(bakery):
    manager = manager_of(bakery)
    other = factories.organisation()
    theirs = factories.mandate(member_of(other), other)
    client = logged_in(manager)

    for name in ("manage_mandate_renew", "manage_mandate_revoke", "manage_mandate_reactivate"):
        assert client.get(url(name, bakery, mandate=theirs.pk)).status_code == 404
        assert client.post(url(name, bakery, mandate=theirs.pk), {"years": 1}).status_code == 404
    assert Mandate.objects.get(pk=theirs.pk).revoked_at is None


def test_an_outgoing_chain_mandate_is_revoked_after_confirmation_an_incoming_one_not(bakery):
    manager = manager_of(bakery)
    accountants = factories.organisation(name="Van Dijk & Partners")
    supplier = factories.organisation(name="Meelhandel Noord")
    outgoing = factories.chain_mandate(bakery, accountants)
    incoming = factories.chain_mandate(supplier, bakery)
    client = logged_in(manager)

    page = client.get(url("manage_chain_mandates", bakery))
    html = page.content.decode()
    assert url("manage_chain_mandate_revoke", bakery, chain_mandate=outgoing.pk) in html
    assert url("manage_chain_mandate_revoke", bakery, chain_mandate=incoming.pk) not in html
    assert "Meelhandel Noord" in text(page)

    confirm = client.get(url("manage_chain_mandate_revoke", bakery, chain_mandate=outgoing.pk))
    assert "Revoke the chain mandate of Van Dijk & Partners?" in text(confirm)
    done = client.post(url("manage_chain_mandate_revoke", bakery, chain_mandate=outgoing.pk), {"reason": ""})
    assert done.status_code == 302
    assert ChainMandate.objects.get(pk=outgoing.pk).revoked_at is not None
    assert client.post(url("manage_chain_mandate_revoke", bakery, chain_mandate=incoming.pk)).status_code == 404
    assert ChainMandate.objects.get(pk=incoming.pk).revoked_at is None


def test_a_chain_mandate_is_requested_through_the_request_wizard():
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="91234567")  # in the file register
    manager = manager_of(bakery)
    client = logged_in(manager)

    assert client.get(url("manage_chain_mandate_request", bakery)).status_code == 405
    page = client.post(url("manage_chain_mandate_request", bakery))

    draft = Request.objects.get(applicant=manager)
    assert draft.kind == RequestKind.CHAIN_MANDATE and draft.kvk == bakery.kvk
    assert page.status_code == 302 and page["Location"] == reverse("requests:mandates", args=[draft.pk])


def test_an_organisation_the_kvk_register_does_not_know_gets_a_reason_and_no_request(bakery):
    manager = manager_of(bakery)
    client = logged_in(manager)

    page = client.post(url("manage_chain_mandate_request", bakery), follow=True)

    assert page.redirect_chain[-1][0] == url("manage_chain_mandates", bakery)
    assert f"The KvK register has no organisation with number {bakery.kvk}." in text(page)
    assert not Request.objects.filter(applicant=manager).exists()
