"""The KvK register (Handelsregister): an organisation, its branches and its functionaries with their authority.

One small interface, :class:`KvkRegister` with ``lookup(kvk_number) -> KvkExtract``, and two implementations of it,
chosen by ``settings.SLEUTELBOS_KVK_SOURCE`` through :func:`register`:

``file`` (:class:`FileKvkRegister`, the default)
    The register kept in JSON files. Sleutelbos ships one with the demo organisations
    (``organisations/fixtures/kvk-register.json``); an operator adds organisations or corrects them with files of
    their own (``SLEUTELBOS_KVK_FILE="shipped.json,ours.json"``: a later file adds organisations and replaces one with
    the same KvK number). The files are checked when they are read; an entry that is wrong stops the register with an
    ``ImproperlyConfigured`` that names the file and the entry. A file that changes is read again at the next lookup.
    The format::

        {
          "description": "optional, free text",
          "organisations": [
            {
              "kvk": "91234567",                  8 digits
              "name": "Bakkerij De Gouden Korst B.V.",
              "rsin": "820246633",                9 digits passing the eleven-test, or "" (a sole proprietorship)
              "legal_form": "bv",                 a value of organisations.models.LegalForm
              "extract_date": "2025-01-31",       optional; without it, the date the file was last changed
              "branches": [{"number": "000045678901", "name": "...", "city": "..."}],
              "functionaries": [
                {"name": "Jan de Bakker", "date_of_birth": "1971-03-14", "role": "Bestuurder", "authority": "alone"}
              ]                                   authority: "alone", "joint" or "restricted"
            }
          ]
        }

``http`` (:class:`HttpKvkRegister`)
    The KvK API (https://developers.kvk.nl), base URL ``SLEUTELBOS_KVK_API_URL`` (``https://api.kvk.nl/api``, or
    ``https://api.kvk.nl/test/api`` for KvK's test environment), key ``SLEUTELBOS_KVK_API_KEY`` sent in the ``apikey``
    header. One lookup is ``GET {base}/v1/basisprofielen/{kvkNummer}`` (the Basisprofiel API), which answers::

        {
          "kvkNummer": "91234567",
          "naam": "Bakkerij De Gouden Korst B.V.",          (or "statutaireNaam")
          "_embedded": {
            "eigenaar": {"rsin": "820246633", "rechtsvorm": "BeslotenVennootschap"},
            "hoofdvestiging": {"vestigingsnummer": "000045678901", "eersteHandelsnaam": "...",
                               "adressen": [{"type": "bezoekadres", "plaats": "Sleutelstad"}]},
            "vestigingen": [ ...as in GET {base}/v1/basisprofielen/{kvkNummer}/vestigingen... ],
            "functionarissen": [
              {"naam": "Jan de Bakker", "geboortedatum": "1971-03-14", "functie": "Bestuurder",
               "bevoegdheid": "AlleenZelfstandigBevoegd"}
            ]
          }
        }

    The branches are ``_embedded.vestigingen`` when the answer embeds them; otherwise they come from KvK's own
    endpoint ``GET {base}/v1/basisprofielen/{kvkNummer}/vestigingen`` (``{"vestigingen": [{"vestigingsnummer",
    "eersteHandelsnaam", "adressen" or "plaats"}]}``). The public Basisprofiel carries no functionaries: KvK sells
    them as the extract (*uittreksel*) with its authorities (*bevoegdheden*). Sleutelbos reads them from
    ``_embedded.functionarissen`` in KvK's naming: ``naam``, ``geboortedatum`` (``YYYY-MM-DD`` or ``YYYYMMDD``),
    ``functie`` and ``bevoegdheid``: ``AlleenZelfstandigBevoegd`` or ``OnbeperktBevoegd`` (alone),
    ``GezamenlijkBevoegd`` (joint), ``BeperktBevoegd`` (restricted), or KvK's codes ``azb``, ``ob``, ``gb``, ``bb``. A
    functionary who is ``NietBevoegd`` (``nb``) cannot represent the organisation and is left out. Without
    ``functionarissen`` an extract has no functionaries. The extract date is the day of the lookup.

    Only HTTPS is used, except to 127.0.0.1/localhost (a register on the same machine, and the tests). A 404 means the
    number is unknown; no answer in time, a refused connection, a 5xx, a refused key (401/403, logged for the
    operator) or an answer that is not the JSON above make the register unavailable.

Every failure is a :class:`KvkError` whose ``str()`` is a message for the person who typed the number, in the active
language: :class:`KvkNumberMalformed`, :class:`KvkNumberUnknown`, :class:`KvkUnavailable`.
"""

