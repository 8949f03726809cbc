"""The outbox: every mail Sleutelbos sends is first a row here, written in the transaction of the change it tells.

A mail is never lost: it stays in the outbox until the SMTP server has accepted it. Once delivered, its body is
cleared (it may hold a one-time link); subject, address, purpose and delivery history remain.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutgoingMail(models.Model):
    to = models.EmailField(_("to"))
    subject = models.CharField(_("subject"), max_length=300)
    text = models.TextField(_("plain text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    purpose = models.CharField(_("purpose"), max_length=100, help_text=_("Which mail this is, e.g. request:submitted."))
    language = models.CharField(_("language"), max_length=10)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing mail")
        verbose_name_plural = _("outgoing mails")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(sent_at__isnull=True), name="mail_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} → {self.to}"


class PeriodicTask(models.Model):
    """When the worker last enqueued a periodic task (``sleutelbos.mail.periodic``); claimed by a conditional UPDATE."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField(_("last enqueued at"), null=True, blank=True)

    class Meta:
        verbose_name = _("periodic task")
        verbose_name_plural = _("periodic tasks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
