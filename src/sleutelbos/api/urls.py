"""URLs of the REST API, version 1 (no trailing slashes, as integrators call them)."""

from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from sleutelbos.api.catalogue import ServiceDefinitionViewSet, ServiceInstanceViewSet, ServiceProviderViewSet
from sleutelbos.api.decisions import DecisionView
from sleutelbos.api.mandates import ChainMandateViewSet, MandateViewSet
from sleutelbos.api.organisations import OrganisationViewSet
from sleutelbos.api.people import PersonViewSet
from sleutelbos.api.saml import ServiceProviderEntityViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("service-providers", ServiceProviderViewSet, basename="service-provider")
router.register("service-definitions", ServiceDefinitionViewSet, basename="service-definition")
router.register("service-instances", ServiceInstanceViewSet, basename="service-instance")
router.register("organisations", OrganisationViewSet, basename="organisation")
router.register("people", PersonViewSet, basename="person")
router.register("mandates", MandateViewSet, basename="mandate")
router.register("chain-mandates", ChainMandateViewSet, basename="chain-mandate")
router.register("saml-service-providers", ServiceProviderEntityViewSet, basename="saml-service-provider")


class PublicSchemaView(SpectacularAPIView):
    """The OpenAPI schema: public, so that anyone can read how to integrate."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class PublicDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its init script is served from our origin, as the site's CSP allows no inline script."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class NotFoundView(APIView):
    """Any other path under /api/v1/: a 404 problem rather than the site's HTML page."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = None

    def http_method_not_allowed(self, request: Request, *args: object, **kwargs: object) -> Response:
        raise exceptions.NotFound()


urlpatterns = [
    path("schema/", PublicSchemaView.as_view(), name="schema"),
    path("docs/", PublicDocsView.as_view(url_name="api:schema"), name="docs"),
    path("decisions", DecisionView.as_view(), name="decisions"),
    *router.urls,
    re_path(r"^.*$", NotFoundView.as_view(), name="not-found"),
]
