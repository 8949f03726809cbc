"""The SAML SOAP binding (SAML bindings 3.2) for artifact resolution, in SOAP 1.1 and SOAP 1.2.

No Django here. A service provider posts its ``samlp:ArtifactResolve`` in a SOAP envelope: SOAP 1.1 as
``text/xml`` (what the SAML binding names, and what the eHerkenning profile uses) or SOAP 1.2 as
``application/soap+xml`` (what some toolkits send; pysaml2 even sends SOAP 1.1 under that type, so the envelope,
not the Content-Type, decides the version). :func:`unwrap` parses the envelope as untrusted XML with
:func:`.xml.parse` and returns the one SAML element in its Body; :func:`wrap` puts the answer in an envelope of the
version :func:`envelope_version` found; :func:`fault` answers a request that could not be understood at all. SAML
errors never become SOAP faults: they are answered inside a SAML message (SAML bindings 3.2.3.3).
"""

from __future__ import annotations

from lxml import etree

from .xml import SOAP11, SOAP12, XML, XMLError, parse, qname

SOAP_1_1 = "1.1"
SOAP_1_2 = "1.2"

#: The Content-Type of each SOAP version's messages, as the broker sends them.
CONTENT_TYPES = {SOAP_1_1: "text/xml; charset=utf-8", SOAP_1_2: "application/soap+xml; charset=utf-8"}
_MEDIA_TYPES = {"text/xml": SOAP_1_1, "application/soap+xml": SOAP_1_2}
_ENVELOPE_NAMESPACES = {SOAP_1_1: SOAP11, SOAP_1_2: SOAP12}
_PREFIXES = {SOAP_1_1: "SOAP-ENV", SOAP_1_2: "env"}

#: A SOAP request larger than this is refused before parsing (an ArtifactResolve is two or three kilobytes).
MAX_REQUEST_BYTES = 64_000

#: Fault codes: the kind of trouble, named per version (SOAP 1.1 section 4.4.1, SOAP 1.2 part 1 section 5.4.6).
FAULT_CLIENT = "client"
FAULT_SERVER = "server"
FAULT_MUST_UNDERSTAND = "must_understand"
FAULT_VERSION_MISMATCH = "version_mismatch"
_FAULT_NAMES = {
    SOAP_1_1: {
        FAULT_CLIENT: "Client",
        FAULT_SERVER: "Server",
        FAULT_MUST_UNDERSTAND: "MustUnderstand",
        FAULT_VERSION_MISMATCH: "VersionMismatch",
    },
    SOAP_1_2: {
        FAULT_CLIENT: "Sender",
        FAULT_SERVER: "Receiver",
        FAULT_MUST_UNDERSTAND: "MustUnderstand",
        FAULT_VERSION_MISMATCH: "VersionMismatch",
    },
}


