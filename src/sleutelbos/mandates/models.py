"""Mandates (machtigingen) and chain mandates (ketenmachtigingen).

A scope is exactly one of: **all** services of all providers (including providers that join later), **providers**
(all services of a set of providers, including services they add later), or **services** (a set of ServiceUUIDs of
service definitions). The first two are evaluated against the catalogue when deciding, never expanded into rows.
Validity is the half-open interval ``[valid_from, valid_until)``. Revocation is final: ``revoked_at`` is set once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sleutelbos.catalogue.levels import Level, level_field


class ScopeKind(models.TextChoices):
    ALL = "all", _("all services of all service providers")
    PROVIDERS = "providers", _("all services of chosen service providers")
    SERVICES = "services", _("chosen services")


class GrantQuerySet(models.QuerySet):
    """Mandates are never deleted: decisions and the audit log refer to them. They are revoked instead."""

    def delete(self) -> tuple[int, dict[str, int]]:
        raise models.ProtectedError(_("Mandates are never deleted; revoke them instead."), set(self))


class Grant(models.Model):
    """What a mandate and a chain mandate share: scope kind, level, validity, revocation."""

    scope_kind = models.CharField(_("scope"), max_length=20, choices=ScopeKind.choices)
    level = level_field()
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    granted_by = models.CharField(_("granted by"), max_length=200)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.CharField(_("revoked by"), max_length=200, blank=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise models.ProtectedError(_("Mandates are never deleted; revoke them instead."), {self})

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def grant_constraints(cls, prefix: str) -> list[models.BaseConstraint]:
        return [
            models.CheckConstraint(
                condition=models.Q(valid_until__gt=models.F("valid_from")), name=f"{prefix}_until_after_from"
            ),
            models.CheckConstraint(condition=models.Q(level__in=Level.values), name=f"{prefix}_level_valid"),
            models.CheckConstraint(
                condition=models.Q(scope_kind__in=ScopeKind.values), name=f"{prefix}_scope_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True, revoked_by="")
                | models.Q(revoked_at__isnull=False) & ~models.Q(revoked_by=""),
                name=f"{prefix}_revocation_complete",
            ),
        ]


class Mandate(Grant):
    """A person (holder) may act for an organisation at services within the scope, up to a level."""

    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="mandates", verbose_name=_("holder")
    )
    organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        related_name="mandates",
        verbose_name=_("organisation"),
    )
    branch = models.ForeignKey(
        "organisations.Branch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="mandates",
        verbose_name=_("branch"),
    )
    providers = models.ManyToManyField(
        "catalogue.ServiceProvider", through="MandateProvider", related_name="+", blank=True
    )
    previous = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="successor",
        verbose_name=_("re-activates"),
        help_text=_("The expired mandate this one re-activated; an expired mandate is re-activated once."),
    )

    class Meta:
        verbose_name = _("mandate")
        verbose_name_plural = _("mandates")
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["holder", "organisation"], name="mandate_holder_org_idx")]
        constraints = Grant.grant_constraints("mandate")

    def __str__(self) -> str:
        return f"{self.holder} → {self.organisation} ({self.get_scope_kind_display()}, {Level(self.level).label})"


class MandateProvider(models.Model):
    mandate = models.ForeignKey(Mandate, on_delete=models.CASCADE, related_name="provider_links")
    provider = models.ForeignKey("catalogue.ServiceProvider", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mandate", "provider"], name="mandate_provider_unique")]

    def __str__(self) -> str:
        return f"{self.mandate_id} → {self.provider_id}"


class MandateService(models.Model):
    mandate = models.ForeignKey(Mandate, on_delete=models.CASCADE, related_name="service_links")
    service_uuid = models.UUIDField(_("ServiceUUID"), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mandate", "service_uuid"], name="mandate_service_unique")]

    def __str__(self) -> str:
        return f"{self.mandate_id} → {self.service_uuid}"


class ChainMandate(Grant):
    """A client organisation authorizes an intermediary organisation (its accountant, say) for services."""

    client = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        related_name="chain_mandates_given",
        verbose_name=_("client"),
    )
    intermediary = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        related_name="chain_mandates_received",
        verbose_name=_("intermediary"),
    )
    providers = models.ManyToManyField(
        "catalogue.ServiceProvider", through="ChainMandateProvider", related_name="+", blank=True
    )

    class Meta:
        verbose_name = _("chain mandate")
        verbose_name_plural = _("chain mandates")
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["intermediary", "client"], name="chain_intermediary_client_idx")]
        constraints = [
            *Grant.grant_constraints("chain"),
            models.CheckConstraint(
                condition=~models.Q(client=models.F("intermediary")), name="chain_client_is_not_intermediary"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client} → {self.intermediary} ({self.get_scope_kind_display()}, {Level(self.level).label})"


class ChainMandateProvider(models.Model):
    chain_mandate = models.ForeignKey(ChainMandate, on_delete=models.CASCADE, related_name="provider_links")
    provider = models.ForeignKey("catalogue.ServiceProvider", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_mandate", "provider"], name="chain_provider_unique")]

    def __str__(self) -> str:
        return f"{self.chain_mandate_id} → {self.provider_id}"


class ChainMandateService(models.Model):
    chain_mandate = models.ForeignKey(ChainMandate, on_delete=models.CASCADE, related_name="service_links")
    service_uuid = models.UUIDField(_("ServiceUUID"), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_mandate", "service_uuid"], name="chain_service_unique")]

    def __str__(self) -> str:
        return f"{self.chain_mandate_id} → {self.service_uuid}"


class ExpiryNotice(models.Model):
    """That the holder and managers of a mandate were warned, ``days_before`` its end ``valid_until``.

    One row per mandate, threshold and end date: no warning goes out twice for the same threshold, and a renewed
    mandate (a later end) is warned about again before its new end.
    """

    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, related_name="expiry_notices")
    days_before = models.PositiveSmallIntegerField(_("days before the end"))
    valid_until = models.DateTimeField(_("end warned about"))
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    recipients = models.PositiveSmallIntegerField(_("recipients"), default=0)

    class Meta:
        verbose_name = _("expiry notice")
        verbose_name_plural = _("expiry notices")
        constraints = [
            models.UniqueConstraint(fields=["mandate", "days_before", "valid_until"], name="expiry_notice_once")
        ]

    def __str__(self) -> str:
        return f"{self.mandate_id}: {self.days_before} days before {self.valid_until:%Y-%m-%d}"
