"""Create realistic demo invoices of one user, for demonstrations and the mass-mail benchmark."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from invoices.services import invoice_demo_create
from users.models import UserCard


class Command(BaseCommand):
    help = "Create N demo invoices owned by the user card CODE (customer addresses at --domain)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="CODE", help="The owner's user code.")
        parser.add_argument("--count", required=True, type=int, metavar="N")
        parser.add_argument(
            "--domain",
            default="example.test",
            help="The domain of the customers' e-mail addresses (default: example.test).",
        )
        parser.add_argument("--seed", type=int, default=None, help="Repeatable random data.")

    def handle(self, *args: Any, **options: Any) -> None:
        code, count = options["user"], options["count"]
        if count < 1:
            raise CommandError(f"--count must be at least 1 (got {count}).")
        card = UserCard.objects.filter(code__iexact=code).first()
        if card is None:
            raise CommandError(
                f"No user card has the code “{code}”; create the card first (Django admin, or "
                "import_usercards)."
            )
        started = time.perf_counter()
        try:
            invoices = invoice_demo_create(
                owner_card=card, count=count, domain=options["domain"], seed=options["seed"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        ids = [invoice.pk for invoice in invoices]
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(invoices)} invoices for {card.code} (ids {min(ids)}..{max(ids)}, "
                f"numbers {invoices[0].number}..{invoices[-1].number}) in {elapsed:.2f} s."
            )
        )
