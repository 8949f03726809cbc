"""Shared fixtures."""

from __future__ import annotations

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _dutch() -> None:
    """Every test starts in Dutch, the default language; a test that needs English activates it."""
    translation.activate("nl")
    yield
    translation.deactivate()
