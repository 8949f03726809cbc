"""A service provider (DV) built on maykin-python3-saml, the OneLogin toolkit's fork with the artifact binding.

This program runs inside its own virtualenv (``scripts/python3-saml-venv``): the toolkit cannot share one with
pysaml2, and nothing here imports Django or Sleutelbos. The tests start it once per step with a JSON command on
standard input and read one JSON object from standard output::

    {"command": "metadata", "sp": {...}}
    {"command": "login", "sp": {...}, "idp_metadata_url": "...", "service_index": 1, "level": "urn:...", ...}
    {"command": "resolve", "sp": {...}, "idp_metadata_url": "...", "artifact": "...", "request_id": "..."}

``sp`` holds the DV's ``entity_id``, its artifact ``acs`` URL, and its PEM ``key`` and ``cert`` (one pair for signing
and decryption). The broker's settings come from the broker's metadata URL, read with the toolkit's metadata parser
over HTTP, as a DV configures it.

``login`` builds the signed AuthnRequest for the HTTP-Redirect binding with ``OneLogin_Saml2_Auth.login``: the
eHerkenning service by ``AttributeConsumingServiceIndex``, the level as ``RequestedAuthnContext`` (``minimum``), and
the answer asked by artifact. ``resolve`` does what ``OneLogin_Saml2_Auth.artifact_resolve`` does, with the
toolkit's own classes, and the checks that method leaves out: it sends the signed ArtifactResolve over HTTP to the
broker's ArtifactResolutionService, validates the ArtifactResponse (strict: schema, InResponseTo, issuer, status)
and its signature with the broker's certificate(s), then validates the Response inside for the AuthnRequest's ID
(strict: schema, status, destination, audience, issuer, bearer confirmation, signed assertion) and decrypts the
EncryptedIDs among the attributes with the DV's key.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from lxml import etree
from onelogin.saml2.artifact_resolve import Artifact_Resolve_Request
from onelogin.saml2.artifact_response import Artifact_Response
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

ARTIFACT_RESPONSE_SIGNATURE_XPATH = "/samlp:ArtifactResponse/ds:Signature"


def sp_settings(sp: dict[str, Any], *, level: str | None = None) -> dict[str, Any]:
    """The toolkit's settings for the DV, strict, RSA-SHA256 throughout, signed assertions wanted."""
    security: dict[str, Any] = {
        "authnRequestsSigned": True,
        "signatureAlgorithm": Constants.RSA_SHA256,
        "digestAlgorithm": Constants.SHA256,
        "rejectDeprecatedAlgorithm": True,
        "wantAssertionsSigned": True,
        "wantMessagesSigned": False,  # the Response travels inside the signed ArtifactResponse
        "wantAttributeStatement": True,
        "requestedAuthnContext": [level] if level else False,
        "requestedAuthnContextComparison": "minimum",
        # eHerkenning resolves over TLS with a client certificate; the test broker is plain HTTP on the loopback.
        "soapClientCert": None,
        "soapClientKey": None,
    }
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp["entity_id"],
            "assertionConsumerService": {"url": sp["acs"], "binding": Constants.BINDING_HTTP_ARTIFACT},
            "NameIDFormat": Constants.NAMEID_UNSPECIFIED,
            "x509cert": sp["cert"],
            "privateKey": sp["key"],
        },
        "security": security,
    }


def with_idp(settings: dict[str, Any], command: dict[str, Any]) -> OneLogin_Saml2_Settings:
    """The settings completed with the broker's entity ID, endpoints and certificates from its metadata URL.

    ``idp_cert`` in the command pins the broker's signing certificate instead of those in the metadata, as a DV
    that configures the certificate by hand does.
    """
    idp = OneLogin_Saml2_IdPMetadataParser.parse_remote(command["idp_metadata_url"], timeout=30)
    idp.pop("security", None)  # WantAuthnRequestsSigned: the DV signs anyway
    idp.pop("sp", None)
    if command.get("idp_cert"):
        idp["idp"].pop("x509certMulti", None)
        idp["idp"]["x509cert"] = command["idp_cert"]
    return OneLogin_Saml2_Settings(OneLogin_Saml2_IdPMetadataParser.merge_settings(settings, idp))


def acs_request_data(acs: str, artifact: str) -> dict[str, Any]:
    """The request as the DV's web framework would hand it to the toolkit: the browser's GET at the ACS."""
    scheme, _, rest = acs.partition("://")
    host, _, path = rest.partition("/")
    return {
        "https": "on" if scheme == "https" else "off",
        "http_host": host,
        "script_name": "/" + path,
        "get_data": {"SAMLart": artifact},
        "post_data": {},
    }


