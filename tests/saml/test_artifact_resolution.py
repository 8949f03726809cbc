"""The ArtifactResolutionService as a service provider uses it: SOAP 1.1 and 1.2, a signed ArtifactResolve, the
stored Response once, and nothing for anyone else."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from lxml import etree

from sleutelbos.audit.services import SYSTEM
from sleutelbos.saml import services
from sleutelbos.saml.idp import ARTIFACT_RESOLUTION_PATH, idp_entity_id
from sleutelbos.saml.models import ArtifactRecord, ServiceProviderEntity
from sleutelbos.saml.protocol import artifacts, messages, soap
from sleutelbos.saml.services import sp_register_from_metadata
from tests.saml import test_sso as sso
from tests.saml.test_sso import (
    ACS_ARTIFACT,
    DV_ENTITY_ID,
    NS,
    STRANGER_KEY,
    World,
    artifact_resolve,
    dv_metadata,
    inner_response,
    resolve,
    status_of,
)

pytestmark = pytest.mark.django_db

# The broker and the registered DV of the login tests.
_broker = sso._broker
world = sso.world


def stored_artifact(entity_id: str = DV_ENTITY_ID, *, now: dt.datetime | None = None) -> str:
    """A cancel answer waiting for the DV under a new artifact, as the login leaves it."""
    now = now or timezone.now()
    response = messages.build_status_response(
        response_id=messages.new_id(),
        in_response_to="_request",
        destination=ACS_ARTIFACT,
        issuer=idp_entity_id(),
        top="Responder",
        sub="AuthnFailed",
        message=None,
        now=now,
    )
    entity = ServiceProviderEntity.objects.get(entity_id=entity_id)
    return services.artifact_store(entity=entity, response=response, now=now)


@pytest.mark.parametrize("version", [soap.SOAP_1_1, soap.SOAP_1_2])
def test_an_artifact_resolves_once_then_empty(client: Client, world: World, version: str) -> None:
    artifact = stored_artifact()

    first = resolve(client, artifact, version=version)
    second = resolve(client, artifact, version=version)

    assert status_of(first)[0] == "Success" and status_of(inner_response(first)) == ["Responder", "AuthnFailed"]
    assert status_of(second) == ["Success"]
    assert second.find("samlp:Response", NS) is None


def test_the_answer_is_signed_soap_of_the_version_asked(client: Client, world: World) -> None:
    body = soap.wrap(artifact_resolve(stored_artifact()), soap.SOAP_1_2)

    answer = client.post(ARTIFACT_RESOLUTION_PATH, body, content_type="application/soap+xml")

    assert answer["Content-Type"].startswith("application/soap+xml")
    assert etree.fromstring(answer.content).tag == "{http://www.w3.org/2003/05/soap-envelope}Envelope"


def test_an_expired_artifact_gives_nothing(client: Client, world: World) -> None:
    artifact = stored_artifact(now=timezone.now() - services.ARTIFACT_LIFETIME - dt.timedelta(seconds=1))

    assert resolve(client, artifact).find("samlp:Response", NS) is None


def test_another_entity_cannot_resolve_an_artifact_it_was_not_given(client: Client, world: World) -> None:
    other = DV_ENTITY_ID.replace("9001", "9002")
    sp_register_from_metadata(actor=SYSTEM, data=dv_metadata(other), provider=world.provider)
    artifact = stored_artifact()

    assert resolve(client, artifact, issuer=other).find("samlp:Response", NS) is None
    # The rightful DV still gets it: the attempt did not spend it.
    assert resolve(client, artifact).find("samlp:Response", NS) is not None


def test_an_artifact_of_another_broker_gives_nothing(client: Client, world: World) -> None:
    foreign = artifacts.make_artifact("urn:etoegang:HM:00000001111111111000:entities:1", 0)

    assert resolve(client, foreign).find("samlp:Response", NS) is None


@pytest.mark.parametrize(
    ("resolve_request", "content_type"),
    [
        pytest.param(
            lambda a: soap.wrap(artifact_resolve(a, key=STRANGER_KEY), soap.SOAP_1_1), "text/xml", id="bad-signature"
        ),
        pytest.param(lambda a: soap.wrap(_unsigned(a), soap.SOAP_1_1), "text/xml", id="unsigned"),
        pytest.param(lambda a: soap.wrap(artifact_resolve(a), soap.SOAP_1_1), "application/json", id="not-soap"),
        pytest.param(lambda a: b"<not-soap/>", "text/xml", id="no-envelope"),
    ],
)
def test_a_bad_artifact_resolve_gets_a_soap_fault_and_spends_nothing(
    client: Client, world: World, resolve_request, content_type: str
) -> None:
    artifact = stored_artifact()

    answer = client.post(ARTIFACT_RESOLUTION_PATH, resolve_request(artifact), content_type=content_type)

    assert answer.status_code == 500
    assert b"Fault" in answer.content
    assert ArtifactRecord.objects.get().resolved_at is None


def test_a_replayed_artifact_resolve_is_refused(client: Client, world: World) -> None:
    body = soap.wrap(artifact_resolve(stored_artifact()), soap.SOAP_1_1)

    assert client.post(ARTIFACT_RESOLUTION_PATH, body, content_type="text/xml").status_code == 200
    assert client.post(ARTIFACT_RESOLUTION_PATH, body, content_type="text/xml").status_code == 500


def _unsigned(artifact: str) -> etree._Element:
    element = artifact_resolve(artifact)
    element.remove(element.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
    return element


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_resolves_never_both_receive_the_response(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL")
    artifact = stored_artifact()

    def attempt(_: int) -> bool:
        try:
            return services.artifact_resolve(issuer=DV_ENTITY_ID, artifact=artifact, now=timezone.now()) is not None
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))

    assert results.count(True) == 1
