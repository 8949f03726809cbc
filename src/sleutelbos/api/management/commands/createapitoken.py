"""``sleutelbos createapitoken NAME``: issue an API token; the key is printed once, as the last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError
from django.utils.translation import gettext as _

from sleutelbos.api.models import ApiToken


class Command(BaseCommand):
    help = "Issue an API token for an integration; the key is shown once, as the last line of the output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A name for the integration, unique (shown in the audit log as api:NAME).")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        max_length = ApiToken._meta.get_field("name").max_length
        if not name or len(name) > max_length:
            raise CommandError(_("Give a name of 1 to %(max)d characters.") % {"max": max_length})
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(_("A token named “%(name)s” already exists; choose another name.") % {"name": name})
        try:
            _token, key = ApiToken.issue(name)
        except IntegrityError:
            raise CommandError(
                _("A token named “%(name)s” already exists; choose another name.") % {"name": name}
            ) from None
        self.stdout.write(_("Issued API token “%(name)s”. Store the key now; it is not shown again:") % {"name": name})
        self.stdout.write(key)
