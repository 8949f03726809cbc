"""Requests (aanvragen): what an applicant asks for, who must sign it, and the history of its states.

Nothing a request asks for is active: the mandates, memberships and manager role are created only when supplier staff
approve it (``services.request_approve``). The KvK extract the request was made on is kept as a snapshot, so staff
verify against what the applicant and the signers saw.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sleutelbos.catalogue.levels import Level, level_field
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.organisations.identifiers import validate_kvk
from sleutelbos.organisations.models import Authority


class RequestKind(models.TextChoices):
    FIRST_APPLICATION = "first_application", _("first application for eHerkenning")
    EXTRA_ORGANISATION = "extra_organisation", _("extra organisation")
    EXTRA_MANDATES = "extra_mandates", _("extra mandates")
    CHAIN_MANDATE = "chain_mandate", _("chain mandate")


class RequestState(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("submitted")
    AWAITING_SIGNATURES = "awaiting_signatures", _("awaiting signatures")
    READY_FOR_VERIFICATION = "ready_for_verification", _("ready for verification")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    MORE_INFORMATION_REQUESTED = "more_information_requested", _("more information requested")
    WITHDRAWN = "withdrawn", _("withdrawn")
    EXPIRED = "expired", _("expired")


class Years(models.IntegerChoices):
    """A requested mandate runs 1, 3 or 5 years from approval."""

    ONE = 1, _("1 year")
    THREE = 3, _("3 years")
    FIVE = 5, _("5 years")


class Request(models.Model):
    """An application: a first one for eHerkenning, or for an extra organisation, extra mandates or a chain mandate."""

    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("applicant"),
    )
    # A first application may come without an account: then the applicant is known by these.
    applicant_name = models.CharField(_("applicant's name"), max_length=200, blank=True)
    applicant_email = models.EmailField(_("applicant's e-mail address"), blank=True)
    applicant_date_of_birth = models.DateField(_("applicant's date of birth"), null=True, blank=True)
    organisation = models.ForeignKey(
        "organisations.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="requests",
        verbose_name=_("organisation"),
    )
    kvk = models.CharField(_("KvK number"), max_length=8, validators=[validate_kvk])
    kvk_extract = models.JSONField(_("KvK extract"), default=dict, blank=True)
    extract_date = models.DateField(_("extract date"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=30, choices=RequestKind.choices)
    wants_manager = models.BooleanField(_("wants the mandate manager role"), default=False)
    manager_level = level_field(verbose_name=_("mandate manager level"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=30, choices=RequestState.choices, default=RequestState.DRAFT)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=200, blank=True)
    reason = models.TextField(_("reason"), blank=True, help_text=_("Why it was rejected, or what staff asked."))
    document_hash = models.CharField(_("document hash"), max_length=64, blank=True)
    # The language the applicant filled the request in: mails about it to the applicant and the signers use it.
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="nl")
    # The representatives the applicant chose to sign, kept with the draft until it is submitted (and after, as the
    # default for a next submission): [{"name", "date_of_birth" (ISO), "email"}], as request_update_draft checked them.
    signer_choices = models.JSONField(_("chosen signers"), default=list, blank=True)

    class Meta:
        verbose_name = _("request")
        verbose_name_plural = _("requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=RequestState.values), name="request_state_valid"),
            models.CheckConstraint(condition=models.Q(kind__in=RequestKind.values), name="request_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(manager_level__isnull=True) | models.Q(manager_level__in=Level.values),
                name="request_manager_level_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(applicant__isnull=False) | ~models.Q(applicant_name=""),
                name="request_applicant_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.kvk} ({self.get_state_display()})"


class RequestedGrant(models.Model):
    """What a requested mandate and a requested chain mandate share."""

    scope_kind = models.CharField(_("scope"), max_length=20, choices=ScopeKind.choices)
    providers = models.JSONField(_("service providers (OINs)"), default=list, blank=True)
    services = models.JSONField(_("services (ServiceUUIDs)"), default=list, blank=True)
    level = level_field()
    years = models.PositiveSmallIntegerField(_("years"), choices=Years.choices, default=Years.ONE)

    class Meta:
        abstract = True


class RequestedMandate(RequestedGrant):
    """A mandate the applicant asks for themselves, for the request's organisation."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="mandates", verbose_name=_("request"))
    branch_number = models.CharField(_("branch number"), max_length=12, blank=True)

    class Meta:
        verbose_name = _("requested mandate")
        verbose_name_plural = _("requested mandates")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_scope_kind_display()}, {Level(self.level).label}, {self.years}"


