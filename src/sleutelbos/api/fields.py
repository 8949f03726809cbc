"""Fields every resource of the API shares: levels, moments, localised texts, references by natural key, scopes.

A reference (an OIN, a KvK number, a person's id, a branch number) is checked against the model field's own
validators first, so a malformed key gets the same message as everywhere else in Sleutelbos, and an unknown one
says which thing was not found.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sleutelbos.catalogue.levels import URI_PREFIX, Level
from sleutelbos.catalogue.models import ServiceInstance, ServiceProvider
from sleutelbos.identity.models import Person
from sleutelbos.mandates.models import ChainMandate, Mandate, ScopeKind
from sleutelbos.mandates.services import Scope
from sleutelbos.organisations.models import Branch, Organisation

# A date without a time is the start of that day in the Netherlands, whatever the server's time zone.
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}\Z")
_SERVICE_ID = re.compile(r"^urn:etoegang:DV:(?P<oin>\d{20}):services:(?P<index>\d+)\Z")

_LEVEL_VALUES = [level.label for level in Level] + [level.uri for level in Level]


@extend_schema_field(
    {
        "type": "string",
        "enum": _LEVEL_VALUES,
        "example": "EH3",
        "description": f"EH2, EH2+, EH3 or EH4 (in requests also its {URI_PREFIX}… URI); answered as EH2…EH4.",
    }
)
class LevelField(serializers.Field):
    """A level of assurance: "EH3" or its URI in, "EH3" out."""

    def to_internal_value(self, data: Any) -> Level:
        if not isinstance(data, str):  # 30 is how the database stores EH3, not a level an integrator writes
            raise serializers.ValidationError(Level.parse_error(data), code="invalid")
        try:
            return Level.parse(data)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None

    def to_representation(self, value: int) -> str:
        return Level(value).label


class MomentField(serializers.DateTimeField):
    """An ISO 8601 moment; a date alone (``2026-01-31``) means midnight at the start of that day in Amsterdam."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        if isinstance(value, str) and _DATE_ONLY.match(value.strip()):
            try:
                day = dt.date.fromisoformat(value.strip())
            except ValueError:
                self.fail("invalid", format=_("YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][+HH:MM]"))
            return dt.datetime.combine(day, dt.time(0), tzinfo=AMSTERDAM)
        return super().to_internal_value(value)


class LocalisedText(serializers.Serializer):
    """A text in Dutch (required) and English (optional)."""

    nl = serializers.CharField(trim_whitespace=True)
    en = serializers.CharField(required=False, allow_blank=True, default="")


class OptionalLocalisedText(LocalisedText):
    """A text in Dutch and English, both optional."""

    nl = serializers.CharField(required=False, allow_blank=True, default="")


@extend_schema_field(LocalisedText)
class LocalisedField(serializers.Field):
    """Answers a model's ``<prefix>_nl`` and ``<prefix>_en`` as ``{"nl": …, "en": …}`` (read only)."""

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        self.prefix = prefix
        kwargs.setdefault("source", "*")
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: models.Model) -> dict[str, str]:
        return {"nl": getattr(value, f"{self.prefix}_nl"), "en": getattr(value, f"{self.prefix}_en")}


def unknown(model: type[models.Model], key: str, value: object) -> str:
    """The message for a reference to a row that does not exist: "There is no organisation with KvK number …"."""
    field = model._meta.pk if key == "pk" else model._meta.get_field(key)
    return _("There is no %(thing)s with %(key)s %(value)s.") % {
        "thing": model._meta.verbose_name,
        "key": field.verbose_name,
        "value": value,
    }


