"""The KvK register: the file register, the KvK API against a local HTTP server, the registry and the command."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone, translation

from sleutelbos.demo import world
from sleutelbos.organisations import kvk
from sleutelbos.organisations.models import Authority, LegalForm, Organisation

BAKERY = "91234567"
ACCOUNTANTS = "92345678"
FOUNDATION = "93456789"
BIKE_SHOP = "94567890"


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without registers made by an earlier test."""
    monkeypatch.setattr(kvk, "_registers", {})


def shipped() -> kvk.FileKvkRegister:
    return kvk.FileKvkRegister([kvk.DEFAULT_FILE])


def write_register(path: Path, organisations: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"organisations": organisations}), encoding="utf-8")
    return path


def organisation(kvk_number: str = "12345678", **changes: Any) -> dict[str, Any]:
    entry = {
        "kvk": kvk_number,
        "name": "Zeilmakerij Wind & Water B.V.",
        "rsin": "818086026",
        "legal_form": "bv",
        "branches": [{"number": "000099999991", "name": "Zeilmakerij Wind & Water", "city": "Havenstad"}],
        "functionaries": [
            {"name": "Gerda Wind", "date_of_birth": "1970-06-01", "role": "Bestuurder", "authority": "alone"}
        ],
    }
    entry.update(changes)
    return entry


# --------------------------------------------------------------------------------------------------------------------
# The file register


def test_the_shipped_register_knows_the_bakery_as_the_demo_does() -> None:
    extract = shipped().lookup(BAKERY)
    assert extract.name == "Bakkerij De Gouden Korst B.V."
    assert extract.rsin == "820246633"
    assert extract.legal_form == LegalForm.BV
    assert [(b.number, b.name, b.city) for b in extract.branches] == [
        ("000045678901", "De Gouden Korst Centrum", "Sleutelstad"),
        ("000045678902", "De Gouden Korst Noord", "Sleutelstad"),
    ]
    assert extract.functionaries == (
        kvk.KvkFunctionary("Jan de Bakker", dt.date(1971, 3, 14), "Bestuurder", Authority.ALONE),
        kvk.KvkFunctionary("Fatima El Amrani", dt.date(1985, 9, 2), "Procuratiehouder", Authority.RESTRICTED),
    )


def test_the_demo_organisations_have_functionaries_of_every_authority() -> None:
    register = shipped()
    authorities = {
        functionary.authority
        for number in (BAKERY, ACCOUNTANTS, FOUNDATION, BIKE_SHOP)
        for functionary in register.lookup(number).functionaries
    }
    assert authorities == set(Authority)
    assert {f.authority for f in register.lookup(ACCOUNTANTS).functionaries} == {Authority.JOINT}


def test_the_shipped_register_has_organisations_for_a_first_application() -> None:
    """Organisations nobody has an account for yet: only joint directors, a restricted proxy, a sole proprietorship."""
    demo = {spec.kvk for spec in world.ORGANISATIONS}
    others = [extract for extract in shipped().all() if extract.kvk not in demo]
    assert any(
        len(e.functionaries) >= 2 and {f.authority for f in e.functionaries} == {Authority.JOINT} for e in others
    )
    assert any(Authority.RESTRICTED in {f.authority for f in e.functionaries} for e in others)
    assert any(e.legal_form == LegalForm.EENMANSZAAK and e.rsin == "" for e in others)


def test_without_an_extract_date_the_extract_is_dated_by_the_file(tmp_path: Path) -> None:
    path = write_register(tmp_path / "register.json", [organisation()])
    moment = dt.datetime(2025, 3, 7, 12, 0).timestamp()
    os.utime(path, (moment, moment))
    assert kvk.FileKvkRegister([path]).lookup("12345678").extract_date == dt.date(2025, 3, 7)


def test_an_unknown_number_is_told_apart(tmp_path: Path) -> None:
    with pytest.raises(kvk.KvkNumberUnknown) as caught:
        shipped().lookup("12345678")
    with translation.override("en"):
        assert str(caught.value) == (
            "The KvK register has no organisation with number 12345678. Check the number on your KvK extract and try "
            "again."
        )


@pytest.mark.parametrize("number", ["9123456a", "1234567", "123456789", " 91234567", "", "９１２３４５６７"])
def test_a_malformed_number_is_refused_before_the_register_is_asked(number: str) -> None:
    with pytest.raises(kvk.KvkNumberMalformed) as caught:
        shipped().lookup(number)
    with translation.override("en"):
        assert "exactly 8 digits" in str(caught.value)


