"""Back office: people and their means.

A person is added through ``person_create`` (optionally issuing a means); their details are read-only here, and a
password is only ever set through Django's own password change form. A means is issued, changed in level and
suspended, reactivated or revoked through the identity services, with a reason that goes into its history.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin, actor_for
from sleutelbos.catalogue.levels import Level
from sleutelbos.identity.models import Means, MeansEvent, MeansStatus, Person
from sleutelbos.identity.services import means_change_level, means_issue, means_set_status, person_create
from sleutelbos.organisations.models import Membership


class PersonCreationForm(forms.ModelForm):
    level = forms.TypedChoiceField(
        label=_("level of the means"),
        choices=[("", _("no means yet")), *Level.choices],
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Issue an eHerkenning means at this level at once."),
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
        (_("Back-office access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "created_at")}),
    )
    add_fieldsets = ((None, {"fields": ("name", "email", "date_of_birth", "level")}),)
    inlines = [MembershipInline]
    # Changing a person means changing the password, through UserAdmin's own password form; every other field is
    # read-only because no write service for it exists yet.
    updatable = True
    readonly_when_changing = (
        "email",
        "name",
        "date_of_birth",
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
        )


class MeansForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("reason for the change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the history of the means and in the audit log."),
    )

    class Meta:
        model = Means
        fields = ("person", "level", "status")


class MeansEventInline(ReadOnlyInline):
    model = MeansEvent
    fields = ("at", "action", "level", "status", "reason")
    show_change_link = False


@admin.register(Means)
class MeansAdmin(ServiceWriteAdmin):
    form = MeansForm
    list_display = ("person", "level", "status", "issued_at", "changed_at")
    list_filter = ("level", "status")
    list_select_related = ("person",)
    search_fields = ("person__name", "person__email")
    autocomplete_fields = ("person",)
    add_fields = ("person", "level")
    view_fields = ("person", "level", "status", "reason", "issued_at", "changed_at")
    updatable = True
    readonly_when_changing = ("person", "issued_at", "changed_at")
    inlines = [MeansEventInline]

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> Means:
        data = form.cleaned_data
        actor = actor_for(request)
        if obj is None:
            return means_issue(actor=actor, person=data["person"], level=Level(data["level"]))
        means = obj
        if "level" in form.changed_data:
            means = means_change_level(
                actor=actor, person=obj.person, level=Level(data["level"]), reason=data["reason"]
            )
        if "status" in form.changed_data:
            means = means_set_status(
                actor=actor, person=obj.person, status=MeansStatus(data["status"]), reason=data["reason"]
            )
        return means
