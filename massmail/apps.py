from __future__ import annotations

from django.apps import AppConfig


class MassMailConfig(AppConfig):
    """Mass mailing: jobs, their outgoing mail, dispatch, provider limits and the reaper."""

    name = "massmail"
    verbose_name = "Mass mailing"

    def ready(self) -> None:
        # Registers the start-up checks and connects the signal receivers.
        from massmail import checks, receivers  # noqa: F401
