"""Organisations as the KvK (Chamber of Commerce) knows them, their branches and functionaries, and memberships."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sleutelbos.catalogue.levels import Level, level_field
from sleutelbos.organisations.identifiers import validate_branch_number, validate_kvk, validate_rsin


class LegalForm(models.TextChoices):
    EENMANSZAAK = "eenmanszaak", _("sole proprietorship (eenmanszaak)")
    VOF = "vof", _("general partnership (vof)")
    MAATSCHAP = "maatschap", _("partnership (maatschap)")
    BV = "bv", _("private limited company (bv)")
    NV = "nv", _("public limited company (nv)")
    STICHTING = "stichting", _("foundation (stichting)")
    VERENIGING = "vereniging", _("association (vereniging)")
    COOPERATIE = "cooperatie", _("cooperative (coöperatie)")
    PUBLIEKRECHTELIJK = "publiekrechtelijk", _("public-law body")
    OTHER = "other", _("other")


class Organisation(models.Model):
    """A legal entity registered at the KvK, which people may represent."""

    kvk = models.CharField(_("KvK number"), max_length=8, unique=True, validators=[validate_kvk])
    rsin = models.CharField(_("RSIN"), max_length=9, blank=True, validators=[validate_rsin])
    name = models.CharField(_("name"), max_length=200)
    legal_form = models.CharField(_("legal form"), max_length=20, choices=LegalForm.choices, default=LegalForm.BV)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["rsin"], condition=~models.Q(rsin=""), name="organisation_rsin_unique_when_set"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kvk})"


class Branch(models.Model):
    """A branch (vestiging) of an organisation, with its 12-digit branch number."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="branches", verbose_name=_("organisation")
    )
    number = models.CharField(_("branch number"), max_length=12, unique=True, validators=[validate_branch_number])
    name = models.CharField(_("name"), max_length=200)
    city = models.CharField(_("city"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["organisation__name", "number"]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"


class Authority(models.TextChoices):
    """How a functionary may act for the organisation, per the KvK."""

    ALONE = "alone", _("alone/independently authorized")
    JOINT = "joint", _("jointly authorized")
    RESTRICTED = "restricted", _("restricted authority")


class Functionary(models.Model):
    """A person the KvK register lists for an organisation (director, owner, proxy holder)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="functionaries", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"))
    role = models.CharField(_("role"), max_length=100)
    authority = models.CharField(_("authority"), max_length=20, choices=Authority.choices)

    class Meta:
        verbose_name = _("functionary")
        verbose_name_plural = _("functionaries")
        ordering = ["organisation__name", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(authority__in=Authority.values), name="functionary_authority_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.role} ({self.get_authority_display()})"


class Membership(models.Model):
    """A person belongs to an organisation; optionally as its mandate manager (machtigingenbeheerder) at a level."""

    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="memberships",
        verbose_name=_("person"),
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="memberships", verbose_name=_("organisation")
    )
    manager_level = level_field(verbose_name=_("mandate manager level"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["person", "organisation"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(manager_level__isnull=True) | models.Q(manager_level__in=Level.values),
                name="membership_manager_level_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} @ {self.organisation}"

    @property
    def is_manager(self) -> bool:
        return self.manager_level is not None


class InvitationState(models.TextChoices):
    PENDING = "pending", _("waiting for an answer")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Invitation(models.Model):
    """A mandate manager invites someone by e-mail to join the organisation; they accept from the mailed link.

    Only a hash of the link's token is stored. A pending invitation past ``expires_at`` no longer works; inviting the
    same address again renews it (one pending invitation per address and organisation).
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="invitations", verbose_name=_("organisation")
    )
    email = models.EmailField(_("e-mail address"))
    name = models.CharField(_("name"), max_length=200)
    language = models.CharField(_("language of the mail"), max_length=10, choices=settings.LANGUAGES)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    state = models.CharField(
        _("state"), max_length=20, choices=InvitationState.choices, default=InvitationState.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("invited by"),
    )
    invited_at = models.DateTimeField(_("invited at"))
    expires_at = models.DateTimeField(_("expires at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations",
        verbose_name=_("accepted by"),
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["organisation", "-invited_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "email"],
                condition=models.Q(state="pending"),
                name="invitation_one_pending_per_address",
            ),
            models.CheckConstraint(condition=models.Q(state__in=InvitationState.values), name="invitation_state_valid"),
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("invited_at")), name="invitation_expires_after_sent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation} ({self.get_state_display()})"

    def is_open(self, at: datetime.datetime | None = None) -> bool:
        """Pending and not yet expired: the link still works."""
        return self.state == InvitationState.PENDING and (at or timezone.now()) < self.expires_at
