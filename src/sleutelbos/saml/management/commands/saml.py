"""``sleutelbos saml cleanup``: remove the SAML bookkeeping that no longer needs keeping (run it daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext as _

from sleutelbos.saml.services import saml_cleanup


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse needs a real string, not a lazy one
        return _("Maintenance of the SAML login's stored state.")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{cleanup}")
        actions.add_parser(
            "cleanup",
            help=_(
                "Delete message IDs seen more than 12 months ago and artifacts expired or resolved more than a day ago."
            ),
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        counts = saml_cleanup()
        self.stdout.write(
            self.style.SUCCESS(
                _("SAML clean-up: %(message_ids)d message IDs and %(artifacts)d artifacts deleted.") % counts
            )
        )
