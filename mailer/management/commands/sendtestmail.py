"""`sendtestmail CODE --to ADDRESS`: one real message through the card's resolved settings."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailer.services import MailTestRateLimitedError, mail_test_send
from users.services import usercard_get_by_code


class Command(BaseCommand):
    help = "Send a test e-mail through a user's resolved mail settings and show each step."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", metavar="CODE", help="the user card's code")
        parser.add_argument("--to", required=True, metavar="ADDRESS", help="the recipient")
        parser.add_argument(
            "--dry-run", action="store_true", help="stop after RCPT (RSET): send nothing"
        )
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        card = usercard_get_by_code(code=options["code"])
        if card is None:
            raise CommandError(f"No user card has the code “{options['code']}”.")
        try:
            result = mail_test_send(card=card, to=options["to"], dry_run=options["dry_run"])
        except MailTestRateLimitedError as exc:
            raise CommandError(exc.user_message) from None
        steps = [
            {"step": s.step, "ok": s.ok, "code": s.code, "reply": s.reply, "detail": s.detail}
            for s in result.transcript
        ]
        if options["json"]:
            document = {
                "ok": result.ok,
                "dry_run": result.dry_run,
                "transcript": steps,
                "settings": result.config.public_view() if result.config else None,
                "error": None
                if result.error is None
                else {
                    "cause": result.error.cause,
                    "message": result.error.user_message,
                    "transient": result.error.transient,
                },
            }
            self.stdout.write(json.dumps(document, indent=2))
        else:
            for step in steps:
                mark = "ok " if step["ok"] else "ERR"
                reply = f"{step['code'] or ''} {step['reply']}".strip()
                self.stdout.write(f"{mark} {step['step']:<8} {reply} {step['detail']}".rstrip())
            if result.ok:
                verb = "accepted the dry run" if result.dry_run else "accepted the test e-mail"
                self.stdout.write(self.style.SUCCESS(f"The server {verb} for {options['to']}."))
        if result.error is not None:
            raise CommandError(result.error.user_message)
