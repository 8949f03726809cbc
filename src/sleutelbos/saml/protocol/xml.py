"""Parsing untrusted XML, the namespaces of the eHerkenning profile, and finding elements by ID.

Every SAML message, metadata document and service catalogue that reaches the broker comes from outside, so it is
parsed here and nowhere else: no DTD (and so no entities, internal or external), no network, no processing
instructions, no huge-tree mode, and a bounded size. A refusal raises :class:`XMLError` with a short reason for the
log; the caller shows the person a generic message.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
ESC = "urn:etoegang:1.13:service-catalog"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
XML = "http://www.w3.org/XML/1998/namespace"

#: Prefixes for XPath and for building documents; the prefixes are those the SAML specifications use.
NAMESPACES: dict[str, str] = {
    "saml": SAML,
    "samlp": SAMLP,
    "md": MD,
    "ds": DS,
    "xenc": XENC,
    "xenc11": XENC11,
    "ec": EC,
    "SOAP-ENV": SOAP11,
    "env": SOAP12,
    "esc": ESC,
    "xsi": XSI,
    "xs": XS,
}

DEFAULT_MAX_BYTES = 256_000

#: Attributes that can make an element the target of a same-document reference ``#value``: SAML's ``ID``, the
#: ``Id`` of XML-DSig and XML-Enc, a lower-case ``id`` some toolkits accept, and ``xml:id``, which libxml2 always
#: treats as an ID.
ID_ATTRIBUTES = ("ID", "Id", "id", f"{{{XML}}}id")


class XMLError(ValueError):
    """The document was refused. ``reason`` is short, for the log; never show it to the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def qname(namespace: str, local: str) -> str:
    """The Clark notation ``{namespace}local`` lxml uses for element and attribute names."""
    return f"{{{namespace}}}{local}"


def _parser() -> etree.XMLParser:
    # A parser per call: lxml parsers keep state and must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=True,
        recover=False,
        collect_ids=False,
    )


def parse(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse an untrusted XML document and return its root element.

    Refused with :class:`XMLError`: more than ``max_bytes`` bytes, anything that is not well-formed, a document
    type declaration (and with it every entity), an entity reference, and any processing instruction.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise XMLError("the document is not bytes")
    data = bytes(data)
    if len(data) > max_bytes:
        raise XMLError(f"the document has more than {max_bytes} bytes")
    if not data.strip():
        raise XMLError("the document is empty")
    # A quick refusal before libxml2 sees the DTD at all; the checks after parsing also catch declarations in
    # encodings where this byte pattern does not occur (UTF-16).
    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise XMLError("a document type declaration is not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise XMLError(f"not well-formed XML: {exc.msg}") from exc
    if root is None:  # pragma: no cover - lxml raises for documents without an element
        raise XMLError("the document has no root element")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XMLError("a document type declaration is not allowed")
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        if isinstance(sibling, etree._ProcessingInstruction):
            raise XMLError("a processing instruction is not allowed")
    for node in root.iter(etree.Entity, etree.ProcessingInstruction):
        if isinstance(node, etree._Entity):
            raise XMLError("an entity reference is not allowed")
        raise XMLError("a processing instruction is not allowed")
    return root


def id_values(element: etree._Element) -> Iterator[str]:
    """Every ID-like attribute value (see :data:`ID_ATTRIBUTES`) on the element itself."""
    for attribute in ID_ATTRIBUTES:
        value = element.get(attribute)
        if value is not None:
            yield value


def elements_with_id(root: etree._Element, value: str) -> list[etree._Element]:
    """All elements in the whole document of ``root`` that carry ``value`` in any ID-like attribute."""
    document_root = root.getroottree().getroot()
    return [
        element
        for element in document_root.iter(etree.Element)
        if any(candidate == value for candidate in id_values(element))
    ]


def element_by_id(root: etree._Element, value: str) -> etree._Element:
    """The one element of the document carrying ID ``value``; refused when there is none or more than one."""
    found = elements_with_id(root, value)
    if not found:
        raise XMLError(f"no element has ID {value!r}")
    if len(found) > 1:
        raise XMLError(f"ID {value!r} occurs {len(found)} times")
    return found[0]


def duplicate_ids(root: etree._Element) -> set[str]:
    """The ID values that occur on more than one element of the document (none in a well-formed SAML message)."""
    seen: set[str] = set()
    duplicates: set[str] = set()
    for element in root.getroottree().getroot().iter(etree.Element):
        for value in id_values(element):
            if value in seen:
                duplicates.add(value)
            seen.add(value)
    return duplicates


def tostring(element: etree._Element) -> bytes:
    """The element serialised as UTF-8 without an XML declaration."""
    return etree.tostring(element, encoding="utf-8")
