"""The request wizard as an applicant uses it: organisation, mandates, manager role, representatives, review, submit.

The KvK register is the real file register shipped with the demo data (organisations/fixtures/kvk-register.json):
Bakkerij De Gouden Korst (91234567) has Jan de Bakker alone authorized; Stichting Buurthuis De Linde (93456789) has
two jointly authorized representatives and one with restricted authority. Pages are read in English, the language of
the messages in the code, so that the tests do not depend on the translation.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import unescape

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.identity.models import DocumentType, Person
from sleutelbos.identity.services import DOCUMENT_KINDS, EvidenceDetails, evidence_kind_for, person_create
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.organisations.services import membership_ensure
from sleutelbos.requests.models import Request, RequestKind, RequestState, Signer
from tests import factories as f

pytestmark = pytest.mark.django_db

BAKERY = "91234567"  # Jan de Bakker alone authorized, Fatima El Amrani restricted
FOUNDATION = "93456789"  # Marieke Jansen and Henk Smit jointly, Ingrid Postma restricted
ACCOUNTANTS = "92345678"
JAN_BORN = dt.date(1971, 3, 14)


@dataclass
class Catalogue:
    kadaster: ServiceProvider
    belastingen: ServiceProvider
    mijn_kadaster: ServiceDefinition
    aangifte: ServiceDefinition


@pytest.fixture
def catalogue() -> Catalogue:
    kadaster = f.provider(name="Kadaster")
    belastingen = f.provider(name="Belastingdienst")
    mijn_kadaster = f.definition(kadaster, name="Mijn Kadaster", level=Level.EH3)
    aangifte = f.definition(belastingen, name="Aangifte omzetbelasting", level=Level.EH3)
    return Catalogue(kadaster, belastingen, mijn_kadaster, aangifte)


def person(name: str, *, born: dt.date | None, level: Level | None = Level.EH3, email: str | None = None) -> Person:
    """A person with a means at ``level`` (none without it), on the least evidence that supports it."""
    evidence = None
    if level is not None:
        kind = evidence_kind_for(level)
        evidence = EvidenceDetails(kind=kind, document_type=DocumentType.PASSPORT if kind in DOCUMENT_KINDS else "")
    return person_create(
        actor=SYSTEM,
        name=name,
        email=email or name.lower().replace(" ", ".") + "@example.nl",
        level=level,
        date_of_birth=born,
        evidence=evidence,
    )


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def jan(client: Client) -> Person:
    """Jan de Bakker, alone authorized for the bakery per the KvK, logged in with an EH3 means."""
    jan = person("Jan de Bakker", born=JAN_BORN)
    english(client).force_login(jan)
    return jan


@pytest.fixture
def marieke(client: Client) -> Person:
    """Marieke Jansen, jointly authorized for the foundation, logged in with an EH3 means."""
    marieke = person("Marieke Jansen", born=dt.date(1958, 7, 25))
    english(client).force_login(marieke)
    return marieke


def text(response) -> str:
    """The page's text as a person reads it: tags out, entities decoded, spaces collapsed."""
    body = response.content.decode()
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", body, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def level_options(response) -> list[str]:
    """The levels the level field of the mandate form offers."""
    select = re.search(r'<select name="level".*?</select>', response.content.decode(), flags=re.S).group(0)
    return re.findall(r'<option value="(\d+)"', select)


def start(client: Client, kvk: str = BAKERY, **extra: str) -> Request:
    response = client.post(reverse("requests:new"), {"organisation": "other", "kvk": kvk, "kind": "mandates", **extra})
    assert response.status_code == 302, text(response)
    obj = Request.objects.latest("pk")
    assert response["Location"] == reverse("requests:organisation", args=[obj.pk])
    return obj


def add_mandate(client: Client, obj: Request, **data: object) -> None:
    payload = {"action": "save", "scope": "all", "level": int(Level.EH3), "years": 1, "branch_number": ""}
    payload.update(data)
    response = client.post(reverse("requests:mandates", args=[obj.pk]), payload)
    assert response.status_code == 302, text(response)


def submit(client: Client, obj: Request):
    return client.post(reverse("requests:review", args=[obj.pk]))


# --------------------------------------------------------------------------------------------------------------------
# The whole wizard


