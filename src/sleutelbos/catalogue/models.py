"""The service catalogue (Dienstencatalogus): service providers, service definitions and service instances.

Mandates are registered against the ServiceUUID of a *definition*; two providers may publish definitions with the
same ServiceUUID and then share its mandates. A ServiceInstance is what a provider logs people in at; its ServiceID
``urn:etoegang:DV:<OIN>:services:<index>`` is derived, never typed. Index 0 is the provider's portal and is not an
instance.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sleutelbos.catalogue.levels import Level, level_field

oin_validator = RegexValidator(r"^[0-9]{20}\Z", _("An OIN is exactly 20 digits."), code="invalid_oin")

BRANCH_RESTRICTION = "urn:etoegang:1.9:ServiceRestriction:Vestigingsnr"
KVK_IDENTIFIER = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN_IDENTIFIER = "urn:etoegang:1.9:EntityConcernedID:RSIN"
DEFAULT_ENTITY_CONCERNED_TYPES = [[KVK_IDENTIFIER], [RSIN_IDENTIFIER]]


def service_id_for(oin: str, index: int) -> str:
    """The ServiceID of a provider's service instance (index 0: the provider's portal)."""
    return f"urn:etoegang:DV:{oin}:services:{index}"


class LocalisedNameMixin:
    """Picks the name in the active language, falling back to Dutch."""

    name_nl: str
    name_en: str

    @property
    def name(self) -> str:
        if (get_language() or "nl").startswith("en") and self.name_en:
            return self.name_en
        return self.name_nl


class ServiceProvider(LocalisedNameMixin, models.Model):
    """A service provider (dienstverlener, DV), identified by its OIN."""

    oin = models.CharField(_("OIN"), max_length=20, unique=True, validators=[oin_validator])
    name_nl = models.CharField(_("name (Dutch)"), max_length=64)
    name_en = models.CharField(_("name (English)"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service provider")
        verbose_name_plural = _("service providers")
        ordering = ["name_nl"]

    def __str__(self) -> str:
        return f"{self.name} ({self.oin})"

    @property
    def portal_service_id(self) -> str:
        return service_id_for(self.oin, 0)


class ServiceDefinition(LocalisedNameMixin, models.Model):
    """A service as the catalogue defines it: what it is called and which level it needs."""

    provider = models.ForeignKey(
        ServiceProvider,
        on_delete=models.PROTECT,
        related_name="definitions",
        verbose_name=_("service provider"),
    )
    uuid = models.UUIDField(_("ServiceUUID"), default=uuid.uuid4, db_index=True)
    name_nl = models.CharField(_("name (Dutch)"), max_length=64)
    name_en = models.CharField(_("name (English)"), max_length=64, blank=True)
    description_nl = models.TextField(
        _("description (Dutch)"), max_length=1024, blank=True, validators=[MaxLengthValidator(1024)]
    )
    description_en = models.TextField(
        _("description (English)"), max_length=1024, blank=True, validators=[MaxLengthValidator(1024)]
    )
    level = level_field(verbose_name=_("required level"))
    entity_concerned_types = models.JSONField(
        _("allowed entity-concerned identifier sets"),
        default=list,
        help_text=_("A list of sets (lists) of identifier type URIs, one per setNumber."),
    )
    branch_restriction_allowed = models.BooleanField(_("accepts a branch restriction"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service definition")
        verbose_name_plural = _("service definitions")
        ordering = ["provider__name_nl", "name_nl"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "uuid"], name="definition_uuid_unique_per_provider"),
            models.CheckConstraint(condition=models.Q(level__in=Level.values), name="definition_level_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({Level(self.level).label})"

    def clean(self) -> None:
        types = self.entity_concerned_types
        if not isinstance(types, list) or not all(
            isinstance(group, list) and group and all(isinstance(t, str) for t in group) for group in types
        ):
            raise ValidationError(
                {"entity_concerned_types": _("Give a list of identifier sets, each a non-empty list of URIs.")}
            )


class ServiceInstance(models.Model):
    """A concrete service (loket) of a provider, reachable by its ServiceID."""

    provider = models.ForeignKey(
        ServiceProvider,
        on_delete=models.PROTECT,
        related_name="instances",
        verbose_name=_("service provider"),
    )
    definition = models.ForeignKey(
        ServiceDefinition,
        on_delete=models.PROTECT,
        related_name="instances",
        verbose_name=_("service definition"),
    )
    index = models.PositiveIntegerField(_("index"), validators=[MinValueValidator(1)])
    uuid = models.UUIDField(_("instance UUID"), default=uuid.uuid4, unique=True)
    service_url = models.URLField(_("service URL"), blank=True)
    privacy_policy_url = models.URLField(_("privacy policy URL"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service instance")
        verbose_name_plural = _("service instances")
        ordering = ["provider__name_nl", "index"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "index"], name="instance_index_unique_per_provider"),
            models.CheckConstraint(condition=models.Q(index__gte=1), name="instance_index_positive"),
        ]

    def __str__(self) -> str:
        return self.service_id

    @property
    def service_id(self) -> str:
        return service_id_for(self.provider.oin, self.index)

    def clean(self) -> None:
        if self.definition_id and self.provider_id and self.definition.provider_id != self.provider_id:
            raise ValidationError({"definition": _("The service definition belongs to another service provider.")})
