from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "sleutelbos.api"
    label = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular.
        from sleutelbos.api import schema  # noqa: F401
