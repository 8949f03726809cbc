"""Errors as ``application/problem+json`` (RFC 9457).

Every error of the API is a problem document: ``type`` (a URN per kind of problem, stable for clients to switch on),
``title`` (a short summary of that kind), ``status``, ``detail`` (what went wrong this time) and ``instance`` (the
path asked). A validation problem adds ``errors``: the messages per field, nested like the request body
(``{"scope": {"kind": ["…"]}}``), so that a client can show each message beside its field.

The write services raise Django's ValidationError with model field names; :func:`service_errors` translates those to
the API's field names, and :func:`problem_exception_handler` turns whatever is left into a problem as well.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:sleutelbos:problem:"

# The title of each kind of problem, by the DRF error code it comes from.
_TITLES = {
    "invalid": _("The request contains invalid values."),
    "parse_error": _("The request body is not valid JSON."),
    "not_authenticated": _("An API token is needed."),
    "authentication_failed": _("The API token was not accepted."),
    "permission_denied": _("This is not allowed with this API token."),
    "not_found": _("Not found."),
    "method_not_allowed": _("This method is not allowed here."),
    "not_acceptable": _("The requested media type cannot be served."),
    "unsupported_media_type": _("The request body must be JSON."),
    "throttled": _("Too many requests."),
    "conflict": _("The request conflicts with the current state."),
}


class Conflict(exceptions.APIException):
    """The database refused a write that passed validation (a concurrent request created the same thing)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("Another request changed the same data at the same time; try again.")
    default_code = "conflict"


def _plain(detail: Any) -> Any:
    """ErrorDetail trees as plain JSON: dicts with string keys down to lists of messages (a lone message too)."""
    if isinstance(detail, dict):
        return {str(key): _plain(value) for key, value in detail.items()}
    if isinstance(detail, list | tuple):
        return [_plain(item) for item in detail]
    return str(detail)


def _errors(detail: Any) -> dict[str, Any]:
    """The ``errors`` member: every field's messages as a list, nested fields as objects."""
    if isinstance(detail, dict):
        return {
            str(key): _errors(value) if isinstance(value, dict) else _messages(value) for key, value in detail.items()
        }
    return {api_settings.NON_FIELD_ERRORS_KEY: _messages(detail)}


def _messages(detail: Any) -> list[Any]:
    return _plain(detail) if isinstance(detail, list | tuple) else [str(detail)]


def _paths(errors: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of the fields that have messages (``scope.kind``)."""
    found: list[str] = []
    for key, value in errors.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found.extend(_paths(value, f"{name}."))
        else:
            found.append(name)
    return found


def _code(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    return str(exc.default_code)


def problem(exc: exceptions.APIException, path: str) -> dict[str, Any]:
    """The problem document of an API exception."""
    code = _code(exc)
    status_code = exc.status_code
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + code,
        "title": str(_TITLES.get(code, HTTPStatus(status_code).phrase)),
        "status": status_code,
    }
    if isinstance(exc, exceptions.ValidationError):
        errors = _errors(exc.detail)
        body["detail"] = str(_("Check these fields: %(fields)s.") % {"fields": ", ".join(_paths(errors))})
        body["errors"] = errors
    else:
        body["detail"] = str(exc.detail)
    body["instance"] = path
    return body


def validation_error(
    error: DjangoValidationError, field_map: Mapping[str, str] | None = None
) -> exceptions.ValidationError:
    """A DRF ValidationError from a Django one, with model field names mapped to the API's dotted field names.

    ``field_map`` maps a model field (or ``__all__``, for errors about several fields together) to the API field,
    e.g. ``{"name_nl": "name.nl", "__all__": "uuid"}``. Unmapped fields keep their name.
    """
    field_map = field_map or {}
    if not hasattr(error, "error_dict"):
        target = field_map.get(NON_FIELD_ERRORS, api_settings.NON_FIELD_ERRORS_KEY)
        return exceptions.ValidationError(_nest({target: list(error.messages)}))
    errors: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        target = field_map.get(field, api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field)
        errors.setdefault(target, []).extend(messages)
    return exceptions.ValidationError(_nest(errors))


def _nest(flat: Mapping[str, list[str]]) -> dict[str, Any]:
    """``{"name.nl": [...]}`` as ``{"name": {"nl": [...]}}``."""
    nested: dict[str, Any] = {}
    for path, messages in flat.items():
        *parents, leaf = path.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(leaf, []).extend(messages)
    return nested


@contextmanager
def service_errors(field_map: Mapping[str, str] | None = None) -> Iterator[None]:
    """Run a write service, reporting its ValidationErrors under the API's field names (:func:`validation_error`)."""
    try:
        yield
    except DjangoValidationError as error:
        raise validation_error(error, field_map) from error


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, answering every error as ``application/problem+json``.

    A Django ValidationError that escaped :func:`service_errors` becomes a 400 under the model's field names, an
    IntegrityError (a concurrent write won a uniqueness race) a 409. Anything else unexpected stays a server error.
    """
    if isinstance(exc, DjangoValidationError):
        exc = validation_error(exc)
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    request = context.get("request")
    response.data = problem(exc, request.path if request is not None else "")
    response.content_type = PROBLEM_JSON
    return response
