"""Back office: service providers' SAML entities. Registered and refreshed from metadata (a file or a URL) through
the SAML services; their certificates and AssertionConsumerServices are shown, never edited by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.admin import ReadOnlyInline, ServiceWriteAdmin, actor_for
from sleutelbos.saml.models import AssertionConsumerService, ServiceProviderEntity, SpCertificate
from sleutelbos.saml.protocol.metadata import MAX_METADATA_BYTES, MetadataError, parse_sp_metadata
from sleutelbos.saml.services import metadata_error_message, metadata_fetch, sp_register_from_metadata

#: Certificates that expire within this many days are marked, so that the provider can be asked for new metadata.
EXPIRY_WARNING_DAYS = 60


class MetadataForm(forms.ModelForm):
    """Metadata as an uploaded file or a URL to fetch it from; on an existing entity, a URL refetches it."""

    metadata_file = forms.FileField(
        label=_("metadata file"), required=False, help_text=_("The provider's SAML metadata (XML, at most 1 MB).")
    )
    metadata_url = forms.URLField(
        label=_("metadata URL"),
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text=_("An https URL; fetched now, and again whenever this entity is saved."),
    )

    class Meta:
        model = ServiceProviderEntity
        fields = ("metadata_url", "provider")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("metadata_file")
        url = cleaned.get("metadata_url")
        if upload is not None:
            if upload.size > MAX_METADATA_BYTES:
                raise ValidationError({"metadata_file": gettext("The metadata is larger than 1 MB.")})
            cleaned["metadata"] = upload.read()
        elif url:
            try:
                cleaned["metadata"] = metadata_fetch(url)
            except ValidationError as error:
                raise ValidationError({"metadata_url": error.message_dict["metadata_url"]}) from None
        else:
            raise ValidationError(gettext("Upload the metadata file or give its URL."))
        source = "metadata_file" if upload is not None else "metadata_url"
        try:
            entity_id = parse_sp_metadata(cleaned["metadata"]).entity_id
        except MetadataError as error:
            raise ValidationError({source: metadata_error_message(error)}) from None
        if self.instance.pk is not None and entity_id != self.instance.entity_id:
            # The change page refreshes this entity; metadata of another entity is registered as a new one.
            raise ValidationError(
                {
                    source: gettext("This metadata is for %(other)s, not for %(entity)s.")
                    % {"other": entity_id, "entity": self.instance.entity_id}
                }
            )
        return cleaned


class CertificateInline(ReadOnlyInline):
    model = SpCertificate
    fields = ("use", "subject", "fingerprint", "not_after", "expiry")
    readonly_fields = ("expiry",)
    show_change_link = False

    @admin.display(description=_("status"))
    def expiry(self, certificate: SpCertificate) -> str:
        now = timezone.now()
        if certificate.not_after <= now:
            return gettext("expired")
        if (certificate.not_after - now).days < EXPIRY_WARNING_DAYS:
            return gettext("expires within %(days)d days") % {"days": EXPIRY_WARNING_DAYS}
        return gettext("valid")


class AcsInline(ReadOnlyInline):
    model = AssertionConsumerService
    fields = ("index", "binding", "location", "is_default")
    show_change_link = False


@admin.register(ServiceProviderEntity)
class ServiceProviderEntityAdmin(ServiceWriteAdmin):
    form = MetadataForm
    list_display = ("__str__", "entity_id", "provider", "valid_until", "updated_at")
    list_select_related = ("provider",)
    list_filter = ("provider",)
    search_fields = ("entity_id", "name", "provider__name_nl", "provider__oin")
    autocomplete_fields = ("provider",)
    add_fields = ("metadata_file", "metadata_url", "provider")
    view_fields = (
        "entity_id",
        "name",
        *add_fields,
        "artifact_resolution_url",
        "services",
        "valid_until",
        "created_at",
        "updated_at",
    )
    updatable = True
    readonly_when_changing = (
        "entity_id",
        "name",
        "artifact_resolution_url",
        "services",
        "valid_until",
        "created_at",
        "updated_at",
    )
    inlines = [CertificateInline, AcsInline]

    @admin.display(description=_("services (AttributeConsumingService)"))
    def services(self, entity: ServiceProviderEntity) -> str:
        return "; ".join(
            f"{service['index']}: {next(iter(service['names'].values()), '')}"
            for service in entity.attribute_consuming_services
        )

    def write(self, request: HttpRequest, form: forms.BaseForm, obj: Any | None) -> ServiceProviderEntity:
        data = form.cleaned_data
        return sp_register_from_metadata(
            actor=actor_for(request),
            data=data["metadata"],
            provider=data.get("provider"),
            metadata_url=data.get("metadata_url") or "",
        )
