"""URLs of the signing pages for representatives (one-time links)."""

from django.urls import path

app_name = "signing"

urlpatterns: list = []
