"""A card's Microsoft 365 connection: the encrypted MSAL token cache and who signed in."""

from __future__ import annotations

from django.db import models

from users.fields import EncryptedTextField
from users.models import UserCard


class M365Status(models.TextChoices):
    CONNECTED = "connected", "Authenticated"
    REAUTH_NEEDED = "reauth_needed", "Re-authentication needed"


class M365Connection(models.Model):
    """The Microsoft 365 mailbox a card authenticated, with its MSAL token cache."""

    card = models.OneToOneField(UserCard, on_delete=models.CASCADE, related_name="m365_connection")
    token_cache = EncryptedTextField(blank=True)
    account = models.CharField("signed-in account", max_length=254, blank=True)
    tenant_id = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=M365Status.choices, default=M365Status.CONNECTED
    )
    authenticated_at = models.DateTimeField(null=True, blank=True)
    token_refreshed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Microsoft 365 connection"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"],
                condition=~models.Q(object_id=""),
                name="oauth365_connection_mailbox_unique",
                violation_error_message="This Microsoft 365 mailbox is linked to another card.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.card.code}: {self.account or 'not signed in'}"

    @property
    def usable(self) -> bool:
        """Return whether a token cache is stored and does not need a new sign-in."""
        return bool(self.token_cache) and self.status == M365Status.CONNECTED
