"""Levels of assurance: EH2 < EH2+ < EH3 < EH4, read from their names or their urn:etoegang URIs, nothing else."""

from __future__ import annotations

import pytest
from django.utils import translation

from sleutelbos.catalogue.levels import Level


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("EH2", Level.EH2),
        ("EH2+", Level.EH2_PLUS),
        ("EH3", Level.EH3),
        ("EH4", Level.EH4),
        ("eh2+", Level.EH2_PLUS),
        (" EH3 ", Level.EH3),
        ("urn:etoegang:core:assurance-class:loa2", Level.EH2),
        ("urn:etoegang:core:assurance-class:loa2plus", Level.EH2_PLUS),
        ("urn:etoegang:core:assurance-class:loa3", Level.EH3),
        ("urn:etoegang:core:assurance-class:loa4", Level.EH4),
    ],
)
def test_a_level_is_read_from_its_name_or_its_uri(text: str, level: Level) -> None:
    assert Level.parse(text) is level


@pytest.mark.parametrize("level", list(Level))
def test_a_level_round_trips_through_its_uri_and_its_name(level: Level) -> None:
    assert Level.parse(level.uri) is level
    assert Level.parse(level.label) is level
    assert Level.parse(level) is level


def test_levels_are_ordered_from_weak_to_strong() -> None:
    assert Level.EH2 < Level.EH2_PLUS < Level.EH3 < Level.EH4
    assert sorted([Level.EH4, Level.EH2, Level.EH3, Level.EH2_PLUS]) == [
        Level.EH2,
        Level.EH2_PLUS,
        Level.EH3,
        Level.EH4,
    ]
    assert max(Level.parse("EH2+"), Level.parse("urn:etoegang:core:assurance-class:loa3")) is Level.EH3


def test_each_level_has_its_uri_and_eidas_level() -> None:
    assert [(level.label, level.uri, level.eidas) for level in Level] == [
        ("EH2", "urn:etoegang:core:assurance-class:loa2", "low"),
        ("EH2+", "urn:etoegang:core:assurance-class:loa2plus", "low"),
        ("EH3", "urn:etoegang:core:assurance-class:loa3", "substantial"),
        ("EH4", "urn:etoegang:core:assurance-class:loa4", "high"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "EH1",
        "loa1",
        "loa3",
        "urn:etoegang:core:assurance-class:loa1",
        "urn:etoegang:core:assurance-class:loa5",
        "urn:etoegang:core:assurance-class:",
        "3",
        "",
        "   ",
        "EH 3",
        "EH3+",
        "substantial",
    ],
)
def test_anything_else_is_an_error_that_says_what_is_accepted(text: str) -> None:
    with translation.override("en"), pytest.raises(ValueError, match="is not a level of assurance") as excinfo:
        Level.parse(text)

    message = str(excinfo.value)
    assert f"“{text}”" in message
    assert "EH2, EH2+, EH3 or EH4" in message
    assert "urn:etoegang" in message


@pytest.mark.parametrize("value", [None, 3, 31, 2.5, True])
def test_a_value_that_is_neither_text_nor_a_stored_level_is_an_error(value: object) -> None:
    with pytest.raises(ValueError):
        Level.parse(value)


def test_a_level_as_the_database_stores_it_is_read_back() -> None:
    assert Level.parse(30) is Level.EH3
    assert Level.parse(25) is Level.EH2_PLUS
