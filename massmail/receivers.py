"""Reactions of mass mailing to signals of the apps below it."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from events.errors import UserFacingError
from massmail.jobs import massmail_jobs_pause_for_card
from oauth365.signals import m365_consent_lost
from users.models import UserCard


@receiver(m365_consent_lost, dispatch_uid="massmail_pause_on_consent_lost")
def jobs_pause_on_consent_lost(
    *, card: UserCard, reason: str, error: UserFacingError | None = None, **kwargs: Any
) -> None:
    """Pause the jobs that send as the card or with its token: the user resumes them later."""
    massmail_jobs_pause_for_card(card=card, reason=reason, error=error)
