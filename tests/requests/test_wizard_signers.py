"""The representatives chosen in the wizard's step 4 are kept with the draft: they hold in another browser, after
logging in again, and the submission sends the links to them.

The KvK register is the file register of the demo data: Stichting Buurthuis De Linde (93456789) has Marieke Jansen
and Henk Smit jointly authorized and Ingrid Postma with restricted authority.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from sleutelbos.audit.services import Actor
from sleutelbos.organisations import kvk
from sleutelbos.requests.models import Request, RequestState
from sleutelbos.requests.services import SignerWish, request_update_draft
from sleutelbos.requests.signatures import representatives
from tests.requests.test_wizard import FOUNDATION, add_mandate, catalogue, english, person, start, text  # noqa: F401

pytestmark = pytest.mark.django_db

MARIEKE_BORN = dt.date(1958, 7, 25)


def logged_in(who) -> Client:
    client = english(Client())
    client.force_login(who)
    return client


@pytest.fixture
def marieke():
    return person("Marieke Jansen", born=MARIEKE_BORN)


@pytest.fixture
def draft(marieke, catalogue) -> Request:  # noqa: F811
    """Marieke's draft for the foundation with one mandate and the manager role, made in her first browser."""
    first = logged_in(marieke)
    obj = start(first, FOUNDATION)
    add_mandate(first, obj, scope="providers", providers=[catalogue.kadaster.oin])
    first.post(reverse("requests:manager", args=[obj.pk]), {"wants_manager": "on", "manager_level": 30})
    response = first.post(
        reverse("requests:representatives", args=[obj.pk]),
        {"sign_0": "on", "email_0": "marieke@buurthuis.example", "sign_2": "on", "email_2": "ingrid@buurthuis.example"},
    )
    assert response["Location"] == reverse("requests:review", args=[obj.pk])
    return obj


def test_the_chosen_signers_are_there_in_another_browser_and_the_submission_uses_them(marieke, draft) -> None:
    second = logged_in(marieke)  # another browser: a session of its own

    reps = second.get(reverse("requests:representatives", args=[draft.pk])).content.decode()
    assert re.search(r'name="sign_0"[^>]*checked', reps) and re.search(r'name="sign_2"[^>]*checked', reps)
    assert not re.search(r'name="sign_1"[^>]*checked', reps)
    assert 'value="marieke@buurthuis.example"' in reps and 'value="ingrid@buurthuis.example"' in reps

    review = text(second.get(reverse("requests:review", args=[draft.pk])))
    assert "Marieke Jansen, at marieke@buurthuis.example" in review
    assert "Ingrid Postma, at ingrid@buurthuis.example" in review
    assert "Henk Smit, at" not in review

    response = second.post(reverse("requests:review", args=[draft.pk]))
    assert response["Location"] == reverse("requests:detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.state == RequestState.AWAITING_SIGNATURES
    assert sorted(draft.signers.values_list("functionary_name", "email")) == [
        ("Ingrid Postma", "ingrid@buurthuis.example"),
        ("Marieke Jansen", "marieke@buurthuis.example"),
    ]
    detail = text(second.get(response["Location"]))
    assert "We sent a signing link by e-mail to: Marieke Jansen and Ingrid Postma." in detail


def test_a_changed_choice_replaces_the_earlier_one_for_every_browser(marieke, draft) -> None:
    second = logged_in(marieke)
    second.post(
        reverse("requests:representatives", args=[draft.pk]),
        {"sign_0": "on", "email_0": "m.jansen@buurthuis.example", "sign_1": "on", "email_1": "henk@buurthuis.example"},
    )
    first_again = logged_in(marieke)
    review = text(first_again.get(reverse("requests:review", args=[draft.pk])))
    assert "Marieke Jansen, at m.jansen@buurthuis.example" in review
    assert "Henk Smit, at henk@buurthuis.example" in review
    assert "Ingrid Postma, at" not in review


def test_only_representatives_of_the_extract_with_a_valid_address_are_kept(marieke, draft) -> None:
    actor = Actor.for_person(marieke)
    henk = next(rep for rep in representatives(draft) if rep.name == "Henk Smit")
    good = SignerWish(name="henk smit", date_of_birth=henk.date_of_birth, email=" henk@buurthuis.example ")
    refusals = {
        "Piet Onbekend is not a representative of this organisation in the KvK extract.": [
            SignerWish(name="Piet Onbekend", date_of_birth=henk.date_of_birth, email="piet@example.nl")
        ],
        "Henk Smit is not a representative of this organisation in the KvK extract.": [
            dataclasses.replace(good, name="Henk Smit", date_of_birth=henk.date_of_birth + dt.timedelta(days=1))
        ],
        "Name each representative once.": [good, dataclasses.replace(good, email="h.smit@example.nl")],
        "Give the e-mail address of Henk Smit, for their signing link.": [dataclasses.replace(good, email=" ")],
        "“henk@” is not a valid e-mail address for Henk Smit.": [dataclasses.replace(good, email="henk@")],
    }
    before = Request.objects.get(pk=draft.pk).signer_choices
    for message, wishes in refusals.items():
        with pytest.raises(ValidationError) as refused:
            request_update_draft(actor=actor, request=draft, signers=wishes)
        assert refused.value.message_dict == {"signers": [message]}
        assert Request.objects.get(pk=draft.pk).signer_choices == before  # nothing half-written

    request_update_draft(actor=actor, request=draft, signers=[good])
    # Kept as the register spells the name, with the address trimmed.
    assert Request.objects.get(pk=draft.pk).signer_choices == [
        {"name": "Henk Smit", "date_of_birth": henk.date_of_birth.isoformat(), "email": "henk@buurthuis.example"}
    ]


def test_a_new_extract_keeps_only_the_choices_still_representatives_in_it(marieke, draft) -> None:
    extract = kvk.lookup(FOUNDATION)
    without_ingrid = dataclasses.replace(
        extract, functionaries=tuple(item for item in extract.functionaries if item.name != "Ingrid Postma")
    )
    request_update_draft(actor=Actor.for_person(marieke), request=draft, extract=without_ingrid)
    draft.refresh_from_db()
    assert [choice["name"] for choice in draft.signer_choices] == ["Marieke Jansen"]