from __future__ import annotations

import abc
import datetime as dt
import http.client
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from sleutelbos.organisations.identifiers import validate_branch_number, validate_kvk, validate_rsin
from sleutelbos.organisations.models import Authority, LegalForm

logger = logging.getLogger(__name__)

#: The register file shipped with the demo data.
DEFAULT_FILE = Path(__file__).resolve().parent / "fixtures" / "kvk-register.json"
#: The largest answer the KvK API may give; a bigger one is not a Basisprofiel.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: Hosts the HTTP register may reach without TLS: the same machine only.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --------------------------------------------------------------------------------------------------------------------
# What a lookup returns


@dataclass(frozen=True)
class KvkBranch:
    """A branch (vestiging) as the register lists it."""

    number: str
    name: str
    city: str


@dataclass(frozen=True)
class KvkFunctionary:
    """A person the register lists for the organisation, with how they may act for it."""

    name: str
    date_of_birth: dt.date
    role: str
    authority: Authority


@dataclass(frozen=True)
class KvkExtract:
    """What the register says about one organisation, on ``extract_date``."""

    kvk: str
    name: str
    rsin: str
    legal_form: LegalForm
    branches: tuple[KvkBranch, ...]
    functionaries: tuple[KvkFunctionary, ...]
    extract_date: dt.date


# --------------------------------------------------------------------------------------------------------------------
# Errors


class KvkError(Exception):
    """A lookup that gave no extract; ``str()`` is the message for the person who asked, in the active language."""

    message: Promise = _("The KvK register gave no answer for number %(number)s.")

    def __init__(self, kvk_number: str, detail: str = "") -> None:
        super().__init__(kvk_number, detail)
        self.kvk_number = kvk_number
        #: What went wrong, for the log; never shown to the person.
        self.detail = detail

    def __str__(self) -> str:
        return str(self.message) % {"number": self.kvk_number}


class KvkNumberMalformed(KvkError):
    message = _("“%(number)s” is not a KvK number: a KvK number is exactly 8 digits. Check the number and try again.")

    def __str__(self) -> str:
        # Whatever was typed is repeated, but a long paste is cut short.
        shown = self.kvk_number if len(self.kvk_number) <= 20 else self.kvk_number[:20] + "…"
        return str(self.message) % {"number": shown}


class KvkNumberUnknown(KvkError):
    message = _(
        "The KvK register has no organisation with number %(number)s. Check the number on your KvK extract and try "
        "again."
    )


class KvkUnavailable(KvkError):
    message = _(
        "The KvK register cannot be reached at the moment, so number %(number)s could not be checked. Try again in a "
        "few minutes."
    )


def check_number(kvk_number: str) -> None:
    """Refuse anything that is not a KvK number before asking a register."""
    try:
        validate_kvk(kvk_number)
    except ValidationError:
        raise KvkNumberMalformed(kvk_number) from None


# --------------------------------------------------------------------------------------------------------------------
# The interface


class KvkRegister(abc.ABC):
    """A source of KvK extracts."""

    @abc.abstractmethod
    def lookup(self, kvk_number: str) -> KvkExtract:
        """The extract of the organisation with ``kvk_number``; raises a :class:`KvkError` subclass otherwise."""

    @property
    def source(self) -> str:
        """Where the extracts come from, for operators."""
        return type(self).__name__


# --------------------------------------------------------------------------------------------------------------------
# The file register


class _EntryError(ValueError):
    """One thing wrong in one entry of a register file."""


def _field(entry: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    if name not in entry:
        if required:
            raise _EntryError(f"the field {name!r} is missing")
        return ""
    value = entry[name]
    if not isinstance(value, str):
        raise _EntryError(f"{name!r} must be a string, not {value!r}")
    return value


def _only_fields(entry: Any, allowed: Iterable[str], where: str) -> Mapping[str, Any]:
    if not isinstance(entry, dict):
        raise _EntryError(f"{where} must be an object, not {entry!r}")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise _EntryError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}")
    return entry


def _iso_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _EntryError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _validated(validator: Any, value: str, name: str) -> str:
    try:
        validator(value)
    except ValidationError as error:
        raise _EntryError(f"{name} {value!r}: {' '.join(str(message) for message in error.messages)}") from None
    return value


