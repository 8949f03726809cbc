"""Test steps for signers: ask for the one-time code, read it from the mail that arrived, confirm the identity."""

from __future__ import annotations

import re

from django.core import mail

from sleutelbos.requests.models import Signer
from sleutelbos.requests.services import IssuedLink
from sleutelbos.requests.signing import signer_code_send, signer_identity_confirm

CODE_LINE = re.compile(r"^\s*(\d{6})\s*$", re.MULTILINE)


def mailed_code(email: str) -> str:
    """The code in the latest code mail delivered to ``email`` (Django's test mail outbox)."""
    for message in reversed(mail.outbox):
        if email in message.to:
            found = CODE_LINE.search(message.body)
            if found:
                return found.group(1)
    raise AssertionError(f"no code mail to {email}")


def confirm_identity(link: IssuedLink) -> Signer:
    """The signer of ``link`` asks for a code and confirms who they are with it, as the KvK extract names them."""
    signer_code_send(token=link.token)
    return signer_identity_confirm(
        token=link.token,
        name=link.signer.functionary_name,
        date_of_birth=link.signer.date_of_birth,
        code=mailed_code(link.signer.email),
    )
