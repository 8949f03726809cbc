"""Back office: the service catalogue. New providers, definitions and instances go through the catalogue services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin
from sleutelbos.catalogue.models import (
    DEFAULT_ENTITY_CONCERNED_TYPES,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
)
from sleutelbos.catalogue.services import service_definition_create, service_instance_create, service_provider_create


class DefinitionInline(ReadOnlyInline):
    model = ServiceDefinition
    fields = ("name_nl", "name_en", "uuid", "level", "branch_restriction_allowed")


class InstanceInline(ReadOnlyInline):
    model = ServiceInstance
    fk_name = "provider"
    fields = ("index", "definition", "service_url")


class DefinitionInstanceInline(InstanceInline):
    fk_name = "definition"


@admin.register(ServiceProvider)
class ServiceProviderAdmin(ServiceWriteAdmin):
    list_display = ("name_nl", "name_en", "oin", "definition_count", "created_at")
    search_fields = ("name_nl", "name_en", "oin")
    add_fields = ("oin", "name_nl", "name_en")
    view_fields = (*add_fields, "portal_service_id", "created_at")
    inlines = [DefinitionInline, InstanceInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ServiceProvider]:
        return super().get_queryset(request).annotate(definition_count=Count("definitions"))

    @admin.display(description=_("service definitions"), ordering="definition_count")
    def definition_count(self, provider: Any) -> int:
        return provider.definition_count

    @admin.display(description=_("portal ServiceID"))
    def portal_service_id(self, provider: ServiceProvider) -> str:
        return provider.portal_service_id

    create = staticmethod(service_provider_create)


@admin.register(ServiceDefinition)
class ServiceDefinitionAdmin(ServiceWriteAdmin):
    list_display = ("name_nl", "provider", "level", "uuid", "branch_restriction_allowed")
    list_filter = ("level", "branch_restriction_allowed", "provider")
    list_select_related = ("provider",)
    search_fields = ("name_nl", "name_en", "uuid", "provider__name_nl", "provider__oin")
    autocomplete_fields = ("provider",)
    add_fields = (
        "provider",
        "uuid",
        "name_nl",
        "name_en",
        "description_nl",
        "description_en",
        "level",
        "branch_restriction_allowed",
        "entity_concerned_types",
    )
    view_fields = (*add_fields, "created_at")
    inlines = [DefinitionInstanceInline]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("entity_concerned_types", DEFAULT_ENTITY_CONCERNED_TYPES)
        return initial

    create = staticmethod(service_definition_create)


@admin.register(ServiceInstance)
class ServiceInstanceAdmin(ServiceWriteAdmin):
    list_display = ("service_id", "definition", "provider", "index", "service_url")
    list_filter = ("provider",)
    list_select_related = ("provider", "definition")
    search_fields = ("definition__name_nl", "definition__name_en", "provider__name_nl", "provider__oin", "service_url")
    autocomplete_fields = ("definition",)
    ordering = ("provider__name_nl", "index")
    add_fields = ("definition", "index", "service_url", "privacy_policy_url")
    view_fields = ("service_id", "provider", *add_fields, "uuid", "created_at")

    @admin.display(description=_("ServiceID"), ordering="index")
    def service_id(self, instance: ServiceInstance) -> str:
        return instance.service_id

    create = staticmethod(service_instance_create)
