"""People over the API, by id, and what a person may do for an organisation."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from sleutelbos.api.base import ResourceViewSet, actor_of, problems, validated
from sleutelbos.api.errors import service_errors
from sleutelbos.api.fields import LevelField, LocalisedField, OrganisationReference
from sleutelbos.identity.activation import activation_send
from sleutelbos.identity.models import DocumentType, EvidenceKind, MeansStatus, Person
from sleutelbos.identity.services import EvidenceDetails, person_create
from sleutelbos.mandates.decisions import services_for


class MeansSerializer(serializers.Serializer):
    level = LevelField(read_only=True)
    status = serializers.ChoiceField(choices=MeansStatus.choices, read_only=True)
    issued_at = serializers.DateTimeField(read_only=True)
    changed_at = serializers.DateTimeField(read_only=True)


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    email = serializers.EmailField(read_only=True)
    date_of_birth = serializers.DateField(read_only=True)
    means = MeansSerializer(read_only=True, allow_null=True, help_text=_("The eHerkenning means; null if none."))
    created_at = serializers.DateTimeField(read_only=True)


class EvidenceInput(serializers.Serializer):
    """How the integration verified the person's identity."""

    kind = serializers.ChoiceField(
        choices=EvidenceKind.choices,
        help_text=_(
            "What was checked; it must support the level: name_and_birth_date up to EH2, document_copy up to EH2+, "
            "document_original up to EH3, in_person up to EH4."
        ),
    )
    document_type = serializers.ChoiceField(
        choices=DocumentType.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The identity document checked; required for document_copy and document_original."),
    )
    document_number_suffix = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("At most the last 4 characters of the document number; the full number is not stored."),
    )
    document_valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    remote = serializers.BooleanField(
        required=False, default=False, help_text=_("The original document was checked remotely (video).")
    )


class PersonCreate(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    level = LevelField(
        required=False, allow_null=True, default=None, help_text=_("Issue a means at this level; none if omitted.")
    )
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    evidence = EvidenceInput(
        required=False,
        allow_null=True,
        default=None,
        help_text=_(
            "How the identity was verified. Without it, a level is recorded as this integration's assertion that it "
            "verified the identity with the least kind of evidence that level needs."
        ),
    )
    send_activation = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_(
            "Mail the person a one-time link to activate their account (choose a password, then set up the factors "
            "their level needs), once the person is registered. The link points at the host this request was sent "
            "to and works for a limited number of days (SLEUTELBOS_ACTIVATION_DAYS, 7 by default)."
        ),
    )


# The identity services report problems with the evidence under its own field names.
_EVIDENCE_FIELDS = {
    "kind": "evidence.kind",
    "evidence": "evidence.kind",
    "document_type": "evidence.document_type",
    "document_number_suffix": "evidence.document_number_suffix",
    "document_valid_until": "evidence.document_valid_until",
    "remote": "evidence.remote",
}


class PersonFilters(serializers.Serializer):
    name = serializers.CharField(required=False, help_text=_("Part of the name."))
    email = serializers.CharField(required=False)


class AccessQuery(serializers.Serializer):
    organisation = OrganisationReference(help_text=_("The KvK number of the organisation."))
    intermediary = OrganisationReference(
        required=False, help_text=_("The KvK number of the person's organisation when acting through a chain mandate.")
    )


class AccessSerializer(serializers.Serializer):
    service_id = serializers.CharField(read_only=True)
    service_uuid = serializers.UUIDField(source="definition.uuid", read_only=True, help_text=_("Its ServiceUUID."))
    provider = serializers.CharField(source="provider.oin", read_only=True)
    name = LocalisedField("name", source="definition")
    level = LevelField(source="definition.level", read_only=True)


@extend_schema_view(
    list=extend_schema(parameters=[PersonFilters], responses={200: PersonSerializer, **problems(400)}),
    retrieve=extend_schema(responses={200: PersonSerializer, **problems(404)}),
)
class PersonViewSet(ResourceViewSet):
    """People, by id, with their means."""

    queryset = Person.objects.select_related("means").order_by("name", "id")
    serializer_class = PersonSerializer
    filters = PersonFilters
    lookup_value_regex = r"\d+"

    def filter_by(self, queryset: models.QuerySet, filters: dict[str, Any]) -> models.QuerySet:
        if name := filters.get("name"):
            queryset = queryset.filter(name__icontains=name)
        if email := filters.get("email"):
            queryset = queryset.filter(email__iexact=email.strip())
        return queryset

    @extend_schema(request=PersonCreate, responses={201: PersonSerializer, **problems(400)})
    def create(self, request: Request) -> Response:
        data = validated(PersonCreate, request.data)
        given = data.pop("evidence")
        send_activation = data.pop("send_activation")
        evidence = EvidenceDetails(**given) if given else None
        if evidence is None and data["level"] is not None:
            evidence = EvidenceDetails.asserted_for(data["level"])
        actor = actor_of(request)
        # One transaction: the activation mail goes out only once the person is stored.
        with transaction.atomic(), service_errors(_EVIDENCE_FIELDS):
            person = person_create(actor=actor, evidence=evidence, **data)
            if send_activation:
                activation_send(actor=actor, person=person, base_url=request.build_absolute_uri("/"))
        return self.answer(person, created=True)

    @extend_schema(
        parameters=[AccessQuery],
        responses={200: AccessSerializer(many=True), **problems(400, 404)},
        summary=_("What this person may do for an organisation"),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def access(self, request: Request, pk: str) -> Response:
        """Every service instance the person may use for the organisation, each at its catalogue level."""
        person = self.get_object()
        query = validated(AccessQuery, request.query_params)
        instances = services_for(person, query["organisation"], None, intermediary=query.get("intermediary"))
        return Response(AccessSerializer(instances, many=True).data)
