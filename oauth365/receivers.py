"""Reactions to signals of the apps below: a card's server change drops its token cache."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from oauth365.models import M365Connection
from users.signals import card_server_changed


@receiver(card_server_changed, dispatch_uid="oauth365_drop_tokens_on_server_change")
def connections_drop_on_server_change(*, card_ids: list[int], **kwargs: Any) -> None:
    """Delete the token caches of cards whose server changed: they must sign in again."""
    M365Connection.objects.filter(card_id__in=card_ids).delete()
