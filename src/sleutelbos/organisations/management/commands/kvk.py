"""``sleutelbos kvk lookup NUMBER``: what the configured KvK register says about an organisation, for operators."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sleutelbos.organisations import kvk


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse needs a real string, not a lazy one
        return _("Ask the configured KvK register (SLEUTELBOS_KVK_SOURCE) about an organisation.")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        lookup = actions.add_parser("lookup", help=_("Print the extract of one KvK number."))
        lookup.add_argument("number", help=_("The KvK number: 8 digits."))

    def handle(self, *args: Any, **options: Any) -> None:
        register = kvk.register()
        try:
            extract = register.lookup(options["number"])
        except kvk.KvkError as error:
            detail = f" ({error.detail})" if error.detail else ""
            raise CommandError(f"{error}{detail}") from error
        self.print_extract(extract, register.source)

    def print_extract(self, extract: kvk.KvkExtract, source: str) -> None:
        write = self.stdout.write
        write(self.style.SUCCESS(extract.name))
        rows = (
            (_("KvK number"), extract.kvk),
            (_("RSIN"), extract.rsin or _("(none)")),
            (_("Legal form"), str(extract.legal_form.label)),
            (_("Extract date"), extract.extract_date.isoformat()),
            (_("Source"), source),
        )
        width = max(len(label) for label, _value in rows)
        for label, value in rows:
            write(f"  {label:<{width}}  {value}")
        write(_("Branches:") if extract.branches else _("Branches: none"))
        for branch in extract.branches:
            place = f", {branch.city}" if branch.city else ""
            write(f"  {branch.number}  {branch.name}{place}")
        write(_("Functionaries:") if extract.functionaries else _("Functionaries: none"))
        for functionary in extract.functionaries:
            write(
                "  "
                + _("%(name)s, born %(date_of_birth)s, %(role)s: %(authority)s")
                % {
                    "name": functionary.name,
                    "date_of_birth": functionary.date_of_birth.isoformat(),
                    "role": functionary.role,
                    "authority": functionary.authority.label,
                }
            )