_ORGANISATION_FIELDS = ("kvk", "name", "rsin", "legal_form", "extract_date", "branches", "functionaries")
_BRANCH_FIELDS = ("number", "name", "city")
_FUNCTIONARY_FIELDS = ("name", "date_of_birth", "role", "authority")


def _list(entry: Mapping[str, Any], name: str) -> list[Any]:
    value = entry.get(name, [])
    if not isinstance(value, list):
        raise _EntryError(f"{name!r} must be a list")
    return value


def _extract_from_entry(entry: Any, file_date: dt.date) -> KvkExtract:
    """One organisation of a register file, checked field by field."""
    entry = _only_fields(entry, _ORGANISATION_FIELDS, "the organisation")
    kvk = _validated(validate_kvk, _field(entry, "kvk"), "kvk")
    name = _field(entry, "name").strip()
    if not name:
        raise _EntryError("'name' is empty")
    rsin = _field(entry, "rsin", required=False)
    if rsin:
        _validated(validate_rsin, rsin, "rsin")
    legal_form = _field(entry, "legal_form")
    if legal_form not in LegalForm.values:
        raise _EntryError(f"legal_form {legal_form!r} is not one of {', '.join(LegalForm.values)}")
    extract_date = file_date
    if "extract_date" in entry:
        extract_date = _iso_date(_field(entry, "extract_date"), "extract_date")
    branches = []
    for index, item in enumerate(_list(entry, "branches")):
        where = f"branches[{index}]"
        try:
            item = _only_fields(item, _BRANCH_FIELDS, where)
            branches.append(
                KvkBranch(
                    number=_validated(validate_branch_number, _field(item, "number"), "number"),
                    name=_field(item, "name"),
                    city=_field(item, "city", required=False),
                )
            )
        except _EntryError as error:
            raise _EntryError(f"{where}: {error}") from None
    functionaries = []
    for index, item in enumerate(_list(entry, "functionaries")):
        where = f"functionaries[{index}]"
        try:
            item = _only_fields(item, _FUNCTIONARY_FIELDS, where)
            authority = _field(item, "authority")
            if authority not in Authority.values:
                raise _EntryError(f"authority {authority!r} is not one of {', '.join(Authority.values)}")
            functionaries.append(
                KvkFunctionary(
                    name=_field(item, "name"),
                    date_of_birth=_iso_date(_field(item, "date_of_birth"), "date_of_birth"),
                    role=_field(item, "role"),
                    authority=Authority(authority),
                )
            )
        except _EntryError as error:
            raise _EntryError(f"{where}: {error}") from None
    return KvkExtract(
        kvk=kvk,
        name=name,
        rsin=rsin,
        legal_form=LegalForm(legal_form),
        branches=tuple(branches),
        functionaries=tuple(functionaries),
        extract_date=extract_date,
    )


