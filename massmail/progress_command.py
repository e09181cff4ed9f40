"""The shared part of the commands that start a mass-mail job (massmail_invoices, _letters).

A subclass adds its own arguments and starts its job; `job_follow` then runs it inline or
waits with a progress bar, prints the `--json` counts and exits non-zero when anything failed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from mailer.outages import DATABASE_ERRORS, database_retry, error_summary
from massmail.dispatch import massmail_inline_run
from massmail.models import JobStatus, MailStatus, MassMailJob
from massmail.progress import JobProgress, massmail_job_progress

BAR_WIDTH = 30
_ENDED = (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.PAUSED)


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


def job_document(progress: JobProgress) -> dict[str, Any]:
    """Return the `--json` document of a job: its status, total and count per status."""
    c = progress.counts
    return {
        "job": progress.job_id,
        "status": progress.status,
        "total": c["total"],
        **{status.value: c[status] for status in MailStatus},
        "reason": progress.reason,
    }


class MassMailJobCommand(BaseCommand):
    """A command that starts one mass-mail job and follows it (--wait, --json, --inline)."""

    #: What the rows are, in the closing error ("see the job page for each invoice's cause").
    document_noun = "document"

    def add_arguments(self, parser: CommandParser) -> None:
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

    def out(self, options: dict[str, Any]) -> OutputWrapper:
        """With --json, stdout carries the JSON document only: the rest goes to stderr."""
        return self.stderr if options["json"] else self.stdout

    def job_follow(self, job: MassMailJob, options: dict[str, Any]) -> None:
        """Run (--inline) or wait for the started job, print its counts, fail when it did."""
        wait = options["wait"] or options["inline"]
        out = self.out(options)
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
            self.stdout.write(json.dumps(job_document(progress)))
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
                f"unknown outcome; see the job page for each {self.document_noun}'s cause.",
                returncode=1,
            )
