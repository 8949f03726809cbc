"""People and their means (eHerkenningsmiddel): what they log in with, at a level of assurance."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
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
    is_active = models.BooleanField(_("active"), default=True)
    is_staff = models.BooleanField(_("supplier staff"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

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

    class Meta:
        verbose_name = _("means event")
        verbose_name_plural = _("means events")
        ordering = ["means", "at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.action} {Level(self.level).label} ({self.status})"