def test_alone_authorized_applicant_walks_the_wizard_and_becomes_manager_automatically(client, jan, catalogue):
    page = client.get(reverse("requests:new"))
    assert page.status_code == 200
    assert 'name="kvk"' in page.content.decode()

    obj = start(client)
    assert obj.applicant == jan
    assert obj.state == RequestState.DRAFT
    assert obj.kind == RequestKind.EXTRA_ORGANISATION
    assert obj.language == "en"

    check = text(client.get(reverse("requests:organisation", args=[obj.pk])))
    assert "Bakkerij De Gouden Korst B.V." in check
    assert "De Gouden Korst Noord, Sleutelstad" in check
    assert "Fatima El Amrani" in check
    assert "alone/independently authorized: you sign the request yourself" in check

    add_mandate(
        client,
        obj,
        scope="providers",
        providers=[catalogue.kadaster.oin],
        years=3,
        branch_number="000045678902",
    )
    mandates = text(client.get(reverse("requests:mandates", args=[obj.pk])))
    assert "All services of Kadaster, including new services." in mandates
    assert "Level EH3, valid for 3 years from approval." in mandates
    assert "Only for branch De Gouden Korst Noord, Sleutelstad (000045678902)." in mandates

    manager = client.get(reverse("requests:manager", args=[obj.pk]))
    assert "You therefore become its mandate manager automatically, at level EH3" in text(manager)
    assert 'name="wants_manager"' not in manager.content.decode()
    assert client.post(reverse("requests:manager", args=[obj.pk]))["Location"] == reverse(
        "requests:review", args=[obj.pk]
    )
    # Alone authorized: no step for the representatives.
    assert client.get(reverse("requests:representatives", args=[obj.pk]))["Location"] == reverse(
        "requests:review", args=[obj.pk]
    )
    review = client.get(reverse("requests:review", args=[obj.pk]))
    steps = [m for m in re.findall(r"Step \d: ([A-Za-z ]+)<", review.content.decode())]
    assert steps == ["Organisation", "Mandates", "Manager role", "Review and submit"]
    assert "You become mandate manager automatically, at level EH3." in text(review)
    assert "You sign the request yourself" in text(review)

    response = submit(client, obj)
    assert response["Location"] == reverse("requests:detail", args=[obj.pk])
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES
    assert obj.wants_manager and obj.manager_level == Level.EH3
    (signer,) = obj.signers.all()
    assert (signer.functionary_name, signer.email) == ("Jan de Bakker", jan.email)
    detail = text(client.get(response["Location"]))
    assert "We sent a signing link by e-mail to: Jan de Bakker." in detail
    assert "Awaiting signatures" in detail
    assert "Jan de Bakker: not signed yet" in detail


def test_jointly_authorized_applicant_opts_in_as_manager_and_names_the_signers(client, marieke, catalogue):
    obj = start(client, FOUNDATION)
    add_mandate(client, obj, scope="services", services=[str(catalogue.mijn_kadaster.uuid)])
    add_mandate(client, obj, scope="providers", providers=[catalogue.belastingen.oin], level=int(Level.EH2_PLUS))

    manager = client.get(reverse("requests:manager", args=[obj.pk]))
    assert 'name="wants_manager"' in manager.content.decode()
    response = client.post(reverse("requests:manager", args=[obj.pk]), {"wants_manager": "on", "manager_level": 30})
    assert response["Location"] == reverse("requests:representatives", args=[obj.pk])
    obj.refresh_from_db()
    assert obj.wants_manager and obj.manager_level == Level.EH3

    page = text(client.get(reverse("requests:representatives", args=[obj.pk])))
    # EH3 with three representatives: a majority, two signatures.
    assert "at EH3 a majority of the 3 representatives signs: 2 signatures" in page
    assert "Henk Smit" in page and "Ingrid Postma" in page

    response = client.post(
        reverse("requests:representatives", args=[obj.pk]),
        {"sign_0": "on", "email_0": "marieke@buurthuis.example", "sign_1": "on", "email_1": "henk@buurthuis.example"},
    )
    assert response["Location"] == reverse("requests:review", args=[obj.pk])
    review = text(client.get(reverse("requests:review", args=[obj.pk])))
    assert "Only the service Mijn Kadaster of Kadaster." in review
    assert "All services of Belastingdienst, including new services." in review
    assert "You ask to become mandate manager, at level EH3." in review
    assert "Marieke Jansen, at marieke@buurthuis.example" in review
    assert "Henk Smit, at henk@buurthuis.example" in review

    response = submit(client, obj)
    assert response.status_code == 302, text(response)
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES
    assert sorted(obj.signers.values_list("email", flat=True)) == [
        "henk@buurthuis.example",
        "marieke@buurthuis.example",
    ]


