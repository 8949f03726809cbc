"""The decision engine, rule by rule: may this person act for this organisation at this service, and if not, why."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import MeansStatus
from sleutelbos.identity.services import means_change_level, means_set_status
from sleutelbos.mandates.decisions import (
    REASON_CODES,
    Decision,
    Reason,
    decide,
    holders_for,
    organisations_for,
    services_for,
)
from sleutelbos.mandates.services import Scope, chain_mandate_revoke, mandate_revoke
from tests import factories as f

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# A moment well inside the default one-year validity of a mandate granted now, and one well after it.
NEXT_MONTH = f.years_from_now(1 / 12)


def in_two_years() -> dt.datetime:
    return f.years_from_now(2)


def codes(decision: Decision) -> list[str]:
    """The reason codes, sorted: the engine reports every reason, the order is not part of the contract."""
    return sorted(decision.codes)


def message(decision: Decision, code: str, language: str = "en") -> str:
    (reason,) = [reason for reason in decision.reasons if reason.code == code]
    with translation.override(language):
        return reason.message


# --------------------------------------------------------------------------------------------------------------------
# No mandate, and the three scope kinds


def test_without_any_mandate_the_person_is_refused_with_no_mandate() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")

    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["no_mandate"]
    assert message(decision, "no_mandate") == "You have no mandate from this organisation that covers this service."


def test_a_mandate_of_another_organisation_or_another_person_does_not_count() -> None:
    service, org, other_org = f.instance(level="EH3"), f.company(), f.company()
    person, colleague = f.person(level="EH3"), f.person(level="EH3")
    f.mandate(person, other_org)
    f.mandate(colleague, org)

    assert codes(decide(person, org, service)) == ["no_mandate"]
    assert decide(colleague, org, service).allowed


def test_an_all_services_mandate_covers_every_provider_including_one_that_joins_later() -> None:
    org, person = f.company(), f.person(level="EH3")
    existing = f.instance(level="EH3")
    granted = f.mandate(person, org, scope=Scope.all())
    later = f.instance(level="EH2")

    for service in (existing, later):
        decision = decide(person, org, service)
        assert decision.allowed
        assert decision.mandates == (granted.pk,)
        assert decision.reasons == ()


def test_a_providers_mandate_covers_a_service_the_provider_adds_after_the_grant() -> None:
    org, person = f.company(), f.person(level="EH3")
    provider, other_provider = f.provider(), f.provider()
    f.instance(f.definition(provider, level="EH3"))
    f.mandate(person, org, scope=Scope.of_providers(provider))

    added_later = f.instance(f.definition(provider, level="EH3"))
    elsewhere = f.instance(f.definition(other_provider, level="EH3"))

    assert decide(person, org, added_later).allowed
    assert codes(decide(person, org, elsewhere)) == ["no_mandate"]


def test_a_services_mandate_covers_exactly_its_service_uuids() -> None:
    org, person = f.company(), f.person(level="EH3")
    provider = f.provider()
    chosen = f.instance(f.definition(provider, level="EH3"))
    not_chosen = f.instance(f.definition(provider, level="EH3"))
    f.mandate(person, org, scope=Scope.of_services(chosen.definition.uuid))

    assert decide(person, org, chosen).allowed
    assert decide(person, org, chosen.definition).allowed
    assert codes(decide(person, org, not_chosen)) == ["no_mandate"]


def test_two_providers_sharing_a_service_uuid_share_the_mandate_for_it() -> None:
    org, person = f.company(), f.person(level="EH3")
    shared = f.definition(f.provider(), level="EH3")
    at_first = f.instance(shared)
    at_second = f.instance(f.definition(f.provider(), level="EH3", uuid=shared.uuid))
    unrelated = f.instance(level="EH3")
    f.mandate(person, org, scope=Scope.of_services(shared.uuid))

    assert at_first.provider != at_second.provider
    assert decide(person, org, at_first).allowed
    assert decide(person, org, at_second).allowed
    assert codes(decide(person, org, unrelated)) == ["no_mandate"]


# --------------------------------------------------------------------------------------------------------------------
# Levels


def test_a_mandate_below_the_service_level_is_refused_with_both_levels_named() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    f.mandate(person, org, level="EH2+")

    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["mandate_level_too_low"]
    assert message(decision, "mandate_level_too_low") == (
        "Your mandate is for level EH2+, but this service asks for EH3."
    )


def test_a_means_downgraded_after_the_grant_is_refused_with_means_level_too_low() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    f.mandate(person, org, level="EH3")
    assert decide(person, org, service).allowed

    means_change_level(actor=SYSTEM, person=person, level="EH2+", reason="ID document expired")
    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["means_level_too_low"]
    assert message(decision, "means_level_too_low") == (
        "Your eHerkenning means has level EH2+, but this service asks for EH3."
    )


@pytest.mark.parametrize(("status", "label"), [(MeansStatus.SUSPENDED, "suspended"), (MeansStatus.REVOKED, "revoked")])
def test_an_inactive_means_is_refused_and_says_its_status(status: MeansStatus, label: str) -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    f.mandate(person, org)

    means_set_status(actor=SYSTEM, person=person, status=status)
    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["means_inactive"]
    assert message(decision, "means_inactive") == f"Your eHerkenning means is not active ({label})."


def test_a_person_without_means_is_refused_with_means_inactive() -> None:
    service, org = f.instance(level="EH2"), f.company()
    person = f.person(level=None)

    assert codes(decide(person, org, service)) == ["means_inactive", "no_mandate"]


def test_a_suspended_means_works_again_once_reactivated() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    f.mandate(person, org)
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED)
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.ACTIVE)

    assert decide(person, org, service).allowed


def test_asking_a_lower_level_than_the_catalogue_lets_a_lower_mandate_and_means_serve() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH2+")
    f.mandate(person, org, level="EH2+")

    at_catalogue_level = decide(person, org, service)
    lower = decide(person, org, service, level=Level.EH2_PLUS)

    assert codes(at_catalogue_level) == ["mandate_level_too_low", "means_level_too_low"]
    assert at_catalogue_level.level == Level.EH3
    assert lower.allowed
    assert lower.level == Level.EH2_PLUS


def test_asking_a_higher_level_than_the_catalogue_is_refused_even_with_a_strong_mandate() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH4")
    f.mandate(person, org, level="EH4")

    decision = decide(person, org, service, level=Level.EH4)

    assert not decision.allowed
    assert codes(decision) == ["level_above_catalogue"]
    assert message(decision, "level_above_catalogue") == (
        "Level EH4 was asked, but this service needs at most EH3: a login may not ask more than the catalogue."
    )


# --------------------------------------------------------------------------------------------------------------------
# Validity and revocation


def test_a_mandate_is_refused_after_it_expires_and_the_reason_names_the_date() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    until = dt.datetime(2031, 3, 15, 12, 0, tzinfo=AMSTERDAM)
    with time_machine.travel(dt.datetime(2030, 3, 15, 12, 0, tzinfo=AMSTERDAM), tick=False):
        f.mandate(person, org, valid_until=until)

    before = decide(person, org, service, at=until - dt.timedelta(seconds=1))
    at_the_end = decide(person, org, service, at=until)

    assert before.allowed
    assert not at_the_end.allowed
    assert codes(at_the_end) == ["mandate_expired"]
    assert message(at_the_end, "mandate_expired") == "Your mandate expired on March 15, 2031."
    assert "15 maart 2031" in message(at_the_end, "mandate_expired", "nl")


def test_an_expired_mandate_refuses_logins_when_that_day_comes() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    f.mandate(person, org, valid_until=f.years_from_now(1))

    with time_machine.travel(in_two_years(), tick=False):
        decision = decide(person, org, service)

    assert codes(decision) == ["mandate_expired"]


def test_a_mandate_that_starts_later_is_refused_until_then_with_its_start_date() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    start = dt.datetime(2031, 3, 15, 9, 0, tzinfo=AMSTERDAM)
    with time_machine.travel(dt.datetime(2030, 6, 1, 9, 0, tzinfo=AMSTERDAM), tick=False):
        f.mandate(person, org, valid_from=start, valid_until=start + dt.timedelta(days=365))
        decision = decide(person, org, service)

    assert codes(decision) == ["mandate_not_yet_valid"]
    assert message(decision, "mandate_not_yet_valid") == "Your mandate is valid from March 15, 2031."
    assert decide(person, org, service, at=start).allowed


def test_revocation_works_immediately_and_says_when() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    granted = f.mandate(person, org)
    assert decide(person, org, service).allowed

    revoked = mandate_revoke(actor=SYSTEM, mandate=granted, reason="left the company")
    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["mandate_revoked"]
    revoked_on = revoked.revoked_at.astimezone(AMSTERDAM).date()
    assert str(revoked_on.year) in message(decision, "mandate_revoked")
    assert message(decision, "mandate_revoked").startswith("Your mandate was revoked on ")


# --------------------------------------------------------------------------------------------------------------------
# Branches


def test_a_branch_restricted_mandate_serves_a_service_that_accepts_branches_and_the_login_carries_the_branch() -> None:
    org, person = f.company(), f.person(level="EH3")
    branch = f.branch(org)
    service = f.instance(level="EH3", branch_restriction_allowed=True)
    f.mandate(person, org, branch_=branch)

    decision = decide(person, org, service)

    assert decision.allowed
    assert decision.branch == branch.number


def test_a_branch_restricted_mandate_is_refused_where_the_service_does_not_accept_branches() -> None:
    org, person = f.company(), f.person(level="EH3")
    branch = f.branch(org)
    service = f.instance(level="EH3", branch_restriction_allowed=False)
    f.mandate(person, org, branch_=branch)

    decision = decide(person, org, service)

    assert not decision.allowed
    assert codes(decision) == ["branch_not_accepted"]
    assert message(decision, "branch_not_accepted") == (
        f"Your mandate is restricted to branch {branch.number}, and this service does not accept branch restrictions."
    )


def test_an_unrestricted_mandate_serves_without_branch_even_when_a_restricted_one_also_exists() -> None:
    org, person = f.company(), f.person(level="EH3")
    branch = f.branch(org)
    service = f.instance(level="EH3", branch_restriction_allowed=True)
    restricted = f.mandate(person, org, branch_=branch)
    unrestricted = f.mandate(person, org)

    decision = decide(person, org, service)

    assert decision.allowed
    assert decision.branch is None
    assert decision.mandates == (unrestricted.pk, restricted.pk)


def test_a_login_for_another_branch_than_the_mandate_is_refused() -> None:
    org, person = f.company(), f.person(level="EH3")
    mine, other = f.branch(org), f.branch(org)
    service = f.instance(level="EH3", branch_restriction_allowed=True)
    f.mandate(person, org, branch_=mine)

    assert decide(person, org, service, branch=mine).branch == mine.number
    assert codes(decide(person, org, service, branch=other)) == ["branch_other"]


# --------------------------------------------------------------------------------------------------------------------
# Chain mandates: employee G of intermediary A acts for client B


@pytest.fixture
def chain_world() -> dict:
    service = f.instance(level="EH3")
    client, intermediary = f.company(name="Bakkerij B.V."), f.company(name="Accountants A")
    employee = f.person(level="EH3")
    own = f.mandate(employee, intermediary, scope=Scope.of_providers(service.provider), valid_until=in_two_years())
    return {"service": service, "client": client, "intermediary": intermediary, "employee": employee, "own": own}


def test_an_employee_of_an_intermediary_acts_for_the_client_through_a_chain_mandate(chain_world: dict) -> None:
    w = chain_world
    chain = f.chain_mandate(w["client"], w["intermediary"], scope=Scope.of_services(w["service"].definition.uuid))

    decision = decide(w["employee"], w["client"], w["service"], intermediary=w["intermediary"])

    assert decision.allowed
    assert decision.mandates == (w["own"].pk,)
    assert decision.chain_mandate == chain.pk
    # Without naming the intermediary, the employee has no mandate from the client itself.
    assert codes(decide(w["employee"], w["client"], w["service"])) == ["no_mandate"]


def test_without_a_chain_mandate_the_intermediary_cannot_act_for_the_client(chain_world: dict) -> None:
    w = chain_world
    f.chain_mandate(w["client"], w["intermediary"], scope=Scope.of_services(f.definition().uuid))

    decision = decide(w["employee"], w["client"], w["service"], intermediary=w["intermediary"])

    assert codes(decision) == ["chain_mandate_missing"]
    assert message(decision, "chain_mandate_missing") == (
        "The organisation has not authorized your organisation (chain mandate) for this service."
    )


def test_an_expired_chain_mandate_is_refused(chain_world: dict) -> None:
    w = chain_world
    f.chain_mandate(w["client"], w["intermediary"], valid_until=f.years_from_now(1))

    decision = decide(
        w["employee"], w["client"], w["service"], intermediary=w["intermediary"], at=f.years_from_now(1.5)
    )

    assert codes(decision) == ["chain_mandate_expired"]


def test_a_revoked_chain_mandate_is_refused_at_once(chain_world: dict) -> None:
    w = chain_world
    chain = f.chain_mandate(w["client"], w["intermediary"])
    chain_mandate_revoke(actor=SYSTEM, chain_mandate=chain)

    decision = decide(w["employee"], w["client"], w["service"], intermediary=w["intermediary"])

    assert codes(decision) == ["chain_mandate_revoked"]


def test_a_chain_mandate_below_the_service_level_is_refused(chain_world: dict) -> None:
    w = chain_world
    f.chain_mandate(w["client"], w["intermediary"], level="EH2+")

    decision = decide(w["employee"], w["client"], w["service"], intermediary=w["intermediary"])

    assert codes(decision) == ["chain_mandate_level_too_low"]
    assert message(decision, "chain_mandate_level_too_low") == (
        "The chain mandate is for level EH2+, but this service asks for EH3."
    )


def test_a_chain_mandate_does_not_help_when_the_employee_mandate_does_not_cover_the_service(chain_world: dict) -> None:
    w = chain_world
    elsewhere = f.instance(level="EH3")
    f.chain_mandate(w["client"], w["intermediary"])

    decision = decide(w["employee"], w["client"], elsewhere, intermediary=w["intermediary"])

    assert codes(decision) == ["no_mandate"]
    # The mandate missing is one from the person's own organisation, not from the client.
    assert message(decision, "no_mandate") == (
        "You have no mandate from your own organisation, through which you act for this client, that covers this "
        "service."
    )


def test_a_branch_restricted_employee_mandate_cannot_be_used_for_a_client() -> None:
    service = f.instance(level="EH3", branch_restriction_allowed=True)
    client, intermediary = f.company(), f.company()
    employee = f.person(level="EH3")
    f.mandate(employee, intermediary, branch_=f.branch(intermediary))
    f.chain_mandate(client, intermediary)

    assert codes(decide(employee, client, service, intermediary=intermediary)) == ["branch_in_chain"]


# --------------------------------------------------------------------------------------------------------------------
# Every reason at once


def test_every_reason_that_applies_is_reported_at_once() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    expiring = f.mandate(person, org, valid_until=f.years_from_now(1))
    revoked = f.mandate(person, org, valid_until=in_two_years())
    mandate_revoke(actor=SYSTEM, mandate=revoked)
    means_change_level(actor=SYSTEM, person=person, level="EH2+")

    decision = decide(person, org, service, at=f.years_from_now(1.5))

    assert not decision.allowed
    assert codes(decision) == ["mandate_expired", "mandate_revoked", "means_level_too_low"]
    per_mandate = {(reason.code, reason.mandate) for reason in decision.reasons if reason.mandate}
    assert per_mandate == {("mandate_expired", expiring.pk), ("mandate_revoked", revoked.pk)}


def test_one_usable_mandate_is_enough_and_a_granted_decision_carries_no_reasons() -> None:
    service, org, person = f.instance(level="EH3"), f.company(), f.person(level="EH3")
    revoked = f.mandate(person, org)
    mandate_revoke(actor=SYSTEM, mandate=revoked)
    f.mandate(person, org, level="EH2")
    good = f.mandate(person, org, scope=Scope.of_providers(service.provider))

    decision = decide(person, org, service)

    assert decision.allowed
    assert decision.mandates == (good.pk,)
    assert decision.reasons == ()


# --------------------------------------------------------------------------------------------------------------------
# Messages: Dutch by default, English on request

DUTCH_WORDS = {"de", "het", "een", "niet", "geen", "uw", "je", "jouw", "van", "voor", "tot", "op", "met", "is", "deze"}


def all_reasons() -> dict[str, list[Reason]]:
    """One refused decision per reason code the engine has, each carrying (at least) that reason."""
    org = f.company()
    accepting = f.instance(level="EH3", branch_restriction_allowed=True)
    refusing = f.instance(level="EH3")
    branch, second_branch, foreign_branch = f.branch(org), f.branch(org), f.branch(f.company())
    later = f.years_from_now(1.5)

    def holder(means_level: str = "EH3", **mandate: object) -> object:
        person = f.person(level=means_level)
        if mandate:
            f.mandate(person, org, **mandate)
        return person

    low, weak, plain = holder(level="EH2+"), holder("EH2+"), holder(valid_until=in_two_years())
    suspended = holder()
    means_set_status(actor=SYSTEM, person=suspended, status=MeansStatus.SUSPENDED)
    revoked = f.person(level="EH3")
    mandate_revoke(actor=SYSTEM, mandate=f.mandate(revoked, org))
    restricted = holder(branch_=branch)
    chains = {}
    employee = f.person(level="EH3")
    for kind, chain in {
        "missing": {},
        "level": {"level": "EH2+"},
        "expired": {"valid_until": f.years_from_now(1)},
        "not_yet": {"valid_from": f.years_from_now(1), "valid_until": in_two_years()},
        "revoked": {},
        "branch": {},
    }.items():
        intermediary = f.company()
        f.mandate(
            employee,
            intermediary,
            valid_until=in_two_years(),
            branch_=f.branch(intermediary) if kind == "branch" else None,
        )
        if kind != "missing":
            chains[kind] = f.chain_mandate(org, intermediary, **chain)
        chains.setdefault(kind, intermediary)
    chain_mandate_revoke(actor=SYSTEM, chain_mandate=chains["revoked"])

    def via(kind: str, **kwargs: object) -> Decision:
        link = chains[kind]
        intermediary = link if kind == "missing" else link.intermediary
        return decide(employee, org, accepting, intermediary=intermediary, **kwargs)

    decisions = {
        "no_mandate": decide(f.person(level="EH3"), org, refusing),
        "mandate_level_too_low": decide(low, org, refusing),
        "means_level_too_low": decide(weak, org, refusing),
        "means_inactive": decide(suspended, org, refusing),
        "mandate_expired": decide(plain, org, refusing, at=f.years_from_now(2.5)),
        "mandate_not_yet_valid": decide(plain, org, refusing, at=f.years_from_now(-0.5)),
        "mandate_revoked": decide(revoked, org, refusing),
        "chain_mandate_missing": via("missing"),
        "chain_mandate_level_too_low": via("level"),
        "chain_mandate_expired": via("expired", at=later),
        "chain_mandate_not_yet_valid": via("not_yet"),
        "chain_mandate_revoked": via("revoked"),
        "branch_not_accepted": decide(restricted, org, refusing),
        "branch_other": decide(restricted, org, accepting, branch=second_branch),
        "branch_in_chain": via("branch"),
        "branch_unknown": decide(plain, org, accepting, branch=foreign_branch.number),
        "level_above_catalogue": decide(plain, org, accepting, level=Level.EH4),
    }
    found: dict[str, list[Reason]] = {}
    for code, decision in decisions.items():
        assert not decision.allowed, code
        assert code in decision.codes, (code, decision.codes)
        for reason in decision.reasons:
            found.setdefault(reason.code, []).append(reason)
    return found


def test_every_reason_code_reads_as_an_english_sentence_on_request() -> None:
    found = all_reasons()
    assert set(found) == set(REASON_CODES)
    with translation.override("en"):
        for code, reasons in found.items():
            for reason in reasons:
                text = reason.message
                assert re.fullmatch(r"[A-Z].*[.]", text), (code, text)
                assert not DUTCH_WORDS & set(re.findall(r"\w+", text.lower())) - {"is", "op"}, (code, text)


def test_every_reason_code_reads_as_a_dutch_sentence_by_default() -> None:
    found = all_reasons()
    for code, reasons in found.items():
        for reason in reasons:
            dutch = reason.message
            with translation.override("en"):
                english = reason.message
            assert re.fullmatch(r"[A-Z].*[.]", dutch), (code, dutch)
            assert dutch != english, f"{code} is not translated into Dutch: {dutch!r}"
            assert DUTCH_WORDS & set(re.findall(r"\w+", dutch.lower())), (code, dutch)


# --------------------------------------------------------------------------------------------------------------------
# organisations_for: whom may this person represent here


def test_organisations_for_lists_direct_and_intermediary_representations_and_leaves_out_the_rest() -> None:
    service = f.instance(level="EH3")
    person = f.person(level="EH3")
    employer = f.company(name="A Accountants")
    client = f.company(name="B Bakkerij")
    unrelated_client = f.company(name="C Café")
    no_cover = f.company(name="D Drukkerij")
    revoked_org = f.company(name="E Elektra")
    f.mandate(person, employer, scope=Scope.of_providers(service.provider))
    f.chain_mandate(client, employer, scope=Scope.of_services(service.definition.uuid))
    f.chain_mandate(unrelated_client, employer, scope=Scope.of_services(f.definition().uuid))
    f.mandate(person, no_cover, scope=Scope.of_providers(f.provider()))
    mandate_revoke(actor=SYSTEM, mandate=f.mandate(person, revoked_org))

    found = organisations_for(person, service)

    assert [(r.organisation, r.intermediary) for r in found] == [(employer, None), (client, employer)]
    assert all(r.decision.allowed for r in found)


def test_organisations_for_is_empty_for_a_person_without_mandates_or_below_the_level() -> None:
    service = f.instance(level="EH3")
    assert organisations_for(f.person(level="EH3"), service) == []
    weak = f.person(level="EH2+")
    f.mandate(weak, f.company(), level="EH2+")
    assert organisations_for(weak, service) == []
    assert len(organisations_for(weak, service, Level.EH2_PLUS)) == 1


def test_organisations_for_offers_branches_only_where_the_service_accepts_branch_restrictions() -> None:
    person, org = f.person(level="EH3"), f.company()
    branches = sorted([f.branch(org).number, f.branch(org).number])
    accepting = f.instance(level="EH3", branch_restriction_allowed=True)
    refusing = f.instance(level="EH3")
    f.mandate(person, org)

    (at_accepting,) = organisations_for(person, accepting)
    (at_refusing,) = organisations_for(person, refusing)

    assert at_accepting.branches == tuple(branches)
    assert not at_accepting.restricted_to_branch
    assert at_refusing.branches == ()


def test_organisations_for_shows_a_branch_restricted_mandate_as_restricted_without_a_choice() -> None:
    person, org = f.person(level="EH3"), f.company()
    branch = f.branch(org)
    f.branch(org)
    f.mandate(person, org, branch_=branch)

    (found,) = organisations_for(person, f.instance(level="EH3", branch_restriction_allowed=True))

    assert found.decision.branch == branch.number
    assert found.branches == ()
    assert found.restricted_to_branch
    assert organisations_for(person, f.instance(level="EH3")) == []


# --------------------------------------------------------------------------------------------------------------------
# services_for: the portal request


def test_services_for_lists_only_the_providers_services_the_person_may_use() -> None:
    person, org = f.person(level="EH3"), f.company()
    provider = f.provider()
    tax = f.instance(f.definition(provider, level="EH3"))
    permit = f.instance(f.definition(provider, level="EH2"))
    not_granted = f.instance(f.definition(provider, level="EH2"))
    too_high = f.instance(f.definition(provider, level="EH4"))
    other_provider = f.instance(level="EH2")
    f.mandate(
        person, org, scope=Scope.of_services(tax.definition.uuid, permit.definition.uuid, too_high.definition.uuid)
    )
    f.mandate(person, org, scope=Scope.of_providers(other_provider.provider))

    assert set(services_for(person, org, provider)) == {tax, permit}
    assert services_for(person, org, provider, Level.EH2) == [permit]
    assert not_granted not in services_for(person, org)
    assert other_provider in services_for(person, org)


def test_services_for_is_empty_for_another_organisation() -> None:
    person, org = f.person(level="EH3"), f.company()
    service = f.instance(level="EH3")
    f.mandate(person, org)

    assert services_for(person, org, service.provider) == [service]
    assert services_for(person, f.company(), service.provider) == []


# --------------------------------------------------------------------------------------------------------------------
# holders_for: who may do this


def test_holders_for_lists_direct_holders_and_intermediary_employees_but_not_revoked_or_uncovered_ones() -> None:
    service = f.instance(level="EH3")
    org, accountant = f.company(), f.company()
    direct = f.person(level="EH3", name="Anna Direct")
    revoked = f.person(level="EH3", name="Bert Ingetrokken")
    elsewhere = f.person(level="EH3", name="Carla Elders")
    employee = f.person(level="EH3", name="Dirk Accountant")
    f.mandate(direct, org)
    mandate_revoke(actor=SYSTEM, mandate=f.mandate(revoked, org))
    f.mandate(elsewhere, org, scope=Scope.of_providers(f.provider()))
    f.mandate(employee, accountant)
    f.chain_mandate(org, accountant, scope=Scope.of_providers(service.provider))

    found = holders_for(org, service)

    assert [(h.person, h.intermediary) for h in found] == [(direct, None), (employee, accountant)]


# --------------------------------------------------------------------------------------------------------------------
# Performance a user notices: a login costs a fixed, small number of queries


def test_decide_uses_at_most_five_queries_however_many_mandates_exist(django_assert_max_num_queries) -> None:
    provider = f.provider()
    service = f.instance(f.definition(provider, level="EH3", branch_restriction_allowed=True))
    person, org, intermediary = f.person(level="EH3"), f.company(), f.company()
    branch = f.branch(org)
    for _ in range(8):
        f.mandate(person, org, scope=Scope.of_providers(provider, f.provider()))
        f.mandate(person, org, scope=Scope.of_services(service.definition.uuid, f.definition().uuid))
        f.mandate(person, intermediary, level="EH2", scope=Scope.of_services(service.definition.uuid))
        f.mandate(f.person(level="EH3"), org)
        f.chain_mandate(org, intermediary, scope=Scope.of_providers(provider))
    f.mandate(person, org, branch_=branch)

    with django_assert_max_num_queries(5):
        assert decide(person, org, service).allowed
    with django_assert_max_num_queries(5):
        assert decide(person, org, service, branch=branch.number).allowed
    with django_assert_max_num_queries(5):
        assert codes(decide(person, org, service, intermediary=intermediary)) == ["mandate_level_too_low"] * 8
    with django_assert_max_num_queries(5):
        assert decide(person.pk, org.pk, service.definition, intermediary=intermediary.pk, level=Level.EH2).allowed


def test_a_suspended_means_below_the_level_asked_gives_both_reasons() -> None:
    service = f.instance(level="EH3")
    org = f.organisation()
    person = f.person(level="EH3")
    f.mandate(person, org, level="EH3")
    means_change_level(actor=SYSTEM, person=person, level="EH2")
    means_set_status(actor=SYSTEM, person=person, status=MeansStatus.SUSPENDED)
    assert codes(decide(person, org, service)) == ["means_inactive", "means_level_too_low"]
