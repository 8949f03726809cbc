"""Tests of the one-time code senders and the registry that picks them from settings."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import translation

from sleutelbos.identity.models import CodeChannel
from sleutelbos.identity.senders import (
    CodeSender,
    EmailCodeSender,
    FileSmsSender,
    code_message,
    sender_for,
)
from tests import factories

pytestmark = pytest.mark.django_db


class OutboxSender(CodeSender):
    """A sender that keeps messages in a list, to show that settings choose the class."""

    sent: list[tuple[str, str, str]] = []

    def send(self, person, code: str, purpose: str) -> None:
        self.sent.append((person.email, code, purpose))


def test_email_sender_mails_the_code_to_the_person() -> None:
    person = factories.person(email="anna@example.nl")
    with translation.override("en"):
        EmailCodeSender().send(person, "123456", "login")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["anna@example.nl"]
    assert "123456" in message.subject
    assert "123456" in message.body and "to log in" in message.body and "10 minutes" in message.body


def test_message_names_the_purpose_or_falls_back() -> None:
    with translation.override("en"):
        assert "to sign a request" in code_message("000111", "sign")
        assert "to continue" in code_message("000111", "something_else")


def test_file_sms_sender_appends_one_line_per_message(settings, tmp_path) -> None:
    settings.SLEUTELBOS_SMS_FILE = tmp_path / "new" / "sms.log"
    person = factories.person(email="bram@example.nl")
    at = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)
    with translation.override("en"), time_machine.travel(at, tick=False):
        FileSmsSender().send(person, "111111", "login")
        FileSmsSender().send(person, "222222", "step_up")
    lines = settings.SLEUTELBOS_SMS_FILE.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first = lines[0].split("\t")
    assert dt.datetime.fromisoformat(first[0]) == at
    assert first[1] == "bram@example.nl"
    assert "111111" in first[2]
    assert "222222" in lines[1] and "to confirm it is you" in lines[1]
    assert mail.outbox == []


def test_registry_picks_senders_from_settings(settings) -> None:
    assert isinstance(sender_for(CodeChannel.EMAIL), EmailCodeSender)
    assert isinstance(sender_for("sms"), FileSmsSender)
    settings.SLEUTELBOS_SMS_SENDER = "tests.identity.test_senders.OutboxSender"
    sender = sender_for(CodeChannel.SMS)
    assert isinstance(sender, OutboxSender)
    person = factories.person(email="cor@example.nl")
    sender.send(person, "333333", "login")
    assert OutboxSender.sent[-1] == ("cor@example.nl", "333333", "login")
    with pytest.raises(ValueError):
        sender_for("pigeon")


def test_a_text_message_goes_to_the_mobile_number_on_record(settings, tmp_path) -> None:
    settings.SLEUTELBOS_SMS_FILE = tmp_path / "sms.log"
    person = factories.person(email="sanne@example.nl")
    person.phone_number = "+31612345678"
    person.save(update_fields=["phone_number"])
    FileSmsSender().send(person, "333333", "login")
    number = settings.SLEUTELBOS_SMS_FILE.read_text(encoding="utf-8").split("\t")[1]
    assert number == "+31612345678"
