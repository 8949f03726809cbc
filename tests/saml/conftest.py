"""Fixtures shared by the SAML tests."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from sleutelbos.saml.protocol import xml


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
