from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LettersConfig(AppConfig):
    name = "letters"
    verbose_name = _("Customer letters")

    def ready(self) -> None:
        # Mass mailing learns customer letters here: it never imports this app.
        from events.errors import cause_register
        from letters.causes import LetterCause
        from letters.mailing import LetterDocuments
        from massmail.documents import document_kind_register

        cause_register(LetterCause)
        document_kind_register(LetterDocuments())