def test_an_operator_file_adds_and_replaces_organisations(tmp_path: Path, settings) -> None:
    own = write_register(
        tmp_path / "own.json",
        [
            organisation(BAKERY, name="Bakkerij De Gouden Korst Holding B.V.", extract_date="2025-06-30"),
            organisation("12345678"),
        ],
    )
    settings.SLEUTELBOS_KVK_FILE = f"{kvk.DEFAULT_FILE}, {own}"
    register = kvk.register()
    bakery = register.lookup(BAKERY)
    assert bakery.name == "Bakkerij De Gouden Korst Holding B.V."
    assert bakery.extract_date == dt.date(2025, 6, 30)
    assert [f.name for f in bakery.functionaries] == ["Gerda Wind"]
    assert register.lookup("12345678").name == "Zeilmakerij Wind & Water B.V."
    # What the operator's file does not mention stays as shipped.
    assert register.lookup(FOUNDATION).name == "Stichting Buurthuis De Linde"


def test_a_changed_register_file_is_read_again(tmp_path: Path) -> None:
    path = write_register(tmp_path / "register.json", [organisation()])
    register = kvk.FileKvkRegister([path])
    assert register.lookup("12345678").name == "Zeilmakerij Wind & Water B.V."
    write_register(path, [organisation(name="Zeilmakerij Wind B.V.")])
    later = time.time() + 5
    os.utime(path, (later, later))
    assert register.lookup("12345678").name == "Zeilmakerij Wind B.V."


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (organisation(name=""), "'name' is empty"),
        ({k: v for k, v in organisation().items() if k != "name"}, "the field 'name' is missing"),
        (organisation(nmae="typo"), "unknown field(s) 'nmae'"),
        (organisation(legal_form="ltd"), "legal_form 'ltd' is not one of"),
        (organisation(rsin="123456789"), "rsin '123456789'"),
        (organisation(extract_date="31-01-2025"), "extract_date '31-01-2025' is not a date"),
        (
            organisation(branches=[{"number": "12345", "name": "Werf", "city": "Havenstad"}]),
            "branches[0]: number '12345'",
        ),
        (
            organisation(
                functionaries=[
                    {"name": "Gerda Wind", "date_of_birth": "1970-06-01", "role": "Bestuurder", "authority": "alone"},
                    {"name": "Kees Water", "date_of_birth": "1972-02-30", "role": "Bestuurder", "authority": "joint"},
                ]
            ),
            "functionaries[1]: date_of_birth '1972-02-30' is not a date",
        ),
        (
            organisation(
                functionaries=[{"name": "Kees", "date_of_birth": "1972-02-03", "role": "Lid", "authority": "sole"}]
            ),
            "functionaries[0]: authority 'sole' is not one of alone, joint, restricted",
        ),
    ],
)
def test_a_wrong_entry_in_a_register_file_is_named(tmp_path: Path, entry: dict[str, Any], reason: str) -> None:
    path = write_register(tmp_path / "register.json", [organisation("11111111"), entry])
    with pytest.raises(ImproperlyConfigured) as caught:
        kvk.FileKvkRegister([path])
    message = str(caught.value)
    assert str(path) in message
    assert "entry organisations[1] (kvk 12345678)" in message
    assert reason in message


def test_a_number_twice_in_one_register_file_is_named(tmp_path: Path) -> None:
    path = write_register(tmp_path / "register.json", [organisation(), organisation()])
    with pytest.raises(ImproperlyConfigured, match=r"organisations\[1\] \(kvk 12345678\).*appears twice"):
        kvk.FileKvkRegister([path])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"organisations": [', "is not valid JSON"),
        ('[{"kvk": "12345678"}]', 'must be an object with a list "organisations"'),
        ('{"organisations": [], "organizations": []}', "unknown top-level field(s): organizations"),
    ],
)
def test_a_register_file_that_is_not_a_register_is_named(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "register.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImproperlyConfigured) as caught:
        kvk.FileKvkRegister([path])
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)


def test_a_missing_register_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"missing\.json cannot be read"):
        kvk.FileKvkRegister([tmp_path / "missing.json"])


# --------------------------------------------------------------------------------------------------------------------
# The KvK API, served by a local HTTP server

API_KEY = "test-key-0123456789"


