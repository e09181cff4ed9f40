"""Admin list of Microsoft 365 connections: every card's status, and disconnecting it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_lazy

from oauth365.models import M365Connection
from oauth365.services import m365_disconnect


@admin.register(M365Connection)
class M365ConnectionAdmin(admin.ModelAdmin):
    list_display = ("card", "account", "status", "authenticated_at", "token_refreshed_at")
    list_filter = ("status",)
    search_fields = ("card__code", "account")
    list_select_related = ("card",)
    # Never the token cache: it holds the refresh token.
    fields = (
        "card",
        "account",
        "tenant_id",
        "object_id",
        "status",
        "authenticated_at",
        "token_refreshed_at",
    )
    readonly_fields = fields
    actions = ("disconnect",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Only the card's own user can authenticate a mailbox (in the popup).
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(
        description=gettext_lazy("Disconnect (delete the token cache)"), permissions=["delete"]
    )
    def disconnect(self, request: HttpRequest, queryset: QuerySet[M365Connection]) -> None:
        codes = []
        for connection in queryset.select_related("card"):
            m365_disconnect(card=connection.card)
            codes.append(connection.card.code)
        text = gettext("Disconnected Microsoft 365 from {codes}.").format(codes=", ".join(codes))
        self.message_user(request, text, messages.SUCCESS)
