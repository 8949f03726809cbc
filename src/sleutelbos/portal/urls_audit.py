"""Manager pages: the organisation's audit trail."""

from django.urls import path

from sleutelbos.portal import manage_audit

urlpatterns = [
    path("", manage_audit.audit_trail, name="manage_audit"),
]
