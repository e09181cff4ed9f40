from __future__ import annotations

from django.apps import AppConfig


class MailerConfig(AppConfig):
    name = "mailer"
    verbose_name = "Mail sending"

    def ready(self) -> None:
        # Registers the start-up checks and connects the signal receivers.
        from mailer import checks  # noqa: F401
        from mailer.massmail import receivers  # noqa: F401
