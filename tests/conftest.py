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


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings: object) -> None:
    """Tasks (mail delivery) run when enqueued; tests of the worker switch to the database backend themselves."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
