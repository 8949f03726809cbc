"""A mandate manager's people pages: invite by e-mail (the invitee accepts from the mail), unlink, clean up."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity import sessions
from sleutelbos.identity.models import Person
from sleutelbos.mail.models import OutgoingMail
from sleutelbos.mandates.models import Mandate
from sleutelbos.organisations.models import Invitation, InvitationState, Membership
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db


def manager_of(organisation, level: Level = Level.EH3, **kwargs) -> Person:
    person = factories.person(level=level, **kwargs)
    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=level)
    return person


def member_of(organisation, **kwargs) -> Person:
    person = factories.person(**kwargs)
    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
    return person


def logged_in(person: Person, level: Level | None = Level.EH3) -> Client:
    """An English-reading browser of ``person`` whose session holds ``level`` (as after a login with its factors)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(person)
    if level is not None:
        session = client.session
        session[sessions.AUTH_LEVEL] = int(level)
        session.save()
    return client


def url(name: str, organisation, **kwargs) -> str:
    return reverse(name, kwargs={"organisation": organisation.pk, **kwargs})


def invitation_link(to: str) -> str:
    """The path of the link in the latest invitation mailed to ``to``."""
    message = [message for message in mail.outbox if message.to == [to]][-1]
    return re.search(r"https?://[^/\s]+(/my/invitations/[^/\s]+/)", message.body).group(1)


@pytest.fixture
def bakery():
    return factories.organisation(name="Bakkerij De Korst B.V.")


@pytest.fixture
def manager(bakery):
    return manager_of(bakery, name="Marieke Jansen")


# --- Inviting one person ----------------------------------------------------------------------------------------


def test_a_manager_invites_someone_new_and_sees_the_invitation_wait(bakery, manager):
    browser = logged_in(manager)
    answer = browser.post(
        url("manage_people_invite", bakery), {"email": "Jan@Example.nl", "name": "Jan de Vries", "language": "nl"}
    )

    assert answer.status_code == 302
    page = browser.get(answer["Location"])
    assert "An invitation was sent to Jan de Vries (jan@example.nl)." in text(page)
    row = re.search(r'<tr data-invitation="\d+" data-state="pending">.*?</tr>', page.content.decode(), re.S)
    assert row and "jan@example.nl" in row.group(0)
    [message] = mail.outbox
    assert message.to == ["jan@example.nl"]
    assert "Bakkerij De Korst B.V." in message.subject
    assert "Marieke Jansen" in message.body and "/my/invitations/" in message.body
    assert AuditEvent.objects.filter(action="invitation:sent", organisation=bakery).count() == 1


def test_the_invite_page_asks_the_managers_level_first(bakery, manager):
    answer = logged_in(manager, level=Level.EH2).get(url("manage_people_invite", bakery))
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("identity:step_up"))
    assert "level=EH3" in answer["Location"]


def test_someone_new_needs_a_name_and_a_real_address(bakery, manager):
    browser = logged_in(manager)

    no_name = browser.post(url("manage_people_invite", bakery), {"email": "jan@example.nl", "language": "nl"})
    assert no_name.status_code == 400
    assert "Give the name of the person at jan@example.nl: they have no Sleutelbos account yet." in text(no_name)
    bad = browser.post(url("manage_people_invite", bakery), {"email": "jan@", "name": "Jan", "language": "nl"})
    assert "“jan@” is not an e-mail address." in text(bad)
    assert not OutgoingMail.objects.exists() and not Invitation.objects.exists()


def test_a_member_cannot_be_invited_again(bakery, manager):
    member_of(bakery, name="Piet Bakker", email="piet@example.nl")
    browser = logged_in(manager)
    answer = browser.post(url("manage_people_invite", bakery), {"email": "PIET@example.nl", "language": "en"})
    assert answer.status_code == 400
    assert "Piet Bakker (piet@example.nl) already belongs to this organisation." in text(answer)
    assert not OutgoingMail.objects.exists()


