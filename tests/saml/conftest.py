"""Fixtures shared by the SAML tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from sleutelbos.saml.idp import idp_config
from sleutelbos.saml.protocol import xml


@contextlib.contextmanager
def broker_at(settings: Any, tmp_path: Path, base_url: str) -> Iterator[None]:
    """The broker at the public URL ``base_url``, with its own development key under ``tmp_path``; fast password
    hashes for the people who log in."""
    settings.VAR_DIR = tmp_path / "var"
    settings.SAML_IDP_BASE_URL = base_url
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    idp_config.cache_clear()
    yield
    idp_config.cache_clear()


@pytest.fixture
def pysaml2_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The namespace prefixes a pysaml2 SP must register to resolve artifacts from any IdP.

    pysaml2 takes the ArtifactResponse out of the SOAP envelope with ElementTree and serialises it again before
    checking its signature. ElementTree writes the prefixes it knows (``ns0``, ``ns1``, … for unknown namespaces),
    and exclusive c14n keeps prefixes, so the digest of a message signed with the usual ``samlp``/``saml``/``ds``
    prefixes no longer matches unless those prefixes are registered with ElementTree.
    """
    monkeypatch.setattr(ElementTree, "_namespace_map", dict(ElementTree._namespace_map))
    for prefix, uri in {"samlp": xml.SAMLP, "saml": xml.SAML, "ds": xml.DS, "xenc": xml.XENC}.items():
        ElementTree.register_namespace(prefix, uri)
