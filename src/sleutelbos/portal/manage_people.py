"""Manager pages: who belongs to the organisation."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from sleutelbos.organisations.models import Membership
from sleutelbos.portal.managers import Managed, manager_view


@manager_view()
@require_safe
def people(request: HttpRequest, managed: Managed) -> HttpResponse:
    """The people linked to the organisation, by name."""
    members = (
        Membership.objects.filter(organisation=managed.organisation).select_related("person").order_by("person__name")
    )
    return render(request, "portal/manage/people.html", {"managed": managed, "members": members})
