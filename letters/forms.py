"""The form of the letters page: one letter's subject and body with the letter placeholders."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from letters.mailing import LetterTemplateError, letter_template_check


class LetterForm(forms.Form):
    """The letter the user writes; each customer's copy fills in the placeholders."""

    subject = forms.CharField(
        label=_("Subject"), max_length=500, widget=forms.TextInput(attrs={"size": 80})
    )
    body = forms.CharField(label=_("Body"), widget=forms.Textarea(attrs={"rows": 12, "cols": 80}))

    def _checked(self, name: str, field: str) -> str:
        value: str = self.cleaned_data[name]
        try:
            letter_template_check(value, field=field)
        except LetterTemplateError as exc:
            raise ValidationError(exc.user_message) from None
        return value

    def clean_subject(self) -> str:
        return self._checked("subject", pgettext("e-mail", "subject"))

    def clean_body(self) -> str:
        return self._checked("body", pgettext("e-mail", "body"))
