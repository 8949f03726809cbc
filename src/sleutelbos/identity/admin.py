"""Back office: people, the verification of their identity, and their means.

A person is added through ``person_create``; with a level, the add form also records how their identity was verified
(the evidence the means rests on). Identity evidence is recorded through ``evidence_record`` and never changed
afterwards. A means is issued (on recorded evidence that supports its level), upgraded (on new evidence), downgraded,
suspended, reactivated or revoked through the identity services, with a reason that goes into its history. A person's
details are read-only here, and a password is only ever set through Django's own password change form. A person
who has not activated their account yet can be sent a link to do so (``activation_send``), from the list of people
or from their page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import model_ngettext
from django.contrib.admin.widgets import AdminDateWidget
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin, actor_for, revoke_each
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.models import (
    DocumentType,
    EvidenceKind,
    IdentityEvidence,
    Means,
    MeansEvent,
    MeansStatus,
    Person,
)
from sleutelbos.identity.services import (
    DOCUMENT_NUMBER_SUFFIX_LENGTH,
    EvidenceDetails,
    evidence_record,
    means_change_level,
    means_issue,
    means_revoke,
    means_set_status,
    person_create,
)
from sleutelbos.organisations.models import Membership

_SUFFIX_HELP = _("Only the last %(count)d characters; the full number is not stored.") % {
    "count": DOCUMENT_NUMBER_SUFFIX_LENGTH
}


def _admin_url(model: type, view: str, *args: object, query: dict[str, object] | None = None) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


class ServiceValidatedForm(forms.ModelForm):
    """A form whose object is validated by its write service (rehearsed in ``clean``), not by the model.

    The model's own checks would repeat the service's with other words (the generic "at most 4 characters" for the
    last characters of a document number, "means with this person already exists" when a revoked means is replaced).
    """

    def _post_clean(self) -> None:
        pass


class EvidenceFields(forms.Form):
    """The details of an identity verification, as entered by supplier staff."""

    kind = forms.ChoiceField(
        label=_("identity verified by"),
        choices=[("", "–"), *EvidenceKind.choices],
        required=False,
        help_text=_(
            "Required with a level. EH2: name and date of birth; EH2+: a copy of an identity document; EH3: the "
            "original document, in person or remotely; EH4: in person."
        ),
    )
    document_type = forms.ChoiceField(
        label=_("document type"), choices=[("", "–"), *DocumentType.choices], required=False
    )
    document_number_suffix = forms.CharField(
        label=_("last characters of the document number"), required=False, help_text=_SUFFIX_HELP
    )
    document_valid_until = forms.DateField(label=_("document valid until"), required=False, widget=AdminDateWidget)
    remote = forms.BooleanField(label=_("checked remotely"), required=False)
    notes = forms.CharField(label=_("notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


def evidence_details(data: dict[str, Any]) -> EvidenceDetails:
    """The EvidenceDetails of a form's cleaned data (see :class:`EvidenceFields`)."""
    return EvidenceDetails(
        kind=data["kind"],
        document_type=data["document_type"] or "",
        document_number_suffix=data["document_number_suffix"] or "",
        document_valid_until=data["document_valid_until"],
        remote=bool(data["remote"]),
        notes=data["notes"] or "",
    )


def _activation_refusal(person: Person) -> str:
    """Why no activation link can be sent to the person (with a ``%(person)s`` placeholder), or "" if one can.

    The link sets a first password; for someone who has one it would be a password reset, which it is not meant as.
    """
    if person.activated_at is not None:
        return gettext("“%(person)s” has already activated their account.")
    if person.has_usable_password():
        return gettext("“%(person)s” already has a password.")
    if not person.is_active:
        return gettext("“%(person)s” is not active and cannot log in.")
    return ""


class PersonCreationForm(forms.ModelForm, EvidenceFields):
    level = forms.TypedChoiceField(
        label=_("level of the means"),
        choices=[("", _("no means yet")), *Level.choices],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Issue an eHerkenning means at this level at once, on the identity verification below."),
    )

    class Meta:
        model = Person
        fields = ("name", "email", "date_of_birth")


class PersonChangeForm(UserChangeForm):
    class Meta:
        model = Person
        fields = "__all__"


class MembershipInline(ReadOnlyInline):
    model = Membership
    fk_name = "person"
    fields = ("organisation", "manager_level", "created_at")
    readonly_fields = ("created_at",)


class EvidenceInline(ReadOnlyInline):
    model = IdentityEvidence
    fk_name = "person"
    fields = ("kind", "level", "document_type", "document_number_suffix", "verified_by", "verified_at")
    readonly_fields = fields


