"""URLs of the self-service site."""

from django.urls import include, path

from sleutelbos.portal import managers, views

#: The manager module: every page is about one organisation the person manages (portal/managers.py).
MANAGE = "my/organisations/<int:organisation>/"

urlpatterns = [
    path("", views.home, name="home"),
    path("my/", views.overview, name="my_overview"),
    path("my/login-check/", views.login_check, name="my_login_check"),
    path("my/invitations/", include("sleutelbos.portal.urls_invitations")),
    path(MANAGE, managers.dashboard, name="manage_dashboard"),
    path(MANAGE + "people/", include("sleutelbos.portal.urls_people")),
    path(MANAGE + "mandates/", include("sleutelbos.portal.urls_mandates")),
    path(MANAGE + "audit/", include("sleutelbos.portal.urls_audit")),
]
