"""The demo world: a believable set of service providers, organisations, people and mandates.

``load()`` builds it through the write services (so every row has its audit event, as if a person had entered it)
and is idempotent: every thing is looked up by its natural key (OIN, ServiceUUID, index, KvK number, branch number,
e-mail address, ...) first, and a thing that exists is left as it is. Running it twice therefore changes nothing.

Every demo person can log in at ``/account/login/``: they share one password (from ``DEMO_PASSWORD``, or generated
once and shown once), their accounts are activated, and one EH3 person has an authenticator app whose secret is
shown once. People at EH2+ and above without an app get their second factor as a code by e-mail. Thomas Bos's means
stays suspended, so his login shows the refusal.

The identifiers are dummies: the OINs follow the real pattern ``00000009`` + nine digits + ``000`` but use a range no
real organisation has, KvK numbers are invented, RSINs merely pass the eleven-test, and every e-mail address and URL
uses a reserved domain (example.nl, example.org, *.example).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field

import pyotp
from django.db import transaction
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from sleutelbos.audit.models import AuditEvent
from sleutelbos.audit.services import SYSTEM, Actor, audit_record
from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceInstance, ServiceProvider
from sleutelbos.catalogue.services import (
    service_certificate_create,
    service_definition_create,
    service_instance_create,
    service_provider_create,
)
from sleutelbos.identity.activation import activation_complete
from sleutelbos.identity.factors import TOTP_DIGITS, TOTP_STEP_SECONDS, FactorError, totp_begin, totp_confirm
from sleutelbos.identity.models import (
    DocumentType,
    EvidenceKind,
    IdentityEvidence,
    Means,
    MeansStatus,
    Person,
    TotpDevice,
)
from sleutelbos.identity.services import EvidenceDetails, evidence_kind_for, means_set_status, person_create
from sleutelbos.mandates.models import ChainMandate, Mandate, MandateProvider, MandateService, ScopeKind
from sleutelbos.mandates.services import Scope, chain_mandate_grant, mandate_grant, mandate_revoke
from sleutelbos.organisations.models import Authority, Branch, Functionary, LegalForm, Membership, Organisation
from sleutelbos.organisations.services import (
    branch_create,
    functionary_create,
    membership_ensure,
    membership_set_manager,
    organisation_create,
)
from sleutelbos.saml.protocol.keys import generate_development_keypair

# ServiceUUIDs are derived from a service's key, so that every run (and every machine) gives the same catalogue.
UUID_NAMESPACE = uuid.UUID("5b0c3f0e-4a8e-4d4c-9f5e-51e07e1b0500")

ADMIN_EMAIL = "beheer@sleutelbos.example"
ADMIN_NAME = "Beheerder Sleutelbos"
ADMIN_PASSWORD_ENV = "DEMO_ADMIN_PASSWORD"  # noqa: S105 (the name of the variable, not a password)
PEOPLE_PASSWORD_ENV = "DEMO_PASSWORD"  # noqa: S105 (the name of the variable, not a password)
#: The demo person with an authenticator app: the bakery's director, whose means is EH3.
APP_PERSON_EMAIL = "jan.debakker@example.nl"
APP_NAME = "Demo authenticator app"


def service_uuid(key: str) -> uuid.UUID:
    """The ServiceUUID of the demo service ``key`` (the same for every provider that publishes it)."""
    return uuid.uuid5(UUID_NAMESPACE, key)


# --------------------------------------------------------------------------------------------------------------------
# The data


@dataclass(frozen=True)
class ServiceSpec:
    """A service definition; ``paths`` gives one service instance (loket) per path, indexed in order."""

    key: str
    name_nl: str
    name_en: str
    level: Level
    description_nl: str = ""
    description_en: str = ""
    branch_restriction_allowed: bool = False
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderSpec:
    key: str
    oin: str
    name_nl: str
    name_en: str
    domain: str
    services: tuple[ServiceSpec, ...]


# Published by both the municipality and the environment agency under one ServiceUUID: a mandate for it covers both.
_PERMITS = dict(
    key="vergunningen",
    name_nl="Vergunningen",
    name_en="Permits",
    level=Level.EH2_PLUS,
    description_nl="Vergunningen aanvragen en de behandeling volgen: horeca, evenementen, omgeving.",
    description_en="Apply for permits and follow their handling: catering, events, environment.",
    branch_restriction_allowed=True,
)

PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        key="belastingdienst",
        oin="00000009900000001000",
        name_nl="Belastingdienst (demo)",
        name_en="Tax and Customs Administration (demo)",
        domain="belastingdienst.example",
        services=(
            ServiceSpec(
                "btw-identificatienummer",
                "Btw-identificatienummer opvragen",
                "Look up your VAT identification number",
                Level.EH2,
                "Het btw-identificatienummer van uw onderneming opvragen.",
                "Look up the VAT identification number of your business.",
            ),
            ServiceSpec(
                "mijn-belastingdienst-zakelijk",
                "Mijn Belastingdienst Zakelijk",
                "My Tax Administration for business",
                Level.EH2_PLUS,
                "Berichten, aanslagen en betalingen van uw onderneming inzien.",
                "View the messages, assessments and payments of your business.",
            ),
            ServiceSpec(
                "aangifte-omzetbelasting",
                "Aangifte omzetbelasting",
                "VAT return",
                Level.EH3,
                "Aangifte omzetbelasting (btw) doen per maand, kwartaal of jaar.",
                "File the VAT return per month, quarter or year.",
            ),
            ServiceSpec(
                "aangifte-loonheffingen",
                "Aangifte loonheffingen",
                "Payroll tax return",
                Level.EH3,
                "Aangifte loonheffingen doen en correcties indienen.",
                "File payroll tax returns and corrections.",
            ),
            ServiceSpec(
                "aangifte-vennootschapsbelasting",
                "Aangifte vennootschapsbelasting",
                "Corporate income tax return",
                Level.EH3,
                "Aangifte vennootschapsbelasting doen en voorlopige aanslagen wijzigen.",
                "File the corporate income tax return and change provisional assessments.",
            ),
            ServiceSpec(
                "douane-aeo",
                "Douane: AEO-vergunning aanvragen",
                "Customs: apply for AEO authorisation",
                Level.EH4,
                "De status Authorised Economic Operator aanvragen bij de Douane.",
                "Apply to Customs for Authorised Economic Operator status.",
            ),
        ),
    ),
    ProviderSpec(
        key="kadaster",
        oin="00000009900000002000",
        name_nl="Kadaster (demo)",
        name_en="Netherlands' Cadastre (demo)",
        domain="kadaster.example",
        services=(
            ServiceSpec(
                "kadastrale-kaart",
                "Kadastrale kaart inzien",
                "View the cadastral map",
                Level.EH2,
                "Perceelgrenzen en perceelnummers op de kadastrale kaart bekijken.",
                "View parcel boundaries and numbers on the cadastral map.",
            ),
            ServiceSpec(
                "mijn-kadaster",
                "Mijn Kadaster",
                "My Cadastre",
                Level.EH2_PLUS,
                "Producten van het Kadaster bestellen en uw abonnementen beheren.",
                "Order Cadastre products and manage your subscriptions.",
            ),
            ServiceSpec(
                "eigendomsinformatie",
                "Eigendomsinformatie opvragen",
                "Request ownership information",
                Level.EH3,
                "Eigenaren en hypotheken van een perceel opvragen.",
                "Request the owners and mortgages of a parcel.",
            ),
            ServiceSpec(
                "aktes-inschrijven",
                "Aktes inschrijven (notariaat)",
                "Register deeds (notaries)",
                Level.EH4,
                "Notariële aktes elektronisch aanbieden voor inschrijving in de openbare registers.",
                "Submit notarial deeds electronically for registration in the public registers.",
            ),
        ),
    ),
    ProviderSpec(
        key="rvo",
        oin="00000009900000003000",
        name_nl="Rijksdienst voor Ondernemend Nederland (demo)",
        name_en="Netherlands Enterprise Agency (demo)",
        domain="rvo.example",
        services=(
            ServiceSpec(
                "octrooiregister",
                "Octrooiregister raadplegen",
                "Consult the patent register",
                Level.EH2,
                "Octrooien en octrooiaanvragen opzoeken.",
                "Search patents and patent applications.",
            ),
            ServiceSpec(
                "mijn-rvo",
                "Mijn RVO",
                "My RVO",
                Level.EH2_PLUS,
                "Uw aanvragen, dossiers en berichten bij RVO inzien.",
                "View your applications, files and messages at RVO.",
            ),
            ServiceSpec(
                "subsidie-aanvragen",
                "Subsidie aanvragen",
                "Apply for a subsidy",
                Level.EH3,
                "Subsidies voor innovatie, verduurzaming en export aanvragen.",
                "Apply for subsidies for innovation, sustainability and export.",
            ),
            ServiceSpec(
                "gecombineerde-opgave",
                "Gecombineerde opgave",
                "Combined agricultural return",
                Level.EH3,
                "Percelen, gewassen en dieren opgeven voor landbouwbedrijven.",
                "Report parcels, crops and animals for farms.",
            ),
            ServiceSpec(
                "exportcertificaten",
                "Exportcertificaten (e-CertNL)",
                "Export certificates (e-CertNL)",
                Level.EH4,
                "Fytosanitaire en veterinaire exportcertificaten aanvragen.",
                "Apply for phytosanitary and veterinary export certificates.",
            ),
        ),
    ),
    ProviderSpec(
        key="sleutelstad",
        oin="00000009900000004000",
        name_nl="Gemeente Sleutelstad",
        name_en="Municipality of Sleutelstad",
        domain="sleutelstad.example",
        services=(
            ServiceSpec(
                "bedrijfsafval",
                "Bedrijfsafval aanmelden",
                "Register commercial waste collection",
                Level.EH2,
                "Inzameling van bedrijfsafval aanmelden of wijzigen, per vestiging.",
                "Register or change the collection of commercial waste, per branch.",
                branch_restriction_allowed=True,
            ),
            ServiceSpec(
                "parkeervergunning-bedrijven",
                "Parkeervergunning bedrijven",
                "Business parking permit",
                Level.EH2,
                "Een parkeervergunning voor bedrijfsvoertuigen aanvragen, per vestiging.",
                "Apply for a parking permit for company vehicles, per branch.",
                branch_restriction_allowed=True,
            ),
            ServiceSpec(**_PERMITS, paths=("vergunningen/horeca", "vergunningen/evenementen")),
            ServiceSpec(
                "aanbestedingen",
                "Aanbestedingen",
                "Public tenders",
                Level.EH3,
                "Inschrijven op aanbestedingen van de gemeente.",
                "Submit tenders to the municipality.",
            ),
            ServiceSpec(
                "bezwaar-woz",
                "Bezwaar WOZ-waarde",
                "Objection to property valuation (WOZ)",
                Level.EH3,
                "Bezwaar maken tegen de WOZ-waarde van bedrijfspanden.",
                "Object to the valuation of business premises.",
            ),
            ServiceSpec(
                "bibob-vragenlijst",
                "Bibob-vragenlijst indienen",
                "Submit the Bibob integrity questionnaire",
                Level.EH4,
                "De Bibob-vragenlijst met financiële gegevens indienen bij een vergunningaanvraag.",
                "Submit the Bibob questionnaire with financial details for a permit application.",
            ),
        ),
    ),
    ProviderSpec(
        key="omgevingsdienst",
        oin="00000009900000005000",
        name_nl="Omgevingsdienst Sleutelland (demo)",
        name_en="Sleutelland Environment Agency (demo)",
        domain="omgevingsdienst-sleutelland.example",
        services=(
            ServiceSpec(
                "melding-milieu",
                "Melding milieubelastende activiteit",
                "Notify an environmentally harmful activity",
                Level.EH2,
                "Een milieubelastende activiteit van een vestiging melden.",
                "Notify an environmentally harmful activity of a branch.",
                branch_restriction_allowed=True,
            ),
            ServiceSpec(**_PERMITS),
            ServiceSpec(
                "bodeminformatie",
                "Bodeminformatie opvragen",
                "Request soil information",
                Level.EH3,
                "Bodemonderzoeken en saneringsgegevens van een locatie opvragen.",
                "Request soil surveys and remediation data of a site.",
            ),
            ServiceSpec(
                "brzo-rapportage",
                "Rapportage risicobedrijven (Brzo)",
                "Major-accident hazard reporting (Brzo)",
                Level.EH4,
                "Veiligheidsrapporten van Brzo-bedrijven indienen.",
                "Submit the safety reports of major-accident hazard sites.",
            ),
        ),
    ),
    ProviderSpec(
        key="uwv",
        oin="00000009900000006000",
        name_nl="Uitvoeringsinstituut Werknemersverzekeringen (demo)",
        name_en="UWV Employee Insurance Agency (demo)",
        domain="uwv.example",
        services=(
            ServiceSpec(
                "vacatures",
                "Vacatures plaatsen",
                "Post vacancies",
                Level.EH2,
                "Vacatures plaatsen en kandidaten zoeken.",
                "Post vacancies and search for candidates.",
            ),
            ServiceSpec(
                "ziekmeldingen",
                "Ziek- en herstelmeldingen",
                "Sickness and recovery notifications",
                Level.EH2_PLUS,
                "Ziekte en herstel van werknemers melden.",
                "Report employees' sickness and recovery.",
            ),
            ServiceSpec(
                "werkgeversportaal",
                "Werkgeversportaal",
                "Employer portal",
                Level.EH3,
                "Re-integratie, WW en WIA van uw werknemers regelen.",
                "Handle your employees' reintegration, unemployment and disability benefits.",
            ),
            ServiceSpec(
                "loonkostensubsidie",
                "Loonkostensubsidie aanvragen",
                "Apply for wage cost subsidy",
                Level.EH3,
                "Loonkostenvoordeel en loonkostensubsidie aanvragen.",
                "Apply for wage cost benefits and subsidies.",
            ),
            ServiceSpec(
                "polisadministratie",
                "Polisadministratie inzien",
                "View the employment records (polisadministratie)",
                Level.EH4,
                "Lonen en dienstverbanden van uw werknemers in de polisadministratie inzien.",
                "View your employees' wages and employment in the employment records.",
            ),
        ),
    ),
)


@dataclass(frozen=True)
class BranchSpec:
    number: str
    name: str
    city: str


@dataclass(frozen=True)
class FunctionarySpec:
    name: str
    date_of_birth: dt.date
    role: str
    authority: Authority


@dataclass(frozen=True)
class OrganisationSpec:
    key: str
    kvk: str
    rsin: str
    name: str
    legal_form: LegalForm
    branches: tuple[BranchSpec, ...] = ()
    functionaries: tuple[FunctionarySpec, ...] = ()


ORGANISATIONS: tuple[OrganisationSpec, ...] = (
    OrganisationSpec(
        key="bakkerij",
        kvk="91234567",
        rsin="820246633",
        name="Bakkerij De Gouden Korst B.V.",
        legal_form=LegalForm.BV,
        branches=(
            BranchSpec("000045678901", "De Gouden Korst Centrum", "Sleutelstad"),
            BranchSpec("000045678902", "De Gouden Korst Noord", "Sleutelstad"),
        ),
        functionaries=(
            FunctionarySpec("Jan de Bakker", dt.date(1971, 3, 14), "Bestuurder", Authority.ALONE),
            FunctionarySpec("Fatima El Amrani", dt.date(1985, 9, 2), "Procuratiehouder", Authority.RESTRICTED),
        ),
    ),
    OrganisationSpec(
        key="accountants",
        kvk="92345678",
        rsin="852992312",
        name="Van Dijk & Partners Accountants B.V.",
        legal_form=LegalForm.BV,
        branches=(BranchSpec("000046789011", "Van Dijk & Partners Sleutelstad", "Sleutelstad"),),
        functionaries=(
            FunctionarySpec("Pieter van Dijk", dt.date(1968, 1, 9), "Bestuurder", Authority.JOINT),
            FunctionarySpec("Anouk Meijer", dt.date(1974, 10, 23), "Bestuurder", Authority.JOINT),
        ),
    ),
    OrganisationSpec(
        key="stichting",
        kvk="93456789",
        rsin="811535642",
        name="Stichting Buurthuis De Linde",
        legal_form=LegalForm.STICHTING,
        branches=(BranchSpec("000047890121", "Buurthuis De Linde", "Sleutelstad"),),
        functionaries=(
            FunctionarySpec("Marieke Jansen", dt.date(1958, 7, 25), "Voorzitter", Authority.JOINT),
            FunctionarySpec("Henk Smit", dt.date(1955, 2, 11), "Penningmeester", Authority.JOINT),
            FunctionarySpec("Ingrid Postma", dt.date(1966, 12, 5), "Secretaris", Authority.RESTRICTED),
        ),
    ),
    OrganisationSpec(
        key="fietsenmaker",
        kvk="94567890",
        # A sole proprietorship is no legal entity and has no RSIN.
        rsin="",
        name="Fietsenmakerij Vermeulen",
        legal_form=LegalForm.EENMANSZAAK,
        branches=(BranchSpec("000048901231", "Fietsenmakerij Vermeulen", "Sleutelstad"),),
        functionaries=(FunctionarySpec("Ruud Vermeulen", dt.date(1979, 8, 19), "Eigenaar", Authority.ALONE),),
    ),
)


def evidence_for(spec: PersonSpec) -> EvidenceDetails:
    """The identity verification a demo person's means rests on: the least kind that supports its level.

    Documents are passports (EH3 and EH4) or identity cards (EH2+), valid for years to come, with invented last
    characters of the number; every other EH3 original is checked remotely.
    """
    kind = evidence_kind_for(spec.level)
    if kind == EvidenceKind.NAME_AND_BIRTH_DATE:
        return EvidenceDetails(kind=kind, notes="Demo: signed form with name and date of birth.")
    digest = hashlib.sha256(spec.email.encode()).hexdigest().upper()
    return EvidenceDetails(
        kind=kind,
        document_type=DocumentType.IDENTITY_CARD if kind == EvidenceKind.DOCUMENT_COPY else DocumentType.PASSPORT,
        document_number_suffix=digest[:4],
        document_valid_until=timezone.localdate() + dt.timedelta(days=5 * 365),
        remote=kind == EvidenceKind.DOCUMENT_ORIGINAL and int(digest[4], 16) % 2 == 1,
        notes="Demo: identity verified when the means was issued.",
    )


@dataclass(frozen=True)
class PersonSpec:
    """A person with a means; ``memberships`` maps organisation keys to their mandate-manager level (or None)."""

    email: str
    name: str
    date_of_birth: dt.date
    level: Level
    memberships: dict[str, Level | None] = field(default_factory=dict)
    status: MeansStatus = MeansStatus.ACTIVE


PEOPLE: tuple[PersonSpec, ...] = (
    PersonSpec("jan.debakker@example.nl", "Jan de Bakker", dt.date(1971, 3, 14), Level.EH3, {"bakkerij": Level.EH3}),
    PersonSpec(
        "fatima.elamrani@example.nl",
        "Fatima El Amrani",
        dt.date(1985, 9, 2),
        Level.EH2_PLUS,
        {"bakkerij": Level.EH2_PLUS},
    ),
    PersonSpec("sanne.visser@example.nl", "Sanne Visser", dt.date(1996, 6, 21), Level.EH2, {"bakkerij": None}),
    PersonSpec("kees.mulder@example.org", "Kees Mulder", dt.date(1962, 11, 30), Level.EH3, {"bakkerij": None}),
    PersonSpec(
        "pieter.vandijk@example.nl", "Pieter van Dijk", dt.date(1968, 1, 9), Level.EH4, {"accountants": Level.EH4}
    ),
    PersonSpec("lotte.devries@example.nl", "Lotte de Vries", dt.date(1990, 4, 17), Level.EH3, {"accountants": None}),
    PersonSpec(
        "daan.hendriks@example.nl", "Daan Hendriks", dt.date(2001, 5, 28), Level.EH2_PLUS, {"accountants": None}
    ),
    PersonSpec(
        "marieke.jansen@example.org", "Marieke Jansen", dt.date(1958, 7, 25), Level.EH3, {"stichting": Level.EH3}
    ),
    PersonSpec("henk.smit@example.org", "Henk Smit", dt.date(1955, 2, 11), Level.EH3, {"stichting": None}),
    PersonSpec(
        "thomas.bos@example.org",
        "Thomas Bos",
        dt.date(1999, 12, 3),
        Level.EH2_PLUS,
        {"stichting": None},
        status=MeansStatus.SUSPENDED,
    ),
    PersonSpec(
        "ruud.vermeulen@example.nl",
        "Ruud Vermeulen",
        dt.date(1979, 8, 19),
        Level.EH2,
        {"fietsenmaker": Level.EH2},
    ),
)


@dataclass(frozen=True)
class ScopeSpec:
    kind: ScopeKind
    providers: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


ALL = ScopeSpec(ScopeKind.ALL)


def providers(*keys: str) -> ScopeSpec:
    return ScopeSpec(ScopeKind.PROVIDERS, providers=keys)


def services(*keys: str) -> ScopeSpec:
    return ScopeSpec(ScopeKind.SERVICES, services=keys)


class State:
    ACTIVE = "active"
    FUTURE = "future"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class MandateSpec:
    """A mandate; at most one per (holder, organisation, scope kind, branch), which is how a run finds it again."""

    holder: str
    organisation: str
    scope: ScopeSpec
    level: Level
    years: int = 1
    branch: str | None = None
    state: str = State.ACTIVE


MANDATES: tuple[MandateSpec, ...] = (
    # The director may do everything for the bakery.
    MandateSpec("jan.debakker@example.nl", "bakkerij", ALL, Level.EH3, years=3),
    # The office manager handles the municipal permits; "Vergunningen" covers both providers that publish it.
    MandateSpec(
        "fatima.elamrani@example.nl",
        "bakkerij",
        services("vergunningen", "bedrijfsafval", "parkeervergunning-bedrijven"),
        Level.EH2_PLUS,
    ),
    # The manager of the northern branch arranges waste and parking for that branch only.
    MandateSpec(
        "sanne.visser@example.nl",
        "bakkerij",
        services("bedrijfsafval", "parkeervergunning-bedrijven"),
        Level.EH2,
        branch="000045678902",
    ),
    # The former bookkeeper's VAT mandate was revoked when he left.
    MandateSpec(
        "kees.mulder@example.org", "bakkerij", services("aangifte-omzetbelasting"), Level.EH3, state=State.REVOKED
    ),
    MandateSpec("pieter.vandijk@example.nl", "accountants", ALL, Level.EH4, years=5),
    # The accountant's employee files returns for clients through the chain mandates below.
    MandateSpec("lotte.devries@example.nl", "accountants", providers("belastingdienst", "uwv"), Level.EH3, years=3),
    # A new employee who starts next month.
    MandateSpec(
        "daan.hendriks@example.nl",
        "accountants",
        services("mijn-belastingdienst-zakelijk"),
        Level.EH2_PLUS,
        state=State.FUTURE,
    ),
    MandateSpec("marieke.jansen@example.org", "stichting", providers("sleutelstad", "rvo"), Level.EH3, years=3),
    # The treasurer's subsidy mandate ran out last month.
    MandateSpec("henk.smit@example.org", "stichting", services("subsidie-aanvragen"), Level.EH3, state=State.EXPIRED),
    # A volunteer whose means is suspended: the mandate is fine, the login is not.
    MandateSpec("thomas.bos@example.org", "stichting", services("vergunningen"), Level.EH2_PLUS),
    MandateSpec("ruud.vermeulen@example.nl", "fietsenmaker", ALL, Level.EH2, years=5),
)


@dataclass(frozen=True)
class ChainMandateSpec:
    """A chain mandate; at most one per (client, intermediary, scope kind)."""

    client: str
    intermediary: str
    scope: ScopeSpec
    level: Level
    years: int = 1


CHAIN_MANDATES: tuple[ChainMandateSpec, ...] = (
    ChainMandateSpec("bakkerij", "accountants", providers("belastingdienst"), Level.EH3, years=3),
    ChainMandateSpec("stichting", "accountants", services("aangifte-loonheffingen", "werkgeversportaal"), Level.EH3),
    ChainMandateSpec("fietsenmaker", "accountants", services("aangifte-omzetbelasting"), Level.EH3),
)


# --------------------------------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class AppSecret:
    """The authenticator app set up for a demo person in this run: what a tester adds to their own app."""

    email: str
    secret: str
    provisioning_uri: str


@dataclass(frozen=True)
class Login:
    """One row of the table of demo logins: who, at which level, and how they log in."""

    email: str
    level: Level
    how: str | Promise


@dataclass
class Summary:
    """What the demo world holds after a load, and how to log in to the back office and as a demo person.

    Passwords and the app secret are given only by the run that set them, and only when they were not taken from the
    environment.
    """

    counts: dict[str, int]
    created: int
    admin_email: str
    admin_password: str | None
    admin_password_from_env: bool
    people_password: str | None = None
    people_password_from_env: bool = False
    app: AppSecret | None = None
    logins: list[Login] = field(default_factory=list)


def _add_years(moment: dt.datetime, years: int) -> dt.datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


class _Loader:
    def __init__(self) -> None:
        self.now = timezone.now()
        self.created = 0
        self.providers: dict[str, ServiceProvider] = {}
        self.organisations: dict[str, Organisation] = {}
        self.people: dict[str, Person] = {}

    def _made(self) -> None:
        self.created += 1

    def catalogue(self) -> None:
        for spec in PROVIDERS:
            provider = ServiceProvider.objects.filter(oin=spec.oin).first()
            if provider is None:
                provider = service_provider_create(
                    actor=SYSTEM, oin=spec.oin, name_nl=spec.name_nl, name_en=spec.name_en
                )
                self._made()
            self.providers[spec.key] = provider
            index = 0
            for service in spec.services:
                definition = ServiceDefinition.objects.filter(provider=provider, uuid=service_uuid(service.key)).first()
                if definition is None:
                    definition = service_definition_create(
                        actor=SYSTEM,
                        provider=provider,
                        uuid=service_uuid(service.key),
                        name_nl=service.name_nl,
                        name_en=service.name_en,
                        description_nl=service.description_nl,
                        description_en=service.description_en,
                        level=service.level,
                        branch_restriction_allowed=service.branch_restriction_allowed,
                    )
                    self._made()
                for path in service.paths or (service.key,):
                    index += 1
                    if not ServiceInstance.objects.filter(provider=provider, index=index).exists():
                        instance = service_instance_create(
                            actor=SYSTEM,
                            definition=definition,
                            index=index,
                            service_url=f"https://{spec.domain}/{path}",
                            privacy_policy_url=f"https://{spec.domain}/privacy",
                        )
                        self._made()
                        if index == 1:
                            # The catalogue's encryption certificate of the provider (esc:ServiceCertificate); the
                            # demo providers are fictional, so nobody keeps the private key.
                            _key, certificate = generate_development_keypair(f"encryptie.{spec.domain}")
                            service_certificate_create(actor=SYSTEM, instance=instance, certificate=certificate)

    def organisations_(self) -> None:
        for spec in ORGANISATIONS:
            organisation = Organisation.objects.filter(kvk=spec.kvk).first()
            if organisation is None:
                organisation = organisation_create(
                    actor=SYSTEM, kvk=spec.kvk, rsin=spec.rsin, name=spec.name, legal_form=spec.legal_form
                )
                self._made()
            self.organisations[spec.key] = organisation
            for branch in spec.branches:
                if not Branch.objects.filter(number=branch.number).exists():
                    branch_create(
                        actor=SYSTEM,
                        organisation=organisation,
                        number=branch.number,
                        name=branch.name,
                        city=branch.city,
                    )
                    self._made()
            for functionary in spec.functionaries:
                if not Functionary.objects.filter(
                    organisation=organisation, name=functionary.name, role=functionary.role
                ).exists():
                    functionary_create(
                        actor=SYSTEM,
                        organisation=organisation,
                        name=functionary.name,
                        date_of_birth=functionary.date_of_birth,
                        role=functionary.role,
                        authority=functionary.authority,
                    )
                    self._made()

    def people_(self) -> None:
        for spec in PEOPLE:
            person = Person.objects.filter(email__iexact=spec.email).first()
            if person is None:
                person = person_create(
                    actor=SYSTEM,
                    name=spec.name,
                    email=spec.email,
                    level=spec.level,
                    date_of_birth=spec.date_of_birth,
                    evidence=evidence_for(spec),
                )
                self._made()
                if spec.status != MeansStatus.ACTIVE:
                    means_set_status(
                        actor=SYSTEM, person=person, status=spec.status, reason="Demo: lost the authenticator app."
                    )
            self.people[spec.email] = person
            for key, manager_level in spec.memberships.items():
                organisation = self.organisations[key]
                if Membership.objects.filter(person=person, organisation=organisation).exists():
                    continue
                if manager_level is None:
                    membership_ensure(actor=SYSTEM, person=person, organisation=organisation)
                else:
                    membership_set_manager(actor=SYSTEM, person=person, organisation=organisation, level=manager_level)
                self._made()

    def scope(self, spec: ScopeSpec) -> Scope:
        if spec.kind == ScopeKind.ALL:
            return Scope.all()
        if spec.kind == ScopeKind.PROVIDERS:
            return Scope.of_providers(*(self.providers[key] for key in spec.providers))
        return Scope.of_services(*(service_uuid(key) for key in spec.services))

    def mandates(self) -> None:
        for spec in MANDATES:
            holder = self.people[spec.holder]
            organisation = self.organisations[spec.organisation]
            branch = Branch.objects.get(number=spec.branch) if spec.branch else None
            if Mandate.objects.filter(
                holder=holder, organisation=organisation, scope_kind=spec.scope.kind, branch=branch
            ).exists():
                continue
            if spec.state == State.EXPIRED:
                self._expired_mandate(spec, holder, organisation, branch)
            else:
                # Active mandates started a quarter ago; the future one starts next month.
                start = self.now + dt.timedelta(days=30 if spec.state == State.FUTURE else -90)
                mandate = mandate_grant(
                    actor=SYSTEM,
                    holder=holder,
                    organisation=organisation,
                    scope=self.scope(spec.scope),
                    level=spec.level,
                    valid_from=start,
                    valid_until=_add_years(start, spec.years),
                    branch=branch,
                )
                if spec.state == State.REVOKED:
                    mandate_revoke(actor=SYSTEM, mandate=mandate, reason="Demo: de medewerker is uit dienst.")
            self._made()

    def _expired_mandate(
        self, spec: MandateSpec, holder: Person, organisation: Organisation, branch: Branch | None
    ) -> None:
        """Write a mandate that has already expired, with its audit event.

        ``mandate_grant`` rightly refuses a validity that ends in the past, so no service can create this row. The
        demo needs one to show the ``mandate_expired`` refusal, so it writes the row as ``mandate_grant`` would have
        a year ago, and records a ``mandate:granted`` event that says it was loaded backdated.
        """
        scope = self.scope(spec.scope)
        scope.validate()
        start = self.now - dt.timedelta(days=400)
        end = _add_years(start, 1)
        membership_ensure(actor=SYSTEM, person=holder, organisation=organisation)
        mandate = Mandate.objects.create(
            holder=holder,
            organisation=organisation,
            scope_kind=scope.kind,
            level=spec.level,
            valid_from=start,
            valid_until=end,
            granted_at=start,
            granted_by=SYSTEM.label,
            branch=branch,
        )
        MandateProvider.objects.bulk_create([MandateProvider(mandate=mandate, provider=p) for p in scope.providers])
        MandateService.objects.bulk_create([MandateService(mandate=mandate, service_uuid=u) for u in scope.services])
        audit_record(
            actor=SYSTEM,
            action="mandate:granted",
            subject=mandate,
            organisation=organisation,
            data={
                "holder": holder.pk,
                "scope": scope.describe(),
                "level": Level(spec.level).label,
                "valid_from": start,
                "valid_until": end,
                "branch": branch.number if branch else None,
                "backdated": True,
            },
        )

    def chain_mandates(self) -> None:
        for spec in CHAIN_MANDATES:
            client = self.organisations[spec.client]
            intermediary = self.organisations[spec.intermediary]
            if ChainMandate.objects.filter(
                client=client, intermediary=intermediary, scope_kind=spec.scope.kind
            ).exists():
                continue
            start = self.now - dt.timedelta(days=60)
            chain_mandate_grant(
                actor=SYSTEM,
                client=client,
                intermediary=intermediary,
                scope=self.scope(spec.scope),
                level=spec.level,
                valid_from=start,
                valid_until=_add_years(start, spec.years),
            )
            self._made()

    def passwords(self) -> tuple[str | None, bool]:
        """Activate every demo person who is not yet, with one shared password: (the password, from the environment).

        A person activated before keeps their password, so a second run sets none and reports none.
        """
        waiting = [self.people[spec.email] for spec in PEOPLE if self.people[spec.email].activated_at is None]
        if not waiting:
            return None, False
        from_env = os.environ.get(PEOPLE_PASSWORD_ENV, "")
        password = from_env or secrets.token_urlsafe(12)
        for person in waiting:
            # As if each had followed their activation link; the password rules apply to one from the environment.
            activation_complete(person=person, password=password)
            self._made()
        return password, bool(from_env)

    def authenticator_app(self) -> AppSecret | None:
        """Give the EH3 demo person an authenticator app, unless they have one; its secret, when added now."""
        person = self.people[APP_PERSON_EMAIL]
        if TotpDevice.objects.filter(person=person, confirmed_at__isnull=False).exists():
            return None
        enrolment = totp_begin(person=person, name=APP_NAME)
        totp = pyotp.TOTP(enrolment.secret, digits=TOTP_DIGITS, interval=TOTP_STEP_SECONDS)
        # Confirmed with the code of the previous time step (still inside the allowed clock drift), so that the code
        # a tester's app shows right now has not been used and works at once. A time step can end between making the
        # code and checking it; the second attempt is then inside the window again.
        for attempt in range(2):
            try:
                code = totp.at(time.time() - TOTP_STEP_SECONDS)
                totp_confirm(actor=Actor.for_person(person), device=enrolment.device, code=code)
                break
            except FactorError:
                if attempt:
                    raise
        self._made()
        return AppSecret(email=person.email, secret=enrolment.secret, provisioning_uri=enrolment.provisioning_uri)

    def admin(self) -> tuple[str | None, bool]:
        """The back-office superuser: (the password when it was set now, whether it came from the environment)."""
        if Person.objects.filter(email__iexact=ADMIN_EMAIL).exists():
            return None, False
        from_env = os.environ.get(ADMIN_PASSWORD_ENV, "")
        password = from_env or secrets.token_urlsafe(12)
        # Supplier staff have no means and no mandates; Django's own create_superuser is how staff accounts are made
        # (as ``createsuperuser`` does), with the audit event every write leaves.
        person = Person.objects.create_superuser(ADMIN_EMAIL, ADMIN_NAME, password)
        audit_record(
            actor=SYSTEM,
            action="person:created",
            subject=person,
            data={"name": ADMIN_NAME, "email": ADMIN_EMAIL, "staff": True, "superuser": True},
        )
        self._made()
        return password, bool(from_env)


def logins() -> list[Login]:
    """How each demo person logs in, as the database holds them now."""
    with_app = set(
        TotpDevice.objects.filter(confirmed_at__isnull=False, person__email__in=[spec.email for spec in PEOPLE])
        .values_list("person__email", flat=True)
        .distinct()
    )
    rows = []
    for spec in PEOPLE:
        status = Means.objects.filter(person__email=spec.email).values_list("status", flat=True).first()
        if status == MeansStatus.SUSPENDED:
            how = _("password; then refused, because the means is suspended")
        elif status == MeansStatus.REVOKED:
            how = _("password; then refused, because the means is revoked")
        elif spec.level == Level.EH2:
            how = _("password")
        elif spec.email in with_app:
            how = _("password + code from the authenticator app")
        elif spec.level == Level.EH2_PLUS:
            how = _("password + code by e-mail")
        elif spec.level == Level.EH3:
            how = _("password + code by e-mail (EH2+); add an authenticator app on the account page for EH3")
        else:
            how = _("password + code by e-mail (EH2+); register a security key on the account page for EH4")
        rows.append(Login(email=spec.email, level=spec.level, how=how))
    return rows


_COUNTED = (
    ServiceProvider,
    ServiceDefinition,
    ServiceInstance,
    Organisation,
    Branch,
    Functionary,
    Person,
    IdentityEvidence,
    Means,
    Membership,
    Mandate,
    ChainMandate,
    AuditEvent,
)


def counts() -> dict[str, int]:
    """How many of each thing the database holds, by the model's (translated) plural name."""
    return {str(model._meta.verbose_name_plural): model.objects.count() for model in _COUNTED}


@transaction.atomic
def load() -> Summary:
    """Load the demo world (what exists already is left as it is) and say what the database now holds."""
    loader = _Loader()
    loader.catalogue()
    loader.organisations_()
    loader.people_()
    loader.mandates()
    loader.chain_mandates()
    people_password, people_from_env = loader.passwords()
    app = loader.authenticator_app()
    password, from_env = loader.admin()
    return Summary(
        counts=counts(),
        created=loader.created,
        admin_email=ADMIN_EMAIL,
        admin_password=password,
        admin_password_from_env=from_env,
        people_password=people_password,
        people_password_from_env=people_from_env,
        app=app,
        logins=logins(),
    )
