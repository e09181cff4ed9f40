from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The pages people use, composed from the apps below: Personal → User and the card admin."""

    name = "portal"
    verbose_name = "Pages"
