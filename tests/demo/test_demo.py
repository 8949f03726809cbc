"""The demo world: loads idempotently, covers every kind of thing, and its decisions tell the stories it means to."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from sleutelbos.audit.models import AuditEvent
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance
from sleutelbos.demo import world
from sleutelbos.identity.models import MeansStatus, Person
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.organisations.identifiers import rsin_passes_eleven_test
from sleutelbos.organisations.models import Authority, Branch, Functionary, Organisation

pytestmark = pytest.mark.django_db


def run_demo() -> str:
    """Run ``sleutelbos demo`` in English (its output is read below) and return what it printed."""
    out = io.StringIO()
    with translation.override("en"):
        call_command("demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def demo() -> str:
    return run_demo()


def person(email: str) -> Person:
    return Person.objects.get(email=email)


def org(key: str) -> Organisation:
    return Organisation.objects.get(kvk=next(spec.kvk for spec in world.ORGANISATIONS if spec.key == key))


def instance(provider_key: str, service_key: str) -> ServiceInstance:
    oin = next(spec.oin for spec in world.PROVIDERS if spec.key == provider_key)
    return ServiceInstance.objects.filter(provider__oin=oin, definition__uuid=world.service_uuid(service_key)).first()


def test_running_twice_changes_nothing(demo: str) -> None:
    first = world.counts()
    events = AuditEvent.objects.count()
    second_output = run_demo()
    assert world.counts() == first
    assert AuditEvent.objects.count() == events
    assert "nothing changed" in second_output
    assert first[str(Mandate._meta.verbose_name_plural)] == len(world.MANDATES)


def test_summary_names_the_admin_login_and_shows_a_generated_password_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(world.ADMIN_PASSWORD_ENV, raising=False)
    output = run_demo()
    assert world.ADMIN_EMAIL in output
    password = output.split("with password ")[1].split(" ")[0]
    admin = person(world.ADMIN_EMAIL)
    assert admin.is_staff and admin.is_superuser
    assert admin.check_password(password)
    assert password not in run_demo()


def test_admin_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(world.ADMIN_PASSWORD_ENV, "correct horse battery staple")
    output = run_demo()
    assert "correct horse" not in output
    assert person(world.ADMIN_EMAIL).check_password("correct horse battery staple")


def test_catalogue_has_every_level_and_a_shared_service_uuid(demo: str) -> None:
    levels = set(ServiceDefinition.objects.values_list("level", flat=True))
    assert levels == set(Level.values)
    for provider in world.PROVIDERS:
        provider_levels = set(
            ServiceDefinition.objects.filter(provider__oin=provider.oin).values_list("level", flat=True)
        )
        assert provider_levels == set(Level.values), provider.name_nl
    shared = ServiceDefinition.objects.filter(uuid=world.service_uuid("vergunningen"))
    assert shared.values("provider").distinct().count() == 2
    assert ServiceDefinition.objects.filter(branch_restriction_allowed=True).exists()
    assert ServiceInstance.objects.filter(index=1).count() == len(world.PROVIDERS)
    assert all(i.service_url.startswith("https://") for i in ServiceInstance.objects.all())


def test_organisations_cover_every_authority_and_have_valid_identifiers(demo: str) -> None:
    assert set(Functionary.objects.values_list("authority", flat=True)) == set(Authority.values)
    for organisation in Organisation.objects.all():
        assert len(organisation.kvk) == 8
        assert organisation.rsin == "" or rsin_passes_eleven_test(organisation.rsin)
    assert Branch.objects.count() >= len(world.ORGANISATIONS)


def test_people_cover_every_level_and_one_means_is_suspended(demo: str) -> None:
    people = Person.objects.filter(is_staff=False)
    assert {p.means.level for p in people} == set(Level.values)
    assert people.filter(means__status=MeansStatus.SUSPENDED).count() == 1
    assert all(p.email.split("@")[1] in {"example.nl", "example.org"} for p in people)
    assert people.filter(memberships__manager_level__isnull=False).exists()


def test_mandates_cover_every_scope_and_state(demo: str) -> None:
    now = timezone.now()
    mandates = Mandate.objects.all()
    assert set(mandates.values_list("scope_kind", flat=True)) == set(ScopeKind.values)
    assert mandates.filter(branch__isnull=False).exists()
    assert mandates.filter(revoked_at__isnull=False).count() == 1
    assert mandates.filter(revoked_at__isnull=True, valid_until__lte=now).count() == 1
    assert mandates.filter(valid_from__gt=now).count() == 1
    assert ChainMandate.objects.filter(intermediary=org("accountants"), revoked_at__isnull=True).count() == 3
    expired = mandates.get(valid_until__lte=now)
    assert AuditEvent.objects.filter(action="mandate:granted", subject_id=str(expired.pk)).exists()


def test_the_accountants_employee_files_the_bakerys_vat_through_the_chain(demo: str) -> None:
    lotte, bakery, accountants = person("lotte.devries@example.nl"), org("bakkerij"), org("accountants")
    vat = instance("belastingdienst", "aangifte-omzetbelasting")
    decision = decide(lotte, bakery, vat, intermediary=accountants)
    assert decision.allowed
    assert decision.chain_mandate == ChainMandate.objects.get(client=bakery, intermediary=accountants).pk
    # Without the chain she has no mandate of the bakery itself; and the chain does not reach the land registry.
    assert decide(lotte, bakery, vat).codes == ["no_mandate"]
    refused = decide(lotte, bakery, instance("kadaster", "mijn-kadaster"), intermediary=accountants)
    assert "chain_mandate_missing" in refused.codes


def test_the_refusals_of_the_demo_say_why(demo: str) -> None:
    bakery, foundation = org("bakkerij"), org("stichting")
    kees = decide(person("kees.mulder@example.org"), bakery, instance("belastingdienst", "aangifte-omzetbelasting"))
    assert kees.codes == ["mandate_revoked"]
    henk = decide(person("henk.smit@example.org"), foundation, instance("rvo", "subsidie-aanvragen"))
    assert henk.codes == ["mandate_expired"]
    thomas = decide(person("thomas.bos@example.org"), foundation, instance("sleutelstad", "vergunningen"))
    assert thomas.codes == ["means_inactive"]
    daan = decide(
        person("daan.hendriks@example.nl"),
        org("accountants"),
        instance("belastingdienst", "mijn-belastingdienst-zakelijk"),
    )
    assert daan.codes == ["mandate_not_yet_valid"]
    jan = decide(person("jan.debakker@example.nl"), bakery, instance("belastingdienst", "douane-aeo"))
    assert set(jan.codes) == {"means_level_too_low", "mandate_level_too_low"}


def test_the_demo_allows_what_its_people_are_for(demo: str) -> None:
    bakery = org("bakkerij")
    assert decide(person("jan.debakker@example.nl"), bakery, instance("kadaster", "eigendomsinformatie")).allowed
    fatima = person("fatima.elamrani@example.nl")
    # One ServiceUUID, two providers: the permits mandate serves both.
    assert decide(fatima, bakery, instance("sleutelstad", "vergunningen")).allowed
    assert decide(fatima, bakery, instance("omgevingsdienst", "vergunningen")).allowed
    waste = decide(person("sanne.visser@example.nl"), bakery, instance("sleutelstad", "bedrijfsafval"))
    assert waste.allowed and waste.branch == "000045678902"
    vacancies = decide(person("sanne.visser@example.nl"), bakery, instance("uwv", "vacatures"))
    assert vacancies.codes == ["no_mandate"]
    pieter = decide(person("pieter.vandijk@example.nl"), org("accountants"), instance("belastingdienst", "douane-aeo"))
    assert pieter.allowed and pieter.level == Level.EH4
