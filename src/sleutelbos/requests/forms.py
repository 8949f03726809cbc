"""Forms of the request wizard: the organisation, the mandates, the manager role and the representatives who sign.

Every error names what to do next. The forms check what a person can correct on the page; the request services check
the request as a whole again when it is submitted (``services.request_submit``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from sleutelbos.catalogue.levels import Level
from sleutelbos.catalogue.models import ServiceDefinition, ServiceProvider
from sleutelbos.mandates.models import ScopeKind
from sleutelbos.mandates.services import branch_not_accepted
from sleutelbos.organisations.models import Organisation
from sleutelbos.requests.models import Years
from sleutelbos.requests.signatures import Representative, SignaturesNotOnline, signatures_required

#: The value of the organisation choice that means "another organisation, by KvK number".
OTHER = "other"
#: The kinds of request the first step offers a person with an account.
MANDATES = "mandates"
CHAIN = "chain"


def digits(value: str) -> str:
    """A number as typed, without the spaces, dots and dashes people put in it."""
    return "".join(ch for ch in value if ch not in " .-\u00a0")


class KvkNumberField(forms.CharField):
    """A KvK number as typed; whether the register knows it is asked by the view."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("KvK number"))
        kwargs.setdefault("help_text", _("The 8 digits on the organisation's extract of the Chamber of Commerce."))
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false"}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return digits(super().to_python(value))


