from __future__ import annotations

from django.apps import AppConfig


class MassMailConfig(AppConfig):
    """Mass mailing: jobs, their outgoing mail, dispatch, provider limits and the reaper."""

    name = "massmail"
    verbose_name = "Mass mailing"

    def ready(self) -> None:
        # Registers the start-up checks, connects the signal receivers, registers the tasks
        # (jobs queue the dispatch task by its name).
        from events.errors import cause_register
        from massmail import checks, receivers, tasks  # noqa: F401
        from massmail.causes import MassMailCause

        cause_register(MassMailCause)
