"""The service catalogue (Dienstencatalogus): service providers, service definitions and service instances.

Mandates are registered against the ServiceUUID of a *definition*; two providers may publish definitions with the
same ServiceUUID and then share its mandates. A ServiceInstance is what a provider logs people in at; its ServiceID
``urn:etoegang:DV:<OIN>:services:<index>`` is derived, never typed. Index 0 is the provider's portal and is not an
instance.

Everything a catalogue file (``urn:etoegang:1.13:service-catalog``) can say is kept, so that an import followed by an
export loses nothing: names and texts in Dutch and English as fields of their own, texts in further languages in
``other_languages`` (``{"esc:ServiceName": [["de", "…"]], …}``), the requested attributes of a definition
(:class:`RequestedAttribute`) and the encryption certificates of an instance (:class:`ServiceCertificate`).
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
MAX_URL_LENGTH = 512
"""The rulebook's maximum length of a URL in the catalogue (ServiceURL, PrivacyPolicyURL, ServiceDescriptionURL)."""


def service_id_for(oin: str, index: int) -> str:
    """The ServiceID of a provider's service instance (index 0: the provider's portal)."""
    return f"urn:etoegang:DV:{oin}:services:{index}"


def _is_pairs(value: object) -> bool:
    """Whether ``value`` is a list of ``[language, text]`` pairs of strings."""
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair) and pair[0]
        for pair in value
    )


def _is_type_sets(value: object) -> bool:
    """Whether ``value`` is a list of non-empty lists of URI strings."""
    return isinstance(value, list) and all(
        isinstance(group, list) and group and all(isinstance(t, str) and t for t in group) for group in value
    )


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def other_languages_field() -> models.JSONField:
    return models.JSONField(
        _("texts in other languages"),
        default=dict,
        blank=True,
        help_text=_("Per catalogue element, the [language, text] pairs in languages other than Dutch and English."),
    )


def is_public_field() -> models.BooleanField:
    return models.BooleanField(
        _("public"), default=True, help_text=_("Whether the catalogue publishes it (esc:IsPublic).")
    )


def _check_other_languages(value: object, errors: dict[str, ValidationError]) -> None:
    if not isinstance(value, dict) or not all(isinstance(key, str) and _is_pairs(v) for key, v in value.items()):
        errors["other_languages"] = ValidationError(
            _("Give, per element, a list of [language, text] pairs."), code="invalid_languages"
        )


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
    is_public = is_public_field()
    other_languages = other_languages_field()
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

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        _check_other_languages(self.other_languages, errors)
        if errors:
            raise ValidationError(errors)


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
    is_public = is_public_field()
    description_urls = models.JSONField(
        _("description URLs"),
        default=list,
        blank=True,
        help_text=_("Pages that describe the service, as [language, URL] pairs (esc:ServiceDescriptionURL)."),
    )
    names_broker = models.BooleanField(
        _("names its broker"),
        default=True,
        help_text=_("Whether the definition names a broker (esc:HerkenningsmakelaarId, optional for a definition)."),
    )
    broker_oin = models.CharField(
        _("broker OIN"),
        max_length=20,
        blank=True,
        validators=[oin_validator],
        help_text=_("The OIN of another broker; empty for this broker."),
    )
    acting_subject_types = models.JSONField(
        _("allowed acting-subject identifier sets"),
        default=list,
        blank=True,
        help_text=_("A list of sets (lists) of identifier type URIs (esc:ActingSubjectTypesAllowed)."),
    )
    other_languages = other_languages_field()
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
        errors: dict[str, ValidationError] = {}
        if not _is_type_sets(self.entity_concerned_types):
            errors["entity_concerned_types"] = ValidationError(
                _("Give a list of identifier sets, each a non-empty list of URIs."), code="invalid_types"
            )
        if not _is_type_sets(self.acting_subject_types):
            errors["acting_subject_types"] = ValidationError(
                _("Give a list of identifier sets, each a non-empty list of URIs."), code="invalid_types"
            )
        if not _is_pairs(self.description_urls) or any(
            len(url) > MAX_URL_LENGTH for _lang, url in self.description_urls
        ):
            errors["description_urls"] = ValidationError(
                _("Give a list of [language, URL] pairs, each URL at most %(length)d characters.")
                % {"length": MAX_URL_LENGTH},
                code="invalid_urls",
            )
        if self.broker_oin and not self.names_broker:
            errors["broker_oin"] = ValidationError(
                _("A definition that names no broker has no broker OIN."), code="broker_not_named"
            )
        _check_other_languages(self.other_languages, errors)
        if errors:
            raise ValidationError(errors)


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
    service_url = models.URLField(_("service URL (Dutch)"), max_length=MAX_URL_LENGTH, blank=True)
    service_url_en = models.URLField(_("service URL (English)"), max_length=MAX_URL_LENGTH, blank=True)
    privacy_policy_url = models.URLField(_("privacy policy URL (Dutch)"), max_length=MAX_URL_LENGTH, blank=True)
    privacy_policy_url_en = models.URLField(_("privacy policy URL (English)"), max_length=MAX_URL_LENGTH, blank=True)
    is_public = is_public_field()
    broker_oin = models.CharField(
        _("broker OIN"),
        max_length=20,
        blank=True,
        validators=[oin_validator],
        help_text=_("The OIN of the broker the provider names for this instance; empty for this broker."),
    )
    additional_broker_oins = models.JSONField(
        _("additional brokers"),
        default=list,
        blank=True,
        help_text=_("The OINs of further brokers that offer this instance (esc:AdditionalHerkenningsmakelaarId)."),
    )
    sso_support = models.BooleanField(
        _("supports single sign-on"),
        null=True,
        blank=True,
        help_text=_("esc:SSOSupport; empty when the catalogue does not say."),
    )
    classifiers = models.JSONField(
        _("classifiers"), default=list, blank=True, help_text=_("For instance eIDAS-inbound (esc:Classifier).")
    )
    other_languages = other_languages_field()
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
        errors: dict[str, ValidationError] = {}
        if self.definition_id and self.provider_id and self.definition.provider_id != self.provider_id:
            errors["definition"] = ValidationError(
                _("The service definition belongs to another service provider."), code="other_provider"
            )
        oins = self.additional_broker_oins
        if not _is_strings(oins) or not all(len(oin) == 20 and oin.isascii() and oin.isdigit() for oin in oins):
            errors["additional_broker_oins"] = ValidationError(
                _("Give a list of OINs of exactly 20 digits."), code="invalid_oins"
            )
        if not _is_strings(self.classifiers):
            errors["classifiers"] = ValidationError(_("Give a list of classifiers."), code="invalid_classifiers")
        _check_other_languages(self.other_languages, errors)
        if errors:
            raise ValidationError(errors)


