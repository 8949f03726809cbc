"""Mandates and chain mandates over the API: grant, revoke, list and read."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.base import ResourceViewSet, actor_of, problems, validated
from sleutelbos.api.errors import service_errors
from sleutelbos.api.fields import (
    BranchReference,
    GrantScopeField,
    LevelField,
    MomentField,
    OrganisationReference,
    PersonReference,
    ScopeSerializer,
    active_q,
    is_active,
)
from sleutelbos.mandates.models import ChainMandate, Mandate
from sleutelbos.mandates.services import chain_mandate_grant, chain_mandate_revoke, mandate_grant, mandate_revoke

# What the write services call a field that the API calls otherwise.
_GRANT_FIELDS = {"revoked_at": "non_field_errors"}


class GrantSerializer(serializers.Serializer):
    """What a mandate and a chain mandate share."""

    id = serializers.IntegerField(read_only=True)
    scope = GrantScopeField()
    level = LevelField(read_only=True)
    valid_from = serializers.DateTimeField(read_only=True)
    valid_until = serializers.DateTimeField(read_only=True)
    active = serializers.SerializerMethodField(help_text=_("Not revoked, and valid now."))
    granted_at = serializers.DateTimeField(read_only=True)
    granted_by = serializers.CharField(read_only=True)
    revoked_at = serializers.DateTimeField(read_only=True)
    revoked_by = serializers.CharField(read_only=True)

    def get_active(self, grant: Mandate | ChainMandate) -> bool:
        return is_active(grant)


class GrantCreate(serializers.Serializer):
    scope = ScopeSerializer()
    level = LevelField()
    valid_from = MomentField(required=False, help_text=_("Default: now. A date alone means midnight in Amsterdam."))
    valid_until = MomentField(
        required=False, help_text=_("Default: a year after valid_from; at most 5 years after it.")
    )


class RevokeRequest(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class GrantFilters(serializers.Serializer):
    active = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text=_("Only active (true) or inactive (false) ones.")
    )


class GrantViewSet(ResourceViewSet):
    """Shared by mandates and chain mandates: the ``active`` filter and revocation."""

    revoke_service: Any  # the write service that revokes one

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        active = filters.pop("active", None)
        if active is not None:
            queryset = queryset.filter(active_q()) if active else queryset.exclude(active_q())
        return queryset.filter(**filters)

    def revoke_grant(self, request: Request, keyword: str) -> Response:
        grant = self.get_object()
        data = validated(RevokeRequest, request.data)
        with service_errors(_GRANT_FIELDS):
            self.revoke_service(actor=actor_of(request), **{keyword: grant}, reason=data["reason"])
        return self.answer(grant)


# --------------------------------------------------------------------------------------------------------------------
# Mandates


class MandateSerializer(GrantSerializer):
    holder = serializers.IntegerField(source="holder_id", read_only=True, help_text=_("The holder's person id."))
    organisation = serializers.CharField(source="organisation.kvk", read_only=True)
    branch = serializers.CharField(source="branch.number", read_only=True, allow_null=True, default=None)


class MandateCreate(GrantCreate):
    holder = PersonReference(help_text=_("The id of the person who receives the mandate."))
    organisation = OrganisationReference(help_text=_("The KvK number of the organisation that gives it."))
    branch = BranchReference(required=False, allow_null=True, help_text=_("Restrict it to one branch (12 digits)."))


class MandateFilters(GrantFilters):
    holder = PersonReference(required=False)
    organisation = OrganisationReference(required=False)


@extend_schema_view(
    list=extend_schema(parameters=[MandateFilters], responses={200: MandateSerializer, **problems(400)}),
    retrieve=extend_schema(responses={200: MandateSerializer, **problems(404)}),
)
class MandateViewSet(GrantViewSet):
    """Mandates (machtigingen): a person may act for an organisation at the services in scope, up to a level."""

    queryset = Mandate.objects.select_related("organisation", "branch").prefetch_related("providers", "service_links")
    serializer_class = MandateSerializer
    filters = MandateFilters
    lookup_value_regex = r"\d+"
    revoke_service = staticmethod(mandate_revoke)

    @extend_schema(request=MandateCreate, responses={201: MandateSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(MandateCreate, request.data)
        with service_errors(_GRANT_FIELDS):
            mandate = mandate_grant(actor=actor_of(request), **data)
        return self.answer(mandate, created=True)

    @extend_schema(request=RevokeRequest, responses={200: MandateSerializer, **problems(400, 404)})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        """Revoke the mandate, at once and for good."""
        return self.revoke_grant(request, "mandate")


# --------------------------------------------------------------------------------------------------------------------
# Chain mandates


class ChainMandateSerializer(GrantSerializer):
    client = serializers.CharField(source="client.kvk", read_only=True)
    intermediary = serializers.CharField(source="intermediary.kvk", read_only=True)


class ChainMandateCreate(GrantCreate):
    client = OrganisationReference(help_text=_("The KvK number of the organisation that authorizes."))
    intermediary = OrganisationReference(help_text=_("The KvK number of the intermediary it authorizes."))


class ChainMandateFilters(GrantFilters):
    client = OrganisationReference(required=False)
    intermediary = OrganisationReference(required=False)


@extend_schema_view(
    list=extend_schema(parameters=[ChainMandateFilters], responses={200: ChainMandateSerializer, **problems(400)}),
    retrieve=extend_schema(responses={200: ChainMandateSerializer, **problems(404)}),
)
class ChainMandateViewSet(GrantViewSet):
    """Chain mandates (ketenmachtigingen): a client organisation authorizes an intermediary organisation."""

    queryset = ChainMandate.objects.select_related("client", "intermediary").prefetch_related(
        "providers", "service_links"
    )
    serializer_class = ChainMandateSerializer
    filters = ChainMandateFilters
    lookup_value_regex = r"\d+"
    revoke_service = staticmethod(chain_mandate_revoke)

    @extend_schema(request=ChainMandateCreate, responses={201: ChainMandateSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(ChainMandateCreate, request.data)
        with service_errors(_GRANT_FIELDS):
            chain = chain_mandate_grant(actor=actor_of(request), **data)
        return self.answer(chain, created=True)

    @extend_schema(request=RevokeRequest, responses={200: ChainMandateSerializer, **problems(400, 404)})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        """Revoke the chain mandate, at once and for good."""
        return self.revoke_grant(request, "chain_mandate")
