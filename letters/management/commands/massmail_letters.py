"""Mass-mail one customer letter to each of a user's customers; optionally wait with progress.

Same machinery as massmail_invoices: Celery workers send (or `--inline` in this process),
`--wait` shows progress and exits 1 when anything failed, `--json` prints the job's counts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from letters.mailing import letters_mass_mail_start
from mailer.outages import DATABASE_ERRORS, error_summary
from massmail.conf import MassMailRefusedError
from massmail.progress_command import MassMailJobCommand
from users.models import UserCard


class Command(MassMailJobCommand):
    help = (
        "Mass-mail one letter (subject and body with placeholders {customer}, "
        "{customer_email}, {sender}, {sender_email}, {company}) to each customer of the user "
        "CODE. A Celery worker must run (celery -A directo_mail worker), or pass --inline."
    )
    document_noun = "customer"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="CODE")
        parser.add_argument("--subject", required=True, metavar="TEXT")
        parser.add_argument(
            "--body-file", required=True, metavar="FILE", help="The body, UTF-8 text; - is stdin."
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["user"]
        card = UserCard.objects.filter(code__iexact=code).first()
        if card is None:
            raise CommandError(f"No user card has the code “{code}”.")
        body = self._body_read(options["body_file"])
        try:
            job = letters_mass_mail_start(
                card=card, subject=options["subject"], body=body, created_by="command"
            )
        except MassMailRefusedError as exc:
            raise CommandError(f"The job was refused: {exc.user_message}") from exc
        except DATABASE_ERRORS as exc:
            raise CommandError(
                f"The database is unreachable ({error_summary(exc)}); no job was started."
            ) from exc
        self.out(options).write(
            f"Started mass-mail job {job.pk}: a letter to {job.total} customers of {card.code}."
        )
        self.job_follow(job, options)

    def _body_read(self, name: str) -> str:
        if name == "-":
            return sys.stdin.read()
        try:
            return Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read the body file “{name}”: {exc}") from exc
