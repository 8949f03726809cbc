"""Manager pages: the organisation's audit trail and its CSV export."""

from django.urls import path

from sleutelbos.portal import manage_audit

urlpatterns = [
    path("", manage_audit.audit_trail, name="manage_audit"),
    path("export.csv", manage_audit.audit_export, name="manage_audit_export"),
]
