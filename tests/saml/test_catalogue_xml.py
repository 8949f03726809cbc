"""The Dienstencatalogus XML: schema validation with errors that name the element and line, reading, writing."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from sleutelbos.saml.protocol import catalogue_xml as cx

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"
CATALOGUE = FIXTURES / "two-providers.xml"
SHARED_UUID = "3b7d3a5e-6a2f-4c1e-9f1a-2d4b5c6d7e8f"
CITY = "00000001001234567000"
AGENCY = "00000001009876543000"
KVK = "urn:etoegang:1.9:EntityConcernedID:KvKnr"
RSIN = "urn:etoegang:1.9:EntityConcernedID:RSIN"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def refusal(data: bytes) -> list[cx.Problem]:
    with pytest.raises(cx.CatalogueError) as excinfo:
        cx.parse_catalogue(data)
    assert excinfo.value.problems
    return excinfo.value.problems


def valid_with(old: str, new: str, *, count: int = 1) -> bytes:
    """The valid two-provider catalogue with one change."""
    text = CATALOGUE.read_text()
    assert text.count(old) >= count
    return text.replace(old, new, count).encode()


def line_of(data: bytes, needle: str, occurrence: int = 1) -> int:
    """The line (1-based) of the n-th line holding ``needle``."""
    hits = [number for number, line in enumerate(data.decode().splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


# --- Reading a valid catalogue --------------------------------------------------------------------------------------


def test_the_two_provider_catalogue_is_read_whole() -> None:
    catalogue = cx.parse_catalogue(fixture("two-providers.xml"))

    assert catalogue.version == "urn:etoegang:1.13:53"
    assert catalogue.issue_instant == "2025-03-01T09:30:00Z"
    assert catalogue.id == "_cat-2025-03-01"
    assert not catalogue.signed
    city, agency = catalogue.providers
    assert (city.oin, agency.oin) == (CITY, AGENCY)
    assert cx.text_in(city.names, "nl") == "Gemeente Voorbeeldstad"
    assert cx.text_in(city.names, "en") == "Municipality of Voorbeeldstad"
    assert cx.text_in(agency.names, "en") is None

    soil, parking = city.definitions
    assert soil.uuid == SHARED_UUID == agency.definitions[0].uuid
    assert soil.level_uri == "urn:etoegang:core:assurance-class:loa3"
    assert soil.entity_concerned_sets == [[KVK, RSIN]]
    assert soil.description_urls == (cx.Localized("nl", "https://www.voorbeeldstad.example/bodem"),)
    assert not soil.branch_restriction_allowed
    assert parking.level_uri == "urn:etoegang:core:assurance-class:loa2plus"
    assert parking.entity_concerned_sets == [[KVK], [RSIN]]
    assert parking.branch_restriction_allowed
    assert [lang.lang for lang in parking.names] == ["nl", "en", "de"]
    company_name, email = parking.requested_attributes
    assert company_name.name == "urn:etoegang:1.11:attribute-represented:CompanyName"
    assert company_name.is_required is True
    assert cx.text_in(company_name.purpose_statements, "en") == "The permit is issued in the name of the company."
    assert email.is_required is False

    major_accidents = agency.definitions[1]
    assert not major_accidents.is_public
    assert major_accidents.level_uri == "urn:etoegang:core:assurance-class:loa4"
    assert major_accidents.entity_concerned_sets == [[KVK], [RSIN], [KVK, RSIN]]
    assert major_accidents.acting_subject_types == (cx.TypeInSet("urn:etoegang:1.9:EntityConcernedID:Pseudo", 1),)


def test_instances_carry_their_index_urls_and_encryption_certificate() -> None:
    city, agency = cx.parse_catalogue(fixture("two-providers.xml")).providers

    soil_desk, parking_desk = city.instances
    assert soil_desk.service_id == f"urn:etoegang:DV:{CITY}:services:1"
    assert (soil_desk.index, parking_desk.index) == (1, 2)
    assert soil_desk.instance_of == SHARED_UUID
    assert [url.value for url in soil_desk.service_urls] == [
        "https://loket.voorbeeldstad.example/bodem",
        "https://loket.voorbeeldstad.example/en/soil",
    ]
    assert soil_desk.sso_support is False
    assert soil_desk.classifiers == ("eIDAS-inbound",)
    (certificate,) = soil_desk.certificates
    assert certificate.use == "encryption"
    assert certificate.key_name == "voorbeeldstad-encryptie-2025"
    (der,) = certificate.certificates
    loaded = x509.load_der_x509_certificate(base64.b64decode(der))
    common_name = loaded.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "eherkenning-encryptie.voorbeeldstad.example"
    assert parking_desk.certificates == ()
    assert parking_desk.sso_support is None

    assert [instance.index for instance in agency.instances] == [1, 4]
    assert agency.instances[0].additional_broker_oins == ("00000001823288444000",)
    assert not agency.instances[1].is_public


# --- Schema validation: each invalid fixture is refused, naming the element and its line ---------------------------


@pytest.mark.parametrize(
    ("name", "element", "line", "mentions"),
    [
        ("invalid-element-order.xml", "esc:ServiceName", 10, "Expected is ( esc:ServiceUUID )"),
        ("invalid-missing-service-uuid.xml", "esc:ServiceName", 10, "Expected is ( esc:ServiceUUID )"),
        ("invalid-name-too-long.xml", "esc:ServiceName", 11, "maximum length of '64'"),
        ("invalid-bad-oin.xml", "esc:ServiceProviderID", 7, "0000000100555666700"),
        ("invalid-unknown-level.xml", "saml:AuthnContextClassRef", 13, "assurance-class:loa5"),
    ],
)
def test_an_invalid_catalogue_is_refused_naming_the_element_and_line(
    name: str, element: str, line: int, mentions: str
) -> None:
    problems = refusal(fixture(name))

    assert (problems[0].element, problems[0].line) == (element, line)
    assert mentions in str(problems[0])
    assert str(problems[0]).startswith(f"{element}, line {line}: ")


def test_the_line_numbers_in_the_expectations_are_those_of_the_files() -> None:
    assert line_of(fixture("invalid-element-order.xml"), "<esc:ServiceName") == 10
    assert line_of(fixture("invalid-name-too-long.xml"), "<esc:ServiceName") == 11
    assert line_of(fixture("invalid-bad-oin.xml"), "<esc:ServiceProviderID") == 7
    assert line_of(fixture("invalid-unknown-level.xml"), "AuthnContextClassRef") == 13


def test_every_schema_problem_is_reported_not_only_the_first() -> None:
    data = valid_with("Melding bodemactiviteit</esc:ServiceName>", "M" * 65 + "</esc:ServiceName>", count=2)

    problems = refusal(data)

    assert [problem.line for problem in problems] == [
        line_of(data, "M" * 65, 1),
        line_of(data, "M" * 65, 2),
    ]
    assert {problem.element for problem in problems} == {"esc:ServiceName"}


def test_an_attribute_problem_names_the_element_and_the_attribute() -> None:
    data = valid_with('<esc:ServiceInstance esc:IsPublic="true">', "<esc:ServiceInstance>")

    (problem,) = refusal(data)

    assert problem.element == "esc:ServiceInstance"
    assert problem.line == line_of(data, "<esc:ServiceInstance>")
    assert "esc:IsPublic" in str(problem)


def test_a_service_restriction_other_than_the_branch_number_is_refused() -> None:
    data = valid_with("ServiceRestriction:Vestigingsnr", "ServiceRestriction:Afdeling")

    (problem,) = refusal(data)

    assert problem.element == "esc:ServiceRestrictionsAllowed"


def test_a_service_id_in_another_format_is_refused() -> None:
    data = valid_with(f"urn:etoegang:DV:{CITY}:services:2", f"urn:etoegang:DV:{CITY}:entities:2")

    (problem,) = refusal(data)

    assert (problem.element, problem.line) == ("esc:ServiceID", line_of(data, ":entities:2"))


# --- Rules that span elements ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "element", "mentions"),
    [
        (
            f"<esc:ServiceID>urn:etoegang:DV:{CITY}:services:2<",
            f"<esc:ServiceID>urn:etoegang:DV:{AGENCY}:services:2<",
            "esc:ServiceID",
            "does not carry its service provider's OIN",
        ),
        (
            f"<esc:ServiceID>urn:etoegang:DV:{CITY}:services:2<",
            f"<esc:ServiceID>urn:etoegang:DV:{CITY}:services:0<",
            "esc:ServiceID",
            "portal",
        ),
        (
            f"<esc:ServiceID>urn:etoegang:DV:{CITY}:services:2<",
            f"<esc:ServiceID>urn:etoegang:DV:{CITY}:services:1<",
            "esc:ServiceID",
            "more than once",
        ),
        (
            "<esc:InstanceOfService>8c1f2e44-0b6d-4f7a-a9e3-5d2c7b1a0f96<",
            "<esc:InstanceOfService>5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170<",
            "esc:InstanceOfService",
            "not the ServiceUUID of a service definition of this service provider",
        ),
        (
            "<esc:ServiceUUID>0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a<",
            "<esc:ServiceUUID>a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d<",
            "esc:ServiceUUID",
            "used nowhere else",
        ),
        (
            "<esc:ServiceUUID>0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a<",
            f"<esc:ServiceUUID>{SHARED_UUID}<",
            "esc:ServiceUUID",
            "used nowhere else",
        ),
        (
            "<esc:ServiceUUID>8c1f2e44-0b6d-4f7a-a9e3-5d2c7b1a0f96<",
            f"<esc:ServiceUUID>{SHARED_UUID}<",
            "esc:ServiceUUID",
            "defined twice",
        ),
        (
            '<esc:OrganizationDisplayName xml:lang="nl">Omgevingsdienst',
            '<esc:OrganizationDisplayName xml:lang="fy">Omgevingsdienst',
            "esc:OrganizationDisplayName",
            "Dutch",
        ),
        (
            '<esc:ServiceName xml:lang="de">',
            '<esc:ServiceName xml:lang="en">',
            "esc:ServiceName",
            "more than once",
        ),
        ('use="encryption"', 'use="signing"', "md:KeyDescriptor", 'use="encryption"'),
        (AGENCY, CITY, "esc:ServiceProviderID", "more than once"),
    ],
)
def test_a_rule_across_elements_is_enforced_naming_the_element_and_line(
    old: str, new: str, element: str, mentions: str
) -> None:
    data = valid_with(old, new)

    problems = refusal(data)

    matching = [problem for problem in problems if problem.element == element]
    assert matching, problems
    assert mentions in str(matching[0])
    assert matching[0].line is not None
    assert element.split(":")[1] in data.decode().splitlines()[matching[0].line - 1]


def test_the_abolished_level_is_still_a_rulebook_uri() -> None:
    catalogue = cx.parse_catalogue(fixture("abolished-level.xml"))

    assert catalogue.providers[1].definitions[0].level_uri == "urn:etoegang:core:assurance-class:loa1"


# --- Hostile input --------------------------------------------------------------------------------------------------


def test_a_document_type_declaration_is_refused_before_any_entity_is_expanded() -> None:
    (problem,) = refusal(fixture("invalid-doctype.xml"))

    assert "document type declaration is not allowed" in str(problem)


def test_an_external_entity_is_never_fetched() -> None:
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<esc:ServiceCatalogue xmlns:esc="urn:etoegang:1.13:service-catalog">&xxe;</esc:ServiceCatalogue>'
    )

    (problem,) = refusal(data)

    assert "document type declaration is not allowed" in str(problem)
    assert "root:" not in str(problem)


def test_a_file_over_the_size_limit_is_refused_unread() -> None:
    data = valid_with("<esc:ServiceProvider ", "<!--" + " " * cx.MAX_BYTES + "--><esc:ServiceProvider ")

    (problem,) = refusal(data)

    assert str(cx.MAX_BYTES) in str(problem)


def test_xml_that_is_not_well_formed_is_refused_with_its_line() -> None:
    data = valid_with("</esc:ServiceName>", "</esc:ServiceNaam>")

    (problem,) = refusal(data)

    assert problem.line == line_of(data, "</esc:ServiceNaam>")


def test_another_root_element_is_refused() -> None:
    data = b'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'

    (problem,) = refusal(data)

    assert problem.element == "md:EntityDescriptor"


# --- Writing --------------------------------------------------------------------------------------------------------


def test_a_written_catalogue_validates_and_reads_back_equal() -> None:
    catalogue = cx.parse_catalogue(fixture("two-providers.xml"))

    element = cx.build_catalogue(catalogue)

    assert cx.validate(element) == []
    assert cx.parse_catalogue(cx.serialize(element)) == catalogue


def _content(data: bytes) -> list[tuple[str, dict[str, str], str]]:
    """Every element with its attributes and its text (whitespace-normalised, base64 without line breaks)."""
    parser = etree.XMLParser(remove_comments=True, remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    result = []
    for element in root.iter(etree.Element):
        text = "" if len(element) else "".join((element.text or "").split())
        result.append((element.tag, dict(element.attrib), text))
    return result


def test_writing_a_read_catalogue_loses_nothing() -> None:
    original = fixture("two-providers.xml")

    written = cx.catalogue_bytes(cx.parse_catalogue(original))

    assert _content(written) == _content(original)


def test_a_written_catalogue_uses_the_rulebook_prefixes_and_has_room_for_the_signature_first() -> None:
    catalogue = dataclasses.replace(cx.parse_catalogue(fixture("two-providers.xml")), id=cx.new_catalogue_id())
    element = cx.build_catalogue(catalogue)

    signature = etree.Element(cx.q(cx.DS, "Signature"))
    etree.SubElement(signature, cx.q(cx.DS, "SignedInfo"))
    element.insert(0, signature)

    assert cx.validate(element) == []
    assert element.get("ID").startswith("_")
    assert cx.serialize(element).startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<esc:ServiceCatalogue")
    assert cx.read_catalogue(element).signed


def test_a_signature_anywhere_but_first_is_refused() -> None:
    element = cx.build_catalogue(cx.parse_catalogue(fixture("two-providers.xml")))
    element.append(etree.Element(cx.q(cx.DS, "Signature")))

    (problem,) = cx.validate(element)

    assert problem.element == "ds:Signature"


def test_a_problem_is_described_through_the_translation_function() -> None:
    portal = "Index 0 is the service provider's portal, not a service instance."
    dutch = {
        "%(element)s, line %(line)d: %(problem)s": "%(element)s, regel %(line)d: %(problem)s",
        portal: "Index 0 is het portaal van de dienstverlener, geen dienst.",
    }
    problem = cx.Problem("esc:ServiceID", 12, portal)

    described = problem.describe(lambda message: dutch.get(message, message))

    assert described == "esc:ServiceID, regel 12: Index 0 is het portaal van de dienstverlener, geen dienst."


def test_a_comment_inside_a_name_is_not_part_of_the_name() -> None:
    data = valid_with("Gemeente Voorbeeldstad<", "Gemeente <!-- de nieuwe naam -->Voorbeeldstad<")

    city = cx.parse_catalogue(data).providers[0]

    assert cx.text_in(city.names, "nl") == "Gemeente Voorbeeldstad"
