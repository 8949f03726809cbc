"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("sleutelbos.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("account/", include("sleutelbos.identity.urls")),
    path("saml/", include("sleutelbos.saml.urls")),
    path("requests/", include("sleutelbos.requests.urls")),
    path("sign/", include("sleutelbos.requests.signing_urls")),
    path("", include("sleutelbos.portal.urls")),
]
