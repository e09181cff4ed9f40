"""Admin of customers: each user's customers, whom the user's invoices and letters go to."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "email", "language", "owner", "created_at")
    list_filter = ("language",)
    # Also what the invoice admin's customer autocomplete searches (by owner code too).
    search_fields = ("name", "email", "owner__code")
    list_select_related = ("owner",)
    raw_id_fields = ("owner",)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Customer], search_term: str
    ) -> tuple[QuerySet[Customer], bool]:
        found, duplicates = super().get_search_results(request, queryset, search_term)
        # A document's customer autocomplete names its owner: offer only that owner's customers.
        owner = request.GET.get("owner", "")
        if request.path.endswith("/autocomplete/") and owner.isdigit():
            found = found.filter(owner_id=int(owner))
        return found, duplicates
