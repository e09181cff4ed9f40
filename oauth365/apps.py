from __future__ import annotations

from django.apps import AppConfig


class OAuth365Config(AppConfig):
    name = "oauth365"
    verbose_name = "Microsoft 365"

    def ready(self) -> None:
        from events.errors import cause_register
        from oauth365 import receivers  # noqa: F401  (connects the signal receivers)
        from oauth365.causes import M365Cause

        cause_register(M365Cause)