class RequestedAttribute(models.Model):
    """An attribute a service definition asks for, and why (esc:RequestedAttribute with its PurposeStatements)."""

    definition = models.ForeignKey(
        ServiceDefinition,
        on_delete=models.CASCADE,
        related_name="requested_attributes",
        verbose_name=_("service definition"),
    )
    position = models.PositiveSmallIntegerField(_("position"))
    name = models.CharField(_("attribute name"), max_length=512)
    name_format = models.CharField(_("name format"), max_length=512, blank=True)
    friendly_name = models.CharField(_("friendly name"), max_length=256, blank=True)
    is_required = models.BooleanField(
        _("required"), null=True, blank=True, help_text=_("Empty when the catalogue does not say.")
    )
    values = models.JSONField(_("values"), default=list, blank=True)
    purpose_nl = models.TextField(
        _("purpose (Dutch)"), max_length=1024, blank=True, validators=[MaxLengthValidator(1024)]
    )
    purpose_en = models.TextField(
        _("purpose (English)"), max_length=1024, blank=True, validators=[MaxLengthValidator(1024)]
    )
    other_languages = other_languages_field()

    class Meta:
        verbose_name = _("requested attribute")
        verbose_name_plural = _("requested attributes")
        ordering = ["definition", "position"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "position"], name="requested_attribute_position_unique"),
        ]

    def __str__(self) -> str:
        return self.friendly_name or self.name

    @property
    def purpose(self) -> str:
        """The purpose statement in the active language, falling back to Dutch."""
        if (get_language() or "nl").startswith("en") and self.purpose_en:
            return self.purpose_en
        return self.purpose_nl

    def clean(self) -> None:
        errors: dict[str, ValidationError] = {}
        if not isinstance(self.values, list) or not all(isinstance(value, str) for value in self.values):
            errors["values"] = ValidationError(_("Give a list of texts."), code="invalid_values")
        _check_other_languages(self.other_languages, errors)
        if not errors and not (self.purpose_nl or self.purpose_en or self.other_languages.get("esc:PurposeStatement")):
            errors["purpose_nl"] = ValidationError(
                _("Say why the service asks for this attribute."), code="purpose_required"
            )
        if errors:
            raise ValidationError(errors)


class ServiceCertificate(models.Model):
    """The certificate a service provider wants its identifiers encrypted for at one service instance.

    The rulebook's esc:ServiceCertificate: an ``md:KeyDescriptor use="encryption"``. A login uses it when the
    provider's SAML metadata gives no encryption certificate. Validity and fingerprint are read from the certificate.
    """

    instance = models.ForeignKey(
        ServiceInstance,
        on_delete=models.CASCADE,
        related_name="certificates",
        verbose_name=_("service instance"),
    )
    pem = models.TextField(_("certificate (PEM)"))
    chain_pem = models.TextField(
        _("further certificates (PEM)"),
        blank=True,
        help_text=_("Certificates given after it in the same key descriptor, in order."),
    )
    key_name = models.CharField(_("key name"), max_length=256, blank=True)
    fingerprint = models.CharField(_("SHA-256 fingerprint"), max_length=95, help_text=_("As AB:CD:…"))
    subject = models.CharField(_("subject"), max_length=1000, blank=True)
    not_before = models.DateTimeField(_("valid from"))
    not_after = models.DateTimeField(_("valid until"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("service certificate")
        verbose_name_plural = _("service certificates")
        ordering = ["instance", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "fingerprint"], name="service_certificate_unique"),
            models.CheckConstraint(
                condition=models.Q(not_before__lt=models.F("not_after")), name="service_certificate_period"
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.fingerprint