def read_register_file(path: Path) -> dict[str, KvkExtract]:
    """The organisations of one register file by KvK number; ``ImproperlyConfigured`` names what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
        file_date = dt.date.fromtimestamp(path.stat().st_mtime)
    except OSError as error:
        raise ImproperlyConfigured(f"KvK register file {path} cannot be read: {error.strerror or error}") from error
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"KvK register file {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("organisations"), list):
        raise ImproperlyConfigured(f'KvK register file {path} must be an object with a list "organisations".')
    unknown = sorted(set(data) - {"description", "organisations"})
    if unknown:
        raise ImproperlyConfigured(f"KvK register file {path} has unknown top-level field(s): {', '.join(unknown)}.")
    extracts: dict[str, KvkExtract] = {}
    for index, entry in enumerate(data["organisations"]):
        label = f"organisations[{index}]"
        if isinstance(entry, dict) and isinstance(entry.get("kvk"), str):
            label += f" (kvk {entry['kvk']})"
        try:
            extract = _extract_from_entry(entry, file_date)
        except _EntryError as error:
            raise ImproperlyConfigured(f"KvK register file {path}, entry {label}: {error}.") from None
        if extract.kvk in extracts:
            raise ImproperlyConfigured(
                f"KvK register file {path}, entry {label}: KvK number {extract.kvk} appears twice in this file."
            )
        extracts[extract.kvk] = extract
    return extracts


class FileKvkRegister(KvkRegister):
    """The register kept in one or more JSON files; a later file adds organisations and replaces earlier ones."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.paths = tuple(Path(path) for path in paths)
        if not self.paths:
            raise ImproperlyConfigured("The KvK register needs at least one register file.")
        self._lock = threading.Lock()
        self._stamps: tuple[int, ...] | None = None
        self._extracts: dict[str, KvkExtract] = {}
        self._refresh()

    @property
    def source(self) -> str:
        return "file: " + ", ".join(str(path) for path in self.paths)

    def _current_stamps(self) -> tuple[int, ...]:
        stamps = []
        for path in self.paths:
            try:
                stamps.append(path.stat().st_mtime_ns)
            except OSError as error:
                raise ImproperlyConfigured(
                    f"KvK register file {path} cannot be read: {error.strerror or error}"
                ) from error
        return tuple(stamps)

    def _refresh(self) -> None:
        """Read the files again when one of them changed since they were last read."""
        stamps = self._current_stamps()
        if stamps == self._stamps:
            return
        with self._lock:
            if stamps == self._stamps:
                return
            extracts: dict[str, KvkExtract] = {}
            for path in self.paths:
                extracts.update(read_register_file(path))
            self._extracts, self._stamps = extracts, stamps

    def lookup(self, kvk_number: str) -> KvkExtract:
        check_number(kvk_number)
        self._refresh()
        try:
            return self._extracts[kvk_number]
        except KeyError:
            raise KvkNumberUnknown(kvk_number) from None

    def all(self) -> list[KvkExtract]:
        """Every organisation in the register, by KvK number."""
        self._refresh()
        return [self._extracts[kvk] for kvk in sorted(self._extracts)]


# --------------------------------------------------------------------------------------------------------------------
# The KvK API

#: KvK's authorities (*bevoegdheden*), by name without spaces or case, and by their codes.
BEVOEGDHEDEN: dict[str, Authority | None] = {
    "alleenzelfstandigbevoegd": Authority.ALONE,
    "zelfstandigbevoegd": Authority.ALONE,
    "onbeperktbevoegd": Authority.ALONE,
    "azb": Authority.ALONE,
    "ob": Authority.ALONE,
    "gezamenlijkbevoegd": Authority.JOINT,
    "gb": Authority.JOINT,
    "beperktbevoegd": Authority.RESTRICTED,
    "bb": Authority.RESTRICTED,
    # Not authorized: listed in the register, but no representative.
    "nietbevoegd": None,
    "nb": None,
}

#: KvK's legal forms (*rechtsvormen*), by name without spaces or case.
RECHTSVORMEN: dict[str, LegalForm] = {
    "eenmanszaak": LegalForm.EENMANSZAAK,
    "vennootschaponderfirma": LegalForm.VOF,
    "vof": LegalForm.VOF,
    "maatschap": LegalForm.MAATSCHAP,
    "beslotenvennootschap": LegalForm.BV,
    "bv": LegalForm.BV,
    "naamlozevennootschap": LegalForm.NV,
    "nv": LegalForm.NV,
    "stichting": LegalForm.STICHTING,
    "vereniging": LegalForm.VERENIGING,
    "cooperatie": LegalForm.COOPERATIE,
    "coöperatie": LegalForm.COOPERATIE,
    "publiekrechtelijkerechtspersoon": LegalForm.PUBLIEKRECHTELIJK,
}


def _key(value: str) -> str:
    return "".join(value.split()).lower()


def legal_form_from_rechtsvorm(rechtsvorm: str) -> LegalForm:
    """The legal form of KvK's ``rechtsvorm`` (``BeslotenVennootschap``, ``Eenmanszaak``, ...); OTHER if unknown."""
    key = _key(rechtsvorm)
    if key in RECHTSVORMEN:
        return RECHTSVORMEN[key]
    # KvK qualifies forms ("Besloten Vennootschap met gewone structuur"); the longest known prefix decides.
    for name in sorted(RECHTSVORMEN, key=len, reverse=True):
        if len(name) > 3 and key.startswith(name):
            return RECHTSVORMEN[name]
    return LegalForm.OTHER


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The API key must not follow a redirect to another host; a redirect is an answer Sleutelbos does not expect."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _BadAnswer(ValueError):
    """The KvK API answered something that is not the shape in the module docstring."""


def _str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadAnswer(f"{name} is not a string")
    return value