@admin.register(Person)
class PersonAdmin(ServiceWriteAdmin, UserAdmin):
    form = PersonChangeForm
    add_form = PersonCreationForm
    add_form_template = None
    list_display = ("name", "email", "means_level", "means_status", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "means__level", "means__status")
    list_select_related = ("means",)
    search_fields = ("name", "email")
    ordering = ("name",)
    fieldsets = (
        (None, {"fields": ("email", "name", "date_of_birth", "password")}),
        (_("Means"), {"fields": ("means_actions",)}),
        (_("Account"), {"fields": ("activation",)}),
        (_("Back-office access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "created_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "email", "date_of_birth", "level")}),
        (
            _("Identity verification"),
            {
                "fields": (
                    "kind",
                    "document_type",
                    "document_number_suffix",
                    "document_valid_until",
                    "remote",
                    "notes",
                )
            },
        ),
    )
    inlines = [EvidenceInline, MembershipInline]
    actions = ["send_activation"]
    # Changing a person means changing the password, through UserAdmin's own password form; every other field is
    # read-only because no write service for it exists yet.
    updatable = True
    readonly_when_changing = (
        "email",
        "name",
        "date_of_birth",
        "means_actions",
        "activation",
        "is_active",
        "is_staff",
        "is_superuser",
        "groups",
        "user_permissions",
        "last_login",
        "created_at",
    )

    @admin.display(description=_("level"), ordering="means__level")
    def means_level(self, person: Person) -> str:
        means = getattr(person, "means", None)
        return Level(means.level).label if means else "–"

    @admin.display(description=_("means"), ordering="means__status")
    def means_status(self, person: Person) -> str:
        means = getattr(person, "means", None)
        return means.get_status_display() if means else "–"

    @admin.display(description=_("means"))
    def means_actions(self, person: Person) -> str:
        """The person's means, with links to record identity evidence and to issue or change the means."""
        means = Means.objects.filter(person=person).first()
        links = [
            (_admin_url(IdentityEvidence, "add", query={"person": person.pk}), gettext("Record identity evidence"))
        ]
        if means is not None:
            links.append((_admin_url(Means, "change", means.pk), str(means)))
        if means is None or means.status == MeansStatus.REVOKED:
            links.append((_admin_url(Means, "add", query={"person": person.pk}), gettext("Issue a means")))
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.display(description=_("activation"))
    def activation(self, person: Person) -> str:
        """Whether the person activated their account; if not, a button that mails them the link."""
        if person.activated_at is not None:
            return gettext("Activated on %(date)s.") % {"date": localize(timezone.localtime(person.activated_at))}
        if refusal := _activation_refusal(person):
            return refusal % {"person": person}
        # The button sits inside the change form, so it posts that form (with its CSRF token) to its own address.
        url = _admin_url(Person, "send_activation", person.pk)
        return format_html(
            '{} <button type="submit" class="button" formaction="{}" formmethod="post">{}</button>',
            gettext("Not activated yet."),
            url,
            gettext("Send activation link"),
        )

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view(require_POST(self.send_activation_view))
        name = f"{self.opts.app_label}_{self.opts.model_name}_send_activation"
        return [path("<path:object_id>/send-activation/", view, name=name), *super().get_urls()]

    def has_send_activation_permission(self, request: HttpRequest, obj: Person | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def _send_activation(self, request: HttpRequest, people: QuerySet[Person] | list[Person]) -> None:
        """Mail each person who can still activate their account a link to do so; say who was left out and why."""
        actor = actor_for(request)
        base_url = request.build_absolute_uri("/")
        sent = 0
        for person in people:
            if refusal := _activation_refusal(person):
                refusal %= {"person": person}
                message = gettext("%(refusal)s No activation link was sent.") % {"refusal": refusal}
                self.message_user(request, message, messages.WARNING)
                continue
            activation_send(actor=actor, person=person, base_url=base_url)
            sent += 1
        if sent:
            self.message_user(
                request,
                gettext("Sent an activation link to %(count)d %(items)s.")
                % {"count": sent, "items": model_ngettext(self.opts, sent)},
                messages.SUCCESS,
            )

    @admin.action(description=_("Send activation link"), permissions=["send_activation"])
    def send_activation(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        """Mail each selected person who has not activated their account yet a link to do so."""
        self._send_activation(request, queryset)

    def send_activation_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The button on a person's page: mail them the activation link, then back to their page."""
        person = self.get_object(request, object_id)
        if person is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_send_activation_permission(request, person):
            raise PermissionDenied
        self._send_activation(request, [person])
        return HttpResponseRedirect(_admin_url(Person, "change", person.pk))

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> Person:
        if obj is not None:
            return obj  # nothing on the change form is editable
        data = form.cleaned_data
        return person_create(
            actor=actor_for(request),
            name=data["name"],
            email=data["email"],
            date_of_birth=data["date_of_birth"],
            level=None if data["level"] is None else Level(data["level"]),
            evidence=evidence_details(data) if data["kind"] else None,
        )


class EvidenceForm(ServiceValidatedForm):
    document_number_suffix = EvidenceFields.base_fields["document_number_suffix"]

    class Meta:
        model = IdentityEvidence
        fields = (
            "person",
            "kind",
            "document_type",
            "document_number_suffix",
            "document_valid_until",
            "remote",
            "notes",
        )


@admin.register(IdentityEvidence)
class IdentityEvidenceAdmin(ServiceWriteAdmin):
    """Identity verifications: recorded once through ``evidence_record``, by the staff member, and never changed."""

    form = EvidenceForm
    list_display = ("person", "kind", "level", "document_type", "remote", "verified_by", "verified_at")
    list_filter = ("kind", "level", "document_type", "remote")
    list_select_related = ("person",)
    search_fields = ("person__name", "person__email", "verified_by")
    autocomplete_fields = ("person",)
    date_hierarchy = "verified_at"
    add_fields = (
        "person",
        "kind",
        "document_type",
        "document_number_suffix",
        "document_valid_until",
        "remote",
        "notes",
    )
    view_fields = (
        "person",
        "kind",
        "level",
        "document_type",
        "document_number_suffix",
        "document_valid_until",
        "remote",
        "verified_by",
        "verified_at",
        "notes",
        "means_link",
    )

    @admin.display(description=_("means"))
    def means_link(self, evidence: IdentityEvidence) -> str:
        """Where to go next: issue a means on this evidence, or upgrade the person's means with it."""
        means = Means.objects.filter(person_id=evidence.person_id).first()
        if means is None or means.status == MeansStatus.REVOKED:
            url = _admin_url(Means, "add", query={"person": evidence.person_id, "evidence": evidence.pk})
            return format_html('<a href="{}">{}</a>', url, gettext("Issue a means on this evidence"))
        url = _admin_url(Means, "change", means.pk)
        return format_html('<a href="{}">{}</a>', url, str(means))

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> IdentityEvidence:
        data = form.cleaned_data
        return evidence_record(actor=actor_for(request), person=data["person"], evidence=evidence_details(data))


class MeansForm(ServiceValidatedForm):
    evidence = forms.ModelChoiceField(
        label=_("identity evidence"),
        queryset=IdentityEvidence.objects.none(),
        required=False,
        help_text=_(
            "Needed to issue a means and to upgrade one: a recorded identity verification that supports the level."
        ),
    )
    reason = forms.CharField(
        label=_("reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the history of the means and in the audit log."),
    )

    class Meta:
        model = Means
        fields = ("person", "level", "status")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            evidence = IdentityEvidence.objects.filter(person_id=self.instance.person_id)
        else:
            # Evidence of people who could be issued a means: none yet, or a revoked one.
            evidence = IdentityEvidence.objects.exclude(
                person__means__status__in=[MeansStatus.ACTIVE, MeansStatus.SUSPENDED]
            )
        self.fields["evidence"].queryset = evidence.select_related("person")


class MeansEventInline(ReadOnlyInline):
    model = MeansEvent
    fields = ("at", "action", "level", "status", "reason", "evidence")
    show_change_link = False


@admin.register(Means)
class MeansAdmin(ServiceWriteAdmin):
    form = MeansForm
    list_display = ("person", "level", "status", "issued_at", "changed_at")
    list_filter = ("level", "status")
    list_select_related = ("person",)
    search_fields = ("person__name", "person__email")
    autocomplete_fields = ("person",)
    add_fields = ("person", "level", "evidence", "reason")
    view_fields = ("person", "level", "status", "evidence", "reason", "issued_at", "changed_at")
    updatable = True
    readonly_when_changing = ("person", "issued_at", "changed_at")
    inlines = [MeansEventInline]
    actions = ["revoke_selected"]

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    @admin.action(description=_("Revoke selected %(verbose_name_plural)s"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Means]) -> None:
        """Revoke each selected means (people who left): every session of theirs ends at once."""
        actor = actor_for(request)
        revoke_each(
            self,
            request,
            queryset.select_related("person"),
            lambda means: means_revoke(actor=actor, person=means.person, reason=gettext("Revoked in the back office.")),
            already_revoked=lambda means: means.status == MeansStatus.REVOKED,
        )

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> Means:
        data = form.cleaned_data
        actor = actor_for(request)
        if obj is None:
            return means_issue(
                actor=actor,
                person=data["person"],
                level=Level(data["level"]),
                evidence=data["evidence"],
                reason=data["reason"],
            )
        means = obj
        if "level" in form.changed_data:
            means = means_change_level(
                actor=actor,
                person=obj.person,
                level=Level(data["level"]),
                reason=data["reason"],
                evidence=data["evidence"],
            )
        if "status" in form.changed_data:
            status = MeansStatus(data["status"])
            if status == MeansStatus.REVOKED:
                means = means_revoke(actor=actor, person=obj.person, reason=data["reason"])
            else:
                means = means_set_status(actor=actor, person=obj.person, status=status, reason=data["reason"])
        return means