def basisprofiel(kvk_number: str = BAKERY, **changes: Any) -> dict[str, Any]:
    """A Basisprofiel in the shape HttpKvkRegister reads."""
    profile: dict[str, Any] = {
        "kvkNummer": kvk_number,
        "naam": "Bakkerij De Gouden Korst B.V.",
        "formeleRegistratiedatum": "20150101",
        "_embedded": {
            "eigenaar": {"rsin": "820246633", "rechtsvorm": "BeslotenVennootschap"},
            "hoofdvestiging": {
                "vestigingsnummer": "000045678901",
                "eersteHandelsnaam": "De Gouden Korst Centrum",
                "adressen": [
                    {"type": "correspondentieadres", "plaats": "Postdorp"},
                    {"type": "bezoekadres", "plaats": "Sleutelstad"},
                ],
            },
            "vestigingen": [
                {"vestigingsnummer": "000045678901", "eersteHandelsnaam": "De Gouden Korst Centrum",
                 "plaats": "Sleutelstad"},
                {
                    "vestigingsnummer": "000045678902",
                    "eersteHandelsnaam": "De Gouden Korst Noord",
                    "adressen": [{"type": "bezoekadres", "plaats": "Sleutelstad"}],
                },
            ],
            "functionarissen": [
                {"naam": "Jan de Bakker", "geboortedatum": "1971-03-14", "functie": "Bestuurder",
                 "bevoegdheid": "AlleenZelfstandigBevoegd"},
                {"naam": "Fatima El Amrani", "geboortedatum": "19850902", "functie": "Procuratiehouder",
                 "bevoegdheid": "BeperktBevoegd"},
                {"naam": "Kees Mulder", "geboortedatum": "1962-11-30", "functie": "Bestuurder",
                 "bevoegdheid": "GezamenlijkBevoegd"},
                {"naam": "Stille Vennoot", "geboortedatum": "1950-01-01", "functie": "Commissaris",
                 "bevoegdheid": "NietBevoegd"},
            ],
        },
    }  # fmt: skip
    profile.update(changes)
    return profile


