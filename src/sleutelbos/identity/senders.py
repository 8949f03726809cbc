"""Delivering one-time codes: a small interface with one implementation per channel, chosen in settings.

E-mail goes through Django's mail (``EMAIL_BACKEND`` picks SMTP, the console, ...). Text messages go through the
class named by ``settings.SLEUTELBOS_SMS_SENDER``; :class:`FileSmsSender`, the development default, appends each
message to ``settings.SLEUTELBOS_SMS_FILE`` so that a developer can read the code there. A gateway for production
implements the same ``send`` and is named in that setting.

Messages are written in the language active when ``send`` is called; ``one_time_code_send`` activates the language
of the request that asked for the code.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sleutelbos.identity.models import CodeChannel

if TYPE_CHECKING:
    from sleutelbos.identity.models import Person

#: What the code is for, as the message names it; an unknown purpose gets a general sentence.
PURPOSES = {
    "login": gettext_lazy("to log in"),
    "step_up": gettext_lazy("to confirm it is you"),
    "activation": gettext_lazy("to activate your account"),
    "sign": gettext_lazy("to sign a request"),
}


def code_message(code: str, purpose: str) -> str:
    """The text of a message carrying a code, in the active language."""
    return _(
        "Your Sleutelbos code %(purpose)s is %(code)s. It is valid for 10 minutes and works once. Never give this "
        "code to anyone; Sleutelbos staff will never ask for it."
    ) % {"purpose": PURPOSES.get(purpose, gettext_lazy("to continue")), "code": code}


class CodeSender(abc.ABC):
    """Delivers a one-time code to a person."""

    @abc.abstractmethod
    def send(self, person: Person, code: str, purpose: str) -> None:
        """Deliver ``code`` to ``person``; raise on failure."""


class EmailCodeSender(CodeSender):
    """Sends the code by e-mail to the person's address."""

    def send(self, person: Person, code: str, purpose: str) -> None:
        send_mail(
            subject=_("Your Sleutelbos code: %(code)s") % {"code": code},
            message=code_message(code, purpose),
            from_email=None,
            recipient_list=[person.email],
        )


def phone_number(person: Person) -> str:
    """The number a text message goes to; without a mobile number on record, the e-mail address stands in."""
    return person.phone_number or person.email


class FileSmsSender(CodeSender):
    """Development SMS gateway: appends "time<TAB>number<TAB>message" to ``settings.SLEUTELBOS_SMS_FILE``."""

    def send(self, person: Person, code: str, purpose: str) -> None:
        path = Path(settings.SLEUTELBOS_SMS_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        message = code_message(code, purpose).replace("\n", " ")
        with path.open("a", encoding="utf-8") as file:
            file.write(f"{timezone.now().isoformat()}\t{phone_number(person)}\t{message}\n")


#: Which setting names the sender of each channel, and its default.
SENDER_SETTINGS: dict[str, tuple[str, str]] = {
    CodeChannel.EMAIL: ("SLEUTELBOS_EMAIL_SENDER", "sleutelbos.identity.senders.EmailCodeSender"),
    CodeChannel.SMS: ("SLEUTELBOS_SMS_SENDER", "sleutelbos.identity.senders.FileSmsSender"),
}


def sender_for(channel: CodeChannel | str) -> CodeSender:
    """The sender configured for a channel."""
    setting, default = SENDER_SETTINGS[CodeChannel(channel)]
    sender_class = import_string(getattr(settings, setting, default))
    return sender_class()