def test_review_links_each_part_back_to_its_step(client, jan, catalogue):
    obj = start(client)
    add_mandate(client, obj)
    body = client.get(reverse("requests:review", args=[obj.pk])).content.decode()
    for step in ("organisation", "mandates", "manager"):
        assert f'href="{reverse(f"requests:{step}", args=[obj.pk])}"' in body


def test_a_chain_mandate_names_the_intermediary_by_kvk_number(client, jan, catalogue):
    response = client.post(reverse("requests:new"), {"organisation": "other", "kvk": BAKERY, "kind": "chain"})
    obj = Request.objects.get(pk=response["Location"].split("/")[-3])
    assert obj.kind == RequestKind.CHAIN_MANDATE
    url = reverse("requests:mandates", args=[obj.pk])

    own = client.post(url, {"action": "save", "intermediary_kvk": BAKERY, "scope": "all", "level": 30, "years": 1})
    assert own.status_code == 400
    assert "An organisation cannot be its own intermediary" in text(own)
    unknown = client.post(
        url, {"action": "save", "intermediary_kvk": "12345678", "scope": "all", "level": 30, "years": 1}
    )
    assert "The KvK register has no organisation with number 12345678" in text(unknown)

    add_mandate(client, obj, intermediary_kvk=ACCOUNTANTS, scope="providers", providers=[catalogue.kadaster.oin])
    (chain,) = obj.chain_mandates.all()
    assert (chain.intermediary_kvk, chain.scope_kind, chain.providers) == (
        ACCOUNTANTS,
        ScopeKind.PROVIDERS,
        [catalogue.kadaster.oin],
    )
    assert not obj.mandates.exists()
    assert submit(client, obj).status_code == 302
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES


# --------------------------------------------------------------------------------------------------------------------
# Every validation error says what to do, next to the field


def test_step_one_tells_malformed_unknown_and_unavailable_kvk_numbers_apart(client, jan, settings):
    url = reverse("requests:new")
    empty = client.post(url, {"organisation": "other", "kvk": "", "kind": "mandates"})
    assert empty.status_code == 400
    assert "Give the KvK number of the organisation: 8 digits." in text(empty)
    malformed = client.post(url, {"organisation": "other", "kvk": "1234", "kind": "mandates"})
    assert "“1234” is not a KvK number: a KvK number is exactly 8 digits." in text(malformed)
    assert 'aria-describedby="id_kvk_helptext id_kvk_error"' in malformed.content.decode()
    unknown = client.post(url, {"organisation": "other", "kvk": "1234 5678", "kind": "mandates"})
    assert "The KvK register has no organisation with number 12345678." in text(unknown)

    settings.SLEUTELBOS_KVK_SOURCE = "http"
    settings.SLEUTELBOS_KVK_API_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers
    settings.SLEUTELBOS_KVK_API_KEY = "test-key"
    settings.SLEUTELBOS_KVK_TIMEOUT = 1
    unavailable = client.post(url, {"organisation": "other", "kvk": BAKERY, "kind": "mandates"})
    assert "The KvK register cannot be reached at the moment" in text(unavailable)
    assert not Request.objects.exists()


def test_one_of_my_organisations_is_offered_and_needs_no_kvk_number(client, jan, catalogue):
    bakery = f.organisation(name="Bakkerij De Gouden Korst B.V.", kvk=BAKERY)
    membership_ensure(actor=SYSTEM, person=jan, organisation=bakery)
    page = client.get(reverse("requests:new"))
    assert f'value="{BAKERY}"' in page.content.decode()
    assert "Another organisation" in text(page)
    nothing = client.post(reverse("requests:new"), {"kind": "mandates"})
    assert "Choose one of your organisations, or “Another organisation”." in text(nothing)

    response = client.post(reverse("requests:new"), {"organisation": BAKERY, "kind": "mandates"})
    obj = Request.objects.get()
    assert response["Location"] == reverse("requests:organisation", args=[obj.pk])
    assert (obj.kind, obj.organisation) == (RequestKind.EXTRA_MANDATES, bakery)


