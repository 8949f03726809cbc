"""Back office: the service catalogue. New providers, definitions and instances go through the catalogue services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin, actor_for
from sleutelbos.catalogue.models import (
    DEFAULT_ENTITY_CONCERNED_TYPES,
    RequestedAttribute,
    ServiceCertificate,
    ServiceDefinition,
    ServiceInstance,
    ServiceProvider,
)
from sleutelbos.catalogue.services import (
    service_certificate_create,
    service_definition_create,
    service_instance_create,
    service_provider_create,
)


class DefinitionInline(ReadOnlyInline):
    model = ServiceDefinition
    fields = ("name_nl", "name_en", "uuid", "level", "branch_restriction_allowed")


class InstanceInline(ReadOnlyInline):
    model = ServiceInstance
    fk_name = "provider"
    fields = ("index", "definition", "service_url")


class DefinitionInstanceInline(InstanceInline):
    fk_name = "definition"


class RequestedAttributeInline(ReadOnlyInline):
    model = RequestedAttribute
    fields = ("position", "name", "friendly_name", "is_required", "purpose_nl", "purpose_en")
    show_change_link = False


class CertificateInline(ReadOnlyInline):
    model = ServiceCertificate
    fields = ("subject", "key_name", "not_before", "not_after", "fingerprint")


@admin.register(ServiceProvider)
class ServiceProviderAdmin(ServiceWriteAdmin):
    list_display = ("name_nl", "name_en", "oin", "definition_count", "created_at")
    search_fields = ("name_nl", "name_en", "oin")
    add_fields = ("oin", "name_nl", "name_en")
    view_fields = (*add_fields, "is_public", "other_languages", "portal_service_id", "created_at")
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
    view_fields = (
        *add_fields,
        "is_public",
        "description_urls",
        "names_broker",
        "broker_oin",
        "acting_subject_types",
        "other_languages",
        "created_at",
    )
    inlines = [RequestedAttributeInline, DefinitionInstanceInline]

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
    add_fields = (
        "definition",
        "index",
        "service_url",
        "service_url_en",
        "privacy_policy_url",
        "privacy_policy_url_en",
    )
    view_fields = (
        "service_id",
        "provider",
        *add_fields,
        "uuid",
        "is_public",
        "broker_oin",
        "additional_broker_oins",
        "sso_support",
        "classifiers",
        "other_languages",
        "created_at",
    )
    inlines = [CertificateInline]

    @admin.display(description=_("ServiceID"), ordering="index")
    def service_id(self, instance: ServiceInstance) -> str:
        return instance.service_id

    create = staticmethod(service_instance_create)


class ServiceCertificateForm(forms.ModelForm):
    """The add form: the certificate as PEM text or as a PEM or DER file."""

    certificate_file = forms.FileField(
        label=_("certificate file"), required=False, help_text=_("PEM or DER; instead of pasting the PEM text.")
    )

    class Meta:
        model = ServiceCertificate
        fields = ("instance", "pem", "key_name")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "pem" in self.fields:
            self.fields["pem"].required = False

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("certificate_file")
        if upload is not None:
            cleaned["pem"] = upload.read(64 * 1024)
        if not cleaned.get("pem"):
            self.add_error("pem", _("Paste the certificate or choose its file."))
        return cleaned


@admin.register(ServiceCertificate)
class ServiceCertificateAdmin(ServiceWriteAdmin):
    """The encryption certificates service providers give per service instance (esc:ServiceCertificate)."""

    form = ServiceCertificateForm
    list_display = ("instance", "subject", "key_name", "not_before", "not_after")
    list_select_related = ("instance__provider",)
    list_filter = ("instance__provider",)
    search_fields = ("subject", "fingerprint", "key_name", "instance__provider__oin", "instance__provider__name_nl")
    autocomplete_fields = ("instance",)
    add_fields = ("instance", "pem", "certificate_file", "key_name")
    view_fields = ("instance", "subject", "key_name", "fingerprint", "not_before", "not_after", "pem", "chain_pem")

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> ServiceCertificate:
        if obj is not None:
            raise NotImplementedError
        data = form.cleaned_data
        return service_certificate_create(
            actor=actor_for(request), instance=data["instance"], certificate=data["pem"], key_name=data["key_name"]
        )
