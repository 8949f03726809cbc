"""The decision engine over the API: may this person act for this organisation at this service?

The answer is :func:`sleutelbos.mandates.decisions.decide`'s, unchanged; reasons come in the request's language
(``Accept-Language``: Dutch by default, English on request).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sleutelbos.api.base import problems, validated
from sleutelbos.api.fields import (
    LevelField,
    MomentField,
    OrganisationReference,
    PersonReference,
    instance_by_service_id,
    unknown_service_id,
)
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance
from sleutelbos.mandates.decisions import decide
from sleutelbos.organisations.identifiers import validate_branch_number


class ServiceReference(serializers.CharField):
    """A service by its ServiceID (an instance) or its ServiceUUID (a definition, when one provider defines it)."""

    def to_internal_value(self, data: Any) -> ServiceInstance | ServiceDefinition:
        text = super().to_internal_value(data)
        if text.startswith("urn:"):
            instance = instance_by_service_id(text)
            if instance is None:
                raise serializers.ValidationError(unknown_service_id(text), code="unknown")
            return instance
        try:
            uuid = UUID(text)
        except ValueError:
            raise serializers.ValidationError(
                _("Give a ServiceID (urn:etoegang:DV:<OIN>:services:<index>) or a ServiceUUID."), code="invalid"
            ) from None
        definitions = list(
            ServiceDefinition.objects.filter(uuid=uuid).select_related("provider").prefetch_related("instances")
        )
        if not definitions:
            raise serializers.ValidationError(
                _("There is no service with ServiceUUID %(uuid)s in the catalogue.") % {"uuid": uuid}, code="unknown"
            )
        if len(definitions) > 1:
            # Providers sharing a ServiceUUID may differ in level and branch restriction: the ServiceID says which.
            service_ids = sorted(instance.service_id for d in definitions for instance in d.instances.all())
            raise serializers.ValidationError(
                _("Several service providers define ServiceUUID %(uuid)s; give one of their ServiceIDs: %(ids)s.")
                % {"uuid": uuid, "ids": ", ".join(service_ids) or "-"},
                code="ambiguous",
            )
        return definitions[0]


class DecisionRequest(serializers.Serializer):
    person = PersonReference(help_text=_("The person's id."))
    organisation = OrganisationReference(help_text=_("The KvK number of the organisation represented."))
    service = ServiceReference(help_text=_("A ServiceID, or a ServiceUUID that one provider defines."))
    level = LevelField(required=False, help_text=_("The level asked; default the service's catalogue level."))
    at = MomentField(required=False, help_text=_("The moment to decide for; default now."))
    intermediary = OrganisationReference(
        required=False, help_text=_("The KvK number of the person's organisation when acting through a chain mandate.")
    )
    branch = serializers.CharField(
        required=False, validators=[validate_branch_number], help_text=_("Restrict the login to this branch.")
    )


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text=_("A stable code, e.g. no_mandate or mandate_expired."))
    message = serializers.CharField(help_text=_("The reason in the request's language."))


class DecisionSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    level = LevelField(help_text=_("The level decided at."))
    mandates = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("The ids of the mandates that allow it, the preferred first.")
    )
    chain_mandate = serializers.IntegerField(allow_null=True, help_text=_("The id of the chain mandate used."))
    branch = serializers.CharField(allow_null=True, help_text=_("The branch the login is restricted to."))
    reasons = ReasonSerializer(many=True, help_text=_("On refusal: every reason that applies."))


class DecisionView(APIView):
    """Decide whether a person may act for an organisation at a service."""

    @extend_schema(
        request=DecisionRequest,
        responses={200: DecisionSerializer, **problems(400, 401)},
        summary=_("Decide"),
        operation_id="decisions_create",
    )
    def post(self, request: Request) -> Response:
        data = validated(DecisionRequest, request.data)
        decision = decide(
            data["person"],
            data["organisation"],
            data["service"],
            level=data.get("level"),
            at=data.get("at"),
            intermediary=data.get("intermediary"),
            branch=data.get("branch"),
        )
        return Response(DecisionSerializer(decision).data)
