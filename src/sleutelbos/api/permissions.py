"""The API is for integrations holding a token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

from sleutelbos.api.models import ApiToken

if TYPE_CHECKING:  # rest_framework.views imports this module while it initialises: no runtime import of it here.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class HasApiToken(BasePermission):
    """Only a request authenticated with a valid, unrevoked API token."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, ApiToken)