# --- The invitee's side -----------------------------------------------------------------------------------------


def invite(bakery, manager, email: str, name: str = "") -> str:
    answer = logged_in(manager).post(
        url("manage_people_invite", bakery), {"email": email, "name": name, "language": "en"}
    )
    assert answer.status_code == 302, text(answer)
    return invitation_link(email)


def test_someone_new_accepts_and_goes_on_to_choose_a_password(bakery, manager):
    link = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    browser = Client()

    opened = browser.get(link)
    assert opened["Location"] == reverse("invitation_answer")  # the token leaves the address bar
    page = browser.get(opened["Location"])
    assert "Bakkerij De Korst B.V." in text(page) and "Marieke Jansen" in text(page)
    assert 'value="accept"' in page.content.decode()

    accepted = browser.post(reverse("invitation_answer"), {"answer": "accept"})

    jan = Person.objects.get(email="jan@example.nl")
    assert jan.name == "Jan de Vries"
    assert Membership.objects.filter(person=jan, organisation=bakery).exists()
    activation = browser.get(accepted["Location"])
    assert activation["Location"] == reverse("identity:activate_password")
    assert browser.get(activation["Location"]).status_code == 200  # choose a password
    # The manager sees Jan among the people, and no invitation waiting any more.
    people = logged_in(manager).get(url("manage_people", bakery))
    assert "Jan de Vries" in text(people)
    assert 'data-state="pending"' not in people.content.decode()


def test_someone_with_an_account_logs_in_to_accept(bakery, manager):
    piet = factories.person(name="Piet Bakker", email="piet@example.nl")
    piet.set_password("een lang en sterk wachtwoord")
    piet.save()
    link = invite(bakery, manager, "piet@example.nl")
    browser = Client()
    browser.get(link)

    page = browser.get(reverse("invitation_answer"))
    assert "data-needs-login" in page.content.decode()
    refused = browser.post(reverse("invitation_answer"), {"answer": "accept"})
    assert refused.status_code == 400
    assert not Membership.objects.filter(person=piet, organisation=bakery).exists()

    browser.force_login(piet)  # the login keeps the invitation in the session
    accepted = browser.post(reverse("invitation_answer"), {"answer": "accept"})

    assert accepted["Location"] == reverse("my_overview")
    assert Membership.objects.filter(person=piet, organisation=bakery).exists()
    assert Invitation.objects.get().state == InvitationState.ACCEPTED


def test_another_logged_in_person_cannot_accept(bakery, manager):
    link = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    stranger = factories.person(email="kees@example.nl")
    browser = logged_in(stranger)
    browser.get(link)

    page = browser.get(reverse("invitation_answer"))
    assert "data-other-person" in page.content.decode()
    refused = browser.post(reverse("invitation_answer"), {"answer": "accept"})
    assert refused.status_code == 400
    assert not Membership.objects.filter(person=stranger, organisation=bakery).exists()


def test_a_declined_invitation_shows_declined_to_the_manager(bakery, manager):
    link = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    browser = Client()
    browser.get(link)
    browser.post(reverse("invitation_answer"), {"answer": "decline"})

    page = logged_in(manager).get(url("manage_people", bakery)).content.decode()
    assert re.search(r'data-state="declined">\s*<th scope="row">Jan de Vries', page)
    assert not Person.objects.filter(email="jan@example.nl").exists()


def test_an_expired_link_says_so_and_accepts_nothing(bakery, manager):
    link = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    Invitation.objects.update(
        invited_at=timezone.now() - dt.timedelta(days=20), expires_at=timezone.now() - dt.timedelta(days=6)
    )
    browser = Client()
    browser.get(link)
    assert "data-expired" in browser.get(reverse("invitation_answer")).content.decode()
    assert browser.post(reverse("invitation_answer"), {"answer": "accept"}).status_code == 400
    assert not Person.objects.filter(email="jan@example.nl").exists()


