"""Service providers' SAML entities over the API: register one from its metadata (XML or a URL), list, read."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.base import ResourceViewSet, actor_of, problems, validated
from sleutelbos.api.errors import service_errors
from sleutelbos.api.fields import ProviderReference
from sleutelbos.saml.models import ServiceProviderEntity
from sleutelbos.saml.protocol.metadata import MAX_METADATA_BYTES
from sleutelbos.saml.services import sp_register_from_metadata, sp_register_from_url


class CertificateSerializer(serializers.Serializer):
    use = serializers.CharField()
    fingerprint = serializers.CharField(help_text=_("SHA-256, as AB:CD:…"))
    subject = serializers.CharField()
    not_after = serializers.DateTimeField()


class AcsSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    binding = serializers.CharField()
    location = serializers.CharField()
    is_default = serializers.BooleanField()


class ServiceProviderEntitySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    entity_id = serializers.CharField(read_only=True)
    provider = serializers.CharField(
        source="provider.oin", read_only=True, allow_null=True, help_text=_("The OIN of the catalogue's provider.")
    )
    name = serializers.CharField(read_only=True)
    metadata_url = serializers.CharField(read_only=True)
    certificates = CertificateSerializer(many=True, read_only=True)
    assertion_consumer_services = AcsSerializer(many=True, read_only=True)
    artifact_resolution_url = serializers.CharField(read_only=True)
    valid_until = serializers.DateTimeField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ServiceProviderEntityRegister(serializers.Serializer):
    metadata = serializers.CharField(
        required=False,
        max_length=MAX_METADATA_BYTES,
        trim_whitespace=False,
        help_text=_("The SAML metadata as XML; or give metadata_url."),
    )
    metadata_url = serializers.URLField(
        required=False, max_length=2000, help_text=_("An https URL to fetch the metadata from; or give metadata.")
    )
    provider = ProviderReference(
        required=False, allow_null=True, help_text=_("The OIN of the service provider in the catalogue.")
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("metadata" in attrs) == ("metadata_url" in attrs):
            raise serializers.ValidationError({"metadata": _("Give either metadata or metadata_url.")}, code="one_of")
        return attrs


class ServiceProviderEntityFilters(serializers.Serializer):
    provider = ProviderReference(required=False)
    entity_id = serializers.CharField(required=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[ServiceProviderEntityFilters], responses={200: ServiceProviderEntitySerializer, **problems(400)}
    ),
    retrieve=extend_schema(responses={200: ServiceProviderEntitySerializer, **problems(404)}),
)
class ServiceProviderEntityViewSet(ResourceViewSet):
    """Service providers' SAML entities, registered from their metadata."""

    queryset = (
        ServiceProviderEntity.objects.select_related("provider")
        .prefetch_related("certificates", "assertion_consumer_services")
        .order_by("entity_id")
    )
    serializer_class = ServiceProviderEntitySerializer
    filters = ServiceProviderEntityFilters

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        return queryset.filter(**filters)

    @extend_schema(
        request=ServiceProviderEntityRegister,
        responses={201: ServiceProviderEntitySerializer, 200: ServiceProviderEntitySerializer, **problems(400)},
        description=_(
            "Registers the entity the metadata describes, or updates it when its entity ID is known (200): its "
            "certificates and AssertionConsumerServices are then those of the new metadata."
        ),
    )
    def create(self, request: Request) -> Response:
        data = validated(ServiceProviderEntityRegister, request.data)
        started = timezone.now()
        with service_errors():
            if "metadata" in data:
                entity = sp_register_from_metadata(
                    actor=actor_of(request), data=data["metadata"].encode("utf-8"), provider=data.get("provider")
                )
            else:
                entity = sp_register_from_url(
                    actor=actor_of(request), url=data["metadata_url"], provider=data.get("provider")
                )
        return self.answer(entity, created=entity.created_at >= started)
