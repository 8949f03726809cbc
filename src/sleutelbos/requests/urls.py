"""URLs of the request wizard and my requests."""

from django.urls import path

app_name = "requests"

urlpatterns: list = []