def test_an_unknown_link_is_not_found():
    assert Client().get(reverse("invitation_open", kwargs={"token": "nonsense"})).status_code == 404
    assert Client().get(reverse("invitation_answer")).status_code == 404


def test_a_withdrawn_invitation_no_longer_works(bakery, manager):
    link = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    invitation = Invitation.objects.get()
    browser = logged_in(manager)
    withdraw = url("manage_people_invitation_withdraw", bakery, invitation=invitation.pk)

    confirm = browser.get(withdraw)
    assert confirm.status_code == 200 and "jan@example.nl" in text(confirm)
    assert Invitation.objects.get().state == InvitationState.PENDING  # the confirmation page changes nothing
    browser.post(withdraw)

    invitee = Client()
    invitee.get(link)
    page = invitee.get(reverse("invitation_answer"))
    assert "data-answered" in page.content.decode()
    assert invitee.post(reverse("invitation_answer"), {"answer": "accept"}).status_code == 400


def test_sending_again_replaces_the_link(bakery, manager):
    old = invite(bakery, manager, "jan@example.nl", "Jan de Vries")
    invitation = Invitation.objects.get()
    logged_in(manager).post(url("manage_people_invitation_resend", bakery, invitation=invitation.pk))

    new = invitation_link("jan@example.nl")
    assert new != old
    assert Client().get(old).status_code == 404
    assert Client().get(new).status_code == 302
    assert Invitation.objects.count() == 1


# --- Unlinking ----------------------------------------------------------------------------------------------------


def test_unlinking_asks_first_then_revokes_the_running_mandates(bakery, manager):
    piet = member_of(bakery, name="Piet Bakker")
    running = factories.mandate(piet, bakery)
    browser = logged_in(manager)
    unlink = url("manage_people_unlink", bakery, person=piet.pk)

    confirm = browser.get(unlink)
    assert "data-unlink-revokes" in confirm.content.decode()
    assert Membership.objects.filter(person=piet, organisation=bakery).exists()

    browser.post(unlink)

    assert not Membership.objects.filter(person=piet, organisation=bakery).exists()
    assert Mandate.objects.get(pk=running.pk).revoked_at is not None
    event = AuditEvent.objects.get(action="membership:ended")
    assert event.data["revoked_mandates"] == [running.pk] and event.organisation == bakery
    people = browser.get(url("manage_people", bakery))
    assert f'data-person="{piet.pk}"' not in people.content.decode()
    assert "Piet Bakker" in text(people)  # in the notice that says what happened
    assert "1 running mandate was revoked" in text(people)


def test_a_manager_cannot_unlink_themselves_nor_a_manager_above_their_level(bakery):
    eh2_manager = manager_of(bakery, level=Level.EH2, name="Karin Klein")
    eh3_manager = manager_of(bakery, level=Level.EH3, name="Marieke Jansen")
    browser = logged_in(eh2_manager, level=Level.EH2)

    for person in (eh2_manager, eh3_manager):
        answer = browser.post(url("manage_people_unlink", bakery, person=person.pk))
        assert answer.status_code == 400
        assert "data-unlink-refused" in answer.content.decode()
        assert Membership.objects.filter(person=person, organisation=bakery).exists()


def test_people_and_invitations_of_another_organisation_are_not_found(bakery, manager):
    other = factories.organisation()
    stranger = member_of(other)
    other_manager = manager_of(other)
    logged_in(other_manager).post(
        url("manage_people_invite", other), {"email": "x@example.nl", "name": "X", "language": "nl"}
    )
    theirs = Invitation.objects.get()
    browser = logged_in(manager)

    assert browser.get(url("manage_people_unlink", bakery, person=stranger.pk)).status_code == 404
    assert browser.post(url("manage_people_unlink", bakery, person=stranger.pk)).status_code == 404
    assert browser.post(url("manage_people_invitation_withdraw", bakery, invitation=theirs.pk)).status_code == 404
    assert browser.post(url("manage_people_invitation_resend", bakery, invitation=theirs.pk)).status_code == 404
    browser.post(url("manage_people_clean_up", bakery), {"person": [stranger.pk], "confirm": "yes"})
    assert Membership.objects.filter(person=stranger, organisation=other).exists()
    assert Invitation.objects.get().state == InvitationState.PENDING


