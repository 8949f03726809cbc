"""Forms of the manager's people pages: invite one person, invite many from a CSV file, find inactive people."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sleutelbos.organisations.models import Organisation
from sleutelbos.organisations.services import Invitee, invitation_check

#: A CSV file of invitations is small: a few hundred people at most, each line short.
CSV_MAX_BYTES = 100_000
CSV_MAX_ROWS = 500
EMAIL_HEADINGS = {"email", "e-mail", "emailadres", "e-mailadres", "e-mail address", "email address", "mail"}
NAME_HEADINGS = {"name", "naam", "full name", "volledige naam"}
#: A person read from the file: the row a spreadsheet shows them on, their e-mail address and name.
CsvLine = tuple[int, str, str]
#: The periods after which a person without a login counts as inactive, in months.
INACTIVE_MONTHS = (3, 6, 12, 24)


def _language_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=gettext_lazy("Language of the invitation mail"),
        choices=settings.LANGUAGES,
        initial=settings.LANGUAGE_CODE,
        widget=forms.RadioSelect,
    )


class InviteForm(forms.Form):
    """One person, by e-mail address; their name when they have no Sleutelbos account yet."""

    email = forms.CharField(
        label=gettext_lazy("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=200,
        required=False,
        help_text=gettext_lazy("Needed when the person has no Sleutelbos account yet; otherwise their own is used."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    language = _language_field()

    def __init__(self, *args: object, organisation: Organisation, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.organisation = organisation

    def clean(self) -> dict:
        data = super().clean()
        if "email" in data:
            try:
                self.invitee = invitation_check(
                    organisation=self.organisation, email=data["email"], name=data.get("name", "")
                )
            except ValidationError as error:
                self.add_error(None, error)
        return data


class CsvInviteForm(forms.Form):
    """A CSV file with an e-mail address and a name per line."""

    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "One person per line: e-mail address, then name, separated by a semicolon or a comma. A first line with "
            "the headings “e-mail” and “name” may be there. At most 500 people."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    language = _language_field()

    def clean_file(self) -> list[CsvLine]:
        upload = self.cleaned_data["file"]
        if upload.size > CSV_MAX_BYTES:
            raise ValidationError(_("The file is larger than 100 kB; split it into smaller files."), code="too_large")
        return read_csv(upload.read())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(_("The file is not text; save it as “CSV UTF-8”."), code="not_text")


def read_csv(data: bytes) -> list[CsvLine]:
    """The ``(row, email, name)`` people of a CSV file, by its headings when it has them; empty lines left out.

    ``row`` is the number a spreadsheet shows for the line, counting the heading and any empty lines, so a problem in
    the preview can be found in the file. The delimiter is what the first line uses most: Dutch spreadsheets write
    semicolons, others commas.
    """
    text = _decode(data)
    if "\x00" in text:
        raise ValidationError(_("The file is not text; save it as “CSV UTF-8”."), code="not_text")
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    try:
        records = enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
        lines = [(number, [cell.strip() for cell in row]) for number, row in records]
    except csv.Error:
        raise ValidationError(_("The file is not a CSV file."), code="not_csv") from None
    lines = [(number, row) for number, row in lines if any(row)]
    if not lines:
        raise ValidationError(_("The file holds nobody to invite."), code="empty")
    email_at, name_at = 0, 1
    headings = [cell.lower() for cell in lines[0][1]]
    if any(heading in EMAIL_HEADINGS for heading in headings):
        email_at = next(i for i, heading in enumerate(headings) if heading in EMAIL_HEADINGS)
        name_at = next((i for i, heading in enumerate(headings) if heading in NAME_HEADINGS), -1)
        lines = lines[1:]
    if len(lines) > CSV_MAX_ROWS:
        raise ValidationError(
            _("The file lists %(count)d people; invite at most 500 at once.") % {"count": len(lines)}, code="too_many"
        )
    if not lines:
        raise ValidationError(_("The file holds nobody to invite."), code="empty")

    def cell(row: list[str], at: int) -> str:
        return row[at] if 0 <= at < len(row) else ""

    return [(number, cell(row, email_at), cell(row, name_at)) for number, row in lines]


@dataclass(frozen=True)
class CsvRow:
    """One line of the preview: its row in the file, what was read, and either who will be invited or what is wrong."""

    number: int
    email: str
    name: str
    invitee: Invitee | None
    error: str

    @property
    def ok(self) -> bool:
        return self.invitee is not None


def check_rows(organisation: Organisation, rows: Iterable[CsvLine]) -> list[CsvRow]:
    """Check every row as the invitation would be, and a second row for the same address; writes nothing."""
    checked = []
    seen: dict[str, int] = {}
    for number, email, name in rows:
        key = email.strip().lower()
        if key and key in seen:
            error = _("The same e-mail address as row %(row)d.") % {"row": seen[key]}
            checked.append(CsvRow(number, email, name, None, error))
            continue
        if key:
            seen[key] = number
        try:
            invitee = invitation_check(organisation=organisation, email=email, name=name)
        except ValidationError as problem:
            checked.append(CsvRow(number, email, name, None, " ".join(problem.messages)))
        else:
            checked.append(CsvRow(number, email, name, invitee, ""))
    return checked


class InactiveForm(forms.Form):
    """After how many months without a login a person counts as inactive (a GET form)."""

    months = forms.TypedChoiceField(
        label=gettext_lazy("No login for at least"),
        coerce=int,
        choices=[],
        initial=12,
        required=False,
        empty_value=12,
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["months"].choices = [
            (months, _("%(months)d months") % {"months": months}) for months in INACTIVE_MONTHS
        ]

    def chosen_months(self) -> int:
        """The chosen period; 12 months when none (or nonsense) was asked for."""
        if not self.is_valid():
            return 12
        return self.cleaned_data.get("months") or 12
