"""SAML state: the service providers' entities from their metadata, and what the login flow must remember.

A :class:`ServiceProviderEntity` is a DV's SAML entity, imported from its metadata and linked to its provider in the
catalogue. Its signing certificates verify its AuthnRequests and ArtifactResolves; a login's response only ever goes
to one of its AssertionConsumerServices, chosen by index. :class:`SeenMessageId` keeps message IDs for 12 months to
refuse replays; :class:`ArtifactRecord` holds a response until the DV resolves its artifact, once.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sleutelbos.saml.protocol.metadata import BINDING_ARTIFACT, BINDING_POST, MAX_ENTITY_ID_LENGTH


class ServiceProviderEntity(models.Model):
    """A service provider's SAML entity, as its metadata describes it."""

    entity_id = models.CharField(_("entity ID"), max_length=MAX_ENTITY_ID_LENGTH, unique=True)
    provider = models.ForeignKey(
        "catalogue.ServiceProvider",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="saml_entities",
        verbose_name=_("service provider"),
        help_text=_("The provider in the catalogue this entity logs people in for."),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)
    metadata_xml = models.TextField(_("metadata"), help_text=_("The metadata as last imported."))
    metadata_url = models.URLField(_("metadata URL"), max_length=2000, blank=True)
    artifact_resolution_url = models.CharField(
        _("artifact resolution URL"),
        max_length=2000,
        blank=True,
        help_text=_("The provider's own ArtifactResolutionService (SOAP), for requests it sends by artifact."),
    )
    attribute_consuming_services = models.JSONField(
        _("attribute consuming services"),
        default=list,
        blank=True,
        help_text=_("The services the metadata lists, as [{index, names}]."),
    )
    valid_until = models.DateTimeField(_("metadata valid until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SAML service provider")
        verbose_name_plural = _("SAML service providers")
        ordering = ["name", "entity_id"]

    def __str__(self) -> str:
        return self.name or self.entity_id


class CertificateUse(models.TextChoices):
    SIGNING = "signing", _("signing")
    ENCRYPTION = "encryption", _("encryption")


class SpCertificate(models.Model):
    """A certificate from a service provider's metadata: to verify its signatures, or to encrypt for it."""

    entity = models.ForeignKey(
        ServiceProviderEntity,
        on_delete=models.CASCADE,
        related_name="certificates",
        verbose_name=_("SAML service provider"),
    )
    use = models.CharField(_("use"), max_length=10, choices=CertificateUse.choices)
    pem = models.TextField(_("certificate (PEM)"))
    fingerprint = models.CharField(_("SHA-256 fingerprint"), max_length=95, help_text=_("As AB:CD:…"))
    subject = models.CharField(_("subject"), max_length=1000, blank=True)
    not_after = models.DateTimeField(_("valid until"))

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["entity", "use", "not_after"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "use", "fingerprint"], name="sp_certificate_unique_per_use"),
            models.CheckConstraint(condition=models.Q(use__in=CertificateUse.values), name="sp_certificate_use_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_use_display()}: {self.subject or self.fingerprint}"


class AcsBinding(models.TextChoices):
    ARTIFACT = BINDING_ARTIFACT, _("HTTP-Artifact")
    POST = BINDING_POST, _("HTTP-POST")


class AssertionConsumerService(models.Model):
    """Where a service provider receives the answer to a login: the only URLs a response is ever sent to."""

    entity = models.ForeignKey(
        ServiceProviderEntity,
        on_delete=models.CASCADE,
        related_name="assertion_consumer_services",
        verbose_name=_("SAML service provider"),
    )
    index = models.PositiveIntegerField(_("index"))
    binding = models.CharField(_("binding"), max_length=100, choices=AcsBinding.choices)
    location = models.CharField(_("location"), max_length=2000)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name = _("assertion consumer service")
        verbose_name_plural = _("assertion consumer services")
        ordering = ["entity", "index"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "index"], name="acs_index_unique_per_entity"),
            models.CheckConstraint(condition=models.Q(binding__in=AcsBinding.values), name="acs_binding_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.index}: {self.location}"


class SeenMessageId(models.Model):
    """A SAML message ID already received from an issuer; a second message with it is a replay.

    Kept 12 months (the eHerkenning rule for message IDs), then removed by a clean-up that goes by ``seen_at``.
    """

    issuer = models.CharField(_("issuer"), max_length=MAX_ENTITY_ID_LENGTH)
    message_id = models.CharField(_("message ID"), max_length=256)
    seen_at = models.DateTimeField(_("seen at"), db_index=True)

    class Meta:
        verbose_name = _("seen message ID")
        verbose_name_plural = _("seen message IDs")
        constraints = [
            models.UniqueConstraint(fields=["issuer", "message_id"], name="seen_message_id_unique_per_issuer"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.message_id}"


class ArtifactRecord(models.Model):
    """A response waiting for its service provider to resolve the artifact that points at it; resolved once."""

    message_handle = models.CharField(
        _("message handle"), max_length=40, unique=True, help_text=_("20 random bytes, hexadecimal.")
    )
    entity = models.ForeignKey(
        ServiceProviderEntity,
        on_delete=models.CASCADE,
        related_name="artifacts",
        verbose_name=_("SAML service provider"),
        help_text=_("The audience: the only entity that may resolve the artifact."),
    )
    response_xml = models.TextField(_("response"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("artifact")
        verbose_name_plural = _("artifacts")

    def __str__(self) -> str:
        return self.message_handle