class Reference(serializers.SlugRelatedField):
    """A row given by a natural key; a malformed key fails the model field's validation, an unknown one is named."""

    default_error_messages = {"invalid": _("Give a value, not a list or an object.")}

    def __init__(self, model: type[models.Model], key: str, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", model._default_manager.all())
        super().__init__(slug_field=key, **kwargs)

    def to_internal_value(self, data: Any) -> models.Model:
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        model = self.get_queryset().model
        field = model._meta.get_field(self.slug_field)
        try:
            value = field.clean(data.strip() if isinstance(data, str) else data, None)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None
        try:
            return self.get_queryset().get(**{self.slug_field: value})
        except ObjectDoesNotExist:
            raise serializers.ValidationError(unknown(model, self.slug_field, value), code="does_not_exist") from None


class ProviderReference(Reference):
    """A service provider by its OIN."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(ServiceProvider, "oin", **kwargs)


class OrganisationReference(Reference):
    """An organisation by its KvK number."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Organisation, "kvk", **kwargs)


class PersonReference(Reference):
    """A person by their id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Person, "id", **kwargs)


class BranchReference(Reference):
    """A branch by its 12-digit branch number (vestigingsnummer)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(Branch, "number", **kwargs)


class ScopeSerializer(serializers.Serializer):
    """What a (chain) mandate covers: ``{"kind": "all"}``, ``{"kind": "providers", "providers": [OIN, …]}`` or
    ``{"kind": "services", "services": [ServiceUUID, …]}``. Validates into a :class:`Scope`."""

    kind = serializers.ChoiceField(choices=ScopeKind.choices)
    providers = serializers.ListField(child=ProviderReference(), required=False)
    services = serializers.ListField(child=serializers.UUIDField(), required=False)

    def validate(self, attrs: dict[str, Any]) -> Scope:  # type: ignore[override]
        kind = ScopeKind(attrs["kind"])
        providers = tuple(attrs.get("providers", ()))
        services = tuple(attrs.get("services", ()))
        for name, given in (("providers", providers), ("services", services)):
            if given and kind != name:
                raise serializers.ValidationError(
                    {name: _("Only a scope of kind “%(name)s” lists %(name)s.") % {"name": name}}, code="unexpected"
                )
        scope = Scope(kind, providers=providers, services=services)
        try:
            scope.validate()
        except DjangoValidationError as error:
            # The scope's own rules: its list is not empty, and every ServiceUUID is in the catalogue.
            field = str(kind) if kind != ScopeKind.ALL else "kind"
            raise serializers.ValidationError({field: error.messages}) from None
        return scope


def scope_of(grant: Mandate | ChainMandate) -> Scope:
    """The scope of a stored mandate or chain mandate (prefetch ``providers`` and ``service_links``)."""
    return Scope(
        ScopeKind(grant.scope_kind),
        providers=tuple(grant.providers.all()),
        services=tuple(link.service_uuid for link in grant.service_links.all()),
    )


@extend_schema_field(ScopeSerializer)
class GrantScopeField(serializers.Field):
    """Answers a mandate's or chain mandate's scope as the ScopeSerializer reads it (read only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Mandate | ChainMandate) -> dict[str, Any]:
        return scope_of(value).describe()


def is_active(grant: Mandate | ChainMandate, at: dt.datetime | None = None) -> bool:
    """Not revoked and within its validity (the same half-open interval the decision engine uses)."""
    at = at or timezone.now()
    return grant.revoked_at is None and grant.valid_from <= at < grant.valid_until


def active_q(at: dt.datetime | None = None) -> models.Q:
    """The filter form of :func:`is_active`."""
    at = at or timezone.now()
    return models.Q(revoked_at__isnull=True, valid_from__lte=at, valid_until__gt=at)


def instance_by_service_id(service_id: str) -> ServiceInstance | None:
    """The service instance a ServiceID (``urn:etoegang:DV:<OIN>:services:<index>``) names, or None."""
    match = _SERVICE_ID.match(service_id.strip())
    if match is None:
        return None
    return (
        ServiceInstance.objects.select_related("provider", "definition")
        .filter(provider__oin=match["oin"], index=int(match["index"]))
        .first()
    )


def unknown_service_id(service_id: str) -> str:
    """The message for a ServiceID that names no service instance."""
    return _("There is no service instance with ServiceID %(id)s.") % {"id": service_id}