class RequestedChainMandate(RequestedGrant):
    """A chain mandate the request's organisation gives an intermediary (by KvK number)."""

    request = models.ForeignKey(
        Request, on_delete=models.CASCADE, related_name="chain_mandates", verbose_name=_("request")
    )
    intermediary_kvk = models.CharField(_("intermediary's KvK number"), max_length=8, validators=[validate_kvk])

    class Meta:
        verbose_name = _("requested chain mandate")
        verbose_name_plural = _("requested chain mandates")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"→ {self.intermediary_kvk}: {self.get_scope_kind_display()}, {Level(self.level).label}, {self.years}"


class Signer(models.Model):
    """A representative (per the KvK extract) asked to sign a request, through a one-time link."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="signers", verbose_name=_("request"))
    functionary_name = models.CharField(_("name"), max_length=200)
    date_of_birth = models.DateField(_("date of birth"))
    email = models.EmailField(_("e-mail address"))
    authority = models.CharField(_("authority"), max_length=20, choices=Authority.choices)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    token_expires_at = models.DateTimeField(_("link valid until"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)
    signed_document_hash = models.CharField(_("hash of the signed document"), max_length=64, blank=True)
    declined_at = models.DateTimeField(_("declined at"), null=True, blank=True)
    decline_reason = models.TextField(_("reason for declining"), blank=True)
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True)
    # A request submitted again gets new links; the earlier ones stay as history but count no more.
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)
    # The reminder (5 days after the first mail) carries a second link; both stay valid until the link expires.
    reminder_token_hash = models.CharField(_("reminder token hash"), max_length=64, unique=True, null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    # Before signing, the signer confirms their identity with a one-time code mailed to the same address.
    code_hash = models.CharField(_("code hash"), max_length=64, blank=True)
    code_expires_at = models.DateTimeField(_("code valid until"), null=True, blank=True)
    code_sent_at = models.DateTimeField(_("code sent at"), null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(_("wrong code attempts"), default=0)
    identity_confirmed_at = models.DateTimeField(_("identity confirmed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signer")
        verbose_name_plural = _("signers")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(authority__in=Authority.values), name="signer_authority_valid"),
            models.CheckConstraint(
                condition=~models.Q(signed_at__isnull=False, declined_at__isnull=False),
                name="signer_signed_or_declined",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.functionary_name} ({self.get_authority_display()})"


class RequestEventQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise models.ProtectedError(_("The history of a request is never deleted."), set(self))

    def update(self, **kwargs: object) -> int:
        raise models.ProtectedError(_("The history of a request is never changed."), set(self))


class RequestEvent(models.Model):
    """One transition of a request; append-only."""

    request = models.ForeignKey(Request, on_delete=models.PROTECT, related_name="events", verbose_name=_("request"))
    from_state = models.CharField(_("from"), max_length=30, choices=RequestState.choices)
    to_state = models.CharField(_("to"), max_length=30, choices=RequestState.choices)
    actor = models.CharField(_("actor"), max_length=200)
    at = models.DateTimeField(_("at"), default=timezone.now)
    note = models.TextField(_("note"), blank=True)

    objects = RequestEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("request event")
        verbose_name_plural = _("request events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.from_state} → {self.to_state}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise models.ProtectedError(_("The history of a request is never changed."), {self})
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise models.ProtectedError(_("The history of a request is never deleted."), {self})
