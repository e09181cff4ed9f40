"""`purge_inbound_mail [--days N]`: delete event mailbox mail older than the retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliverability.retention import inbound_mail_purge, inbound_retention_days_get


class Command(BaseCommand):
    help = (
        "Delete mail the event mailbox received more than --days days ago (default: "
        "EVENT_MAILBOX_RETENTION_DAYS, 90). Events on user cards are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=None, help="keep mail of the last N days (default: 90)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = inbound_retention_days_get()
        if days < 0:
            raise CommandError(f"--days must be 0 or more (got {days}).")
        deleted = inbound_mail_purge(days=days)
        self.stdout.write(f"Deleted {deleted} received message(s) older than {days} day(s).")
