"""Create demo customers of one user (for trying invoices and letters); existing ones stay."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.services import customers_demo_create
from users.models import UserCard


class Command(BaseCommand):
    help = "Create N demo customers of the user CODE, in English, Estonian, Latvian and Polish."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="CODE")
        parser.add_argument("--count", type=int, default=8, metavar="N")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["user"]
        card = UserCard.objects.filter(code__iexact=code).first()
        if card is None:
            raise CommandError(f"No user card has the code “{code}”.")
        if options["count"] < 1:
            raise CommandError("--count must be at least 1.")
        created = customers_demo_create(owner_card=card, count=options["count"])
        self.stdout.write(f"Created {len(created)} demo customers of {card.code}.")
