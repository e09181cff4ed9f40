"""Admin of customers: each user's customers, who receive the user's letters."""

from __future__ import annotations

from django.contrib import admin

from letters.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "language", "owner", "created_at")
    list_filter = ("language",)
    search_fields = ("name", "email", "owner__code")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)