# --- Inactive people --------------------------------------------------------------------------------------------


def test_inactive_people_are_listed_with_their_reasons_and_cleaned_up_after_confirming(bakery, manager):
    now = timezone.now()
    away = member_of(bakery, name="Anna Afwezig")
    Person.objects.filter(pk=away.pk).update(last_login=now - dt.timedelta(days=400))
    ended = member_of(bakery, name="Erik Einde")
    Person.objects.filter(pk=ended.pk).update(last_login=now)
    mandate = factories.mandate(ended, bakery)
    Mandate.objects.filter(pk=mandate.pk).update(
        valid_from=now - dt.timedelta(days=60), valid_until=now - dt.timedelta(days=1)
    )
    active = member_of(bakery, name="Actieve Ada")
    Person.objects.filter(pk=active.pk).update(last_login=now)
    Person.objects.filter(pk=manager.pk).update(last_login=now)
    browser = logged_in(manager)

    page = browser.get(url("manage_people_inactive", bakery))
    shown = text(page)
    assert "Anna Afwezig" in shown and "Erik Einde" in shown and "Actieve Ada" not in shown
    assert "Last logged in on" in shown
    assert "All their mandates have expired or were revoked." in shown
    assert "Anna Afwezig" not in text(browser.get(url("manage_people_inactive", bakery) + "?months=24"))

    clean_up = url("manage_people_clean_up", bakery)
    confirm = browser.post(clean_up, {"person": [away.pk, ended.pk]})
    assert confirm.status_code == 200 and "Unlink 2 people?" in text(confirm)
    assert Membership.objects.filter(organisation=bakery).count() == 4

    done = browser.post(clean_up, {"person": [away.pk, ended.pk], "confirm": "yes"})

    assert done.status_code == 302
    assert set(Membership.objects.filter(organisation=bakery).values_list("person__name", flat=True)) == {
        "Actieve Ada",
        "Marieke Jansen",
    }


def test_the_audit_trail_gives_the_reason_of_a_clean_up_in_the_readers_language(bakery, manager):
    kees = member_of(bakery, name="Kees Mulder")
    Person.objects.filter(pk=kees.pk).update(last_login=timezone.now() - dt.timedelta(days=400))
    browser = logged_in(manager)
    browser.post(url("manage_people_clean_up", bakery), {"person": [kees.pk], "confirm": "yes"})
    assert not Membership.objects.filter(person=kees).exists()

    english = text(browser.get(url("manage_audit", bakery), {"action": "membership:ended"}))
    assert "Person unlinked Kees Mulder, reason: cleaned up as inactive" in english
    browser.defaults["HTTP_ACCEPT_LANGUAGE"] = "nl"
    dutch = text(browser.get(url("manage_audit", bakery), {"action": "membership:ended"}))
    assert "Persoon ontkoppeld Kees Mulder, reden:" in dutch and "reden: inactive" not in dutch


# --- Inviting many people from a CSV file -----------------------------------------------------------------------


