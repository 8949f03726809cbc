"""A request is said in one set of words: the wizard's pages, the mails, the signing page and the PDF describe what a
requested mandate covers as the portal describes a real mandate, and read the names once per request."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from sleutelbos.audit.services import Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mandates.describe import describe_scope_of
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.requests.mails import grants_in_words
from sleutelbos.requests.models import Request, RequestKind
from sleutelbos.requests.pdf import request_pdf
from sleutelbos.requests.services import ChainMandateWish, MandateWish, request_create_draft, request_update_draft
from sleutelbos.requests.summary import requested_grants, summarise
from tests import factories as f
from tests.requests.pdf_text import pdf_text
from tests.requests.test_services import BRANCH, applicant, extract_of

pytestmark = pytest.mark.django_db


def a_request(mandates: int, applicant_name: str = "Eva Employee") -> tuple[Request, list]:
    """A request for ``mandates`` mandates, alternately for two providers and for two services, and a chain mandate."""
    kadaster, rvo = f.provider(name="Kadaster"), f.provider(name="RVO")
    services = [f.definition(kadaster, name="Mijn Kadaster"), f.definition(rvo, name="Subsidies")]
    wishes = [
        MandateWish(scope=Scope.of_providers(kadaster, rvo), level=Level.EH3, years=3, branch_number=BRANCH)
        if number % 2
        else MandateWish(scope=Scope.of_services(*(s.uuid for s in services)), level=Level.EH2_PLUS, years=1)
        for number in range(mandates)
    ]
    person = applicant(applicant_name)
    request = request_create_draft(
        actor=Actor.for_person(person),
        kind=RequestKind.EXTRA_MANDATES,
        applicant=person,
        extract=extract_of(f.organisation(name="Bakkerij De Gouden Korst B.V.")),
        mandates=wishes,
        chain_mandates=[
            ChainMandateWish(
                intermediary_kvk=f.organisation(name="Administratiekantoor Eén").kvk, scope=Scope.all(), level=30
            )
        ],
        language="en",
    )
    return request, [kadaster, rvo, *services]


def test_a_requested_mandate_reads_as_the_portal_reads_a_mandate_with_that_scope() -> None:
    request, (kadaster, rvo, *_services) = a_request(2)
    with translation.override("en"):
        services, providers, chain = requested_grants(request)
        assert providers.scope == describe_scope_of(ScopeKind.PROVIDERS, providers=[kadaster, rvo])
        assert providers.scope == "all services of Kadaster and RVO, including new services"
        assert services.scope == "only the services Mijn Kadaster of Kadaster and Subsidies of RVO"
        assert chain.scope == "all services of all service providers, including new service providers"
        assert providers.branch.endswith(f"({BRANCH})")
        assert (providers.level, providers.duration) == ("EH3", "3 years from approval")
        assert chain.title == f"Chain mandate 1 for Administratiekantoor Eén (KvK {chain.intermediary_kvk})"
        assert f"OIN {kadaster.oin}" in " ".join(providers.identifiers)

        # The mails and the signing page say the same.
        sentences = grants_in_words(request)
        assert sentences[1].startswith(
            "all services of Kadaster and RVO at level EH3, including new services, valid for 3 years from approval"
        )
        assert sentences[2].startswith(f"Administratiekantoor Eén (KvK {chain.intermediary_kvk}) may act for")
        summary = summarise(request)
        assert [grant.scope for grant in summary.mandates] == [services.scope, providers.scope]
    flat = " ".join(pdf_text(request_pdf(request)).split())
    assert "All services of Kadaster and RVO, including new services." in flat


def test_a_service_no_longer_in_the_catalogue_is_still_named() -> None:
    request, _catalogue = a_request(1)
    gone = uuid.uuid4()
    request_update_draft(
        actor=Actor.for_person(request.applicant),
        request=request,
        mandates=[MandateWish(scope=Scope.of_services(gone), level=Level.EH3)],
    )
    with translation.override("en"):
        (mandate, _chain) = requested_grants(request)
    assert mandate.scope == f"only the service service {gone} (no longer in the catalogue)"


def test_the_names_are_read_once_per_request_not_per_mandate() -> None:
    def queries(request: Request) -> int:
        request = Request.objects.get(pk=request.pk)
        with CaptureQueriesContext(connection) as captured:
            requested_grants(request)
        return len(captured.captured_queries)

    small, _catalogue = a_request(2)
    large, _catalogue = a_request(8, "Bas Employee")
    # The mandates, the chain mandates, and the providers, services and intermediaries by name: one query each.
    assert queries(small) == queries(large) == 5
