"""Dutch organisation identifiers: KvK number, RSIN and branch number (vestigingsnummer)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_KVK = re.compile(r"^[0-9]{8}\Z")
_RSIN = re.compile(r"^[0-9]{9}\Z")
_BRANCH = re.compile(r"^[0-9]{12}\Z")


def rsin_passes_eleven_test(value: str) -> bool:
    """The eleven-test (elfproef) for RSIN/BSN: sum of digit × weight (9..2, then -1) divisible by 11, not zero."""
    if not _RSIN.match(value):
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(digit) * weight for digit, weight in zip(value, weights, strict=True))
    return total % 11 == 0 and value != "000000000"


def validate_kvk(value: str) -> None:
    """A KvK number is exactly 8 digits."""
    if not _KVK.match(value or ""):
        raise ValidationError(_("A KvK number is exactly 8 digits."), code="invalid_kvk")


def validate_rsin(value: str) -> None:
    """An RSIN is exactly 9 digits and passes the eleven-test."""
    if not _RSIN.match(value or ""):
        raise ValidationError(_("An RSIN is exactly 9 digits."), code="invalid_rsin")
    if not rsin_passes_eleven_test(value):
        raise ValidationError(
            _("This RSIN does not pass the eleven-test; check for a typing error."), code="rsin_check"
        )


def validate_branch_number(value: str) -> None:
    """A branch number (vestigingsnummer) is exactly 12 digits."""
    if not _BRANCH.match(value or ""):
        raise ValidationError(_("A branch number (vestigingsnummer) is exactly 12 digits."), code="invalid_branch")
