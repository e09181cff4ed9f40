"""Receivers that keep the global card from disappearing under the system setting."""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from users.models import SystemSettings, UserCard


@receiver(pre_delete, sender=UserCard)
def _protect_global_card(sender: type[UserCard], instance: UserCard, **kwargs: Any) -> None:
    if SystemSettings.load().names_card(instance.code):
        raise ProtectedError(
            f"Card {instance.code} is the mail sending user of the system settings: name another "
            "card there before deleting it.",
            {instance},
        )