class KvkApi:
    """A local stand-in for api.kvk.nl: answers per path, and remembers every request."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, bytes, float]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests.append((self.path, dict(self.headers)))
                status, body, delay = api.routes.get(self.path, (404, b'{"fout": []}', 0.0))
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up waiting
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/api"

    def answer(self, kvk_number: str, data: Any, *, status: int = 200, delay: float = 0.0, suffix: str = "") -> None:
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.routes[f"/api/v1/basisprofielen/{kvk_number}{suffix}"] = (status, body, delay)

    def register(self, timeout: float = 2.0) -> kvk.HttpKvkRegister:
        return kvk.HttpKvkRegister(self.base_url, API_KEY, timeout)


@pytest.fixture
def api() -> Iterator[KvkApi]:
    server = KvkApi()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_the_api_register_reads_a_basisprofiel(api: KvkApi) -> None:
    api.answer(BAKERY, basisprofiel())
    extract = api.register().lookup(BAKERY)
    assert extract.name == "Bakkerij De Gouden Korst B.V."
    assert extract.rsin == "820246633"
    assert extract.legal_form == LegalForm.BV
    assert extract.extract_date == timezone.localdate()
    assert extract.branches == (
        kvk.KvkBranch("000045678901", "De Gouden Korst Centrum", "Sleutelstad"),
        kvk.KvkBranch("000045678902", "De Gouden Korst Noord", "Sleutelstad"),
    )
    # Every authority maps onto Sleutelbos's; who is not authorized at all is no representative.
    assert [(f.name, f.date_of_birth, f.authority) for f in extract.functionaries] == [
        ("Jan de Bakker", dt.date(1971, 3, 14), Authority.ALONE),
        ("Fatima El Amrani", dt.date(1985, 9, 2), Authority.RESTRICTED),
        ("Kees Mulder", dt.date(1962, 11, 30), Authority.JOINT),
    ]


def test_the_api_key_is_sent_in_the_apikey_header(api: KvkApi) -> None:
    api.answer(BAKERY, basisprofiel())
    api.register().lookup(BAKERY)
    path, headers = api.requests[0]
    assert path == f"/api/v1/basisprofielen/{BAKERY}"
    assert headers.get("Apikey") == API_KEY


def test_branches_come_from_the_vestigingen_endpoint_when_not_embedded(api: KvkApi) -> None:
    profile = basisprofiel(FOUNDATION, naam="Stichting Buurthuis De Linde")
    del profile["_embedded"]["vestigingen"]
    profile["_embedded"]["eigenaar"]["rechtsvorm"] = "Stichting"
    api.answer(FOUNDATION, profile)
    vestigingen = [
        {"vestigingsnummer": "000047890121", "eersteHandelsnaam": "Buurthuis De Linde", "plaats": "Sleutelstad"}
    ]
    api.answer(FOUNDATION, {"kvkNummer": FOUNDATION, "vestigingen": vestigingen}, suffix="/vestigingen")
    extract = api.register().lookup(FOUNDATION)
    assert extract.legal_form == LegalForm.STICHTING
    assert extract.branches == (kvk.KvkBranch("000047890121", "Buurthuis De Linde", "Sleutelstad"),)


def test_without_a_list_of_branches_the_main_branch_is_the_list(api: KvkApi) -> None:
    profile = basisprofiel()
    del profile["_embedded"]["vestigingen"]
    api.answer(BAKERY, profile)
    extract = api.register().lookup(BAKERY)
    # The visiting address gives the city, not the postal address.
    assert extract.branches == (kvk.KvkBranch("000045678901", "De Gouden Korst Centrum", "Sleutelstad"),)
    assert [path for path, _headers in api.requests] == [
        f"/api/v1/basisprofielen/{BAKERY}",
        f"/api/v1/basisprofielen/{BAKERY}/vestigingen",
    ]


def test_the_api_register_says_a_number_is_unknown_on_404(api: KvkApi) -> None:
    with pytest.raises(kvk.KvkNumberUnknown):
        api.register().lookup("12345678")


def test_the_api_register_refuses_a_malformed_number_without_asking(api: KvkApi) -> None:
    with pytest.raises(kvk.KvkNumberMalformed):
        api.register().lookup("1234567")
    assert api.requests == []


def unavailable_message() -> str:
    with translation.override("en"):
        return str(kvk.KvkUnavailable(BAKERY))


@pytest.mark.parametrize(
    "answer",
    [
        {"data": basisprofiel(), "status": 500},
        {"data": basisprofiel(), "status": 503},
        {"data": b"<html>maintenance</html>"},
        {"data": [basisprofiel()]},
        {"data": basisprofiel(kvkNummer="99999999")},
        {"data": basisprofiel(_embedded={"vestigingen": [], "functionarissen": [{"naam": "X", "bevoegdheid": "Nu"}]})},
    ],
    ids=["500", "503", "not-json", "not-an-object", "other-number", "unknown-bevoegdheid"],
)
def test_the_api_register_is_unavailable_when_the_answer_is_no_basisprofiel(
    api: KvkApi, answer: dict[str, Any]
) -> None:
    api.answer(BAKERY, **answer)
    with pytest.raises(kvk.KvkUnavailable) as caught:
        api.register().lookup(BAKERY)
    with translation.override("en"):
        assert str(caught.value) == unavailable_message()
        assert "cannot be reached at the moment" in str(caught.value)


def test_a_refused_api_key_is_logged_for_the_operator_not_shown(api: KvkApi, caplog: pytest.LogCaptureFixture) -> None:
    api.answer(BAKERY, {"fout": [{"code": "IPD0001"}]}, status=401)
    with (
        caplog.at_level(logging.ERROR, logger="sleutelbos.organisations.kvk"),
        pytest.raises(kvk.KvkUnavailable) as caught,
    ):
        api.register().lookup(BAKERY)
    assert "SLEUTELBOS_KVK_API_KEY" in caplog.text
    with translation.override("en"):
        assert "key" not in str(caught.value).lower()


def test_a_slow_api_is_unavailable_after_the_timeout(api: KvkApi) -> None:
    api.answer(BAKERY, basisprofiel(), delay=1.5)
    started = time.monotonic()
    with pytest.raises(kvk.KvkUnavailable):
        api.register(timeout=0.2).lookup(BAKERY)
    assert time.monotonic() - started < 1.2


def test_an_api_that_is_not_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    register = kvk.HttpKvkRegister(f"http://127.0.0.1:{port}/api", API_KEY, 1.0)
    with pytest.raises(kvk.KvkUnavailable):
        register.lookup(BAKERY)


@pytest.mark.parametrize(
    "url", ["http://api.kvk.nl/api", "http://192.0.2.1/api", "ftp://api.kvk.nl/api", "https:///api"]
)
def test_the_api_register_uses_https_except_on_this_machine(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        kvk.HttpKvkRegister(url, API_KEY)


def test_the_api_register_needs_a_key() -> None:
    with pytest.raises(ImproperlyConfigured, match="SLEUTELBOS_KVK_API_KEY"):
        kvk.HttpKvkRegister("https://api.kvk.nl/api", "")


@pytest.mark.parametrize(
    ("rechtsvorm", "legal_form"),
    [
        ("Eenmanszaak", LegalForm.EENMANSZAAK),
        ("Besloten Vennootschap met gewone structuur", LegalForm.BV),
        ("VennootschapOnderFirma", LegalForm.VOF),
        ("Coöperatie", LegalForm.COOPERATIE),
        ("Kerkgenootschap", LegalForm.OTHER),
    ],
)
def test_kvk_legal_forms_map_onto_sleutelbos_legal_forms(rechtsvorm: str, legal_form: LegalForm) -> None:
    assert kvk.legal_form_from_rechtsvorm(rechtsvorm) == legal_form


# --------------------------------------------------------------------------------------------------------------------
# The registry


class StaticRegister(kvk.KvkRegister):
    """A register named by import path in the settings."""

    def lookup(self, kvk_number: str) -> kvk.KvkExtract:
        raise kvk.KvkNumberUnknown(kvk_number)


def test_the_registry_reads_the_shipped_file_by_default(settings) -> None:
    register = kvk.register()
    assert isinstance(register, kvk.FileKvkRegister)
    assert register.paths == (kvk.DEFAULT_FILE,)
    assert kvk.register() is register
    assert kvk.lookup(BAKERY).name == "Bakkerij De Gouden Korst B.V."


def test_the_registry_picks_the_api_from_the_settings(settings, api: KvkApi) -> None:
    settings.SLEUTELBOS_KVK_SOURCE = "http"
    settings.SLEUTELBOS_KVK_API_URL = api.base_url
    settings.SLEUTELBOS_KVK_API_KEY = API_KEY
    settings.SLEUTELBOS_KVK_TIMEOUT = 0.5
    api.answer(BAKERY, basisprofiel(naam="Uit de API"))
    register = kvk.register()
    assert isinstance(register, kvk.HttpKvkRegister)
    assert register.timeout == 0.5
    assert kvk.lookup(BAKERY).name == "Uit de API"
    settings.SLEUTELBOS_KVK_SOURCE = "file"
    assert kvk.lookup(BAKERY).name == "Bakkerij De Gouden Korst B.V."


def test_the_registry_takes_a_class_by_import_path(settings) -> None:
    settings.SLEUTELBOS_KVK_SOURCE = f"{__name__}.StaticRegister"
    assert isinstance(kvk.register(), StaticRegister)
    settings.SLEUTELBOS_KVK_SOURCE = "ftp"
    with pytest.raises(ImproperlyConfigured, match='"file", "http"'):
        kvk.register()


# --------------------------------------------------------------------------------------------------------------------
# The command


def run_kvk(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command("kvk", *args, stdout=out, no_color=True)
    return out.getvalue()


def test_the_command_prints_the_extract() -> None:
    out = run_kvk("lookup", FOUNDATION)
    assert "Stichting Buurthuis De Linde" in out
    assert "811535642" in out
    assert "000047890121  Buurthuis De Linde, Sleutelstad" in out
    assert "Marieke Jansen, born 1958-07-25, Voorzitter: jointly authorized" in out
    assert "Ingrid Postma, born 1966-12-05, Secretaris: restricted authority" in out
    assert str(kvk.DEFAULT_FILE) in out


def test_the_command_says_what_went_wrong() -> None:
    with translation.override("en"), pytest.raises(CommandError, match="no organisation with number 12345678"):
        call_command("kvk", "lookup", "12345678", stdout=io.StringIO())


# --------------------------------------------------------------------------------------------------------------------
# The demo and the register agree


@pytest.mark.django_db
def test_every_demo_organisation_is_in_the_shipped_register_as_the_demo_loads_it(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.delenv(world.PEOPLE_PASSWORD_ENV, raising=False)
    call_command("demo", stdout=io.StringIO())
    organisations = Organisation.objects.prefetch_related("branches", "functionaries")
    assert organisations.count() == len(world.ORGANISATIONS)
    register = kvk.register()
    for loaded in organisations:
        extract = register.lookup(loaded.kvk)
        assert (extract.name, extract.rsin, extract.legal_form) == (loaded.name, loaded.rsin, loaded.legal_form)
        assert {(b.number, b.name, b.city) for b in extract.branches} == {
            (b.number, b.name, b.city) for b in loaded.branches.all()
        }
        assert {(f.name, f.date_of_birth, f.role, f.authority) for f in extract.functionaries} == {
            (f.name, f.date_of_birth, f.role, f.authority) for f in loaded.functionaries.all()
        }
