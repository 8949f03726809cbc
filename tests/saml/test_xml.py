"""Parsing of untrusted XML: everything that can make a parser read files, call out or blow up is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleutelbos.saml.protocol import xml

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_saml_message_parses_with_its_namespaces():
    root = xml.parse(fixture("messages/authn-request.xml"))

    assert root.tag == xml.qname(xml.SAMLP, "AuthnRequest")
    issuer = root.find("saml:Issuer", xml.NAMESPACES)
    assert issuer.text == "urn:etoegang:DV:00000001234567890000:entities:0001"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("billion-laughs.xml", "document type declaration"),
        ("external-entity-file.xml", "document type declaration"),
        ("external-entity-network.xml", "document type declaration"),
        ("parameter-entity.xml", "document type declaration"),
        ("external-dtd.xml", "document type declaration"),
        ("lowercase-doctype.xml", "document type declaration"),
        ("utf16-doctype.xml", "document type declaration"),
        ("stylesheet-instruction.xml", "processing instruction"),
        ("instruction-inside.xml", "processing instruction"),
        ("not-well-formed.xml", "not well-formed"),
    ],
)
def test_hostile_documents_are_refused_with_a_reason(name, reason):
    with pytest.raises(xml.XMLError) as refused:
        xml.parse(fixture(f"hostile/{name}"))

    assert reason in refused.value.reason


def test_a_doctype_hidden_from_the_byte_scan_is_still_refused():
    # In UTF-16 the declaration's bytes are interleaved with zeros, so only the check after parsing sees it.
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r><r/>'.encode("utf-16")
    assert b"<!DOCTYPE" not in data.upper()

    with pytest.raises(xml.XMLError, match="document type declaration"):
        xml.parse(data)


def test_xinclude_is_left_as_an_element_and_never_expanded():
    root = xml.parse(fixture("hostile/xinclude.xml"))

    assert b"root:" not in xml.tostring(root)
    assert root[0].tag == "{http://www.w3.org/2001/XInclude}include"


def test_a_document_over_the_size_limit_is_refused():
    padding = b" " * 300_000
    data = (
        b"<samlp:AuthnRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol' ID='_a'>"
        + padding
        + b"</samlp:AuthnRequest>"
    )

    with pytest.raises(xml.XMLError, match="more than 256000 bytes"):
        xml.parse(data)
    assert xml.parse(data, max_bytes=400_000).get("ID") == "_a"


@pytest.mark.parametrize("data", [b"", b"   ", "<r/>"])
def test_empty_input_and_text_instead_of_bytes_are_refused(data):
    with pytest.raises(xml.XMLError):
        xml.parse(data)


def test_comments_survive_parsing_so_signatures_can_be_checked_over_the_document_as_sent():
    root = xml.parse(b"<r ID='_a'><v>12<!-- note -->34</v></r>")

    assert root[0].text == "12"  # lxml's view; signatures.verify returns the element with the comment removed


def test_element_by_id_finds_one_and_refuses_missing_and_duplicate_ids():
    root = xml.parse(b"<r><a ID='_1'/><b Id='_2'/><c ID='_3'/><d xml:id='_3'/></r>")

    assert xml.element_by_id(root, "_1").tag == "a"
    assert xml.element_by_id(root[1], "_2").tag == "b"  # searches the whole document, from any element
    with pytest.raises(xml.XMLError, match="no element"):
        xml.element_by_id(root, "_9")
    with pytest.raises(xml.XMLError, match="occurs 2 times"):
        xml.element_by_id(root, "_3")
    assert xml.duplicate_ids(root) == {"_3"}