def _dict(data: Any, name: str) -> Mapping[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise _BadAnswer(f"{name} is not an object")
    return value


def _kvk_date(value: str) -> dt.date:
    try:
        if len(value) == 8 and value.isdigit():
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _BadAnswer(f"{value!r} is not a date") from None


def _city(vestiging: Mapping[str, Any]) -> str:
    if plaats := _str(vestiging, "plaats"):
        return plaats
    adressen = vestiging.get("adressen") or []
    if not isinstance(adressen, list):
        raise _BadAnswer("adressen is not a list")
    # The visiting address says where the branch is; a postal address is the fallback.
    for adres in sorted((a for a in adressen if isinstance(a, dict)), key=lambda a: a.get("type") != "bezoekadres"):
        if plaats := _str(adres, "plaats"):
            return plaats
    return ""


def _branch(vestiging: Any) -> KvkBranch:
    if not isinstance(vestiging, dict):
        raise _BadAnswer("a vestiging is not an object")
    number = _str(vestiging, "vestigingsnummer")
    try:
        validate_branch_number(number)
    except ValidationError:
        raise _BadAnswer(f"vestigingsnummer {number!r}") from None
    name = _str(vestiging, "eersteHandelsnaam") or _str(vestiging, "handelsnaam") or _str(vestiging, "naam")
    return KvkBranch(number=number, name=name, city=_city(vestiging))


def _functionary(functionaris: Any) -> KvkFunctionary | None:
    if not isinstance(functionaris, dict):
        raise _BadAnswer("a functionaris is not an object")
    bevoegdheid = _str(functionaris, "bevoegdheid")
    if _key(bevoegdheid) not in BEVOEGDHEDEN:
        raise _BadAnswer(f"bevoegdheid {bevoegdheid!r} is unknown")
    authority = BEVOEGDHEDEN[_key(bevoegdheid)]
    if authority is None:
        return None
    name = _str(functionaris, "naam")
    if not name:
        raise _BadAnswer("a functionaris has no naam")
    return KvkFunctionary(
        name=name,
        date_of_birth=_kvk_date(_str(functionaris, "geboortedatum")),
        role=_str(functionaris, "functie"),
        authority=authority,
    )


class HttpKvkRegister(KvkRegister):
    """The KvK API (Basisprofiel), in the shape the module docstring describes."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)):
            raise ImproperlyConfigured(
                f"The KvK API URL must use HTTPS (plain HTTP only to 127.0.0.1/localhost), not {base_url!r}."
            )
        if not parts.hostname:
            raise ImproperlyConfigured(f"The KvK API URL {base_url!r} names no host.")
        if not api_key:
            raise ImproperlyConfigured("The KvK API needs a key: set SLEUTELBOS_KVK_API_KEY.")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())

    @property
    def source(self) -> str:
        return f"KvK API at {self.base_url}"

    def _get(self, kvk_number: str, suffix: str = "") -> Mapping[str, Any]:
        url = f"{self.base_url}/v1/basisprofielen/{kvk_number}{suffix}"
        # The scheme was checked when the register was made: HTTPS, or HTTP to this machine only.
        request = urllib.request.Request(url, headers={"apikey": self.api_key, "Accept": "application/json"})  # noqa: S310
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
            if status == 404:
                raise KvkNumberUnknown(kvk_number, f"HTTP 404 from {url}") from None
            if status in (401, 403):
                logger.error(
                    "The KvK API refused the API key (HTTP %s from %s): check SLEUTELBOS_KVK_API_KEY and the "
                    "subscription of this key.",
                    status,
                    url,
                )
            else:
                logger.warning("The KvK API answered HTTP %s for %s.", status, url)
            raise KvkUnavailable(kvk_number, f"HTTP {status} from {url}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            logger.warning("The KvK API at %s cannot be reached: %s", url, reason)
            raise KvkUnavailable(kvk_number, f"{url}: {reason}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            logger.warning("The KvK API answered more than %d bytes for %s.", MAX_RESPONSE_BYTES, url)
            raise KvkUnavailable(kvk_number, f"answer too large from {url}")
        try:
            data = json.loads(body)
        except ValueError:
            logger.warning("The KvK API answered something that is not JSON for %s.", url)
            raise KvkUnavailable(kvk_number, f"no JSON from {url}") from None
        if not isinstance(data, dict):
            logger.warning("The KvK API answered JSON that is not an object for %s.", url)
            raise KvkUnavailable(kvk_number, f"unexpected JSON from {url}")
        return data

    def lookup(self, kvk_number: str) -> KvkExtract:
        check_number(kvk_number)
        profile = self._get(kvk_number)
        try:
            return self._extract(kvk_number, profile)
        except _BadAnswer as error:
            logger.warning("The KvK API's answer for %s is not a Basisprofiel Sleutelbos reads: %s", kvk_number, error)
            raise KvkUnavailable(kvk_number, f"unexpected answer: {error}") from None

    def _extract(self, kvk_number: str, profile: Mapping[str, Any]) -> KvkExtract:
        if _str(profile, "kvkNummer") != kvk_number:
            raise _BadAnswer(f"kvkNummer {profile.get('kvkNummer')!r} is not the number asked for")
        embedded = _dict(profile, "_embedded")
        eigenaar = _dict(embedded, "eigenaar")
        hoofdvestiging = _dict(embedded, "hoofdvestiging")
        name = _str(profile, "naam") or _str(profile, "statutaireNaam")
        if not name:
            raise _BadAnswer("no naam")
        rsin = _str(eigenaar, "rsin") or _str(hoofdvestiging, "rsin")
        if "vestigingen" in embedded:
            vestigingen = embedded["vestigingen"]
        else:
            try:
                vestigingen = self._get(kvk_number, "/vestigingen").get("vestigingen", [])
            except KvkNumberUnknown:
                # The organisation exists (its profile just answered); without a list, its main branch is the list.
                vestigingen = []
        if not isinstance(vestigingen, list):
            raise _BadAnswer("vestigingen is not a list")
        if not vestigingen and hoofdvestiging:
            vestigingen = [hoofdvestiging]
        functionarissen = embedded.get("functionarissen") or []
        if not isinstance(functionarissen, list):
            raise _BadAnswer("functionarissen is not a list")
        functionaries = (_functionary(item) for item in functionarissen)
        return KvkExtract(
            kvk=kvk_number,
            name=name,
            rsin=rsin,
            legal_form=legal_form_from_rechtsvorm(_str(eigenaar, "rechtsvorm")),
            branches=tuple(_branch(item) for item in vestigingen),
            functionaries=tuple(functionary for functionary in functionaries if functionary is not None),
            extract_date=timezone.localdate(),
        )


# --------------------------------------------------------------------------------------------------------------------
# The registry

_registers: dict[tuple[Any, ...], KvkRegister] = {}
_registers_lock = threading.Lock()


def file_paths(value: str | Path | Sequence[str | Path]) -> tuple[Path, ...]:
    """The register files a setting names: one path, "path1,path2", or a list of paths."""
    if isinstance(value, Path):
        return (value,)
    items = value.split(",") if isinstance(value, str) else value
    return tuple(Path(str(item).strip()) for item in items if str(item).strip())


def register() -> KvkRegister:
    """The KvK register the settings choose: ``SLEUTELBOS_KVK_SOURCE`` "file", "http" or an import path of a class.

    A class named by import path is constructed without arguments. One register serves every lookup while the
    settings stay the same.
    """
    source = getattr(settings, "SLEUTELBOS_KVK_SOURCE", "file") or "file"
    files = file_paths(getattr(settings, "SLEUTELBOS_KVK_FILE", DEFAULT_FILE) or DEFAULT_FILE)
    url = getattr(settings, "SLEUTELBOS_KVK_API_URL", "")
    api_key = getattr(settings, "SLEUTELBOS_KVK_API_KEY", "")
    timeout = float(getattr(settings, "SLEUTELBOS_KVK_TIMEOUT", 5.0))
    key = (source, files, url, api_key, timeout)
    with _registers_lock:
        if key not in _registers:
            if source == "file":
                _registers[key] = FileKvkRegister(files)
            elif source == "http":
                _registers[key] = HttpKvkRegister(url, api_key, timeout)
            else:
                try:
                    register_class = import_string(source)
                except ImportError as error:
                    raise ImproperlyConfigured(
                        f'SLEUTELBOS_KVK_SOURCE must be "file", "http" or the import path of a KvkRegister class, '
                        f"not {source!r}."
                    ) from error
                _registers[key] = register_class()
        return _registers[key]


def lookup(kvk_number: str) -> KvkExtract:
    """The extract of ``kvk_number`` from the register the settings choose."""
    return register().lookup(kvk_number)
