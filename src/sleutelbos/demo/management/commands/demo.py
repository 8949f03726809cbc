"""``sleutelbos demo``: load (or complete) the demo world and say how to log in, to the back office and as a person."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from sleutelbos.demo import world


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse needs a real string, not a lazy one
        return _(
            "Load the demo world: service providers, organisations, people, mandates and a back-office account. "
            "Safe to run again: what exists is left as it is."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            summary = world.load()
        except ValidationError as error:
            # A password from the environment that breaks the password rules; nothing was loaded.
            raise CommandError(" ".join(error.messages)) from error
        if summary.created:
            self.stdout.write(
                self.style.SUCCESS(_("Demo world loaded (%(count)d new items).") % {"count": summary.created})
            )
        else:
            self.stdout.write(self.style.SUCCESS(_("Demo world already complete; nothing changed.")))
        width = max(len(name) for name in summary.counts)
        for name, count in summary.counts.items():
            self.stdout.write(f"  {name:<{width}}  {count:>5}")
        self.stdout.write(_("Back office: /admin/, log in as %(email)s") % {"email": summary.admin_email})
        if summary.admin_password_from_env:
            self.stdout.write(_("  with the password from %(env)s.") % {"env": world.ADMIN_PASSWORD_ENV})
        elif summary.admin_password:
            self.stdout.write(
                _("  with password %(password)s (shown only this once; set %(env)s to choose it).")
                % {"password": summary.admin_password, "env": world.ADMIN_PASSWORD_ENV}
            )
        else:
            self.stdout.write(_("  with the password set when the account was created (unchanged)."))
        self.people(summary)

    def people(self, summary: world.Summary) -> None:
        """How to log in as a demo person: the shared password, the authenticator app, and a table of who is who."""
        self.stdout.write(_("Demo people: /account/login/, with their e-mail address"))
        if summary.people_password_from_env:
            self.stdout.write(_("  and the password from %(env)s.") % {"env": world.PEOPLE_PASSWORD_ENV})
        elif summary.people_password:
            self.stdout.write(
                _("  and password %(password)s (the same for all; shown only this once; set %(env)s to choose it).")
                % {"password": summary.people_password, "env": world.PEOPLE_PASSWORD_ENV}
            )
        else:
            self.stdout.write(_("  and the password set when they were loaded (unchanged)."))
        if summary.app is not None:
            self.stdout.write(
                _("Authenticator app of %(email)s (shown only this once): secret %(secret)s")
                % {"email": summary.app.email, "secret": summary.app.secret}
            )
            self.stdout.write(f"  {summary.app.provisioning_uri}")
        self.stdout.write(
            _(
                "Codes by e-mail go through the configured mail backend; the development one prints them in the "
                "console of the server."
            )
        )
        headers = (_("e-mail"), _("level"), _("how to log in"))
        rows = [(login.email, login.level.label, str(login.how)) for login in summary.logins]
        widths = [max(len(str(header)), *(len(row[i]) for row in rows)) for i, header in enumerate(headers[:2])]
        self.stdout.write(f"  {headers[0]:<{widths[0]}}  {headers[1]:<{widths[1]}}  {headers[2]}")
        for email, level, how in rows:
            self.stdout.write(f"  {email:<{widths[0]}}  {level:<{widths[1]}}  {how}")
