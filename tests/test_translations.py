"""Dutch is the default language: every message the code and templates use has a Dutch translation."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

import sleutelbos

SOURCE = Path(sleutelbos.__file__).parent


def _entries(po: Path, *flags: str) -> list[str]:
    selected = subprocess.run(
        ["msgattrib", *flags, "--no-obsolete", "--no-wrap", str(po)], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in selected.splitlines() if line.startswith("msgid ") and line != 'msgid ""']


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Dutch catalogue merged with every message in the source now (as `make messages` would)."""
    copy = tmp_path_factory.mktemp("messages") / "sleutelbos"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    cwd = os.getcwd()
    os.chdir(copy)
    try:
        from django.test import override_settings

        with override_settings(LOCALE_PATHS=[copy / "locale"]):
            call_command("makemessages", locale=["nl"], no_location=True, no_obsolete=True, verbosity=0)
    finally:
        os.chdir(cwd)
    return copy / "locale" / "nl" / "LC_MESSAGES" / "django.po"


def test_every_message_has_a_dutch_translation(extracted: Path) -> None:
    missing = _entries(extracted, "--untranslated")
    assert missing == [], "Run `make messages` and translate: " + "; ".join(missing[:20])


def test_no_dutch_translation_is_a_guess(extracted: Path) -> None:
    fuzzy = _entries(extracted, "--only-fuzzy")
    assert fuzzy == [], "Check these fuzzy translations and remove the flag: " + "; ".join(fuzzy[:20])
