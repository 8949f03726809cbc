"""Back office: organisations, their branches, functionaries and memberships, written through their services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin, actor_for
from sleutelbos.catalogue.levels import Level
from sleutelbos.organisations.models import Branch, Functionary, Invitation, Membership, Organisation
from sleutelbos.organisations.services import (
    branch_create,
    functionary_create,
    membership_ensure,
    membership_set_manager,
    organisation_create,
)


class BranchInline(ReadOnlyInline):
    model = Branch
    fields = ("number", "name", "city")


class FunctionaryInline(ReadOnlyInline):
    model = Functionary
    fields = ("name", "role", "authority", "date_of_birth")


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = ("person", "manager_level", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Organisation)
class OrganisationAdmin(ServiceWriteAdmin):
    list_display = ("name", "kvk", "rsin", "legal_form", "created_at")
    list_filter = ("legal_form",)
    search_fields = ("name", "kvk", "rsin")
    add_fields = ("kvk", "rsin", "name", "legal_form")
    view_fields = (*add_fields, "created_at")
    inlines = [BranchInline, FunctionaryInline, MembershipInline]

    create = staticmethod(organisation_create)


@admin.register(Branch)
class BranchAdmin(ServiceWriteAdmin):
    list_display = ("number", "name", "organisation", "city")
    list_select_related = ("organisation",)
    search_fields = ("number", "name", "city", "organisation__name", "organisation__kvk")
    autocomplete_fields = ("organisation",)
    add_fields = ("organisation", "number", "name", "city")
    view_fields = add_fields

    create = staticmethod(branch_create)


@admin.register(Functionary)
class FunctionaryAdmin(ServiceWriteAdmin):
    list_display = ("name", "organisation", "role", "authority")
    list_filter = ("authority",)
    list_select_related = ("organisation",)
    search_fields = ("name", "role", "organisation__name", "organisation__kvk")
    autocomplete_fields = ("organisation",)
    add_fields = ("organisation", "name", "date_of_birth", "role", "authority")
    view_fields = add_fields

    create = staticmethod(functionary_create)


@admin.register(Membership)
class MembershipAdmin(ServiceWriteAdmin):
    """Memberships, and who manages an organisation's mandates at which level (the one thing changed here)."""

    list_display = ("person", "organisation", "manager_level", "created_at")
    list_filter = ("manager_level",)
    list_select_related = ("person", "organisation")
    search_fields = ("person__name", "person__email", "organisation__name", "organisation__kvk")
    autocomplete_fields = ("person", "organisation")
    add_fields = ("person", "organisation", "manager_level")
    view_fields = (*add_fields, "created_at")
    updatable = True
    readonly_when_changing = ("person", "organisation", "created_at")

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> Membership:
        data = form.cleaned_data
        person = obj.person if obj else data["person"]
        organisation = obj.organisation if obj else data["organisation"]
        level = data["manager_level"]
        if obj is not None and "manager_level" not in form.changed_data:
            return obj
        if obj is None and level is None:
            return membership_ensure(actor=actor_for(request), person=person, organisation=organisation)
        return membership_set_manager(
            actor=actor_for(request),
            person=person,
            organisation=organisation,
            level=None if level is None else Level(level),
        )


@admin.register(Invitation)
class InvitationAdmin(ServiceWriteAdmin):
    """Invitations managers sent from the portal: read-only here (the token is only ever in the mail)."""

    list_display = ["email", "name", "organisation", "state", "invited_at", "expires_at"]
    list_filter = ["state"]
    search_fields = ["email", "name", "organisation__name", "organisation__kvk"]
    list_select_related = ["organisation"]
    view_fields = (
        "organisation",
        "email",
        "name",
        "language",
        "state",
        "invited_by",
        "invited_at",
        "expires_at",
        "answered_at",
        "person",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
