"""Levels of assurance (betrouwbaarheidsniveaus): EH2 < EH2+ < EH3 < EH4.

EH1 (loa1) was abolished on 1 July 2021; nothing below EH2 exists here. A level is stored as a small integer so that
"at least" is a plain comparison, in Python and in SQL.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

URI_PREFIX = "urn:etoegang:core:assurance-class:"


class Level(models.IntegerChoices):
    """A level of assurance, ordered: a higher value is a stronger level."""

    EH2 = 20, "EH2"
    EH2_PLUS = 25, "EH2+"
    EH3 = 30, "EH3"
    EH4 = 40, "EH4"

    @property
    def uri(self) -> str:
        """The SAML AuthnContextClassRef / catalogue URI of this level."""
        return URI_PREFIX + _URI_SUFFIX[self]

    @property
    def eidas(self) -> str:
        """The eIDAS level of assurance this level maps to (low, substantial, high)."""
        return _EIDAS[self]

    @classmethod
    def parse(cls, value: object) -> Level:
        """Read a level from its name ("EH3", "eh2+") or its URI; anything else raises ValueError."""
        if isinstance(value, Level):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and value in _VALUES:
            return cls(value)  # a level as stored in the database
        if isinstance(value, str):
            text = value.strip()
            by_name = _BY_NAME.get(text.upper())
            if by_name is not None:
                return by_name
            if text.startswith(URI_PREFIX):
                by_uri = _BY_URI_SUFFIX.get(text[len(URI_PREFIX) :])
                if by_uri is not None:
                    return by_uri
        raise ValueError(cls.parse_error(value))

    @staticmethod
    def parse_error(value: object) -> str:
        """The sentence for a value that is not a level."""
        return _("“%(value)s” is not a level of assurance; use EH2, EH2+, EH3 or EH4, or its urn:etoegang URI.") % {
            "value": value
        }


_URI_SUFFIX = {Level.EH2: "loa2", Level.EH2_PLUS: "loa2plus", Level.EH3: "loa3", Level.EH4: "loa4"}
_EIDAS = {Level.EH2: "low", Level.EH2_PLUS: "low", Level.EH3: "substantial", Level.EH4: "high"}
_BY_NAME = {level.label.upper(): level for level in Level}
_VALUES = frozenset(Level.values)
_BY_URI_SUFFIX = {suffix: level for level, suffix in _URI_SUFFIX.items()}


def level_field(**kwargs: object) -> models.PositiveSmallIntegerField:
    """A model field holding a Level."""
    kwargs.setdefault("verbose_name", _("level of assurance"))
    return models.PositiveSmallIntegerField(choices=Level.choices, **kwargs)
