"""Mail services: resolving a card's effective settings."""

from __future__ import annotations

from mailer.config import CardSettings, SenderConfig, sender_config_resolve
from mailer.platform import platform_get
from users.models import SystemSettings, UserCard


def sender_config_get(*, card: UserCard) -> SenderConfig:
    """Resolve the effective mail settings of one card against the global card and platform."""
    system = SystemSettings.load()
    global_card = None
    if system.mail_sending_user_code:
        global_card = (
            UserCard.objects.select_related("m365_connection")
            .filter(code__iexact=system.mail_sending_user_code)
            .first()
        )
    return sender_config_resolve(
        user=CardSettings.from_card(card),
        global_card=CardSettings.from_card(global_card) if global_card is not None else None,
        platform=platform_get(company_slug=system.company_slug),
    )
