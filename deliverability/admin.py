"""Admin pages of the mail the event mailbox received (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from deliverability.models import InboundMessage

PREVIEW_CHARACTERS = 20_000


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = (
        "received_at",
        "kind",
        "attribution",
        "card",
        "envelope_from",
        "subject",
        "original_message_id",
        "size",
    )
    list_filter = ("kind", "attribution", "bounce_format")
    search_fields = ("envelope_from", "envelope_to", "subject", "message_id", "original_message_id")
    date_hierarchy = "received_at"
    exclude = ("raw",)
    readonly_fields = (
        "received_at",
        "envelope_from",
        "envelope_to",
        "peer",
        "size",
        "kind",
        "attribution",
        "card",
        "subject",
        "message_id",
        "original_message_id",
        "bounce_format",
        "parse_error",
        "raw_truncated",
        "events",
        "raw_preview",
    )

    @admin.display(description=_("message as received"))
    def raw_preview(self, obj: InboundMessage) -> str:
        # Shown as escaped text only: received mail is hostile input.
        text = bytes(obj.raw)[:PREVIEW_CHARACTERS].decode("utf-8", "replace")
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
