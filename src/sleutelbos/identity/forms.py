"""Forms of login, step-up, activation and factor management.

Fields carry the standard autocomplete tokens (``username``, ``current-password``, ``one-time-code``,
``new-password``) so that password managers and phones fill them in; Django links labels, help texts and errors to
the fields (``aria-describedby``), and the templates put an error summary at the top of each form.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import password_validators_help_text_html, validate_password
from django.utils.translation import gettext_lazy as _

from sleutelbos.identity.models import Person


def _code_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        help_text=help_text,
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
    )


def _digits(value: str) -> str:
    return "".join(value.split())


class LoginForm(forms.Form):
    """E-mail address and password: the first step of every login."""

    email = forms.EmailField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class PasswordForm(forms.Form):
    """The password alone, for a person who is known already (a forced fresh login)."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpCodeForm(forms.Form):
    code = _code_field(_("Code from your authenticator app"), _("The six digits your app shows now."))

    def clean_code(self) -> str:
        return _digits(self.cleaned_data["code"])


class EmailCodeForm(forms.Form):
    code = _code_field(_("Code from the e-mail"), _("The six digits we sent you by e-mail."))

    def clean_code(self) -> str:
        return _digits(self.cleaned_data["code"])


class RecoveryCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Recovery code"),
        help_text=_("One of the recovery codes you saved when you set up your account. Each works once."),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )


class WebAuthnResponseForm(forms.Form):
    """The browser's answer to a WebAuthn ceremony, filled in by webauthn.js."""

    response = forms.CharField(widget=forms.HiddenInput, max_length=20_000)


class NewPasswordForm(forms.Form):
    """A new password, twice, checked against the password rules (each broken rule gets its own message)."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: object, person: Person, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.person = person
        self.fields["new_password1"].help_text = password_validators_help_text_html()

    def clean_new_password1(self) -> str:
        password = self.cleaned_data["new_password1"]
        validate_password(password, user=self.person)
        return password

    def clean(self) -> dict:
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("The two passwords are not the same."))
        return cleaned


class PasswordChangeForm(NewPasswordForm):
    """Change the password: the current one first (re-authentication), then the new one twice."""

    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "new_password1", "new_password2"]

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        if not self.person.check_password(password):
            raise forms.ValidationError(_("Your current password is not correct."), code="wrong_password")
        return password


class FactorNameForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("So that you recognise it later, for example “Phone” or “Blue key”."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class TotpConfirmForm(TotpCodeForm):
    code = _code_field(_("Code from your authenticator app"), _("Enter the six digits the app shows, to confirm."))


class WebAuthnRegisterForm(FactorNameForm, WebAuthnResponseForm):
    """A name for the new security key, and the browser's answer to the registration."""
