"""The card form shared by the admin and "Personal → User"."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.debug import sensitive_variables

from users.models import CARD_FIELDS, Language, MailSender, SslTls, UserCard

#: The fields that matter only for SMTP and Microsoft 365 OAUTH (shown and hidden together).
SERVER_FIELDS = ("mail_server", "ssl_tls", "smtp_username", "smtp_password", "clear_smtp_password")

PASSWORD_STORED = _("A password is stored. Leave this blank to keep it.")
PASSWORD_NOT_SET = _("No password is set.")


class YesNoSelect(forms.Select):
    """Directo's Yes/No select for a boolean field: the model and import/export keep booleans."""

    TRUE_VALUES = ("1", "true", "True", "on", "yes")

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        choices = (("1", pgettext_lazy("yes/no", "Yes")), ("0", pgettext_lazy("yes/no", "No")))
        super().__init__(attrs, choices=choices)

    def format_value(self, value: Any) -> list[str]:
        return ["1" if value is True or value in self.TRUE_VALUES else "0"]

    def value_from_datadict(self, data: Any, files: Any, name: str) -> bool:
        # Missing counts as No, as a checkbox's would: a POST from an older page still saves.
        return data.get(name) in self.TRUE_VALUES


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
        widgets: ClassVar = {"attachments_with_email": YesNoSelect, "mail_edit": YesNoSelect}
        help_texts: ClassVar = {
            "attachments_with_email": _(
                "Yes: the document's own file attachments go along with the e-mail. No: only the "
                "document itself is sent."
            ),
            "mail_edit": _(
                "Yes: a single send opens an editable draft (subject, body, recipient) first; for "
                "mass mail the template is editable before the job starts. No: the e-mail goes "
                "out as it is."
            ),
        }

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
        if cleaned.get("mail_sender") == MailSender.M365_OAUTH and "smtp_password" in self.fields:
            # Microsoft 365 OAUTH signs in with a token: a typed password is ignored (card_form.js
            # hides the field) and a stored one dropped, as the model refuses it in that mode.
            cleaned["smtp_password"] = ""
        elif cleaned.get("clear_smtp_password"):
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
