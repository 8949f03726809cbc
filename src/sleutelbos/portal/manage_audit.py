"""Manager pages: the organisation's audit trail."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from sleutelbos.audit.models import AuditEvent
from sleutelbos.portal.managers import Managed, manager_view

PAGE = 100


@manager_view()
@require_safe
def audit_trail(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The latest events about the organisation, newest first."""
    events = AuditEvent.objects.filter(organisation=managed.organisation).order_by("-at", "-id")[:PAGE]
    return render(request, "portal/manage/audit.html", {"managed": managed, "events": events})
