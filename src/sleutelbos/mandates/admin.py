"""Back office: mandates and chain mandates, read-only, with one action: revoke.

Mandates are granted where the manager rules apply (the portal, the API); here staff look them up and, when needed,
revoke them through ``mandate_revoke`` / ``chain_mandate_revoke``. Nothing is deleted: decisions and audit events
refer to every mandate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.admin import ServiceWriteAdmin, actor_for, revoke_each
from sleutelbos.catalogue.models import ServiceDefinition
from sleutelbos.mandates.models import (
    ChainMandate,
    ChainMandateProvider,
    ChainMandateService,
    Grant,
    Mandate,
    MandateProvider,
    MandateService,
)
from sleutelbos.mandates.services import chain_mandate_revoke, mandate_revoke


def grant_state(grant: Grant) -> str:
    """Whether a mandate or chain mandate is in force now, and if not, why not."""
    now = timezone.now()
    if grant.revoked_at is not None:
        return gettext("revoked")
    if grant.valid_until <= now:
        return gettext("expired")
    if grant.valid_from > now:
        return gettext("not yet valid")
    return gettext("active")


class StateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("active", _("active")),
            ("not_yet_valid", _("not yet valid")),
            ("expired", _("expired")),
            ("revoked", _("revoked")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        in_force = Q(revoked_at__isnull=True)
        conditions = {
            "active": in_force & Q(valid_from__lte=now, valid_until__gt=now),
            "not_yet_valid": in_force & Q(valid_from__gt=now),
            "expired": in_force & Q(valid_until__lte=now),
            "revoked": Q(revoked_at__isnull=False),
        }
        return queryset.filter(conditions[self.value()]) if self.value() in conditions else queryset


class _ScopeInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False


class _ServiceScopeInline(_ScopeInline):
    fields = ("service_uuid", "services")
    readonly_fields = ("services",)

    @admin.display(description=_("services with this ServiceUUID"))
    def services(self, link: Any) -> str:
        definitions = ServiceDefinition.objects.filter(uuid=link.service_uuid).select_related("provider")
        return "; ".join(f"{d.name} ({d.provider.name})" for d in definitions) or "–"


class MandateProviderInline(_ScopeInline):
    model = MandateProvider
    fields = ("provider",)
    verbose_name = _("service provider in scope")
    verbose_name_plural = _("service providers in scope")


class MandateServiceInline(_ServiceScopeInline):
    model = MandateService
    verbose_name = _("service in scope")
    verbose_name_plural = _("services in scope")


class ChainMandateProviderInline(MandateProviderInline):
    model = ChainMandateProvider


class ChainMandateServiceInline(MandateServiceInline):
    model = ChainMandateService


GRANT_FIELDS = (
    "scope_kind",
    "level",
    "valid_from",
    "valid_until",
    "granted_at",
    "granted_by",
    "revoked_at",
    "revoked_by",
)


class GrantAdmin(ServiceWriteAdmin):
    """What the mandate and chain mandate screens share: read-only, filterable by state, revocable in bulk."""

    list_filter = (StateFilter, "scope_kind", "level")
    date_hierarchy = "valid_until"
    actions = ["revoke_selected"]
    revoke: Callable[..., Any]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description=_("state"))
    def state(self, grant: Grant) -> str:
        return grant_state(grant)

    @admin.action(description=_("Revoke selected %(verbose_name_plural)s"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        actor = actor_for(request)
        revoke_each(
            self,
            request,
            queryset,
            lambda grant: self.revoke(actor, grant, gettext("Revoked in the back office.")),
            already_revoked=lambda grant: grant.revoked_at is not None,
        )


@admin.register(Mandate)
class MandateAdmin(GrantAdmin):
    list_display = ("holder", "organisation", "scope_kind", "level", "valid_from", "valid_until", "branch", "state")
    list_select_related = ("holder", "organisation", "branch")
    search_fields = ("holder__name", "holder__email", "organisation__name", "organisation__kvk", "branch__number")
    view_fields = ("holder", "organisation", "branch", "state", *GRANT_FIELDS)
    inlines = [MandateProviderInline, MandateServiceInline]

    @staticmethod
    def revoke(actor: Any, grant: Mandate, reason: str) -> None:
        mandate_revoke(actor=actor, mandate=grant, reason=reason)


@admin.register(ChainMandate)
class ChainMandateAdmin(GrantAdmin):
    list_display = ("client", "intermediary", "scope_kind", "level", "valid_from", "valid_until", "state")
    list_select_related = ("client", "intermediary")
    search_fields = ("client__name", "client__kvk", "intermediary__name", "intermediary__kvk")
    view_fields = ("client", "intermediary", "state", *GRANT_FIELDS)
    inlines = [ChainMandateProviderInline, ChainMandateServiceInline]

    @staticmethod
    def revoke(actor: Any, grant: ChainMandate, reason: str) -> None:
        chain_mandate_revoke(actor=actor, chain_mandate=grant, reason=reason)
