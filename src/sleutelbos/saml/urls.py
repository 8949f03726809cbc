"""URLs of the broker's SAML endpoints, mounted under /saml/."""

from __future__ import annotations

from django.urls import path

from sleutelbos.saml import views

app_name = "saml"

urlpatterns = [
    path("idp/metadata/", views.idp_metadata, name="idp-metadata"),
]
