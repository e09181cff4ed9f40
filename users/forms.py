"""The card form shared by the admin and "Personal → User"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.debug import sensitive_variables

from users.models import CARD_FIELDS, Language, SslTls, UserCard

#: The fields that matter only for SMTP and Microsoft 365 OAUTH (shown and hidden together).
SERVER_FIELDS = ("mail_server", "ssl_tls", "smtp_username", "smtp_password", "clear_smtp_password")

PASSWORD_STORED = _("A password is stored. Leave this blank to keep it.")
PASSWORD_NOT_SET = _("No password is set.")


class SecretField(forms.CharField):
    """A write-only text input: only a typed value counts as a change."""

    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return bool(data)


class UserCardForm(forms.ModelForm):
    """Edit a card; the stored password is never sent back to the browser."""

    # The glossary's word: Django's auth catalog, which outranks this one, says "Salasõna".
    smtp_password = SecretField(label=pgettext_lazy("user card", "Password"))
    clear_smtp_password = forms.BooleanField(
        label=_("Clear the stored password"),
        required=False,
        help_text=_("Tick to remove the stored password when saving."),
    )

    class Meta:
        model = UserCard
        fields = CARD_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Defence in depth: the plaintext never sits in the form's initial data.
        self.initial.pop("smtp_password", None)
        self.password_stored = bool(self.instance.pk and self.instance.smtp_password)
        if "smtp_password" in self.fields:
            self.fields["smtp_password"].help_text = (
                PASSWORD_STORED if self.password_stored else PASSWORD_NOT_SET
            )
        ssl_tls = self.fields.get("ssl_tls")
        if isinstance(ssl_tls, forms.ChoiceField):
            # A blank choice means "as on the global card, or as the port suggests".
            ssl_tls.choices = [("", _("(automatic)")), *SslTls.choices]
        language = self.fields.get("language")
        if isinstance(language, forms.ChoiceField):
            language.choices = [("", _("(as the browser says)")), *Language.choices]

    @sensitive_variables("cleaned", "typed")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        typed = cleaned.get("smtp_password") or ""
        if cleaned.get("clear_smtp_password"):
            if typed:
                self.add_error(
                    "clear_smtp_password",
                    _("Either type a new password or clear the stored one, not both."),
                )
            cleaned["smtp_password"] = ""
        elif not typed and "smtp_password" in self.fields:
            # Blank input keeps the stored password (SPEC.md).
            cleaned["smtp_password"] = self.instance.smtp_password if self.instance.pk else ""
        return cleaned


class PersonalCardForm(UserCardForm):
    """The user's own card: everything but the code, which only an administrator changes."""

    class Meta(UserCardForm.Meta):
        fields = tuple(name for name in CARD_FIELDS if name != "code")