def test_mandate_errors_name_what_to_do(client, jan, catalogue):
    obj = start(client)
    url = reverse("requests:mandates", args=[obj.pk])

    nothing = client.post(url, {"action": "save"})
    assert nothing.status_code == 400
    page = text(nothing)
    assert "Choose which services the mandate is for." in page
    assert "Choose the level of assurance of the mandate." in page
    assert "Choose how long the mandate is valid: 1, 3 or 5 years." in page

    no_provider = client.post(url, {"action": "save", "scope": "providers", "level": 30, "years": 1})
    assert "Choose at least one service provider, or choose another kind of mandate above." in text(no_provider)
    no_service = client.post(url, {"action": "save", "scope": "services", "level": 30, "years": 1})
    assert "Choose at least one service: search the catalogue" in text(no_service)
    assert 'aria-describedby="services-help id_services_error"' in no_service.content.decode()
    bad_branch = client.post(url, {"action": "save", "scope": "all", "level": 30, "years": 1, "branch_number": "1"})
    assert "Choose one of the organisation's branches, or no restriction." in text(bad_branch)
    bad_years = client.post(url, {"action": "save", "scope": "all", "level": 30, "years": 2})
    assert bad_years.status_code == 400
    assert "Choose how long the mandate is valid: 1, 3 or 5 years." in text(bad_years)
    assert not obj.mandates.exists()


def test_levels_never_go_above_the_means_and_the_upgrade_path_is_named(client, catalogue):
    eh2 = person("Jan de Bakker", born=JAN_BORN, level=Level.EH2_PLUS)
    english(client).force_login(eh2)
    obj = start(client)
    url = reverse("requests:mandates", args=[obj.pk])
    page = client.get(url)
    options = level_options(page)
    assert options == [str(int(Level.EH2)), str(int(Level.EH2_PLUS))]
    assert "Need a higher level? First have your means upgraded" in text(page)

    too_high = client.post(url, {"action": "save", "scope": "all", "level": int(Level.EH3), "years": 1})
    assert too_high.status_code == 400
    assert "Choose a level up to EH2+, the level of your means." in text(too_high)
    assert not obj.mandates.exists()


def test_submitting_without_mandates_or_signers_links_to_the_step_that_puts_it_right(client, marieke, catalogue):
    obj = start(client, FOUNDATION)
    refused = submit(client, obj)
    assert refused.status_code == 400
    assert "Ask for at least one mandate or chain mandate." in text(refused)
    assert f'href="{reverse("requests:mandates", args=[obj.pk])}"' in refused.content.decode()

    add_mandate(client, obj)
    refused = submit(client, obj)
    assert "You are not alone authorized for this organisation: choose the representatives who sign." in text(refused)
    assert f'href="{reverse("requests:representatives", args=[obj.pk])}"' in refused.content.decode()
    obj.refresh_from_db()
    assert obj.state == RequestState.DRAFT


def test_representative_errors(client, marieke, catalogue):
    obj = start(client, FOUNDATION)
    add_mandate(client, obj)
    url = reverse("requests:representatives", args=[obj.pk])
    none = client.post(url, {})
    assert none.status_code == 400
    assert "Choose the representatives who sign: tick at least one and give their e-mail address." in text(none)
    no_email = client.post(url, {"sign_0": "on"})
    assert "Give the e-mail address of Marieke Jansen: the signing link goes there." in text(no_email)
    bad_email = client.post(url, {"sign_0": "on", "email_0": "marieke"})
    assert "Give an e-mail address like name@example.nl." in text(bad_email)
    one = client.post(url, {"sign_0": "on", "email_0": "marieke@example.nl"})
    assert "This request needs 2 signatures: choose at least 2 representatives." in text(one)


def test_manager_role_needs_a_level_when_asked(client, marieke, catalogue):
    obj = start(client, FOUNDATION)
    add_mandate(client, obj)
    response = client.post(reverse("requests:manager", args=[obj.pk]), {"wants_manager": "on"})
    assert response.status_code == 400
    assert "Choose the level of the manager role, or untick the box above." in text(response)
    obj.refresh_from_db()
    assert not obj.wants_manager


# --------------------------------------------------------------------------------------------------------------------
# Back and forward keep every answer


