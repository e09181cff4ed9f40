"""The forms of the user's own invoices page: one invoice's draft, a mass mailing's templates."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from invoices.documents import InvoiceTemplateError, invoice_template_check
from users.validation import has_control_characters


class TemplatesForm(forms.Form):
    """A subject and a body template with the invoice placeholders ("Mail edit" Yes)."""

    subject_template = forms.CharField(
        label=_("Subject"), max_length=500, widget=forms.TextInput(attrs={"size": 80})
    )
    body_template = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 12, "cols": 80})
    )

    def _checked(self, name: str, field: str) -> str:
        value: str = self.cleaned_data[name]
        try:
            invoice_template_check(value, field=field)
        except InvoiceTemplateError as exc:
            raise ValidationError(exc.user_message) from None
        return value

    def clean_subject_template(self) -> str:
        return self._checked("subject_template", pgettext("e-mail", "subject"))

    def clean_body_template(self) -> str:
        return self._checked("body_template", pgettext("e-mail", "body"))


class RecipientField(forms.EmailField):
    """One address on one line: CR/LF is refused before the usual stripping hides it."""

    def to_python(self, value: Any) -> str | None:
        if isinstance(value, str) and has_control_characters(value, nul=False):
            raise ValidationError(
                _("The recipient address must be on one line (no line breaks)."), code="line_break"
            )
        return super().to_python(value)


class InvoiceDraftForm(TemplatesForm):
    """One invoice's e-mail before it goes: recipient, subject and body, all editable."""

    recipient = RecipientField(label=_("Recipient"), max_length=254)

    field_order = ("recipient", "subject_template", "body_template")


def template_typed(typed: str, default: str) -> str | None:
    """Return the template as typed, or None when it is the default (in any language).

    None lets each invoice's e-mail use the default in its customer's language.
    """
    if typed.replace("\r\n", "\n") in (default, gettext(default)):
        return None
    return typed
