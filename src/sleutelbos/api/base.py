"""What every resource of the API shares: the acting token, list filters, lookups that say what was not found."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.errors import PROBLEM_JSON
from sleutelbos.api.fields import unknown
from sleutelbos.audit.services import Actor


def actor_of(request: Request) -> Actor:
    """The audit actor of an API request: the integration, by its token's name."""
    return Actor.for_api(request.auth.name)


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate request data (a body or query parameters); a problem names every bad field."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def not_found(model: type[models.Model], key: str, value: object) -> exceptions.NotFound:
    """A 404 that says which thing was asked and not found."""
    return exceptions.NotFound(unknown(model, key, value))


class Problem(serializers.Serializer):
    """An error, as ``application/problem+json`` (RFC 9457)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    errors = serializers.DictField(
        required=False, help_text=_("Validation problems only: the messages per field, nested like the request.")
    )


def problems(*codes: int) -> dict[Any, OpenApiResponse]:
    """Schema entries for the error responses of an endpoint."""
    descriptions = {
        400: _("Invalid input: `errors` names each field."),
        401: _("No or an unknown API token."),
        404: _("Not found."),
    }
    return {(code, PROBLEM_JSON): OpenApiResponse(Problem, description=descriptions[code]) for code in codes}


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List (paginated, with query-parameter filters) and retrieve, plus helpers for create and actions.

    Subclasses set ``filters`` (a serializer of the query parameters of the list) and implement ``filter_by``.
    """

    filters: type[serializers.Serializer] | None = None

    def filter_queryset(self, queryset: models.QuerySet) -> models.QuerySet:
        if self.action != "list" or self.filters is None:
            return queryset
        given = {
            name: value
            for name, value in validated(self.filters, self.request.query_params).items()
            if value is not None and value != ""
        }
        return self.filter_by(queryset, given)

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        """Apply validated filters (only those given) to the list."""
        return queryset

    def get_object(self) -> models.Model:
        value = self.kwargs[self.lookup_url_kwarg or self.lookup_field]
        queryset = self.get_queryset()
        try:
            obj = queryset.get(**{self.lookup_field: value})
        except (ObjectDoesNotExist, ValueError, DjangoValidationError):
            raise not_found(queryset.model, self.lookup_field, value) from None
        self.check_object_permissions(self.request, obj)
        return obj

    def answer(self, obj: models.Model, *, created: bool = False) -> Response:
        """The representation of ``obj``; when just created, a 201 with its Location."""
        obj = self.get_queryset().get(pk=obj.pk)
        data = self.get_serializer(obj).data
        if not created:
            return Response(data)
        location = self.reverse_action("detail", kwargs={self.lookup_field: getattr(obj, self.lookup_field)})
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": location})
