"""The back office (Django admin): every screen opens, writes go through the services, nothing is deleted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin.utils import model_ngettext
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from sleutelbos.api.models import ApiToken
from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.models import Means, MeansStatus, Person
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.kvk import lookup as kvk_lookup
from sleutelbos.organisations.models import Membership, Organisation
from sleutelbos.organisations.services import invitation_send
from sleutelbos.requests.models import RequestKind
from sleutelbos.requests.services import MandateWish, request_create_draft
from sleutelbos.saml.services import sp_register_from_metadata
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Person:
    return Person.objects.create_superuser("staf@sleutelbos.example", "Staf Lid", "a long test password")


@pytest.fixture
def client(staff: Person) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def world() -> None:
    call_command("demo", stdout=io.StringIO())
    ApiToken.issue("boekhoudpakket")
    Group.objects.create(name="Verificatie")
    sp_register_from_metadata(
        actor=SYSTEM, data=Path("tests/saml/fixtures/metadata/dv-eherkenning.xml").read_bytes(), provider=None
    )
    request_create_draft(
        actor=SYSTEM,
        kind=RequestKind.FIRST_APPLICATION,
        applicant_name="Ruud Vermeulen",
        applicant_email="ruud@fietsenmakerij.example",
        extract=kvk_lookup("94567890"),
        mandates=[MandateWish(scope=Scope.all(), level=Level.EH2)],
    )
    activation_send(actor=SYSTEM, person=Person.objects.first(), base_url="https://sleutelbos.example")
    invitation_send(
        actor=SYSTEM, organisation=Organisation.objects.first(), email="nieuw@example.nl", name="Nieuwe Collega"
    )


def change_form_data(client: Client, change_url: str, **changes: str) -> dict[str, object]:
    """What the browser would post from the change page (with its inlines' management forms), with ``changes``."""
    page = client.get(change_url)
    data: dict[str, object] = {}
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is not None:
                data[field.html_name] = value
    data.update(changes)
    return data


def url(model: type, view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_registered_model_opens_its_list_change_and_add_pages(client: Client, world: None) -> None:
    for model, model_admin in admin.site._registry.items():
        listing = client.get(url(model, "changelist"))
        assert listing.status_code == 200, model
        first = model.objects.first()
        assert first is not None, model
        assert client.get(url(model, "change", first.pk)).status_code == 200, model
        if model_admin.has_add_permission(listing.wsgi_request):
            assert client.get(url(model, "add")).status_code == 200, model
        if model._meta.app_label not in {"auth"}:
            # Nothing a decision or an audit event refers to is deleted.
            assert client.post(url(model, "delete", first.pk), {"post": "yes"}).status_code == 403, model
            assert model.objects.filter(pk=first.pk).exists()


def test_autocomplete_finds_organisations_for_a_new_branch(client: Client, world: None) -> None:
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "organisations", "model_name": "branch", "field_name": "organisation", "term": "korst"},
    )
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == ["Bakkerij De Gouden Korst B.V. (91234567)"]


def test_searching_every_list_works(client: Client, world: None) -> None:
    for model, model_admin in admin.site._registry.items():
        if model_admin.search_fields:
            assert client.get(url(model, "changelist"), {"q": "de"}).status_code == 200, model


