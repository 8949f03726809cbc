"""Fixtures shared by the catalogue tests: the broker's signing key, made once per run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sleutelbos.saml.idp import idp_config
from sleutelbos.saml.protocol.keys import generate_development_keypair


@pytest.fixture(scope="session")
def broker_keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    directory = tmp_path_factory.mktemp("broker")
    key_pem, cert_pem = generate_development_keypair("catalogue-tests.broker.example")
    (directory / "key.pem").write_bytes(key_pem)
    (directory / "cert.pem").write_bytes(cert_pem)
    return directory / "key.pem", directory / "cert.pem"


@pytest.fixture(autouse=True)
def _broker_signs(settings: Any, broker_keypair: tuple[Path, Path]) -> Iterator[None]:
    """The broker signs exports with its configured key."""
    settings.SAML_IDP_SIGNING_KEY, settings.SAML_IDP_SIGNING_CERT = (str(path) for path in broker_keypair)
    idp_config.cache_clear()
    yield
    idp_config.cache_clear()
