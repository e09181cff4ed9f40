"""Admin of customers: each user's customers, whom the user's invoices and letters go to."""

from __future__ import annotations

from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "language", "owner", "created_at")
    list_filter = ("language",)
    # Also what the invoice admin's customer autocomplete searches (by owner code too).
    search_fields = ("name", "email", "owner__code")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
