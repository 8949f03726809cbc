"""``sleutelbos saml cleanup``: message IDs go after 12 months, artifacts a day after they expired or were resolved;
the replay protection and artifacts still waiting are untouched."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from sleutelbos.audit.models import AuditEvent
from sleutelbos.saml.models import ArtifactRecord, SeenMessageId
from sleutelbos.saml.protocol import artifacts
from sleutelbos.saml.services import saml_cleanup
from tests.saml import test_sso as sso
from tests.saml.test_artifact_resolution import stored_artifact
from tests.saml.test_sso import DV_ENTITY_ID, World, redirect_url

pytestmark = pytest.mark.django_db

_broker = sso._broker
world = sso.world

#: Now, so that the test keys and certificates made at import are valid throughout.
START = dt.datetime.now(dt.UTC).replace(microsecond=0)


def test_message_ids_are_kept_twelve_months_then_removed(client, world: World) -> None:
    url = redirect_url(sso.authn_request(issued=START))
    with time_machine.travel(START, tick=False):
        assert client.get(url).status_code == 302

    with time_machine.travel(START + dt.timedelta(days=364), tick=False):
        assert saml_cleanup() == {"message_ids": 0, "artifacts": 0}
    assert SeenMessageId.objects.filter(issuer=DV_ENTITY_ID).count() == 1

    with time_machine.travel(START + dt.timedelta(days=366), tick=False):
        assert saml_cleanup()["message_ids"] == 1
    assert not SeenMessageId.objects.exists()


def test_a_replay_within_the_twelve_months_is_still_refused_after_a_cleanup(client, world: World) -> None:
    url = redirect_url(sso.authn_request(issued=START))
    with time_machine.travel(START, tick=False):
        assert client.get(url).status_code == 302
        saml_cleanup()
        assert client.get(url).status_code == 400


def test_artifacts_go_a_day_after_they_expired_or_were_resolved(client, world: World) -> None:
    with time_machine.travel(START, tick=False):
        resolved = stored_artifact()
        stored_artifact()  # never resolved: expires after 5 minutes
        assert sso.resolve(client, resolved).find("samlp:Response", sso.NS) is not None
    with time_machine.travel(START + dt.timedelta(hours=23), tick=False):
        recent = stored_artifact()
        assert saml_cleanup()["artifacts"] == 0

    with time_machine.travel(START + dt.timedelta(days=1, minutes=6), tick=False):
        assert saml_cleanup()["artifacts"] == 2

    [kept] = ArtifactRecord.objects.all()
    assert kept.message_handle == artifacts.parse_artifact(recent).message_handle.hex()


def test_an_artifact_waiting_for_its_dv_survives_the_cleanup(client, world: World) -> None:
    artifact = stored_artifact()

    assert saml_cleanup() == {"message_ids": 0, "artifacts": 0}
    assert sso.resolve(client, artifact).find("samlp:Response", sso.NS) is not None


def test_the_command_prints_the_counts_and_the_cleanup_is_audited_once(client, world: World) -> None:
    with time_machine.travel(START, tick=False):
        client.get(redirect_url(sso.authn_request(issued=START)))
        stored_artifact()
    out = StringIO()

    with time_machine.travel(START + dt.timedelta(days=400), tick=False):
        call_command("saml", "cleanup", stdout=out)

    assert re.findall(r"\d+", out.getvalue()) == ["1", "1"]
    [event] = AuditEvent.objects.filter(action="saml:cleaned_up")
    assert (event.data["message_ids"], event.data["artifacts"]) == (1, 1)
