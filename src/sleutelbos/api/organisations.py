"""Organisations over the API, by KvK number."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.base import ResourceViewSet, actor_of, problems, validated
from sleutelbos.api.errors import service_errors
from sleutelbos.organisations.models import LegalForm, Organisation
from sleutelbos.organisations.services import organisation_create


class BranchSerializer(serializers.Serializer):
    number = serializers.CharField(read_only=True, help_text=_("The branch number (vestigingsnummer), 12 digits."))
    name = serializers.CharField(read_only=True)
    city = serializers.CharField(read_only=True)


class OrganisationSerializer(serializers.Serializer):
    kvk = serializers.CharField(read_only=True)
    rsin = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    legal_form = serializers.ChoiceField(choices=LegalForm.choices, read_only=True)
    branches = BranchSerializer(many=True, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class OrganisationCreate(serializers.Serializer):
    kvk = serializers.CharField(help_text=_("The KvK number: exactly 8 digits."))
    rsin = serializers.CharField(
        required=False, allow_blank=True, default="", help_text=_("9 digits passing the eleven-test.")
    )
    name = serializers.CharField()
    legal_form = serializers.ChoiceField(choices=LegalForm.choices, required=False, default=LegalForm.BV)


class OrganisationFilters(serializers.Serializer):
    name = serializers.CharField(required=False, help_text=_("Part of the name."))
    rsin = serializers.CharField(required=False)


@extend_schema_view(
    list=extend_schema(parameters=[OrganisationFilters], responses={200: OrganisationSerializer, **problems(400)}),
    retrieve=extend_schema(responses={200: OrganisationSerializer, **problems(404)}),
)
class OrganisationViewSet(ResourceViewSet):
    """Organisations, by KvK number, with their branches."""

    queryset = Organisation.objects.prefetch_related("branches").order_by("name", "kvk")
    serializer_class = OrganisationSerializer
    filters = OrganisationFilters
    lookup_field = "kvk"

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        if name := filters.get("name"):
            queryset = queryset.filter(name__icontains=name)
        if rsin := filters.get("rsin"):
            queryset = queryset.filter(rsin=rsin)
        return queryset

    @extend_schema(request=OrganisationCreate, responses={201: OrganisationSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(OrganisationCreate, request.data)
        with service_errors():
            organisation = organisation_create(actor=actor_of(request), **data)
        return self.answer(organisation, created=True)
