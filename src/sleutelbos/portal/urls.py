"""URLs of the self-service site."""

from django.urls import path

from sleutelbos.portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("my/", views.overview, name="my_overview"),
    path("my/login-check/", views.login_check, name="my_login_check"),
]
