"""A login with nothing to ask is answered by the SSO request itself, with little work and no session write; what
the broker keeps between requests (the DV's entity, the service asked) never outlives a change."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition
from sleutelbos.mandates.models import Mandate
from sleutelbos.saml import selectors
from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH
from sleutelbos.saml.models import ArtifactRecord
from sleutelbos.saml.protocol import soap
from sleutelbos.saml.protocol.keys import certificate_base64, generate_development_keypair
from sleutelbos.saml.services import sp_register_from_metadata
from tests import factories as f
from tests.identity.test_login import PASSWORD, person_with_password
from tests.saml.conftest import broker_at
from tests.saml.test_sso import (
    ACS_ARTIFACT,
    BASE_URL,
    DV_SIGN_KEY,
    KVK,
    World,
    artifact_of,
    artifact_resolve,
    attributes_of,
    authn_request,
    dv_metadata,
    events,
    inner_response,
    post_request,
    redirect_url,
    resolve,
    status_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _broker(settings, tmp_path: Path) -> Iterator[None]:
    """The broker at a fixed public URL, with its own development key; fast password hashes."""
    with broker_at(settings, tmp_path, BASE_URL):
        yield


@pytest.fixture
def world() -> World:
    return World()


def expire(mandate: Mandate) -> None:
    """The mandate ran out yesterday (a grant cannot be made in the past, so it is moved there)."""
    now = timezone.now()
    Mandate.objects.filter(pk=mandate.pk).update(
        valid_from=now - dt.timedelta(days=60), valid_until=now - dt.timedelta(days=1)
    )


def logged_in(client: Client, level: Level = Level.EH2):
    """A person logged in at the broker at ``level`` (the password alone gives EH2)."""
    person = person_with_password(Level.EH3)
    answer = client.post(reverse("identity:login"), {"email": person.email, "password": PASSWORD, "level": level.label})
    assert answer.status_code == 302
    return person


def test_a_logged_in_person_with_one_organisation_goes_straight_back_to_the_dv(client: Client, world: World) -> None:
    person = logged_in(client)
    company = f.organisation(name="Bakkerij De Korst B.V.")
    f.mandate(person, company)

    with CaptureQueriesContext(connection) as queries:
        answer = client.get(redirect_url(authn_request(service_index=1), relay_state="/permits/new"))

    assert urlsplit(answer["Location"]).path == urlsplit(ACS_ARTIFACT).path
    assert "RelayState=%2Fpermits%2Fnew" in answer["Location"]
    written = [query["sql"] for query in queries if query["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert not [sql for sql in written if "django_session" in sql]  # the login leaves the session as it was
    attributes = attributes_of(inner_response(resolve(client, artifact_of(answer))))
    assert attributes["urn:etoegang:core:LegalSubjectID"][0] == (KVK, company.kvk)
    assert attributes["urn:etoegang:core:ServiceID"] == [world.parking.service_id]
    [event] = events("saml:login_allowed")
    assert (event.organisation, event.data["level"]) == (company, "EH2")


def test_the_same_request_twice_is_refused_the_second_time(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())
    url = redirect_url(authn_request(service_index=1))

    assert "SAMLart=" in client.get(url)["Location"]
    assert client.get(url).status_code == 400


def test_a_replay_of_a_request_answered_at_once_stores_nothing(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())
    url = redirect_url(authn_request(service_index=1))
    client.get(url)

    replay = client.get(url)

    assert replay.status_code == 400
    assert "saml/error.html" in [template.name for template in replay.templates]
    assert ArtifactRecord.objects.count() == 1
    assert len(events("saml:login_allowed")) == 1


@pytest.mark.django_db(transaction=True)  # the real transactions, not savepoints inside the test's
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite logs its BEGIN and COMMIT as statements")
def test_the_request_id_artifact_and_audit_event_are_written_in_one_commit(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())

    with CaptureQueriesContext(connection) as queries:
        answer = client.get(redirect_url(authn_request(service_index=1)))

    assert "SAMLart=" in answer["Location"]
    statements = [query["sql"] for query in queries]
    assert [sql for sql in statements if sql.startswith("COMMIT")] == ["COMMIT"]
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    begin = next(index for index, sql in enumerate(statements) if sql.startswith("BEGIN"))
    written = [sql.split()[2] for sql in statements[begin:] if sql.startswith("INSERT")]
    assert written == ['"saml_seenmessageid"', '"saml_artifactrecord"', '"audit_auditevent"']


def test_a_person_with_two_organisations_still_chooses(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())
    f.mandate(person, f.organisation())

    answer = client.get(redirect_url(authn_request(service_index=1)))

    assert answer["Location"].startswith("/saml/idp/continue/")
    assert 'type="radio"' in client.get(answer["Location"]).content.decode()


def test_an_accountant_with_a_client_still_chooses(client: Client, world: World) -> None:
    person = logged_in(client)
    accountant = f.organisation()
    f.mandate(person, accountant)
    f.chain_mandate(f.organisation(), accountant)

    assert client.get(redirect_url(authn_request(service_index=1)))["Location"].startswith("/saml/idp/continue/")


def test_someone_whose_mandate_does_not_cover_the_service_reads_why(client: Client, world: World) -> None:
    person = logged_in(client)
    expire(f.mandate(person, f.organisation()))

    answer = client.get(redirect_url(authn_request(service_index=1)))

    assert answer["Location"].startswith("/saml/idp/continue/")
    assert client.get(answer["Location"]).status_code == 403


def test_a_request_by_post_of_a_logged_in_person_is_answered_after_the_resume(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())

    resumed = client.get(post_request(client, authn_request(service_index=1), relay_state="abc")["Location"])

    assert "SAMLart=" in resumed["Location"] and "RelayState=abc" in resumed["Location"]
    assert status_of(inner_response(resolve(client, artifact_of(resumed)))) == ["Success"]


@pytest.mark.parametrize("setup", ["one", "restricted", "branches", "two", "chain", "expired", "none"])
def test_the_single_option_is_the_one_the_choice_page_would_offer(world: World, setup: str) -> None:
    """The quick decision for a person with one plain way to log in agrees with the full list of options."""
    person = f.person()
    company = f.organisation()
    waste = world.waste  # accepts a branch restriction
    if setup == "one":
        f.mandate(person, company)
    elif setup == "restricted":
        f.mandate(person, company, branch_=f.branch(company))
    elif setup == "branches":
        f.branch(company)
        f.mandate(person, company)
    elif setup == "two":
        f.mandate(person, company)
        f.mandate(person, f.organisation())
    elif setup == "chain":
        f.mandate(person, company)
        f.chain_mandate(f.organisation(), company)
    elif setup == "expired":
        expire(f.mandate(person, company))

    quick = selectors.single_option_for_service(person, waste, Level.EH3)
    listed = selectors.options_for_service(person, waste, Level.EH3)

    if setup in ("one", "restricted"):
        assert quick is not None and listed == [quick]
        assert quick.decision is not None and quick.decision.allowed
        assert quick.branch == (listed[0].branch if setup == "restricted" else None)
    else:
        assert quick is None
        assert len(listed) != 1


def test_the_artifact_resolution_reads_no_session_whatever_cookies_come_along(client: Client, world: World) -> None:
    person = logged_in(client)  # the client holds the person's session cookie, and sends it along
    f.mandate(person, f.organisation())
    answer = client.get(redirect_url(authn_request(service_index=1)))
    body = soap.wrap(artifact_resolve(artifact_of(answer)), soap.SOAP_1_1)

    with CaptureQueriesContext(connection) as queries:
        resolved = client.post(ARTIFACT_RESOLUTION_PATH, body, content_type=soap.CONTENT_TYPES[soap.SOAP_1_1])

    assert resolved.status_code == 200 and b"Assertion" in resolved.content
    tables = " ".join(query["sql"] for query in queries)
    assert "django_session" not in tables and "identity_person" not in tables
    assert "Set-Cookie" not in resolved.headers and "sessionid" not in resolved.cookies


def test_a_withdrawn_signing_certificate_is_refused_at_once(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())
    assert "SAMLart=" in client.get(redirect_url(authn_request(service_index=1)))["Location"]  # the DV is known now
    new_key, new_cert = generate_development_keypair("dv-signing-2.example")
    metadata = re.sub(
        rb"<ds:X509Certificate>.*?</ds:X509Certificate>",
        lambda _m: b"<ds:X509Certificate>" + certificate_base64(new_cert).encode() + b"</ds:X509Certificate>",
        dv_metadata(),
        count=2,
        flags=re.S,
    )
    sp_register_from_metadata(actor=SYSTEM, data=metadata, provider=world.provider)

    assert client.get(redirect_url(authn_request(service_index=1), key=DV_SIGN_KEY)).status_code == 400
    assert "SAMLart=" in client.get(redirect_url(authn_request(service_index=1), key=new_key))["Location"]


def test_a_removed_dv_is_refused_at_once(client: Client, world: World) -> None:
    person = logged_in(client)
    f.mandate(person, f.organisation())
    assert "SAMLart=" in client.get(redirect_url(authn_request(service_index=1)))["Location"]

    world.entity.delete()

    assert client.get(redirect_url(authn_request(service_index=1))).status_code == 400


def test_a_service_raised_to_a_higher_level_asks_for_it_at_once(client: Client, world: World) -> None:
    person = logged_in(client, Level.EH2)
    f.mandate(person, f.organisation())
    assert "SAMLart=" in client.get(redirect_url(authn_request(service_index=1)))["Location"]  # EH2 suffices

    ServiceDefinition.objects.filter(pk=world.parking.definition_id).update(level=Level.EH3)
    answer = client.get(redirect_url(authn_request(service_index=1)))

    assert answer["Location"].startswith("/saml/idp/continue/")
    assert client.get(answer["Location"])["Location"].startswith(reverse("identity:step_up"))
