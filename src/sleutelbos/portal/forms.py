"""Forms of the self-service site."""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.utils.translation import gettext_lazy as _

from sleutelbos.portal.selectors import Choice

QUERY_MAX_LENGTH = 100


class LoginCheckForm(forms.Form):
    """ "Where can I log in?": one of my organisations, and words to find a service provider or service by.

    A GET form, so that the page works without JavaScript and every answer has an address to bookmark or share.
    """

    organisation = forms.ChoiceField(label=_("Organisation"))
    q = forms.CharField(
        label=_("Service provider or service"),
        help_text=_("For example “Kadaster” or “aangifte”. Leave empty to see the whole catalogue."),
        required=False,
        max_length=QUERY_MAX_LENGTH,
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: object, choices: Sequence[Choice], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].choices = [(choice.key, choice.label) for choice in choices]