def test_audit_events_cannot_be_added_changed_or_deleted(client: Client, world: None) -> None:
    event = AuditEvent.objects.first()
    before = AuditEvent.objects.count()
    assert client.get(url(AuditEvent, "add")).status_code == 403
    assert client.post(url(AuditEvent, "delete", event.pk), {"post": "yes"}).status_code == 403
    response = client.post(url(AuditEvent, "change", event.pk), {"action": "mandate:forged"})
    assert response.status_code == 403
    assert client.post(
        url(AuditEvent, "changelist"), {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    ).status_code in (200, 302)
    event.refresh_from_db()
    assert event.action != "mandate:forged"
    assert AuditEvent.objects.count() == before
    page = client.get(url(AuditEvent, "change", event.pk)).content.decode()
    assert 'name="_save"' not in page


def test_mandates_cannot_be_deleted_or_added_here(client: Client, world: None) -> None:
    mandate = Mandate.objects.first()
    assert client.post(url(Mandate, "delete", mandate.pk), {"post": "yes"}).status_code == 403
    assert client.get(url(Mandate, "add")).status_code == 403
    assert Mandate.objects.filter(pk=mandate.pk).exists()


def test_revoke_action_revokes_and_audits_with_the_staff_member_as_actor(client: Client, staff: Person) -> None:
    first = f.mandate(f.person(), f.organisation())
    second = f.mandate(f.person(), f.organisation())
    response = client.post(
        url(Mandate, "changelist"),
        {"action": "revoke_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
        headers={"accept-language": "en"},
    )
    assert [str(message) for message in response.context["messages"]] == ["Revoked 2 mandates."]
    for mandate in (first, second):
        mandate.refresh_from_db()
        assert mandate.revoked_at is not None
        assert mandate.revoked_by == f"person:{staff.pk}"
        event = AuditEvent.objects.get(action="mandate:revoked", subject_id=str(mandate.pk))
        assert event.actor_person == staff


def test_revoking_an_already_revoked_mandate_changes_nothing(client: Client) -> None:
    mandate = f.mandate(f.person(), f.organisation())
    client.post(
        url(Mandate, "changelist"), {"action": "revoke_selected", "_selected_action": [mandate.pk]}, follow=True
    )
    mandate.refresh_from_db()
    revoked_at = mandate.revoked_at
    response = client.post(
        url(Mandate, "changelist"),
        {"action": "revoke_selected", "_selected_action": [mandate.pk]},
        follow=True,
        headers={"accept-language": "en"},
    )
    mandate.refresh_from_db()
    assert mandate.revoked_at == revoked_at
    assert AuditEvent.objects.filter(action="mandate:revoked", subject_id=str(mandate.pk)).count() == 1
    assert [str(message) for message in response.context["messages"]] == [f"“{mandate}” was already revoked."]


def test_revoke_action_on_chain_mandates(client: Client, staff: Person) -> None:
    chain = f.chain_mandate(f.organisation(), f.organisation())
    client.post(url(ChainMandate, "changelist"), {"action": "revoke_selected", "_selected_action": [chain.pk]})
    chain.refresh_from_db()
    assert chain.revoked_by == f"person:{staff.pk}"
    assert AuditEvent.objects.filter(action="chain_mandate:revoked", actor_person=staff).exists()


def test_adding_a_provider_goes_through_the_service(client: Client, staff: Person) -> None:
    response = client.post(
        url(ServiceProvider, "add"), {"oin": "00000009900000099000", "name_nl": "Waterschap (demo)", "name_en": ""}
    )
    assert response.status_code == 302
    provider = ServiceProvider.objects.get(oin="00000009900000099000")
    event = AuditEvent.objects.get(action="service_provider:created", subject_id=str(provider.pk))
    assert event.actor_person == staff


def test_a_rule_of_the_service_shows_as_a_form_error(client: Client) -> None:
    person = f.person(email="an.de.vries@example.nl")
    response = client.post(
        url(Person, "add"), {"name": "An de Vries", "email": "AN.DE.VRIES@example.nl", "date_of_birth": "", "level": ""}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Person.objects.filter(email__iexact=person.email).count() == 1
    assert not AuditEvent.objects.filter(action="person:created", actor_person__isnull=False).exists()


def test_adding_a_person_can_issue_their_means(client: Client, staff: Person) -> None:
    response = client.post(
        url(Person, "add"),
        {
            "name": "Bram Kok",
            "email": "bram.kok@example.nl",
            "date_of_birth": "",
            "level": "30",
            "kind": "document_original",
            "document_type": "passport",
        },
    )
    assert response.status_code == 302
    bram = Person.objects.get(email="bram.kok@example.nl")
    assert bram.means.level == 30
    assert bram.means.history.get().evidence.verified_by == f"person:{staff.pk}"
    assert not bram.has_usable_password()
    assert AuditEvent.objects.filter(action="means:issued", actor_person=staff).exists()


def test_person_details_are_read_only_and_the_password_uses_djangos_form(client: Client) -> None:
    person = f.person(name="Eva Dekker")
    page = client.get(url(Person, "change", person.pk)).content.decode()
    assert 'name="name"' not in page and 'name="email"' not in page
    assert 'name="password"' not in page
    password_page = client.get(reverse("admin:auth_user_password_change", args=[person.pk]))
    assert password_page.status_code == 200
    response = client.post(
        reverse("admin:auth_user_password_change", args=[person.pk]),
        {"password1": "a brand new passphrase", "password2": "a brand new passphrase", "usable_password": "true"},
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.check_password("a brand new passphrase")


def activated(person: Person) -> Person:
    person.set_password("a long test password")
    person.activated_at = timezone.now()
    person.save()
    return person


def test_the_activation_action_mails_only_people_who_have_not_activated_their_account(
    client: Client, staff: Person, django_capture_on_commit_callbacks
) -> None:
    anna, bram = f.person(name="Anna Bos", level="EH3"), f.person(name="Bram Kok", level="EH2")
    cor = activated(f.person(name="Cor Wit", level="EH2+"))
    selected = [anna.pk, bram.pk, cor.pk, staff.pk]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(Person, "changelist"), {"action": "send_activation", "_selected_action": selected}, follow=True
        )

    assert sorted(message.to[0] for message in mail.outbox) == sorted([anna.email, bram.email])
    assert all("http://testserver/account/activate/" in message.body for message in mail.outbox)
    sent = AuditEvent.objects.filter(action="person:activation_sent", actor_person=staff)
    assert sorted(sent.values_list("subject_id", flat=True)) == sorted([str(anna.pk), str(bram.pk)])
    notes = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("Cor Wit" in note for note in notes)
    assert any(staff.name in note for note in notes)
    summary = gettext("Sent an activation link to %(count)d %(items)s.") % {
        "count": 2,
        "items": model_ngettext(Person._meta, 2),
    }
    assert summary in notes


def test_the_activation_button_on_a_persons_page(
    client: Client, staff: Person, django_capture_on_commit_callbacks
) -> None:
    anna = f.person(name="Anna Bos", level="EH3")
    button = url(Person, "send_activation", anna.pk)
    assert f'formaction="{button}"' in client.get(url(Person, "change", anna.pk)).content.decode()
    assert client.get(button).status_code == 405

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(button)

    assert response.status_code == 302
    assert response["Location"] == url(Person, "change", anna.pk)
    assert [message.to for message in mail.outbox] == [[anna.email]]


def test_an_activated_person_gets_no_activation_link(
    client: Client, staff: Person, django_capture_on_commit_callbacks
) -> None:
    cor = activated(f.person(name="Cor Wit", level="EH2+"))
    button = url(Person, "send_activation", cor.pk)
    assert f'formaction="{button}"' not in client.get(url(Person, "change", cor.pk)).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(button, follow=True)

    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="person:activation_sent").exists()
    assert any("Cor Wit" in str(message) for message in get_messages(response.wsgi_request))


def test_suspending_a_means_goes_through_the_service_with_its_reason(client: Client, staff: Person) -> None:
    person = f.person(level="EH3")
    change = url(Means, "change", person.means.pk)
    response = client.post(change, change_form_data(client, change, status="suspended", reason="Telefoon gestolen"))
    assert response.status_code == 302
    person.means.refresh_from_db()
    assert person.means.status == MeansStatus.SUSPENDED
    assert person.means.history.last().reason == "Telefoon gestolen"
    assert AuditEvent.objects.filter(action="means:suspended", actor_person=staff).exists()


def test_a_revoked_means_cannot_be_changed(client: Client) -> None:
    person = f.person(level="EH3")
    change = url(Means, "change", person.means.pk)
    assert client.post(change, change_form_data(client, change, status="revoked")).status_code == 302
    response = client.post(change, change_form_data(client, change, level="40"))
    assert response.status_code == 200
    assert "level" in response.context["adminform"].form.errors
    person.means.refresh_from_db()
    assert person.means.level == 30


def test_changing_a_manager_level_goes_through_the_service(client: Client, staff: Person) -> None:
    organisation = f.organisation()
    person = f.person()
    membership = Membership.objects.create(person=person, organisation=organisation)
    response = client.post(url(Membership, "change", membership.pk), {"manager_level": "25"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.manager_level == 25
    assert AuditEvent.objects.filter(action="membership:manager_set", actor_person=staff).exists()


def test_api_token_pages_never_show_the_key_or_its_hash(client: Client) -> None:
    token, key = ApiToken.issue("kassasysteem")
    for page in (client.get(url(ApiToken, "changelist")), client.get(url(ApiToken, "change", token.pk))):
        content = page.content.decode()
        assert "kassasysteem" in content
        assert key not in content and token.key_hash not in content
    assert client.get(url(ApiToken, "add")).status_code == 403


def test_adding_an_instance_derives_its_service_id_and_refuses_a_taken_index(client: Client) -> None:
    definition = f.definition(f.provider(oin="00000009900000077000"))
    data = {"definition": definition.pk, "index": "1", "service_url": "https://waterschap.example/heffingen"}
    assert client.post(url(ServiceInstance, "add"), {**data, "privacy_policy_url": ""}).status_code == 302
    instance = ServiceInstance.objects.get(definition=definition)
    assert instance.service_id == "urn:etoegang:DV:00000009900000077000:services:1"
    again = client.post(url(ServiceInstance, "add"), {**data, "privacy_policy_url": ""})
    assert again.status_code == 200
    assert again.context["adminform"].form.non_field_errors(), again.context["adminform"].form.errors
    assert ServiceInstance.objects.filter(definition=definition).count() == 1


def test_adding_an_organisation_and_a_definition_goes_through_their_services(client: Client, staff: Person) -> None:
    response = client.post(
        url(Organisation, "add"),
        {"kvk": "99887766", "rsin": "", "name": "Waterschap Sleutelland", "legal_form": "other"},
    )
    assert response.status_code == 302
    organisation = Organisation.objects.get(kvk="99887766")
    assert AuditEvent.objects.get(action="organisation:created", subject_id=str(organisation.pk)).actor_person == staff

    provider = f.provider(oin="00000009900000066000")
    response = client.post(
        url(ServiceDefinition, "add"),
        {
            "provider": provider.pk,
            "uuid": "0b6e2f6a-5d0e-4c8e-9f7e-1a2b3c4d5e6f",
            "name_nl": "Heffingen",
            "name_en": "Levies",
            "description_nl": "",
            "description_en": "",
            "level": str(int(Level.EH3)),
            "branch_restriction_allowed": "on",
            "entity_concerned_types": '[["urn:etoegang:1.9:EntityConcernedID:KvKnr"]]',
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    definition = ServiceDefinition.objects.get(provider=provider)
    assert (definition.level, definition.branch_restriction_allowed) == (Level.EH3, True)
