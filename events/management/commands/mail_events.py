"""`mail_events [--user CODE] [--json]`: the event log."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from events.selectors import event_list
from users.services import usercard_get_by_code


class Command(BaseCommand):
    help = "List mail events (send failures, bounces, re-authentication), newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", metavar="CODE", help="only this user's events")
        parser.add_argument("--limit", type=int, default=500, help="at most this many events")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["user"]
        events = list(event_list(user_code=code)[: options["limit"]])
        if code and not events and usercard_get_by_code(code=code) is None:
            raise CommandError(f"No user card has the code “{code}” and no event names it.")
        if options["json"]:
            self.stdout.write(json.dumps([event.as_dict() for event in events], indent=2))
            return
        if not events:
            self.stdout.write("No events.")
            return
        for event in events:
            self.stdout.write(
                f"{event.created_at:%Y-%m-%d %H:%M:%S}  {event.user_code:<10} {event.kind:<13} "
                f"{event.cause:<24} {event.recipient}"
            )
            self.stdout.write(f"    {event.text}")