def test_back_and_forward_keep_every_answer(client, marieke, catalogue):
    obj = start(client, FOUNDATION)
    add_mandate(client, obj, scope="services", services=[str(catalogue.aangifte.uuid)], years=5)
    client.post(reverse("requests:manager", args=[obj.pk]), {"wants_manager": "on", "manager_level": 25})
    client.post(
        reverse("requests:representatives", args=[obj.pk]),
        {"sign_0": "on", "email_0": "m@example.nl", "sign_2": "on", "email_2": "i@example.nl"},
    )

    # Back to step 2: the mandate is listed, and its form comes back filled in to change it.
    edit = client.get(reverse("requests:mandates", args=[obj.pk]), {"edit": 0}).content.decode()
    assert re.search(r'value="services"[^>]*checked', edit)
    assert re.search(rf'value="{catalogue.aangifte.uuid}"[^>]*checked', edit)
    assert re.search(r'value="5"[^>]*checked', edit)
    assert re.search(rf'<option value="{int(Level.EH3)}" selected>', edit)
    manager = client.get(reverse("requests:manager", args=[obj.pk])).content.decode()
    assert re.search(r'name="wants_manager"[^>]*checked', manager)
    assert re.search(rf'<option value="{int(Level.EH2_PLUS)}" selected>', manager)
    reps = client.get(reverse("requests:representatives", args=[obj.pk])).content.decode()
    assert 'value="m@example.nl"' in reps and 'value="i@example.nl"' in reps
    assert re.search(r'name="sign_0"[^>]*checked', reps) and re.search(r'name="sign_2"[^>]*checked', reps)
    assert not re.search(r'name="sign_1"[^>]*checked', reps)

    # Changing the mandate keeps the other answers.
    client.post(
        reverse("requests:mandates", args=[obj.pk]),
        {"action": "save", "row": 0, "scope": "all", "level": 30, "years": 3, "branch_number": ""},
    )
    obj.refresh_from_db()
    (mandate,) = obj.mandates.all()
    assert (mandate.scope_kind, mandate.years) == (ScopeKind.ALL, 3)
    assert obj.wants_manager and obj.manager_level == Level.EH2_PLUS


def test_several_mandates_are_added_and_removed(client, jan, catalogue):
    obj = start(client)
    add_mandate(client, obj, scope="providers", providers=[catalogue.kadaster.oin])
    add_mandate(client, obj, scope="providers", providers=[catalogue.belastingen.oin])
    add_mandate(client, obj, scope="all", level=int(Level.EH2))
    assert obj.mandates.count() == 3
    response = client.post(reverse("requests:mandates", args=[obj.pk]), {"action": "remove", "row": 1})
    assert response.status_code == 302
    assert [(m.scope_kind, m.providers) for m in obj.mandates.all()] == [
        (ScopeKind.PROVIDERS, [catalogue.kadaster.oin]),
        (ScopeKind.ALL, []),
    ]


def test_the_catalogue_search_is_a_plain_get_that_keeps_what_was_chosen(client, jan, catalogue):
    obj = start(client)
    url = reverse("requests:mandates", args=[obj.pk])
    page = client.get(url, {"q": "kadas", "scope": "services", "level": 30, "years": 5})
    body = page.content.decode()
    assert "Mijn Kadaster" in text(page)
    assert "Aangifte omzetbelasting" not in text(page)
    assert re.search(r'<form class="search" method="get"', body)
    # What was chosen before the search stays chosen, and goes along with the next search.
    assert re.search(r'value="services"[^>]*checked', body)
    assert re.search(r'value="5"[^>]*checked', body)
    assert '<input type="hidden" name="scope" value="services" data-carried>' in body
    by_provider = text(client.get(url, {"q": "belasting"}))
    assert "Aangifte omzetbelasting" in by_provider


# --------------------------------------------------------------------------------------------------------------------
# Pre-filled from a refusal


def test_a_prefilled_link_starts_with_the_missing_mandate(client, jan, catalogue):
    query = {
        "kvk": BAKERY,
        "provider": catalogue.kadaster.oin,
        "service": str(catalogue.mijn_kadaster.uuid),
        "level": "EH3",
    }
    page = client.get(reverse("requests:new"), query).content.decode()
    assert f'name="kvk" value="{BAKERY}"' in page
    assert f'name="service" value="{catalogue.mijn_kadaster.uuid}"' in page
    response = client.post(reverse("requests:new"), {"organisation": "other", "kind": "mandates", **query})
    obj = Request.objects.get()
    assert response["Location"] == reverse("requests:organisation", args=[obj.pk])
    (mandate,) = obj.mandates.all()
    assert (mandate.scope_kind, mandate.services, mandate.level) == (
        ScopeKind.SERVICES,
        [str(catalogue.mijn_kadaster.uuid)],
        Level.EH3,
    )