def metadata(command: dict[str, Any]) -> dict[str, Any]:
    """The DV's metadata as the toolkit writes it, its certificate published for signing and for encryption.

    eHerkenning encrypts the identifiers inside the attributes, not the Subject's NameID or the assertion, so the
    toolkit's ``wantNameIdEncrypted``/``wantAssertionsEncrypted`` switches (which would add the encryption key) do
    not apply; the metadata builder is asked for both key uses directly.
    """
    settings = OneLogin_Saml2_Settings(sp_settings(command["sp"]), sp_validation_only=True)
    security = settings.get_security_data()
    xml = OneLogin_Saml2_Metadata.builder(
        settings.get_sp_data(), security["authnRequestsSigned"], security["wantAssertionsSigned"]
    )
    xml = OneLogin_Saml2_Metadata.add_x509_key_descriptors(xml, settings.get_sp_cert(), True)
    errors = settings.validate_metadata(xml)
    if errors:
        raise SystemExit(f"the toolkit refuses its own metadata: {errors}")
    return {"metadata": xml if isinstance(xml, str) else xml.decode()}


def login(command: dict[str, Any]) -> dict[str, Any]:
    """The broker's SSO URL with the signed AuthnRequest, and the request's ID (kept for InResponseTo)."""
    settings = with_idp(sp_settings(command["sp"], level=command["level"]), command)
    auth = OneLogin_Saml2_Auth({"https": "on", "http_host": "dv.invalid", "script_name": "/"}, settings)
    url = auth.login(
        return_to=command.get("relay_state"),
        force_authn=bool(command.get("force_authn")),
        set_nameid_policy=False,
        attr_consuming_service_index=str(command["service_index"]),
    )
    return {"url": url, "request_id": auth.get_last_request_id(), "request": auth.get_last_request_xml()}


def resolve(command: dict[str, Any]) -> dict[str, Any]:
    """Resolve the artifact at the broker and read the login from its answer, every check the toolkit has.

    The answer says ``refused_at`` ("ArtifactResponse" or "Response") with the toolkit's error (``error_code`` the
    name of its ``OneLogin_Saml2_ValidationError`` code) when a check fails, ``empty`` when the ArtifactResponse
    carries no Response, and otherwise the Response's ``status`` codes and, when the Response is valid, the login.
    """
    settings = with_idp(sp_settings(command["sp"]), command)
    artifact = command["artifact"]
    request = Artifact_Resolve_Request(settings, artifact)
    if request.soap_endpoint is None:
        raise SystemExit("the broker's metadata names no ArtifactResolutionService for the artifact's index")
    answer = request.send()
    if answer.status_code != 200:
        raise SystemExit(f"the ArtifactResolutionService answered HTTP {answer.status_code}: {answer.text[:500]}")

    artifact_response = Artifact_Response(settings, answer.content)
    idp = settings.get_idp_data()
    certificates = {"cert": idp.get("x509cert"), "multicerts": idp.get("x509certMulti", {}).get("signing")}
    try:
        artifact_response.is_valid(request.get_id(), raise_exceptions=True)
        OneLogin_Saml2_Utils.validate_sign(
            etree.tostring(artifact_response.document),  # the ArtifactResponse as a document of its own
            xpath=ARTIFACT_RESPONSE_SIGNATURE_XPATH,
            raise_exceptions=True,
            **certificates,
        )
    except OneLogin_Saml2_ValidationError as error:
        return refused("ArtifactResponse", error)
    if not OneLogin_Saml2_XML.query(artifact_response.document, "samlp:Response"):
        return {"empty": True}

    response = OneLogin_Saml2_Response(settings, artifact_response.get_response_xml())
    result: dict[str, Any] = {
        "empty": False,
        "status": OneLogin_Saml2_Utils.get_status(response.document).get("codes", []),
        "in_response_to": response.get_in_response_to(),
    }
    try:
        response.is_valid(
            acs_request_data(command["sp"]["acs"], artifact), command["request_id"], raise_exceptions=True
        )
    except OneLogin_Saml2_ValidationError as error:
        return {**result, **refused("Response", error)}
    return {
        **result,
        "issuers": response.get_issuers(),
        "audiences": response.get_audiences(),
        "authn_contexts": response.get_authn_contexts(),
        "name_id": response.get_nameid_data(),
        "attributes": response.get_attributes(),
    }


def refused(at: str, error: OneLogin_Saml2_ValidationError) -> dict[str, Any]:
    """The toolkit's refusal of the ArtifactResponse or the Response, its error code by name."""
    names = {
        value: name
        for name, value in vars(OneLogin_Saml2_ValidationError).items()
        if name.isupper() and isinstance(value, int)
    }
    return {"refused_at": at, "error": str(error), "error_code": names.get(error.code, error.code)}


COMMANDS = {"metadata": metadata, "login": login, "resolve": resolve}


def main() -> None:
    command = json.load(sys.stdin)
    json.dump(COMMANDS[command["command"]](command), sys.stdout)


if __name__ == "__main__":
    main()
