from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EventsConfig(AppConfig):
    """The event log: send failures, bounces and re-authentication, on each user's card."""

    name = "events"
    verbose_name = _("Mail events")
