"""A mandate manager's people pages in a real Chromium: invite, the invitee accepts, unlink, clean up; axe-core."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Person
from sleutelbos.organisations.models import Membership
from sleutelbos.organisations.services import membership_ensure, membership_set_manager
from tests import factories
from tests.browser.conftest import ConsoleLog, assert_accessible, give_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world() -> dict:
    """A bakery with its mandate manager, an employee with a mandate, and one who has not logged in for a year."""
    bakery = factories.organisation(name="Bakkerij De Gouden Korst B.V.", kvk="45678901")
    manager = factories.person(level=Level.EH3, name="Marieke Jansen")
    membership_set_manager(actor=SYSTEM, person=manager, organisation=bakery, level=Level.EH3)
    employee = factories.person(level=Level.EH3, name="Piet Bakker")
    factories.mandate(employee, bakery)
    away = factories.person(level=Level.EH2, name="Anna Afwezig")
    membership_ensure(actor=SYSTEM, person=away, organisation=bakery)
    Person.objects.filter(pk=away.pk).update(last_login=timezone.now() - dt.timedelta(days=400))
    Person.objects.filter(pk__in=[manager.pk, employee.pk]).update(last_login=timezone.now())
    return {"bakery": bakery, "manager": manager, "employee": employee, "away": away}


def test_a_manager_invites_someone_who_accepts_from_the_mail(
    live_server, browser: Browser, page: Page, axe: Axe, console: ConsoleLog, world
):
    bakery = world["bakery"]
    give_session(page, live_server, world["manager"], Level.EH3)
    page.goto(f"{live_server.url}/my/organisations/{bakery.pk}/")
    page.locator(f"main a[href='/my/organisations/{bakery.pk}/people/']").click()
    expect(page.locator("[data-people] tbody tr")).to_have_count(3)
    assert_accessible(axe, page)

    page.locator(f"a[href='/my/organisations/{bakery.pk}/people/invite/']").click()
    page.locator("#id_email").fill("jan@example.nl")
    page.locator("#id_email").press("Enter")
    # Jan has no account yet: the form asks for his name, and says where.
    expect(page.locator(".error-summary")).to_be_visible()
    assert_accessible(axe, page)
    # The form with an error comes back as 400 Bad Request, which the console reports; nothing else may be there.
    assert [error for error in console.errors if "400" not in error] == []
    console.errors.clear()
    page.locator("#id_name").fill("Jan de Vries")
    page.locator("main form[method='post'] button[type='submit']").click()

    row = page.locator("[data-invitations] tr[data-state='pending']")
    expect(row).to_contain_text("jan@example.nl")
    expect(page.locator(".notice")).to_contain_text("jan@example.nl")
    assert_accessible(axe, page)

    link = re.search(r"https?://[^/\s]+(/my/invitations/\S+/)", mail.outbox[-1].body).group(1)
    invitee = browser.new_context(locale="nl-NL").new_page()
    invitee.goto(live_server.url + link)
    expect(invitee).to_have_url(live_server.url + "/my/invitations/")
    expect(invitee.get_by_role("heading", level=1)).to_contain_text("Bakkerij De Gouden Korst B.V.")
    assert_accessible(axe, invitee)
    invitee.locator("button[value='accept']").click()

    expect(invitee).to_have_url(live_server.url + "/account/activate/password/")
    assert Membership.objects.filter(person__email="jan@example.nl", organisation=bakery).exists()
    invitee.context.close()
    assert console.errors == []


def test_unlinking_and_cleaning_up_ask_before_they_act(live_server, page: Page, axe: Axe, console: ConsoleLog, world):
    bakery, employee, away = world["bakery"], world["employee"], world["away"]
    give_session(page, live_server, world["manager"], Level.EH3)
    page.goto(f"{live_server.url}/my/organisations/{bakery.pk}/people/")

    page.locator(f"tr[data-person='{employee.pk}'] a").click()
    expect(page.locator("[data-unlink-revokes]")).to_be_visible()
    assert_accessible(axe, page)
    page.get_by_role("link", name=re.compile("Cancel|Annuleren")).click()
    expect(page.locator(f"tr[data-person='{employee.pk}']")).to_be_visible()

    page.locator(f"a[href='/my/organisations/{bakery.pk}/people/inactive/']").click()
    expect(page.locator("[data-inactive] li")).to_have_count(1)
    assert_accessible(axe, page)
    page.locator(f"#person-{away.pk}").check()
    page.locator("main form[method='post'] > button[type='submit']").click()
    expect(page.locator("[data-clean-up] li")).to_contain_text("Anna Afwezig")
    assert Membership.objects.filter(person=away, organisation=bakery).exists()  # asked, not done
    assert_accessible(axe, page)
    page.locator("main form[method='post'] button[type='submit']").last.click()

    expect(page).to_have_url(f"{live_server.url}/my/organisations/{bakery.pk}/people/")
    expect(page.locator(f"tr[data-person='{away.pk}']")).to_have_count(0)
    assert not Membership.objects.filter(person=away, organisation=bakery).exists()
    assert console.errors == []


def test_a_csv_preview_is_readable(live_server, page: Page, axe: Axe, world, tmp_path):
    bakery = world["bakery"]
    csv_file = tmp_path / "mensen.csv"
    csv_file.write_text("e-mail;naam\njan@example.nl;Jan de Vries\ngeen-adres;Iemand\n", encoding="utf-8")
    give_session(page, live_server, world["manager"], Level.EH3)
    page.goto(f"{live_server.url}/my/organisations/{bakery.pk}/people/invite/csv/")
    assert_accessible(axe, page)

    page.locator("#id_file").set_input_files(str(csv_file))
    page.locator("main form[method='post'] button[type='submit']").click()

    expect(page.locator("[data-csv-rows] tr[data-ok='yes']")).to_have_count(1)
    expect(page.locator("[data-csv-rows] tr[data-ok='no'] [data-row-error]")).to_contain_text("geen-adres")
    assert_accessible(axe, page)


def test_the_manager_tables_fit_a_phone_screen(live_server, page: Page, world):
    # A table may scroll inside its own box; the labels hidden for sight in its cells must not widen the page.
    bakery = world["bakery"]
    give_session(page, live_server, world["manager"], Level.EH3)
    page.set_viewport_size({"width": 390, "height": 844})

    for part in ("people", "mandates", "mandates/chain", "audit"):
        response = page.goto(f"{live_server.url}/my/organisations/{bakery.pk}/{part}/")
        assert response.status == 200, part
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth"), part