class HiddenListField(forms.Field):
    """Values carried along unchanged (OINs, ServiceUUIDs), as hidden inputs; the view checks what they name."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        items = value if isinstance(value, list | tuple) else [value] if value else []
        return [text for text in (str(item).strip() for item in items) if text]


class OrganisationForm(forms.Form):
    """Step 1 for a person with an account: one of their organisations, or another by KvK number; and what for."""

    organisation = forms.ChoiceField(label=_("Organisation"), widget=forms.RadioSelect, required=False)
    kvk = KvkNumberField(required=False)
    kind = forms.ChoiceField(
        label=_("What do you request?"),
        widget=forms.RadioSelect,
        choices=[
            (MANDATES, _("Mandates for myself, to log in on behalf of this organisation")),
            (CHAIN, _("A chain mandate: this organisation lets an intermediary (e.g. its accountant) act for it")),
        ],
        initial=MANDATES,
        error_messages={"required": _("Choose what you request.")},
    )
    # Carried from a refusal page: what the missing mandate is for.
    provider = forms.CharField(required=False, widget=forms.HiddenInput, max_length=20)
    service = forms.CharField(required=False, widget=forms.HiddenInput, max_length=40)
    level = forms.CharField(required=False, widget=forms.HiddenInput, max_length=80)
    # Carried from the link to renew an expiring mandate: the whole mandate, in the names of the mandate form.
    scope = forms.CharField(required=False, widget=forms.HiddenInput)
    providers = HiddenListField(required=False)
    services = HiddenListField(required=False)
    branch_number = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, linked: Sequence[Organisation] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.linked = list(linked)
        if self.linked:
            self.fields["organisation"].choices = [
                *((org.kvk, f"{org.name} (KvK {org.kvk})") for org in self.linked),
                (OTHER, _("Another organisation")),
            ]
            self.fields["kvk"].help_text = _("Only for another organisation: the 8 digits on its KvK extract.")
        else:
            del self.fields["organisation"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        choice = cleaned.get("organisation", OTHER) if self.linked else OTHER
        if self.linked and not choice:
            self.add_error("organisation", _("Choose one of your organisations, or “Another organisation”."))
            return cleaned
        if choice == OTHER:
            if not cleaned.get("kvk") and "kvk" not in self.errors:
                self.add_error("kvk", _("Give the KvK number of the organisation: 8 digits."))
            cleaned["kvk_number"] = cleaned.get("kvk", "")
        else:
            cleaned["kvk_number"] = choice
        return cleaned


class ApplicationForm(forms.Form):
    """Step 1 of a first application without an account: who applies, and for which organisation."""

    name = forms.CharField(
        label=_("Your full name"),
        max_length=200,
        help_text=_("As on your identity document and, if you are listed there, in the KvK register."),
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        error_messages={"required": _("Give your full name.")},
    )
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        help_text=_("We send the confirmation and, once approved, the activation of your account here."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={
            "required": _("Give your e-mail address."),
            "invalid": _("Give an e-mail address like name@example.nl."),
        },
    )
    date_of_birth = forms.DateField(
        label=_("Your date of birth"),
        help_text=_("For example 14-03-1971."),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        error_messages={
            "required": _("Give your date of birth."),
            "invalid": _("Give your date of birth as day-month-year, for example 14-03-1971."),
        },
    )
    kvk = KvkNumberField(error_messages={"required": _("Give the KvK number of the organisation: 8 digits.")})

    def clean_date_of_birth(self) -> dt.date:
        born: dt.date = self.cleaned_data["date_of_birth"]
        today = timezone.localdate()
        if born >= today:
            raise ValidationError(_("Your date of birth lies in the future: check it."), code="future")
        if born.year < today.year - 120:
            raise ValidationError(_("Check the year of your date of birth."), code="too_old")
        return born


def level_choices(levels: Sequence[Level]) -> list[tuple[int, str]]:
    return [(int(level), level.label) for level in levels]


class MandateForm(forms.Form):
    """One requested mandate, or one chain mandate for an intermediary."""

    scope = forms.ChoiceField(
        label=_("Which services"),
        widget=forms.RadioSelect,
        choices=[
            (ScopeKind.ALL, _("All services of all service providers, also service providers that join later")),
            (ScopeKind.PROVIDERS, _("All services of the service providers I choose, also services they add later")),
            (ScopeKind.SERVICES, _("Only the services I choose")),
        ],
        error_messages={
            "required": _("Choose which services the mandate is for."),
            "invalid_choice": _("Choose which services the mandate is for: one of the three kinds."),
        },
    )
    providers = forms.MultipleChoiceField(label=_("Service providers"), required=False)
    services = forms.MultipleChoiceField(label=_("Services"), required=False)
    level = forms.TypedChoiceField(label=_("Level of assurance"), coerce=int)
    years = forms.TypedChoiceField(
        label=_("Valid for"),
        widget=forms.RadioSelect,
        choices=Years.choices,
        coerce=int,
        initial=Years.ONE,
        error_messages={
            "required": _("Choose how long the mandate is valid: 1, 3 or 5 years."),
            "invalid_choice": _("Choose how long the mandate is valid: 1, 3 or 5 years."),
        },
    )
    branch_number = forms.ChoiceField(
        label=_("Branch"),
        required=False,
        help_text=_("Only if the mandate is for one branch. Not every service accepts a branch restriction."),
    )
    intermediary_kvk = KvkNumberField(
        label=_("KvK number of the intermediary"),
        help_text=_("The organisation that may act for this one, for example its accountant: 8 digits."),
    )

    def __init__(
        self,
        *args: Any,
        chain: bool,
        levels: Sequence[Level],
        means_level: Level | None,
        branches: Sequence[dict[str, str]] = (),
        own_kvk: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.chain = chain
        self.own_kvk = own_kvk
        self.means_level = means_level
        self.fields["providers"].choices = [(p.oin, p.name) for p in ServiceProvider.objects.all()]
        self.fields["services"].choices = [
            (str(uuid), str(uuid)) for uuid in ServiceDefinition.objects.values_list("uuid", flat=True).distinct()
        ]
        invalid_level = (
            _("Choose a level up to %(level)s, the level of your means.") % {"level": means_level.label}
            if means_level is not None
            else _("Choose one of the levels offered.")
        )
        self.fields["level"].choices = [("", _("Choose a level")), *level_choices(levels)]
        self.fields["level"].error_messages.update(
            {"required": _("Choose the level of assurance of the mandate."), "invalid_choice": invalid_level}
        )
        if chain:
            del self.fields["branch_number"]
        else:
            del self.fields["intermediary_kvk"]
            self.fields["branch_number"].choices = [
                ("", _("No restriction: all branches")),
                *(
                    (b["number"], f"{b['name']}, {b['city']} ({b['number']})" if b.get("city") else b["name"])
                    for b in branches
                ),
            ]
            self.fields["branch_number"].error_messages["invalid_choice"] = _(
                "Choose one of the organisation's branches, or no restriction."
            )
        self.fields["providers"].error_messages["invalid_choice"] = _(
            "%(value)s is not a service provider in the catalogue. Search again and choose from the list."
        )
        self.fields["services"].error_messages["invalid_choice"] = _(
            "%(value)s is not a service in the catalogue. Search again and choose from the list."
        )

    def clean_intermediary_kvk(self) -> str:
        value = self.cleaned_data["intermediary_kvk"]
        if value == self.own_kvk:
            raise ValidationError(
                _("An organisation cannot be its own intermediary: give the KvK number of the other organisation."),
                code="same",
            )
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        scope = cleaned.get("scope")
        if scope == ScopeKind.PROVIDERS and not cleaned.get("providers") and "providers" not in self.errors:
            self.add_error(
                "providers", _("Choose at least one service provider, or choose another kind of mandate above.")
            )
        if scope == ScopeKind.SERVICES and not cleaned.get("services") and "services" not in self.errors:
            self.add_error(
                "services",
                _("Choose at least one service: search the catalogue by the name of the service or its provider."),
            )
        if scope == ScopeKind.SERVICES and cleaned.get("branch_number") and cleaned.get("services"):
            self._check_branch_accepted(cleaned["services"])
        # What does not belong to the scope chosen is not kept.
        if scope != ScopeKind.PROVIDERS:
            cleaned["providers"] = []
        if scope != ScopeKind.SERVICES:
            cleaned["services"] = []
        return cleaned

    def _check_branch_accepted(self, services: Sequence[str]) -> None:
        refused = branch_not_accepted(services)
        if refused is not None:
            self.add_error("branch_number", refused)


class ManagerForm(forms.Form):
    """Whether the applicant also wants to become the organisation's mandate manager, and at which level."""

    wants_manager = forms.BooleanField(
        label=_("I also want to become mandate manager of this organisation"),
        required=False,
        help_text=_(
            "A mandate manager gives and revokes mandates for colleagues, up to their own level. The representatives "
            "of the organisation sign for this too."
        ),
    )
    manager_level = forms.TypedChoiceField(label=_("Level of the manager role"), coerce=int, required=False)

    def __init__(self, *args: Any, levels: Sequence[Level], means_level: Level | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager_level"].choices = [("", _("Choose a level")), *level_choices(levels)]
        if means_level is not None:
            self.fields["manager_level"].error_messages["invalid_choice"] = _(
                "Choose a level up to %(level)s, the level of your means."
            ) % {"level": means_level.label}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("wants_manager") and not cleaned.get("manager_level") and "manager_level" not in self.errors:
            self.add_error("manager_level", _("Choose the level of the manager role, or untick the box above."))
        if not cleaned.get("wants_manager"):
            cleaned["manager_level"] = None
        return cleaned


class RepresentativesForm(forms.Form):
    """Which representatives of the KvK extract sign the request, and the e-mail address each link goes to."""

    def __init__(
        self,
        *args: Any,
        representatives: Sequence[Representative],
        level: Level,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.representatives = list(representatives)
        self.level = level
        self.rows = []
        for index, rep in enumerate(self.representatives):
            sign = f"sign_{index}"
            email = f"email_{index}"
            self.fields[sign] = forms.BooleanField(
                label=_("%(name)s signs") % {"name": rep.name},
                required=False,
            )
            self.fields[email] = forms.EmailField(
                label=_("E-mail address of %(name)s") % {"name": rep.name},
                required=False,
                max_length=254,
                widget=forms.EmailInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
                error_messages={"invalid": _("Give an e-mail address like name@example.nl.")},
            )
            self.rows.append((rep, sign, email))

    def bound_rows(self) -> list[tuple[Representative, forms.BoundField, forms.BoundField]]:
        return [(rep, self[sign], self[email]) for rep, sign, email in self.rows]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        chosen: list[tuple[Representative, str]] = []
        for rep, sign, email in self.rows:
            if not cleaned.get(sign):
                continue
            if not cleaned.get(email) and email not in self.errors:
                self.add_error(
                    email, _("Give the e-mail address of %(name)s: the signing link goes there.") % {"name": rep.name}
                )
                continue
            chosen.append((rep, cleaned.get(email, "")))
        cleaned["chosen"] = chosen
        if self.errors:
            return cleaned
        if not chosen:
            raise ValidationError(
                _("Choose the representatives who sign: tick at least one and give their e-mail address."),
                code="required",
            )
        try:
            needed = signatures_required(
                [rep.authority for rep, _email in chosen], self.level, representatives=len(self.representatives)
            )
        except SignaturesNotOnline as refusal:
            raise ValidationError(refusal.messages[0], code=refusal.code) from None
        if len(chosen) < needed:
            raise ValidationError(
                ngettext(
                    "This request needs %(count)d signature: choose at least %(count)d representative.",
                    "This request needs %(count)d signatures: choose at least %(count)d representatives.",
                    needed,
                )
                % {"count": needed},
                code="too_few",
            )
        return cleaned


#: The mandate form's fields that the search form carries along, so that a search keeps what was chosen.
MANDATE_STATE_FIELDS = ("scope", "providers", "services", "level", "years", "branch_number", "intermediary_kvk")


def mandate_form_state(form: MandateForm) -> dict[str, list[str]]:
    """The mandate form's current values (as typed, or as saved): what the search form carries along."""
    values: dict[str, list[str]] = {}
    for name in MANDATE_STATE_FIELDS:
        if name not in form.fields:
            continue
        if form.is_bound:
            raw = form.data.getlist(name) if hasattr(form.data, "getlist") else form.data.get(name, [])
        else:
            raw = form.initial.get(name, "")
        items = raw if isinstance(raw, list | tuple) else [raw]
        values[name] = [str(item) for item in items if item not in (None, "")]
    return values
