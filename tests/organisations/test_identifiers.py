"""Dutch organisation identifiers: KvK number (8 digits), RSIN (9 digits, eleven-test) and branch number (12)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from sleutelbos.organisations.identifiers import (
    rsin_passes_eleven_test,
    validate_branch_number,
    validate_kvk,
    validate_rsin,
)


def error_code(validator: object, value: str) -> str | None:
    try:
        validator(value)
    except ValidationError as error:
        return error.code
    return None


@pytest.mark.parametrize("kvk", ["12345678", "00000001", "69599084"])
def test_a_kvk_number_of_eight_digits_is_accepted(kvk: str) -> None:
    assert error_code(validate_kvk, kvk) is None


@pytest.mark.parametrize("kvk", ["1234567", "123456789", "1234567a", " 12345678", "12345678\n", ""])
def test_anything_but_eight_digits_is_not_a_kvk_number(kvk: str) -> None:
    assert error_code(validate_kvk, kvk) == "invalid_kvk"
    with translation.override("en"), pytest.raises(ValidationError, match="exactly 8 digits"):
        validate_kvk(kvk)


# Known-valid RSINs/BSNs: 9×1+8×1+7×1+6×2+5×2+4×2+3×3+2×3−1×4 = 66 = 6×11 for 111222333, and published test numbers.
@pytest.mark.parametrize("rsin", ["111222333", "123456782", "999999990", "850746966"])
def test_an_rsin_passing_the_eleven_test_is_accepted(rsin: str) -> None:
    assert rsin_passes_eleven_test(rsin)
    assert error_code(validate_rsin, rsin) is None


@pytest.mark.parametrize("rsin", ["111222334", "123456789", "123456783", "000000000"])
def test_an_rsin_failing_the_eleven_test_is_refused_as_a_typing_error(rsin: str) -> None:
    assert not rsin_passes_eleven_test(rsin)
    assert error_code(validate_rsin, rsin) == "rsin_check"
    with translation.override("en"), pytest.raises(ValidationError, match="eleven-test"):
        validate_rsin(rsin)


@pytest.mark.parametrize("rsin", ["12345678", "1234567820", "12345678a", "", "123 456 782"])
def test_an_rsin_that_is_not_nine_digits_is_refused_as_such(rsin: str) -> None:
    assert not rsin_passes_eleven_test(rsin)
    assert error_code(validate_rsin, rsin) == "invalid_rsin"


def test_a_single_changed_digit_is_always_caught_by_the_eleven_test() -> None:
    valid = "123456782"
    for position in range(9):
        for digit in "0123456789":
            changed = valid[:position] + digit + valid[position + 1 :]
            assert rsin_passes_eleven_test(changed) == (changed == valid), changed


@pytest.mark.parametrize("number", ["000012345678", "123456789012"])
def test_a_branch_number_of_twelve_digits_is_accepted(number: str) -> None:
    assert error_code(validate_branch_number, number) is None


@pytest.mark.parametrize("number", ["12345678901", "1234567890123", "12345678901a", ""])
def test_anything_but_twelve_digits_is_not_a_branch_number(number: str) -> None:
    assert error_code(validate_branch_number, number) == "invalid_branch"


# Unicode has other digits than 0-9 (full-width, Arabic-Indic, ...); the registers only know 0-9, and such a number
# would be stored, shown and sent in SAML attributes as something no service provider recognises.
@pytest.mark.parametrize(
    ("validator", "value"),
    [
        (validate_kvk, "１２３４５６７８"),
        (validate_kvk, "١٢٣٤٥٦٧٨"),
        (validate_rsin, "１１１２２２３３３"),
        (validate_branch_number, "１２３４５６７８９０１２"),
    ],
)
def test_only_ascii_digits_are_accepted(validator: object, value: str) -> None:
    assert error_code(validator, value) is not None
