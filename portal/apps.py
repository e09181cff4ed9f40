from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    """The pages people use, composed from the apps below: Personal → User and the card admin."""

    name = "portal"
    verbose_name = _("Pages")
