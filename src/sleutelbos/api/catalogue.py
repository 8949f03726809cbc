"""The catalogue over the API: service providers, service definitions (with who may use them) and service instances."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.base import ResourceViewSet, actor_of, not_found, problems, validated
from sleutelbos.api.errors import service_errors
from sleutelbos.api.fields import (
    LevelField,
    LocalisedField,
    LocalisedText,
    OptionalLocalisedText,
    OrganisationReference,
    ProviderReference,
    instance_by_service_id,
    unknown_service_id,
)
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.catalogue.services import (
    service_definition_create,
    service_instance_create,
    service_provider_create,
)
from sleutelbos.mandates.decisions import holders_for

# --------------------------------------------------------------------------------------------------------------------
# Service providers


class ServiceProviderSerializer(serializers.Serializer):
    oin = serializers.CharField(read_only=True)
    name = LocalisedField("name")
    portal_service_id = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ServiceProviderCreate(serializers.Serializer):
    oin = serializers.CharField(help_text=_("The OIN: exactly 20 digits."))
    name = LocalisedText()


class ServiceProviderFilters(serializers.Serializer):
    name = serializers.CharField(required=False, help_text=_("Part of the name, Dutch or English."))


@extend_schema_view(
    list=extend_schema(
        parameters=[ServiceProviderFilters], responses={200: ServiceProviderSerializer, **problems(400)}
    ),
    retrieve=extend_schema(responses={200: ServiceProviderSerializer, **problems(404)}),
)
class ServiceProviderViewSet(ResourceViewSet):
    """Service providers (dienstverleners), by OIN."""

    queryset = ServiceProvider.objects.order_by("name_nl", "oin")
    serializer_class = ServiceProviderSerializer
    filters = ServiceProviderFilters
    lookup_field = "oin"

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        if name := filters.get("name"):
            queryset = queryset.filter(models.Q(name_nl__icontains=name) | models.Q(name_en__icontains=name))
        return queryset

    @extend_schema(request=ServiceProviderCreate, responses={201: ServiceProviderSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(ServiceProviderCreate, request.data)
        with service_errors({"name_nl": "name.nl", "name_en": "name.en"}):
            provider = service_provider_create(
                actor=actor_of(request), oin=data["oin"], name_nl=data["name"]["nl"], name_en=data["name"]["en"]
            )
        return self.answer(provider, created=True)


# --------------------------------------------------------------------------------------------------------------------
# Service definitions


class ServiceDefinitionSerializer(serializers.Serializer):
    uuid = serializers.UUIDField(read_only=True, help_text=_("The ServiceUUID; mandates name it."))
    provider = serializers.CharField(source="provider.oin", read_only=True)
    name = LocalisedField("name")
    description = LocalisedField("description")
    level = LevelField(read_only=True)
    branch_restriction_allowed = serializers.BooleanField(read_only=True)
    entity_concerned_types = serializers.JSONField(read_only=True)
    instances = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_instances(self, definition: ServiceDefinition) -> list[str]:
        """The ServiceIDs of the definition's instances."""
        return [instance.service_id for instance in definition.instances.all()]


class ServiceDefinitionCreate(serializers.Serializer):
    provider = ProviderReference(help_text=_("The OIN of the service provider."))
    uuid = serializers.UUIDField(
        required=False, help_text=_("The ServiceUUID; give another provider's to share its mandates. New if omitted.")
    )
    name = LocalisedText()
    description = OptionalLocalisedText(required=False)
    level = LevelField()
    branch_restriction_allowed = serializers.BooleanField(required=False, default=False)


class ServiceDefinitionFilters(serializers.Serializer):
    provider = ProviderReference(required=False)
    level = LevelField(required=False)
    uuid = serializers.UUIDField(required=False)


class ProviderChoice(serializers.Serializer):
    provider = ProviderReference(
        required=False, help_text=_("The provider's OIN, for a ServiceUUID that several providers define.")
    )


class HoldersQuery(ProviderChoice):
    organisation = OrganisationReference(help_text=_("The KvK number of the organisation."))


class HolderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    intermediary = serializers.CharField(
        allow_null=True, help_text=_("The KvK number of the intermediary, when acting through a chain mandate.")
    )
    providers = serializers.ListField(
        child=serializers.CharField(), help_text=_("The OINs of the providers whose definition the person may use.")
    )


def definitions_by_uuid(uuid: str, provider: ServiceProvider | None) -> list[ServiceDefinition]:
    """The definitions with this ServiceUUID (of ``provider`` only, when given); a 404 when there are none."""
    try:
        parsed = UUID(str(uuid))
    except ValueError:
        raise not_found(ServiceDefinition, "uuid", uuid) from None
    queryset = ServiceDefinition.objects.select_related("provider").prefetch_related("instances__provider")
    found = list(queryset.filter(uuid=parsed, **({"provider": provider} if provider else {})))
    if not found:
        raise not_found(ServiceDefinition, "uuid", uuid)
    return found


@extend_schema_view(
    list=extend_schema(
        parameters=[ServiceDefinitionFilters], responses={200: ServiceDefinitionSerializer, **problems(400)}
    ),
    retrieve=extend_schema(
        parameters=[ProviderChoice], responses={200: ServiceDefinitionSerializer, **problems(400, 404)}
    ),
)
class ServiceDefinitionViewSet(ResourceViewSet):
    """Service definitions, by ServiceUUID. Two providers may define the same ServiceUUID; ``?provider=`` chooses."""

    queryset = ServiceDefinition.objects.select_related("provider").prefetch_related("instances__provider")
    serializer_class = ServiceDefinitionSerializer
    filters = ServiceDefinitionFilters
    lookup_field = "uuid"

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        return queryset.filter(**filters)

    def get_object(self) -> ServiceDefinition:
        provider = validated(ProviderChoice, self.request.query_params).get("provider")
        definitions = definitions_by_uuid(self.kwargs["uuid"], provider)
        if len(definitions) > 1:
            raise exceptions.ValidationError(
                {
                    "provider": _("Several service providers define this ServiceUUID; choose one of: %(oins)s.")
                    % {"oins": ", ".join(d.provider.oin for d in definitions)}
                },
                code="ambiguous",
            )
        return definitions[0]

    @extend_schema(request=ServiceDefinitionCreate, responses={201: ServiceDefinitionSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(ServiceDefinitionCreate, request.data)
        description = data.get("description") or {"nl": "", "en": ""}
        fields = {
            "name_nl": "name.nl",
            "name_en": "name.en",
            "description_nl": "description.nl",
            "description_en": "description.en",
            # The one rule about several fields: a provider defines a ServiceUUID once.
            "__all__": "uuid",
        }
        with service_errors(fields):
            definition = service_definition_create(
                actor=actor_of(request),
                provider=data["provider"],
                uuid=data.get("uuid"),
                name_nl=data["name"]["nl"],
                name_en=data["name"]["en"],
                description_nl=description["nl"],
                description_en=description["en"],
                level=data["level"],
                branch_restriction_allowed=data["branch_restriction_allowed"],
            )
        return self.answer(definition, created=True)

    @extend_schema(
        parameters=[HoldersQuery],
        responses={200: HolderSerializer(many=True), **problems(400, 404)},
        summary=_("Who may use this service for an organisation"),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def holders(self, request: Request, uuid: str) -> Response:
        """The people who may use this service for the organisation, at its catalogue level.

        Without ``provider``, a ServiceUUID several providers define is answered for each definition: ``providers``
        lists the OINs whose definition the person may use.
        """
        definitions = definitions_by_uuid(uuid, None)
        query = validated(HoldersQuery, request.query_params)
        if query.get("provider") is not None:
            definitions = [d for d in definitions if d.provider == query["provider"]]
            if not definitions:
                raise not_found(ServiceDefinition, "uuid", uuid)
        found: dict[tuple[int, int | None], dict[str, Any]] = {}
        for definition in definitions:
            for holder in holders_for(query["organisation"], definition):
                intermediary = holder.intermediary
                entry = found.setdefault(
                    (holder.person.pk, intermediary.pk if intermediary else None),
                    {
                        "id": holder.person.pk,
                        "name": holder.person.name,
                        "intermediary": intermediary.kvk if intermediary else None,
                        "providers": [],
                    },
                )
                entry["providers"].append(definition.provider.oin)
        ordered = sorted(found.values(), key=lambda e: (e["intermediary"] is not None, e["name"], e["id"]))
        return Response(HolderSerializer(ordered, many=True).data)


# --------------------------------------------------------------------------------------------------------------------
# Service instances


class ServiceInstanceSerializer(serializers.Serializer):
    service_id = serializers.CharField(read_only=True, help_text=_("urn:etoegang:DV:<OIN>:services:<index>"))
    uuid = serializers.UUIDField(read_only=True, help_text=_("The instance's own UUID."))
    provider = serializers.CharField(source="provider.oin", read_only=True)
    definition = serializers.UUIDField(source="definition.uuid", read_only=True, help_text=_("Its ServiceUUID."))
    index = serializers.IntegerField(read_only=True)
    name = LocalisedField("name", source="definition")
    level = LevelField(source="definition.level", read_only=True)
    service_url = serializers.URLField(read_only=True)
    privacy_policy_url = serializers.URLField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class ServiceInstanceCreate(serializers.Serializer):
    provider = ProviderReference(help_text=_("The OIN of the service provider."))
    definition = serializers.UUIDField(help_text=_("The ServiceUUID of the provider's definition."))
    index = serializers.IntegerField(help_text=_("1 or more, unique per provider; 0 is the provider's portal."))
    service_url = serializers.CharField(required=False, allow_blank=True, default="")
    privacy_policy_url = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        definition = ServiceDefinition.objects.filter(provider=attrs["provider"], uuid=attrs["definition"]).first()
        if definition is None:
            raise serializers.ValidationError(
                {
                    "definition": _("Service provider %(oin)s defines no service with ServiceUUID %(uuid)s.")
                    % {"oin": attrs["provider"].oin, "uuid": attrs["definition"]}
                },
                code="unknown",
            )
        return {**attrs, "definition": definition}


class ServiceInstanceFilters(serializers.Serializer):
    provider = ProviderReference(required=False)
    definition = serializers.UUIDField(required=False, help_text=_("A ServiceUUID."))


@extend_schema_view(
    list=extend_schema(
        parameters=[ServiceInstanceFilters], responses={200: ServiceInstanceSerializer, **problems(400)}
    ),
    retrieve=extend_schema(
        parameters=[OpenApiParameter("service_id", str, OpenApiParameter.PATH, description=_("The ServiceID."))],
        responses={200: ServiceInstanceSerializer, **problems(404)},
    ),
)
class ServiceInstanceViewSet(ResourceViewSet):
    """Service instances (loketten), by ServiceID."""

    queryset = ServiceInstance.objects.select_related("provider", "definition").order_by("provider__oin", "index")
    serializer_class = ServiceInstanceSerializer
    filters = ServiceInstanceFilters
    lookup_field = "service_id"
    lookup_value_regex = "[^/]+"

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        if "provider" in filters:
            queryset = queryset.filter(provider=filters["provider"])
        if "definition" in filters:
            queryset = queryset.filter(definition__uuid=filters["definition"])
        return queryset

    def get_object(self) -> ServiceInstance:
        service_id = self.kwargs["service_id"]
        instance = instance_by_service_id(service_id)
        if instance is None:
            raise exceptions.NotFound(unknown_service_id(service_id))
        return instance

    @extend_schema(request=ServiceInstanceCreate, responses={201: ServiceInstanceSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(ServiceInstanceCreate, request.data)
        # A provider uses each index once.
        with service_errors({"__all__": "index"}):
            instance = service_instance_create(
                actor=actor_of(request),
                definition=data["definition"],
                index=data["index"],
                service_url=data["service_url"],
                privacy_policy_url=data["privacy_policy_url"],
            )
        return self.answer(instance, created=True)
