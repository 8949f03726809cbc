"""Forms of the signing page: who the signer is, the mailed code, the signature itself, or declining with a reason.

Labels, help texts and errors are linked to their fields by Django (``aria-describedby``); the templates put an error
summary above each form.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class IdentityForm(forms.Form):
    """Name and date of birth, as the KvK register lists the representative."""

    name = forms.CharField(
        label=_("Your full name"),
        help_text=_("As the KvK register lists you, for example “Anna Maria de Vries”."),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
        error_messages={"required": _("Give your full name.")},
    )
    date_of_birth = forms.DateField(
        label=_("Your date of birth"),
        help_text=_("Day, month and year, for example 14-03-1971."),
        input_formats=["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Give your date of birth."),
            "invalid": _("Write your date of birth as day-month-year, for example 14-03-1971."),
        },
    )


class CodeForm(IdentityForm):
    """Name, date of birth and the six-digit code from the e-mail."""

    code = forms.CharField(
        label=_("Code from the e-mail"),
        help_text=_("The six digits we sent you by e-mail."),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9 ]*",
                "spellcheck": "false",
                "class": "input--code",
            }
        ),
        error_messages={"required": _("Enter the code from the e-mail.")},
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class SignForm(forms.Form):
    """The signature: an explicit tick that the signer read the request and signs it."""

    agree = forms.BooleanField(
        label=_("I have read the request and sign it"),
        error_messages={"required": _("Tick the box to confirm that you have read the request and sign it.")},
    )


class DeclineForm(forms.Form):
    """Declining to sign, with the reason the applicant will read."""

    reason = forms.CharField(
        label=_("Why do you decline to sign?"),
        help_text=_("The applicant reads your reason."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        error_messages={"required": _("Say why you decline to sign.")},
    )
