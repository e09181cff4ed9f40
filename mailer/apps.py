from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MailerConfig(AppConfig):
    """Resolving a user's settings and sending one message: resolver, transport, services."""

    name = "mailer"
    verbose_name = _("Mail sending")

    def ready(self) -> None:
        from events.errors import cause_register
        from mailer import checks  # noqa: F401  (registers the start-up check)
        from mailer.causes import MailCause

        cause_register(MailCause)