def upload(browser: Client, bakery, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return browser.post(
        url("manage_people_invite_csv", bakery),
        {"file": SimpleUploadedFile("mensen.csv", content, content_type="text/csv"), "language": "nl"},
    )


def test_a_csv_file_is_previewed_row_by_row_and_only_the_good_rows_are_sent(bakery, manager):
    member_of(bakery, name="Piet Bakker", email="piet@example.nl")
    factories.person(name="Sanne Smit", email="sanne@example.nl")
    browser = logged_in(manager)
    content = (
        b"e-mail;naam\n"
        b"jan@example.nl;Jan de Vries\n"
        b"sanne@example.nl;\n"
        b"geen-adres;Iemand\n"
        b"JAN@example.nl;Jan nog eens\n"
        b"piet@example.nl;Piet\n"
        b"nieuw@example.nl;\n"
        b"\n"
    )

    preview = upload(browser, bakery, content)

    assert preview.status_code == 200
    rows = dict(re.findall(r'data-row="(\d+)" data-ok="(yes|no)"', preview.content.decode()))
    assert rows == {"2": "yes", "3": "yes", "4": "no", "5": "no", "6": "no", "7": "no"}
    shown = text(preview)
    assert "“geen-adres” is not an e-mail address." in shown
    assert "The same e-mail address as row 2." in shown
    assert "Piet Bakker (piet@example.nl) already belongs to this organisation." in shown
    assert "Give the name of the person at nieuw@example.nl" in shown
    assert "Send 2 invitations" in shown
    assert not Invitation.objects.exists() and not OutgoingMail.objects.exists()  # nothing written yet

    sent = browser.post(url("manage_people_invite_csv_send", bakery))

    assert sent.status_code == 302
    assert set(Invitation.objects.values_list("email", flat=True)) == {"jan@example.nl", "sanne@example.nl"}
    assert set(OutgoingMail.objects.values_list("to", flat=True)) == {"jan@example.nl", "sanne@example.nl"}
    assert "2 invitations were sent. 4 rows with a problem were skipped." in text(browser.get(sent["Location"]))
    # The file is used once: sending again sends nothing more.
    browser.post(url("manage_people_invite_csv_send", bakery))
    assert OutgoingMail.objects.count() == 2


def test_the_preview_numbers_rows_as_the_spreadsheet_shows_them(bakery, manager):
    content = (
        b"e-mail;naam\r\n"
        b"jan@example.nl;Jan de Vries\r\n"
        b"geen-adres;Iemand\r\n"
        b"\r\n"
        b'nina@example.nl;"Nina\r\nde Boer"\r\n'
        b"jan@example.nl;Jan\r\n"
    )

    preview = upload(logged_in(manager), bakery, content)

    html = preview.content.decode()
    rows = re.findall(r'data-row="(\d+)" data-ok="(yes|no)">\s*<th scope="row">(\d+)</th>', html)
    assert rows == [("2", "yes", "2"), ("3", "no", "3"), ("5", "yes", "5"), ("6", "no", "6")]
    assert "The same e-mail address as row 2." in text(preview)


def test_a_file_that_is_not_a_list_of_people_is_refused(bakery, manager):
    browser = logged_in(manager)

    binary = upload(browser, bakery, b"\x00\x81\x8d\x8f")
    assert binary.status_code == 400 and "save it as “CSV UTF-8”" in text(binary)
    too_many = upload(browser, bakery, "".join(f"p{n}@example.nl;P {n}\n" for n in range(501)).encode())
    assert too_many.status_code == 400 and "The file lists 501 people; invite at most 500 at once." in text(too_many)
    assert not Invitation.objects.exists()


def test_a_comma_separated_file_without_headings_reads_email_then_name(bakery, manager):
    preview = upload(logged_in(manager), bakery, b"jan@example.nl,Jan de Vries\r\n")
    assert re.findall(r'data-row="(\d+)" data-ok="(yes|no)"', preview.content.decode()) == [("1", "yes")]
    assert "Jan de Vries" in text(preview)


def test_many_invitations_go_out_all_or_none(bakery, manager):
    from django.core.exceptions import ValidationError

    from sleutelbos.audit.services import Actor
    from sleutelbos.organisations.services import invitations_send

    member_of(bakery, email="piet@example.nl")
    with pytest.raises(ValidationError):
        invitations_send(
            actor=Actor.for_person(manager),
            organisation=bakery,
            rows=[("jan@example.nl", "Jan de Vries"), ("piet@example.nl", "")],
        )
    assert not Invitation.objects.exists() and not OutgoingMail.objects.exists()
