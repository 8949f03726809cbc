"""Errors as ``application/problem+json`` (RFC 9457): filled in by the API work."""

from rest_framework.views import exception_handler as problem_exception_handler

__all__ = ["problem_exception_handler"]
