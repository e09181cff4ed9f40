"""Admin page of the event log: read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from events.models import MailEvent


@admin.register(MailEvent)
class MailEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user_code", "kind", "cause", "recipient", "text")
    list_filter = ("kind", "cause", "user_code")
    search_fields = ("user_code", "recipient", "message_id", "message")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "card",
        "user_code",
        "kind",
        "cause",
        "text",
        "message",
        "params",
        "recipient",
        "message_id",
        "smtp_code",
        "smtp_reply",
        "step",
    )

    @admin.display(description=_("What happened"))
    def text(self, event: MailEvent) -> str:
        return event.text

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
