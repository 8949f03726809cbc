"""Holders and managers are mailed 60 and 14 days before a mandate expires, never twice for the same threshold."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import formats, timezone, translation

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor
from sleutelbos.catalogue.levels import Level
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mail.periodic import PERIODIC_TASKS
from sleutelbos.mandates.expiry import expiry_warn
from sleutelbos.mandates.models import ExpiryNotice
from sleutelbos.mandates.services import Scope, mandate_renew, mandate_revoke
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def world():
    bakery = factories.organisation(name="Bakkerij Brood B.V.", kvk="45678901")
    holder = factories.person(name="Joost Medewerker", email="joost@bakkerij.nl")
    manager = factories.person(name="Mirjam Beheer", email="mirjam@bakkerij.nl")
    membership_ensure(actor=SYSTEM, person=manager, organisation=bakery)
    membership_set_manager(actor=SYSTEM, person=manager, organisation=bakery, level=Level.EH3)
    kadaster = factories.provider(name="Kadaster", oin="00000009900000002000")
    now = timezone.now()
    mandate = factories.mandate(
        holder, bakery, scope=Scope.of_providers(kadaster), valid_until=now + dt.timedelta(days=100)
    )
    return {"bakery": bakery, "holder": holder, "manager": manager, "mandate": mandate, "now": now}


def mails_to(address: str) -> list[EmailMessage]:
    """The expiry mails delivered to ``address``, in order."""
    sent = {m.subject for m in OutgoingMail.objects.filter(to=address, purpose="mandate_expiry")}
    return [m for m in mail.outbox if m.to == [address] and m.subject in sent]


def test_nothing_is_sent_before_60_days(world):
    assert expiry_warn(now=world["now"] + 39 * DAY) == []
    assert not OutgoingMail.objects.filter(purpose="mandate_expiry").exists()


def test_holder_and_manager_are_warned_at_60_days_once(world):
    at = world["now"] + 41 * DAY  # 59 days left

    notices = expiry_warn(now=at)

    assert [(n.mandate, n.days_before) for n in notices] == [(world["mandate"], 60)]
    [to_holder] = mails_to("joost@bakkerij.nl")
    [to_manager] = mails_to("mirjam@bakkerij.nl")
    assert "Kadaster" in to_holder.body and "59" in to_holder.body
    assert "/requests/new/?kvk=45678901&level=EH3&provider=00000009900000002000" in to_holder.body
    renew = reverse("manage_mandate_renew", kwargs={"organisation": world["bakery"].pk, "mandate": world["mandate"].pk})
    assert renew in to_manager.body and "Joost Medewerker" in to_manager.body
    assert renew not in to_holder.body
    # The next runs, the same day or later before 14 days, send nothing again.
    assert expiry_warn(now=at + dt.timedelta(hours=1)) == []
    assert expiry_warn(now=at + 40 * DAY) == []
    assert len(mails_to("joost@bakkerij.nl")) == 1
    event = AuditEvent.objects.get(action="mandate:expiry_warned")
    assert event.data["days_before"] == 60 and event.data["recipients"] == 2


def test_the_14_day_warning_follows_the_60_day_one(world):
    expiry_warn(now=world["now"] + 41 * DAY)
    notices = expiry_warn(now=world["now"] + 87 * DAY)  # 13 days left

    assert [n.days_before for n in notices] == [14]
    assert len(mails_to("joost@bakkerij.nl")) == 2
    assert "13" in mails_to("mirjam@bakkerij.nl")[-1].body
    assert expiry_warn(now=world["now"] + 95 * DAY) == []


def test_a_mandate_found_past_both_thresholds_gets_one_mail(world):
    notices = expiry_warn(now=world["now"] + 90 * DAY)

    assert sorted(n.days_before for n in notices) == [14, 60]
    assert len(mails_to("joost@bakkerij.nl")) == 1
    assert expiry_warn(now=world["now"] + 91 * DAY) == []


def test_a_renewed_mandate_is_warned_again_before_its_new_end(world):
    expiry_warn(now=world["now"] + 41 * DAY)
    mandate_renew(actor=SYSTEM, mandate=world["mandate"], years=1, now=world["now"] + 50 * DAY)

    assert expiry_warn(now=world["now"] + 60 * DAY) == []  # the new end is a year away
    notices = expiry_warn(now=world["now"] + 50 * DAY + 306 * DAY)

    assert [n.days_before for n in notices] == [60]
    assert len(mails_to("joost@bakkerij.nl")) == 2


def test_revoked_and_expired_mandates_are_not_warned_about(world):
    mandate_revoke(actor=SYSTEM, mandate=world["mandate"])
    assert expiry_warn(now=world["now"] + 90 * DAY) == []
    assert expiry_warn(now=world["now"] + 101 * DAY) == []


def test_a_manager_below_the_mandates_level_is_not_asked_to_renew_it(world):
    low = factories.person(name="Piet Laag", email="piet@bakkerij.nl")
    membership_ensure(actor=SYSTEM, person=low, organisation=world["bakery"])
    membership_set_manager(actor=SYSTEM, person=low, organisation=world["bakery"], level=Level.EH2)

    expiry_warn(now=world["now"] + 41 * DAY)

    assert mails_to("piet@bakkerij.nl") == []
    assert len(mails_to("mirjam@bakkerij.nl")) == 1


def test_a_manager_who_holds_the_mandate_gets_one_mail_with_the_renewal_link(world):
    own = factories.mandate(world["manager"], world["bakery"], valid_until=world["now"] + 100 * DAY)

    expiry_warn(now=world["now"] + 41 * DAY)

    [message] = mails_to("mirjam@bakkerij.nl")
    renew = reverse("manage_mandate_renew", kwargs={"organisation": world["bakery"].pk, "mandate": own.pk})
    assert renew in message.body
    assert "/requests/new/" not in message.body


def test_one_person_gets_one_mail_for_several_mandates(world):
    other = factories.organisation(name="Drukkerij Het Anker B.V.")
    factories.mandate(world["holder"], other, valid_until=world["now"] + 95 * DAY)

    expiry_warn(now=world["now"] + 45 * DAY)

    [message] = mails_to("joost@bakkerij.nl")
    assert "Bakkerij Brood B.V." in message.body and "Drukkerij Het Anker B.V." in message.body
    assert "2" in message.subject
    assert ExpiryNotice.objects.count() == 2


def test_the_worker_runs_the_warnings_on_a_schedule():
    assert any(p.task == "sleutelbos.mandates.tasks.warn_expiring_mandates" for p in PERIODIC_TASKS)


def test_the_mail_is_written_with_the_renewal_actor_untouched(world):
    """Warnings are sent by the system: the audit event names no person."""
    expiry_warn(now=world["now"] + 41 * DAY)
    event = AuditEvent.objects.get(action="mandate:expiry_warned")
    assert event.actor == SYSTEM.label and event.actor_person is None
    assert Actor.for_person(world["manager"]).label != event.actor


def test_each_person_reads_the_warning_in_the_language_they_use(world):
    world["holder"].language = "en"
    world["holder"].save(update_fields=["language"])
    at = world["now"] + 41 * DAY
    expiry_warn(now=at)
    [to_holder] = mails_to("joost@bakkerij.nl")
    [to_manager] = mails_to("mirjam@bakkerij.nl")
    assert OutgoingMail.objects.get(to="joost@bakkerij.nl").language == "en"
    assert "all services of Kadaster" in to_holder.body.replace("All", "all")
    assert OutgoingMail.objects.get(to="mirjam@bakkerij.nl").language == "nl"
    assert "alle diensten van Kadaster" in to_manager.body.replace("Alle", "alle")


AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _in_english(person) -> None:
    person.language = "en"
    person.save(update_fields=["language"])


def test_a_mandate_ending_tomorrow_expires_tomorrow_in_the_mail(world):
    _in_english(world["holder"])
    at = dt.datetime(2026, 11, 29, 10, 0, tzinfo=AMSTERDAM)
    with time_machine.travel(at - DAY, tick=False):
        other = factories.organisation(name="Drukkerij Het Anker B.V.")
        ending = factories.mandate(world["holder"], other, valid_until=at + dt.timedelta(hours=26))

    expiry_warn(now=at)

    [message] = mails_to("joost@bakkerij.nl")
    with translation.override("en"):
        date = formats.date_format(timezone.localtime(ending.valid_until), "j F Y")
    assert f"Expires tomorrow, on {date}." in message.body
    assert "2 days" not in message.body


def test_the_60_day_warning_goes_out_on_the_60th_calendar_day_once(world):
    at = dt.datetime(2026, 9, 30, 10, 0, tzinfo=AMSTERDAM)
    with time_machine.travel(at - DAY, tick=False):
        other = factories.organisation(name="Drukkerij Het Anker B.V.")
        # 60 days and two hours away: the page says "expires in 60 days", and so does the mail, that day.
        factories.mandate(world["holder"], other, valid_until=dt.datetime(2026, 11, 29, 12, 0, tzinfo=AMSTERDAM))

    assert expiry_warn(now=at - DAY) == []
    assert [n.days_before for n in expiry_warn(now=at)] == [60]
    assert expiry_warn(now=at + dt.timedelta(hours=3)) == []
    assert expiry_warn(now=at + DAY) == []
    [message] = mails_to("joost@bakkerij.nl")
    assert "60" in message.body
    # 14 days before, on the calendar: the second warning, once.
    assert [n.days_before for n in expiry_warn(now=at + 46 * DAY)] == [14]
    assert expiry_warn(now=at + 46 * DAY + dt.timedelta(hours=5)) == []
    assert len(mails_to("joost@bakkerij.nl")) == 2


def test_one_mandate_of_mine_is_spoken_of_in_the_singular(world):
    _in_english(world["holder"])
    _in_english(world["manager"])

    expiry_warn(now=world["now"] + 41 * DAY)

    [to_holder] = mails_to("joost@bakkerij.nl")
    [to_manager] = mails_to("mirjam@bakkerij.nl")
    for message in (to_holder, to_manager):
        assert "These mandates" not in message.body
    assert "This mandate of yours expires soon." in to_holder.body
    assert "This mandate you manage expires soon. Renew it if the holder still needs it;" in to_manager.body


def test_several_mandates_of_mine_are_spoken_of_in_the_plural(world):
    _in_english(world["holder"])
    factories.mandate(world["holder"], factories.organisation(), valid_until=world["now"] + 95 * DAY)

    expiry_warn(now=world["now"] + 45 * DAY)

    [message] = mails_to("joost@bakkerij.nl")
    assert "These mandates of yours expire soon." in message.body


def test_the_renewal_request_asks_for_exactly_the_expiring_mandate(world):
    tax = factories.provider(name="Belastingdienst")
    vat = factories.definition(tax, name="Aangifte omzetbelasting", branch_restriction_allowed=True)
    payroll = factories.definition(tax, name="Aangifte loonheffingen", branch_restriction_allowed=True)
    branch = factories.branch(world["bakery"], number="000045678902")
    mandate_revoke(actor=SYSTEM, mandate=world["mandate"])
    factories.mandate(
        world["holder"],
        world["bakery"],
        scope=Scope.of_services(vat.uuid, payroll.uuid),
        level=Level.EH2,
        branch_=branch,
        valid_until=world["now"] + 100 * DAY,
    )

    expiry_warn(now=world["now"] + 41 * DAY)

    [message] = mails_to("joost@bakkerij.nl")
    [link] = [line for line in message.body.split() if "/requests/new/" in line]
    query = parse_qs(urlsplit(link).query)
    assert query["kvk"] == ["45678901"] and query["level"] == ["EH2"]
    assert query["scope"] == ["services"]
    assert sorted(query["services"]) == sorted([str(vat.uuid), str(payroll.uuid)])
    assert query["branch_number"] == ["000045678902"]
    # A wizard that reads one service only must not narrow the request to one of the two.
    assert "service" not in query


def test_the_renewal_request_of_a_mandate_for_everything_asks_for_everything(world):
    mandate_revoke(actor=SYSTEM, mandate=world["mandate"])
    factories.mandate(world["holder"], world["bakery"], scope=Scope.all(), valid_until=world["now"] + 100 * DAY)

    expiry_warn(now=world["now"] + 41 * DAY)

    [message] = mails_to("joost@bakkerij.nl")
    [link] = [line for line in message.body.split() if "/requests/new/" in line]
    assert parse_qs(urlsplit(link).query)["scope"] == ["all"]
