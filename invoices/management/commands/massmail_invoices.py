"""Start a mass-mailing job of one user's invoices; optionally wait with a progress bar.

Sending happens in Celery workers (`celery -A directo_mail worker`, plus `celery -A
directo_mail beat` for retries and dead-worker recovery); `--inline` sends in this process
instead, for development and small jobs.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from invoices.mailing import invoices_mass_mail_start
from mailer.outages import DATABASE_ERRORS, error_summary
from massmail.conf import MassMailRefusedError
from massmail.progress_command import MassMailJobCommand
from users.models import UserCard


def _ids_parse(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise CommandError(f"--ids takes invoice ids separated by commas, not “{text}”.") from None
    if not ids:
        raise CommandError("--ids needs at least one invoice id.")
    return ids


class Command(MassMailJobCommand):
    help = (
        "Mass-mail invoices of the user CODE through the user's resolved mail settings. "
        "A Celery worker must run (celery -A directo_mail worker), or pass --inline."
    )
    document_noun = "invoice"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="CODE")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--all-unsent",
            action="store_true",
            help="Every invoice of the user that no job has sent, may have sent or is sending.",
        )
        which.add_argument("--ids", metavar="1,2,...", help="Invoice ids, comma-separated.")
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["user"]
        card = UserCard.objects.filter(code__iexact=code).first()
        if card is None:
            raise CommandError(f"No user card has the code “{code}”.")
        ids = None if options["all_unsent"] else _ids_parse(options["ids"])
        try:
            job = invoices_mass_mail_start(
                card=card, invoice_ids=ids, all_unsent=options["all_unsent"], created_by="command"
            )
        except MassMailRefusedError as exc:
            raise CommandError(f"The job was refused: {exc.user_message}") from exc
        except DATABASE_ERRORS as exc:
            # The job is one transaction: when it fails, nothing was started.
            raise CommandError(
                f"The database is unreachable ({error_summary(exc)}); no job was started."
            ) from exc
        self.out(options).write(
            f"Started mass-mail job {job.pk}: {job.total} invoices of {card.code}."
        )
        self.job_follow(job, options)
