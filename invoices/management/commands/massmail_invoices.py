"""Start a mass-mailing job of one user's invoices; optionally wait with a progress bar.

Sending happens in Celery workers (`celery -A directo_mail worker`, plus `celery -A
directo_mail beat` for retries and dead-worker recovery); `--inline` sends in this process
instead, for development and small jobs.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from invoices.mailing import invoices_mass_mail_start
from mailer.outages import DATABASE_ERRORS, database_retry, error_summary
from massmail.conf import MassMailRefusedError
from massmail.dispatch import massmail_inline_run
from massmail.jobs import JobProgress, massmail_job_progress
from massmail.models import JobStatus, MailStatus, MassMailJob
from users.models import UserCard

BAR_WIDTH = 30
_ENDED = (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.PAUSED)


def _ids_parse(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise CommandError(f"--ids takes invoice ids separated by commas, not “{text}”.") from None
    if not ids:
        raise CommandError("--ids needs at least one invoice id.")
    return ids


def progress_line(progress: JobProgress) -> str:
    """Return one line of the terminal progress bar."""
    c = progress.counts
    total = c["total"] or 1
    filled = round(BAR_WIDTH * progress.done / total)
    eta = ""
    if progress.rate > 0:
        minutes, seconds = divmod(int((c["total"] - progress.done) / progress.rate), 60)
        eta = f" · ETA {minutes:02d}:{seconds:02d}"
    return (
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {100 * progress.done // total:3d}% "
        f"{progress.done}/{c['total']} · sent {c[MailStatus.SENT]} failed {c[MailStatus.FAILED]} "
        f"unknown {c[MailStatus.UNKNOWN]} retry {c[MailStatus.RETRY]} · "
        f"{progress.rate:.1f}/s{eta} · {progress.status}"
    )


class Command(BaseCommand):
    help = (
        "Mass-mail invoices of the user CODE through the user's resolved mail settings. "
        "A Celery worker must run (celery -A directo_mail worker), or pass --inline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="CODE")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--all-unsent",
            action="store_true",
            help="Every invoice of the user that no job has sent, may have sent or is sending.",
        )
        which.add_argument("--ids", metavar="1,2,...", help="Invoice ids, comma-separated.")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="Show a progress bar until the job ends; exit 1 if any message failed or its "
            "outcome is unknown, 2 if the job was paused or cancelled.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the job's counts as one JSON document."
        )
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Send in this process instead of the Celery workers (implies --wait).",
        )
        parser.add_argument(
            "--timeout", type=float, default=None, help="Stop waiting after this many seconds."
        )

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
        wait = options["wait"] or options["inline"]
        # With --json, stdout carries the JSON document only: the rest goes to stderr.
        out = self.stderr if options["json"] else self.stdout
        out.write(f"Started mass-mail job {job.pk}: {job.total} invoices of {card.code}.")
        if options["inline"]:
            massmail_inline_run(job_id=job.pk, timeout=options["timeout"])
        progress = self._wait(job, out, options["timeout"]) if wait else None
        try:
            # Without --wait, a database outage is waited out for a minute at most.
            progress = progress or self._progress(job, out, until=time.monotonic() + 60)
        except DATABASE_ERRORS as exc:
            raise CommandError(
                f"Job {job.pk} was started, but the database is unreachable "
                f"({error_summary(exc)}); see its page /mail/jobs/{job.pk}/ later."
            ) from exc
        if options["json"]:
            self.stdout.write(json.dumps(self._document(progress)))
        if not wait:
            out.write(f"Follow it on the job page /mail/jobs/{job.pk}/ or with --wait.")
            return
        self._finish(job, progress)

    def _wait(self, job: MassMailJob, out: OutputWrapper, timeout: float | None) -> JobProgress:
        deadline = None if timeout is None else time.monotonic() + timeout
        tty = out.isatty()
        last_line = 0.0
        while True:
            try:
                progress = self._progress(job, out, until=deadline)
            except DATABASE_ERRORS as exc:
                raise CommandError(
                    f"Job {job.pk} did not end in time: the database is still unreachable "
                    f"({error_summary(exc)})."
                ) from exc
            ended = progress.status in _ENDED
            now = time.monotonic()
            if tty:
                out.write("\r" + progress_line(progress) + "\033[K", ending="")
            elif ended or now - last_line >= 2:
                out.write(progress_line(progress))
                last_line = now
            out.flush()
            if ended or (deadline is not None and now > deadline):
                if tty:
                    out.write("")
                return progress
            time.sleep(0.5)

    def _progress(self, job: MassMailJob, out: OutputWrapper, until: float | None) -> JobProgress:
        """Read the job's progress; while the database is down say so and keep trying."""
        down_since: float | None = None

        def report(exc: Exception, wait: float) -> None:
            nonlocal down_since
            if down_since is None:
                down_since = time.monotonic()
                out.write(
                    f"\nThe database is unreachable ({error_summary(exc)}); job {job.pk} goes on "
                    "in the workers, still waiting for it."
                )
                out.flush()

        progress = database_retry(
            lambda: massmail_job_progress(job=job), until=until, on_outage=report
        )
        if down_since is not None:
            out.write(f"The database is back after {time.monotonic() - down_since:.0f}s.")
        return progress

    @staticmethod
    def _document(progress: JobProgress) -> dict[str, Any]:
        c = progress.counts
        return {
            "job": progress.job_id,
            "status": progress.status,
            "total": c["total"],
            **{status.value: c[status] for status in MailStatus},
            "reason": progress.reason,
        }

    def _finish(self, job: MassMailJob, progress: JobProgress) -> None:
        c = progress.counts
        if progress.status not in (JobStatus.FINISHED,):
            reason = f": {progress.reason}" if progress.reason else ""
            if progress.status in (JobStatus.PAUSED, JobStatus.CANCELLED):
                raise CommandError(f"Job {job.pk} is {progress.status}{reason}", returncode=2)
            raise CommandError(f"Job {job.pk} did not end in time (it is {progress.status}).")
        if c[MailStatus.FAILED] or c[MailStatus.UNKNOWN]:
            raise CommandError(
                f"Job {job.pk}: {c[MailStatus.FAILED]} failed, {c[MailStatus.UNKNOWN]} with an "
                "unknown outcome; see the job page for each invoice's cause.",
                returncode=1,
            )
