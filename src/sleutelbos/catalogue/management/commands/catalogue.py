"""``sleutelbos catalogue import [--certificate PEM]… FILE`` and ``sleutelbos catalogue export [--unsigned] [FILE]``:
the Dienstencatalogus as XML. An export is signed with the broker's key; an import checks the signature of a signed
file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sleutelbos.audit.services import SYSTEM
from sleutelbos.catalogue.catalogue_io import catalogue_export, catalogue_import
from sleutelbos.saml.protocol.catalogue_xml import CatalogueError

STDIO = "-"


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse needs a real string, not a lazy one
        return _(
            "Import a service provider's catalogue file (Dienstencatalogus, urn:etoegang:1.13:service-catalog) into "
            "the catalogue, or export the whole catalogue as such a file."
        )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,export}")
        importing = actions.add_parser("import", help=_("Create or update providers, services and instances."))
        importing.add_argument("file", help=_("The catalogue file; - reads standard input."))
        importing.add_argument(
            "--certificate",
            action="append",
            default=None,
            metavar="PEM",
            help=_(
                "A certificate (PEM file) a signed file must be signed with; may be given more than once. Without it "
                "the broker's own certificates and those the file's providers registered are trusted."
            ),
        )
        exporting = actions.add_parser("export", help=_("Write the whole catalogue as signed XML."))
        exporting.add_argument("file", nargs="?", default=STDIO, help=_("Where to write; standard output if left out."))
        exporting.add_argument("--unsigned", action="store_true", help=_("Leave the signature out."))

    def handle(self, *args: Any, action: str, file: str, **options: Any) -> None:
        try:
            if action == "import":
                self.import_file(file, options.get("certificate"))
            else:
                self.export_file(file, sign=not options.get("unsigned"))
        except CatalogueError as error:
            lines = [_("The catalogue was refused; nothing changed:")]
            lines += [f"  {problem.describe(_)}" for problem in error.problems]
            raise CommandError("\n".join(lines)) from None
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None

    def import_file(self, file: str, certificate_files: list[str] | None) -> None:
        certificates = None if certificate_files is None else [self.read(path) for path in certificate_files]
        data = sys.stdin.buffer.read() if file == STDIO else self.read(file)
        report = catalogue_import(actor=SYSTEM, data=data, certificates=certificates)
        if report.signature_verified:
            self.stdout.write(_("The signature of the file holds."))
        self.stdout.write(
            self.style.SUCCESS(
                _("Catalogue imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                % {"created": len(report.created), "updated": len(report.updated), "unchanged": report.unchanged}
            )
        )
        for label in report.created:
            self.stdout.write("  + " + label)
        for label in report.updated:
            self.stdout.write("  ~ " + label)

    @staticmethod
    def read(path: str) -> bytes:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise CommandError(_("Cannot read %(file)s: %(error)s") % {"file": path, "error": error}) from None

    def export_file(self, file: str, *, sign: bool) -> None:
        data = catalogue_export(sign=sign)
        if file == STDIO:
            self.stdout.write(data.decode(), ending="")
            return
        try:
            Path(file).write_bytes(data)
        except OSError as error:
            raise CommandError(_("Cannot write %(file)s: %(error)s") % {"file": file, "error": error}) from None
        self.stderr.write(_("Catalogue written to %(file)s.") % {"file": file})
