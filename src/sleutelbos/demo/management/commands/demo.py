"""``sleutelbos demo``: load (or complete) the demo world and say how to log in to the back office."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
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
        summary = world.load()
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
