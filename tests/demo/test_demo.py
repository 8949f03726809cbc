"""The demo world: loads idempotently, covers every kind of thing, and its decisions tell the stories it means to."""

from __future__ import annotations

import io
import re

import pyotp
import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from sleutelbos.audit.models import AuditEvent
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance
from sleutelbos.demo import world
from sleutelbos.identity import sessions
from sleutelbos.identity.models import MeansStatus, Person, TotpDevice
from sleutelbos.identity.views import MEANS_SUSPENDED
from sleutelbos.mandates.decisions import decide
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.organisations.identifiers import rsin_passes_eleven_test
from sleutelbos.organisations.models import Authority, Branch, Functionary, Organisation
from tests.identity.test_login import body, emailed_code, message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_hashes(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every demo person gets a password; Argon2 at production cost would make each load slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.delenv(world.PEOPLE_PASSWORD_ENV, raising=False)


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


def people_password(output: str) -> str:
    """The demo people's password as the summary printed it."""
    match = re.search(r"and password (\S+) \(", output)
    assert match, output
    return match.group(1)


def app_secret(output: str) -> str:
    """The authenticator app secret as the summary printed it."""
    match = re.search(r"Authenticator app of jan\.debakker@example\.nl .*: secret ([A-Z2-7]+)\n", output)
    assert match, output
    return match.group(1)


def log_in(client: Client, email: str, password: str):
    return client.post(reverse("identity:login"), {"email": email, "password": password})


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


def test_every_demo_person_logs_in_with_the_printed_password(demo: str) -> None:
    password = people_password(demo)
    for spec in world.PEOPLE:
        assert person(spec.email).activated_at is not None
        assert spec.email in demo
        if spec.status != MeansStatus.ACTIVE:
            continue
        response = log_in(Client(), spec.email, password)
        expected = "identity:account" if spec.level == Level.EH2 else "identity:login_factor"
        assert response.status_code == 302, spec.email
        assert response["Location"] == reverse(expected), spec.email


def test_an_eh2_plus_demo_person_completes_the_login_with_the_emailed_code(
    demo: str, client: Client, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        log_in(client, "fatima.elamrani@example.nl", people_password(demo))
    assert mail.outbox[-1].to == ["fatima.elamrani@example.nl"]

    response = client.post(reverse("identity:login_factor"), {"method": "email", "email-code": emailed_code()})

    assert response.status_code == 302
    assert client.session[sessions.AUTH_LEVEL] == Level.EH2_PLUS


def test_the_eh3_demo_person_logs_in_with_a_code_from_the_printed_app_secret(demo: str, client: Client) -> None:
    totp = pyotp.TOTP(app_secret(demo))
    assert f"secret={app_secret(demo)}" in demo  # the otpauth:// URI for a QR code generator

    log_in(client, world.APP_PERSON_EMAIL, people_password(demo))
    # The code the app shows right now works at once: the demo confirmed the app with an earlier one.
    response = client.post(reverse("identity:login_factor"), {"method": "totp", "totp-code": totp.now()})

    assert response.status_code == 302
    assert client.session[sessions.AUTH_LEVEL] == Level.EH3


def test_the_suspended_demo_person_is_refused_with_the_reason(demo: str, client: Client) -> None:
    response = log_in(client, "thomas.bos@example.org", people_password(demo))

    assert response.status_code == 400
    assert message(MEANS_SUSPENDED) in body(response)
    assert "_auth_user_id" not in client.session
    assert person("thomas.bos@example.org").means.status == MeansStatus.SUSPENDED


def test_the_summary_says_how_each_demo_person_logs_in(demo: str) -> None:
    rows = {line.split()[0]: line for line in demo.splitlines() if re.match(r"\s+\S+@example\.(nl|org)\s", line)}
    assert set(rows) == {spec.email for spec in world.PEOPLE}
    assert "authenticator app" in rows[world.APP_PERSON_EMAIL]
    assert "EH2+" in rows["fatima.elamrani@example.nl"] and "e-mail" in rows["fatima.elamrani@example.nl"]
    assert "suspended" in rows["thomas.bos@example.org"]
    assert "security key" in rows["pieter.vandijk@example.nl"]


def test_a_second_run_sets_no_password_adds_no_app_and_prints_no_secret(demo: str) -> None:
    password, secret = people_password(demo), app_secret(demo)

    second = run_demo()

    assert password not in second and secret not in second
    assert "otpauth://" not in second
    assert "unchanged" in second
    assert TotpDevice.objects.count() == 1
    assert all(person(spec.email).check_password(password) for spec in world.PEOPLE)
    assert world.APP_PERSON_EMAIL in second  # the table of logins is shown every time


def test_the_demo_password_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(world.PEOPLE_PASSWORD_ENV, "linde-onder-de-toren-31")

    output = run_demo()

    assert "linde-onder-de-toren" not in output
    assert f"the password from {world.PEOPLE_PASSWORD_ENV}" in output
    assert person("sanne.visser@example.nl").check_password("linde-onder-de-toren-31")
    assert log_in(Client(), "sanne.visser@example.nl", "linde-onder-de-toren-31")["Location"] == reverse(
        "identity:account"
    )


def test_a_demo_password_that_breaks_the_rules_loads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(world.PEOPLE_PASSWORD_ENV, "demo")

    with pytest.raises(CommandError, match="too short"):
        run_demo()

    assert not Person.objects.exists()
