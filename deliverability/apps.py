from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliverabilityConfig(AppConfig):
    """The event mailbox (bounces, inbound mail) and the DNS diagnostics of a card's domain."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deliverability"
    verbose_name = _("Deliverability")

    def ready(self) -> None:
        from deliverability.causes import DeliverabilityCause
        from events.errors import cause_register

        cause_register(DeliverabilityCause)
