"""People and their means (eHerkenningsmiddel): what they log in with, at a level of assurance."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from sleutelbos.catalogue.levels import Level, level_field


class PersonManager(BaseUserManager["Person"]):
    def create_user(self, email: str, name: str, password: str | None = None, **extra: object) -> Person:
        person = self.model(email=self.normalize_email(email), name=name, **extra)
        person.set_password(password)
        person.save(using=self._db)
        return person

    def create_superuser(self, email: str, name: str, password: str | None = None, **extra: object) -> Person:
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, name, password, **extra)


class Person(AbstractBaseUser, PermissionsMixin):
    """A natural person: an employee who holds a means, or supplier staff."""

    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"), null=True, blank=True)
    phone_number = models.CharField(
        _("mobile number"),
        max_length=20,
        blank=True,
        validators=[
            RegexValidator(r"^\+?[0-9]{8,15}\Z", _("Give a mobile number of 8 to 15 digits, e.g. +31612345678."))
        ],
    )
    # The language the person last used Sleutelbos in; mails to them are written in it.
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("supplier staff"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    session_version = models.PositiveIntegerField(
        _("session version"), default=0, help_text=_("Raised to end every session of this person at once.")
    )

    objects = PersonManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_session_auth_hash(self) -> str:
        """Sessions carry this hash: a new password or a raised session version ends every session at once."""
        return salted_hmac(
            "sleutelbos.identity.Person.session",
            f"{self.password}:{self.session_version}",
            algorithm="sha256",
        ).hexdigest()


class MeansStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    SUSPENDED = "suspended", _("suspended")
    REVOKED = "revoked", _("revoked")


class Means(models.Model):
    """A person's means at a level of assurance; one per person, its history in MeansEvent."""

    person = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="means", verbose_name=_("person")
    )
    level = level_field()
    status = models.CharField(_("status"), max_length=20, choices=MeansStatus.choices, default=MeansStatus.ACTIVE)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("means")
        verbose_name_plural = _("means")
        constraints = [
            models.CheckConstraint(condition=models.Q(level__in=Level.values), name="means_level_valid"),
            models.CheckConstraint(condition=models.Q(status__in=MeansStatus.values), name="means_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.person} – {Level(self.level).label} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == MeansStatus.ACTIVE


class MeansEvent(models.Model):
    """One step in the history of a means: issued, upgraded, suspended, revoked."""

    means = models.ForeignKey(Means, on_delete=models.PROTECT, related_name="history", verbose_name=_("means"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    action = models.CharField(_("action"), max_length=40)
    level = level_field()
    status = models.CharField(_("status"), max_length=20, choices=MeansStatus.choices)
    reason = models.TextField(_("reason"), blank=True)
    evidence = models.ForeignKey(
        "IdentityEvidence",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="means_events",
        verbose_name=_("identity evidence"),
    )

    class Meta:
        verbose_name = _("means event")
        verbose_name_plural = _("means events")
        ordering = ["means", "at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.action} {Level(self.level).label} ({self.status})"


class EvidenceKind(models.TextChoices):
    """How a person's identity was verified when the means was issued or upgraded (AS, levels table)."""

    NAME_AND_BIRTH_DATE = "name_and_birth_date", _("name and date of birth checked (signed form)")
    DOCUMENT_COPY = "document_copy", _("copy of an identity document checked")
    DOCUMENT_ORIGINAL = "document_original", _("original identity document checked (in person or remotely)")
    IN_PERSON = "in_person", _("identity checked in person")


#: The highest level each kind of evidence supports.
EVIDENCE_LEVEL: dict[str, Level] = {
    EvidenceKind.NAME_AND_BIRTH_DATE: Level.EH2,
    EvidenceKind.DOCUMENT_COPY: Level.EH2_PLUS,
    EvidenceKind.DOCUMENT_ORIGINAL: Level.EH3,
    EvidenceKind.IN_PERSON: Level.EH4,
}


class DocumentType(models.TextChoices):
    PASSPORT = "passport", _("passport")
    IDENTITY_CARD = "identity_card", _("identity card")
    DRIVING_LICENCE = "driving_licence", _("driving licence")
    RESIDENCE_PERMIT = "residence_permit", _("residence permit")


class IdentityEvidence(models.Model):
    """A recorded identity verification: what was checked, how, by whom, when. Only what is needed is kept."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("person")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=EvidenceKind.choices)
    level = level_field(verbose_name=_("supports level"))
    document_type = models.CharField(_("document type"), max_length=30, choices=DocumentType.choices, blank=True)
    document_number_suffix = models.CharField(_("last characters of the document number"), max_length=4, blank=True)
    document_valid_until = models.DateField(_("document valid until"), null=True, blank=True)
    remote = models.BooleanField(_("checked remotely"), default=False)
    verified_by = models.CharField(_("verified by"), max_length=200)
    verified_at = models.DateTimeField(_("verified at"), default=timezone.now)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("identity evidence")
        verbose_name_plural = _("identity evidence records")
        ordering = ["person", "-verified_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(level__in=Level.values), name="evidence_level_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=EvidenceKind.values), name="evidence_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.person} – {self.get_kind_display()} ({self.verified_at:%Y-%m-%d})"


class TotpDevice(models.Model):
    """An authenticator app (TOTP, RFC 6238). ``last_step`` refuses a code that was used before."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_devices", verbose_name=_("person")
    )
    name = models.CharField(_("name"), max_length=100)
    secret = models.CharField(_("secret"), max_length=64)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    last_step = models.BigIntegerField(_("last time step used"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")
        ordering = ["person", "created_at"]

    def __str__(self) -> str:
        return f"{self.person} – {self.name}"


class WebAuthnCredential(models.Model):
    """A security key or platform authenticator (WebAuthn). The sign counter must go up at every use."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webauthn_credentials",
        verbose_name=_("person"),
    )
    name = models.CharField(_("name"), max_length=100)
    credential_id = models.CharField(_("credential id"), max_length=1400, unique=True, help_text=_("base64url"))
    public_key = models.BinaryField(_("public key"))
    sign_count = models.PositiveBigIntegerField(_("sign counter"), default=0)
    transports = models.JSONField(_("transports"), default=list, blank=True)
    aaguid = models.CharField(_("AAGUID"), max_length=36, blank=True)
    attestation_format = models.CharField(_("attestation format"), max_length=32, blank=True)
    user_verified = models.BooleanField(_("user verification at registration"), default=False)
    backup_eligible = models.BooleanField(
        _("may be synced (not hardware-bound)"),
        default=False,
        help_text=_("Passkeys that sync are not hardware-bound."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("security key")
        verbose_name_plural = _("security keys")
        ordering = ["person", "created_at"]

    def __str__(self) -> str:
        return f"{self.person} – {self.name}"

    @property
    def hardware_bound(self) -> bool:
        return not self.backup_eligible


class RecoveryCode(models.Model):
    """One of ten single-use recovery codes, hashed at rest."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes", verbose_name=_("person")
    )
    code_hash = models.CharField(_("code hash"), max_length=128)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        return f"{self.person} – {'used' if self.used_at else 'unused'}"


class CodeChannel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    SMS = "sms", _("text message")


class OneTimeCode(models.Model):
    """A one-time code sent by e-mail or text message (EH2+), hashed at rest, short-lived, single use."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="one_time_codes", verbose_name=_("person")
    )
    channel = models.CharField(_("channel"), max_length=10, choices=CodeChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=40)
    code_hash = models.CharField(_("code hash"), max_length=128)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("failed attempts"), default=0)

    class Meta:
        verbose_name = _("one-time code")
        verbose_name_plural = _("one-time codes")
        indexes = [models.Index(fields=["person", "purpose", "created_at"], name="otc_person_purpose_idx")]

    def __str__(self) -> str:
        return f"{self.person} – {self.channel} {self.purpose}"


class LoginFailure(models.Model):
    """A failed login attempt, counted per account and per client address to throttle guessing (ASVS 2.2.1)."""

    at = models.DateTimeField(_("at"), default=timezone.now)
    account = models.CharField(_("account"), max_length=254, help_text=_("The e-mail address as typed, lower case."))
    address = models.GenericIPAddressField(_("client address"), null=True, blank=True)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins")
        indexes = [
            models.Index(fields=["account", "at"], name="loginfailure_account_idx"),
            models.Index(fields=["address", "at"], name="loginfailure_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.account} {self.address or ''}"
