from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        # seed_demo (in users, below this app) announces its demo cards; customers adds theirs.
        from customers.receivers import demo_customers_create
        from users.signals import demo_cards_seeded

        demo_cards_seeded.connect(demo_customers_create, dispatch_uid="customers_demo")
