"""URLs of the self-service site."""

from django.urls import path

from sleutelbos.portal import views

urlpatterns = [
    path("", views.home, name="home"),
]