# --------------------------------------------------------------------------------------------------------------------
# Isolation: a person sees and changes only their own requests


def test_another_persons_request_is_not_found(client, jan, catalogue):
    obj = start(client)
    add_mandate(client, obj)
    other = person("Iemand Anders", born=None)
    client.force_login(other)
    for name in ("detail", "organisation", "mandates", "manager", "representatives", "review", "withdraw"):
        assert client.get(reverse(f"requests:{name}", args=[obj.pk])).status_code == 404, name
    assert client.post(reverse("requests:review", args=[obj.pk])).status_code == 404
    assert client.post(reverse("requests:withdraw", args=[obj.pk])).status_code == 404
    assert client.post(reverse("requests:mandates", args=[obj.pk]), {"action": "remove", "row": 0}).status_code == 404
    assert f"Request {obj.pk}" not in text(client.get(reverse("requests:list")))
    obj.refresh_from_db()
    assert obj.state == RequestState.DRAFT and obj.mandates.count() == 1


def test_the_wizard_asks_to_log_in(client):
    response = client.get(reverse("requests:new"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("identity:login"))
    assert client.get(reverse("requests:list")).status_code == 302


# --------------------------------------------------------------------------------------------------------------------
# My requests, and withdrawing


def test_my_requests_show_state_dates_and_history_and_a_request_is_withdrawn_after_confirmation(client, jan, catalogue):
    obj = start(client)
    add_mandate(client, obj)
    submit(client, obj)
    listing = text(client.get(reverse("requests:list")))
    assert f"Request {obj.pk} Bakkerij De Gouden Korst B.V. Extra organisation Awaiting signatures" in listing

    detail = text(client.get(reverse("requests:detail", args=[obj.pk])))
    assert "started as a draft" in detail and ": Submitted" in detail and ": Awaiting signatures" in detail
    assert "Jan de Bakker: not signed yet (link valid until" in detail
    Signer.objects.filter(request=obj).update(token_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    detail = text(client.get(reverse("requests:detail", args=[obj.pk])))
    assert "Jan de Bakker: not signed yet (the link expired on" in detail
    Signer.objects.filter(request=obj).update(token_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=13))

    confirm = client.get(reverse("requests:withdraw", args=[obj.pk]))
    assert "Do you want to withdraw request" in text(confirm)
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES  # a GET changes nothing
    response = client.post(reverse("requests:withdraw", args=[obj.pk]), {"note": "Verkeerde dienst"})
    assert response["Location"] == reverse("requests:detail", args=[obj.pk])
    obj.refresh_from_db()
    assert obj.state == RequestState.WITHDRAWN
    assert obj.events.last().note == "Verkeerde dienst"
    detail = text(client.get(reverse("requests:detail", args=[obj.pk])))
    assert "Your request is withdrawn." in detail
    assert "Withdraw the request" not in detail
    # The signing links stopped working with the withdrawal; the page no longer offers them as valid.
    assert "Jan de Bakker: not signed" in detail and "link valid until" not in detail
    again = client.post(reverse("requests:withdraw", args=[obj.pk]))
    assert "can no longer be withdrawn" in text(client.get(again["Location"]))
    # A withdrawn request can no longer be changed.
    assert client.get(reverse("requests:mandates", args=[obj.pk]))["Location"] == reverse(
        "requests:detail", args=[obj.pk]
    )


def test_the_staff_question_is_shown_and_answered_by_submitting_again(client, jan, catalogue):
    from sleutelbos.requests.services import request_ask_information, request_sign

    obj = start(client)
    add_mandate(client, obj)
    submit(client, obj)
    signer = obj.signers.get()
    # The applicant's own signature, as the signing page gives it.
    Signer.objects.filter(pk=signer.pk).update(identity_confirmed_at=dt.datetime.now(dt.UTC))
    token = "known-token"
    from sleutelbos.requests.services import hash_token

    Signer.objects.filter(pk=signer.pk).update(token_hash=hash_token(token))
    request_sign(token=token, name="Jan de Bakker", date_of_birth=JAN_BORN)
    staff = person("Medewerker", born=None)
    staff.is_staff = True
    request_ask_information(actor=Actor.for_person(staff), request=obj, question="Welke vestiging bedoelt u?")

    detail = client.get(reverse("requests:detail", args=[obj.pk]))
    assert "The supplier asks for more information Welke vestiging bedoelt u?" in text(detail)
    assert f'href="{reverse("requests:review", args=[obj.pk])}"' in detail.content.decode()
    response = client.post(reverse("requests:review", args=[obj.pk]), {"note": "De vestiging Noord."})
    assert response.status_code == 302, text(response)
    obj.refresh_from_db()
    assert obj.state in {RequestState.AWAITING_SIGNATURES, RequestState.READY_FOR_VERIFICATION}
    assert obj.events.filter(to_state=RequestState.SUBMITTED).last().note == "De vestiging Noord."


# --------------------------------------------------------------------------------------------------------------------
# The first application without an account


def apply(client: Client, **data: str):
    payload = {"name": "Linda de Graaf", "email": "linda@knipenkrul.example", "date_of_birth": "1984-09-30"}
    payload.update({"kvk": "97890123", **data})
    return client.post(reverse("requests:apply"), payload)


def test_a_first_application_without_an_account(client, catalogue):
    english(client)
    assert client.get(reverse("requests:apply")).status_code == 200
    response = apply(client)
    obj = Request.objects.get()
    assert response["Location"] == reverse("requests:organisation", args=[obj.pk])
    assert (obj.kind, obj.applicant, obj.applicant_name, obj.applicant_email) == (
        RequestKind.FIRST_APPLICATION,
        None,
        "Linda de Graaf",
        "linda@knipenkrul.example",
    )
    check = text(client.get(response["Location"]))
    assert "Kapsalon Knip & Krul" in check and "you sign the request yourself" in check

    page = client.get(reverse("requests:mandates", args=[obj.pk]))
    # Without a means yet, the levels a first application offers: up to EH3 (EH4 is signed in person).
    assert level_options(page) == ["20", "25", "30"]
    add_mandate(client, obj)
    response = submit(client, obj)
    assert response["Location"] == reverse("requests:detail", args=[obj.pk])
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES
    assert obj.signers.get().email == "linda@knipenkrul.example"
    assert "Awaiting signatures" in text(client.get(response["Location"]))

    # Another browser has nothing to do with it.
    stranger = english(Client())
    assert stranger.get(reverse("requests:mandates", args=[obj.pk])).status_code == 404
    assert stranger.post(reverse("requests:withdraw", args=[obj.pk])).status_code == 302  # to the login
    obj.refresh_from_db()
    assert obj.state == RequestState.AWAITING_SIGNATURES


def test_a_first_applicant_who_is_no_representative_names_those_who_sign(client, catalogue):
    english(client)
    apply(client, name="Piet Puk", email="piet@example.nl", date_of_birth="1990-01-01", kvk=FOUNDATION)
    obj = Request.objects.get()
    assert "You are not listed in the KvK register as a representative" in text(
        client.get(reverse("requests:organisation", args=[obj.pk]))
    )
    add_mandate(client, obj, level=int(Level.EH2_PLUS))
    client.post(reverse("requests:manager", args=[obj.pk]), {})
    assert client.get(reverse("requests:representatives", args=[obj.pk])).status_code == 200
    client.post(
        reverse("requests:representatives", args=[obj.pk]),
        {"sign_0": "on", "email_0": "m@example.nl", "sign_1": "on", "email_1": "h@example.nl"},
    )
    assert submit(client, obj).status_code == 302
    assert sorted(obj.signers.values_list("functionary_name", flat=True)) == ["Henk Smit", "Marieke Jansen"]


def test_first_application_errors(client, catalogue):
    english(client)
    empty = client.post(reverse("requests:apply"), {})
    assert empty.status_code == 400
    page = text(empty)
    for message in (
        "Give your full name.",
        "Give your e-mail address.",
        "Give your date of birth.",
        "Give the KvK number of the organisation: 8 digits.",
    ):
        assert message in page
    future = apply(client, date_of_birth="2999-01-01")
    assert "Your date of birth lies in the future: check it." in text(future)
    bad_email = apply(client, email="linda")
    assert "Give an e-mail address like name@example.nl." in text(bad_email)
    assert not Request.objects.exists()


def test_first_applications_are_throttled_like_the_login(client, catalogue, settings):
    english(client)
    settings.SLEUTELBOS_LOGIN_FAILURES_PER_ADDRESS = 3
    for number in ("12345678", "23456789", "34567890"):
        assert "has no organisation with number" in text(apply(client, kvk=number, email=f"{number}@example.nl"))
    refused = apply(client)  # a correct one, but from an address that tried too many numbers
    assert "Too many failed attempts. Try again in an hour." in text(refused)
    assert not Request.objects.exists()


def test_a_logged_in_person_applying_goes_to_the_request_from_the_account(client, jan):
    response = client.get(reverse("requests:apply"), {"kvk": BAKERY})
    assert response["Location"] == reverse("requests:new") + f"?kvk={BAKERY}"


# --------------------------------------------------------------------------------------------------------------------
# Where the wizard is found


def test_the_portal_and_the_account_page_link_to_the_wizard(client, jan):
    for url in (reverse("identity:account"), reverse("my_overview")):
        body = client.get(url).content.decode()
        assert f'href="{reverse("requests:new")}" data-request-link' in body, url
    client.logout()
    assert f'href="{reverse("requests:apply")}"' in client.get(reverse("home")).content.decode()


def test_without_an_active_means_nothing_can_be_requested(client):
    nobody = person("Zonder Middel", born=None, level=None)
    english(client).force_login(nobody)
    page = client.get(reverse("requests:new"))
    assert "You have no active eHerkenning means, so you cannot request mandates now." in text(page)
    client.post(reverse("requests:new"), {"organisation": "other", "kvk": BAKERY, "kind": "mandates"})
    assert not Request.objects.exists()


def test_the_organisations_data_is_read_again_from_the_register(client, jan, settings, tmp_path):
    obj = start(client)
    renamed = tmp_path / "ours.json"
    renamed.write_text(
        '{"organisations": [{"kvk": "91234567", "name": "Bakkerij De Gouden Korst Holding B.V.", "rsin": "820246633",'
        ' "legal_form": "bv", "extract_date": "2026-11-01", "functionaries": [{"name": "Jan de Bakker",'
        ' "date_of_birth": "1971-03-14", "role": "Bestuurder", "authority": "alone"}]}]}'
    )
    from sleutelbos.organisations.kvk import DEFAULT_FILE

    settings.SLEUTELBOS_KVK_FILE = f"{DEFAULT_FILE},{renamed}"
    response = client.post(reverse("requests:organisation", args=[obj.pk]))
    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    assert "Bakkerij De Gouden Korst Holding B.V." in page
    assert "The register lists no branches." in page
    obj.refresh_from_db()
    assert obj.extract_date == dt.date(2026, 11, 1)


def test_a_prefilled_level_above_the_means_is_flagged_and_refused_with_the_way_out(client, catalogue):
    english(client).force_login(person("Jan de Bakker", born=JAN_BORN, level=Level.EH2_PLUS))
    client.post(
        reverse("requests:new"),
        {
            "organisation": "other",
            "kvk": BAKERY,
            "kind": "mandates",
            "service": str(catalogue.mijn_kadaster.uuid),
            "level": "EH3",
        },
    )
    obj = Request.objects.get()
    problem = "Your means has level EH2+, lower than EH3: change the level, or have your means upgraded first."
    assert problem in text(client.get(reverse("requests:mandates", args=[obj.pk])))
    refused = submit(client, obj)
    assert refused.status_code == 400
    assert "You cannot request EH3: your means has level EH2+. Upgrade your means first." in text(refused)
    assert f'href="{reverse("requests:mandates", args=[obj.pk])}"' in refused.content.decode()


def test_a_short_search_shows_the_first_matches_and_says_so(client, jan):
    from sleutelbos.catalogue.selectors import SEARCH_LIMIT

    municipality = f.provider(name="Gemeente Sleutelstad")
    for number in range(SEARCH_LIMIT + 1):
        f.definition(municipality, name=f"Vergunning {number:03d}")
    obj = start(client)
    page = text(client.get(reverse("requests:mandates", args=[obj.pk]), {"q": "vergunning"}))
    assert f"{SEARCH_LIMIT} services found for “vergunning”." in page
    assert "Only the first matches are shown: search with more of the name to find the rest." in page
    narrow = text(client.get(reverse("requests:mandates", args=[obj.pk]), {"q": "vergunning 002"}))
    assert "1 service found" in narrow and "Only the first matches" not in narrow