class SoapError(ValueError):
    """The SOAP request was refused. ``reason`` is short, for the log; ``code`` is the fault code to answer with,
    ``version`` the SOAP version to answer in."""

    def __init__(self, reason: str, *, code: str = FAULT_CLIENT, version: str = SOAP_1_1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.version = version


def version_of(content_type: str) -> str:
    """The SOAP version an HTTP Content-Type suggests ("1.1" for ``text/xml``, "1.2" for ``application/soap+xml``).

    Refused for anything else. Use it only to choose the version of a fault for a body that could not be read: the
    envelope itself decides the version (:func:`envelope_version`), since pysaml2, among others, posts SOAP 1.1
    envelopes as ``application/soap+xml``.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _MEDIA_TYPES:
        raise SoapError(f"content type {media_type or '(none)'!r} is not SOAP", version=SOAP_1_1)
    return _MEDIA_TYPES[media_type]


def envelope_version(message: etree._Element) -> str:
    """The SOAP version of the envelope around an element :func:`unwrap` returned: answer in the same version."""
    namespace = etree.QName(message.getroottree().getroot()).namespace
    for version, envelope_namespace in _ENVELOPE_NAMESPACES.items():
        if namespace == envelope_namespace:
            return version
    raise SoapError("the element is not inside a SOAP envelope")


def _elements(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _must_understand(block: etree._Element, namespace: str) -> bool:
    value = (block.get(qname(namespace, "mustUnderstand")) or "").strip()
    return value in ("1", "true")


def unwrap(body: bytes, content_type: str, *, max_bytes: int = MAX_REQUEST_BYTES) -> etree._Element:
    """The one element in the Body of a SOAP request, still in its document (for the signature's ID checks).

    Both SOAP versions are accepted under both Content-Types ``text/xml`` and ``application/soap+xml``: the
    envelope's namespace decides the version (:func:`envelope_version`), because SAML toolkits mix them up (pysaml2
    posts a SOAP 1.1 envelope as ``application/soap+xml``). Refused with :class:`SoapError`: another Content-Type,
    anything :func:`.xml.parse` refuses (a DOCTYPE among others), a root that is not a SOAP 1.1 or 1.2 Envelope
    (an Envelope of another namespace is a VersionMismatch), anything but an optional Header and a Body in the
    Envelope, a header block the broker would have to understand (``mustUnderstand``; fault MustUnderstand), and a
    Body that holds anything but exactly one element.
    """
    version = version_of(content_type)
    try:
        root = parse(body, max_bytes=max_bytes)
    except XMLError as exc:
        raise SoapError(f"the SOAP message is refused: {exc.reason}", version=version) from exc

    envelope_namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "Envelope":
        raise SoapError(f"the message is not a SOAP envelope but {root.tag!r}", version=version)
    versions = {namespace: name for name, namespace in _ENVELOPE_NAMESPACES.items()}
    if envelope_namespace not in versions:
        raise SoapError(
            f"an Envelope in namespace {envelope_namespace!r} is not SOAP 1.1 or 1.2",
            code=FAULT_VERSION_MISMATCH,
            version=version,
        )
    version = versions[envelope_namespace]
    namespace = _ENVELOPE_NAMESPACES[version]
    if (root.text or "").strip():
        raise SoapError("the Envelope holds text", version=version)

    parts = _elements(root)
    header, body_element = None, None
    if parts and parts[0].tag == qname(namespace, "Header"):
        header, parts = parts[0], parts[1:]
    if len(parts) != 1 or parts[0].tag != qname(namespace, "Body"):
        raise SoapError("the Envelope must hold an optional Header and one Body, nothing else", version=version)
    body_element = parts[0]

    if header is not None:
        for block in _elements(header):
            if _must_understand(block, namespace):
                raise SoapError(
                    f"header block {block.tag!r} must be understood", code=FAULT_MUST_UNDERSTAND, version=version
                )

    contents = _elements(body_element)
    if len(contents) != 1:
        raise SoapError(f"the Body holds {len(contents)} elements instead of one", version=version)
    message = contents[0]
    if (body_element.text or "").strip() or (message.tail or "").strip():
        raise SoapError("the Body holds text next to its element", version=version)
    return message


def _envelope(version: str) -> tuple[etree._Element, etree._Element]:
    if version not in _ENVELOPE_NAMESPACES:
        raise ValueError(f"SOAP version {version!r} is not 1.1 or 1.2")
    namespace = _ENVELOPE_NAMESPACES[version]
    envelope = etree.Element(qname(namespace, "Envelope"), nsmap={_PREFIXES[version]: namespace})
    body = etree.SubElement(envelope, qname(namespace, "Body"))
    return envelope, body


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, encoding="utf-8", xml_declaration=True)


def wrap(element: etree._Element, version: str) -> bytes:
    """A SOAP envelope of ``version`` ("1.1" or "1.2") whose Body holds ``element``, as UTF-8 bytes.

    Send it with ``CONTENT_TYPES[version]``. The element is serialised as it is (with the namespaces it uses) between
    the envelope's tags, and is not changed or copied; an enveloped signature stays valid (exclusive c14n).
    """
    if version not in _ENVELOPE_NAMESPACES:
        raise ValueError(f"SOAP version {version!r} is not 1.1 or 1.2")
    prefix, namespace = _PREFIXES[version], _ENVELOPE_NAMESPACES[version]
    return b"".join(
        (
            f"<?xml version='1.0' encoding='utf-8'?>\n<{prefix}:Envelope xmlns:{prefix}=\"{namespace}\">".encode(),
            f"<{prefix}:Body>".encode(),
            etree.tostring(element, encoding="utf-8", xml_declaration=False),
            f"</{prefix}:Body></{prefix}:Envelope>".encode(),
        )
    )


def fault(
    *,
    version: str = SOAP_1_1,
    code: str = FAULT_CLIENT,
    message: str = "The request could not be processed.",
) -> bytes:
    """A SOAP fault of ``version`` for a request that could not be read as a SOAP message.

    ``message`` reaches the sender's server, not a person, and should stay generic: the detailed reason belongs in
    the broker's log. Answer with HTTP status :func:`fault_http_status`.
    """
    if code not in _FAULT_NAMES[SOAP_1_1]:
        raise ValueError(f"unknown fault code {code!r}")
    envelope, body = _envelope(version)
    namespace = _ENVELOPE_NAMESPACES[version]
    prefix = _PREFIXES[version]
    name = _FAULT_NAMES[version][code]
    soap_fault = etree.SubElement(body, qname(namespace, "Fault"))
    if version == SOAP_1_1:
        # SOAP 1.1 section 4.4: faultcode and faultstring are unqualified.
        etree.SubElement(soap_fault, "faultcode").text = f"{prefix}:{name}"
        etree.SubElement(soap_fault, "faultstring").text = message
    else:
        fault_code = etree.SubElement(soap_fault, qname(namespace, "Code"))
        etree.SubElement(fault_code, qname(namespace, "Value")).text = f"{prefix}:{name}"
        reason = etree.SubElement(soap_fault, qname(namespace, "Reason"))
        text = etree.SubElement(reason, qname(namespace, "Text"))
        text.set(qname(XML, "lang"), "en")
        text.text = message
    return _serialise(envelope)


def fault_http_status(version: str, code: str) -> int:
    """The HTTP status of a fault: always 500 in SOAP 1.1 (section 6.2); in SOAP 1.2 400 for a Sender fault and
    500 for the others (SOAP 1.2 part 2, section 7.5.2.2)."""
    return 400 if version == SOAP_1_2 and code == FAULT_CLIENT else 500
