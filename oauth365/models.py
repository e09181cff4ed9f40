"""A card's Microsoft 365 connection: the encrypted MSAL token cache and who signed in."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from users.fields import EncryptedTextField
from users.models import UserCard


class M365Status(models.TextChoices):
    CONNECTED = "connected", pgettext_lazy("Microsoft 365 status", "Authenticated")
    REAUTH_NEEDED = "reauth_needed", _("Re-authentication needed")


class M365Connection(models.Model):
    """The Microsoft 365 mailbox a card authenticated, with its MSAL token cache."""

    card = models.OneToOneField(
        UserCard,
        on_delete=models.CASCADE,
        related_name="m365_connection",
        verbose_name=_("user card"),
    )
    token_cache = EncryptedTextField(_("token cache"), blank=True)
    account = models.CharField(_("signed-in account"), max_length=254, blank=True)
    tenant_id = models.CharField(_("tenant ID"), max_length=64, blank=True)
    object_id = models.CharField(_("object ID"), max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=M365Status.choices, default=M365Status.CONNECTED
    )
    authenticated_at = models.DateTimeField(_("authenticated at"), null=True, blank=True)
    token_refreshed_at = models.DateTimeField(_("token refreshed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Microsoft 365 connection")
        verbose_name_plural = _("Microsoft 365 connections")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"],
                condition=~models.Q(object_id=""),
                name="oauth365_connection_mailbox_unique",
                violation_error_message=_("This Microsoft 365 mailbox is linked to another card."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.card.code}: {self.account or gettext('not signed in')}"

    @property
    def usable(self) -> bool:
        """Return whether a token cache is stored and does not need a new sign-in."""
        return bool(self.token_cache) and self.status == M365Status.CONNECTED
