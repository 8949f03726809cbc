"""Helpers for write services: run a model's own validation and report every problem by field."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models


def full_clean(instance: models.Model, *, exclude: Iterable[str] = ()) -> None:
    """Validate fields, ``clean()`` and uniqueness; raise one ValidationError with every problem by field."""
    instance.full_clean(exclude=list(exclude), validate_constraints=True)


def fail(field: str, message: str, code: str = "invalid") -> ValidationError:
    """A ValidationError for one field, to ``raise``."""
    return ValidationError({field: ValidationError(message, code=code)})
