"""URLs of the broker's SAML endpoints, mounted under /saml/; SSO and artifact resolution at the paths the broker's
metadata advertises (:data:`sleutelbos.saml.idp.SSO_PATH`, :data:`~sleutelbos.saml.idp.ARTIFACT_RESOLUTION_PATH`)."""

from __future__ import annotations

from django.urls import path

from sleutelbos.saml import views

app_name = "saml"

urlpatterns = [
    path("idp/metadata/", views.idp_metadata, name="idp-metadata"),
    path("idp/sso/", views.sso, name="sso"),
    path("idp/sso/resume/", views.sso_resume, name="sso-resume"),
    path("idp/continue/<str:token>/", views.login_continue, name="continue"),
    path("idp/artifact/", views.artifact_resolution, name="artifact-resolution"),
]
