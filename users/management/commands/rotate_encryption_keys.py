"""`rotate_encryption_keys`: re-encrypt every stored secret with the first key; resumable."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from users.crypto import KEYS_SETTING
from users.services import RotationReport, encryption_keys_rotate


class Command(BaseCommand):
    help = (
        f"Re-encrypt every secret (every encrypted field of every model) with the first key of "
        f"{KEYS_SETTING}, keeping the old keys after it until this has run. Each value is "
        "rewritten on its own, so the command can be interrupted and run again. A value that no "
        "key opens is reported (model, id, field) and left unchanged; the command then exits "
        "non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count only; write nothing")
        parser.add_argument(
            "--limit", type=int, metavar="N", help="stop after rotating N values (run again)"
        )
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            report = encryption_keys_rotate(dry_run=options["dry_run"], limit=options["limit"])
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        for failure in report.failed:
            self.stderr.write(
                f"Cannot decrypt {failure.model} pk={failure.pk} field {failure.field} with any "
                f"key in {KEYS_SETTING}; left unchanged."
            )
        if options["json"]:
            self.stdout.write(json.dumps(self._document(report), indent=2, default=str))
        else:
            self._summary(report)
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} secret(s) could not be decrypted with any key in "
                f"{KEYS_SETTING}. Add the key they were encrypted with (after the new first key) "
                "and run rotate_encryption_keys again."
            )

    def _document(self, report: RotationReport) -> dict[str, Any]:
        return {
            "dry_run": report.dry_run,
            "complete": report.complete,
            "rotated": report.rotated,
            "already_current": report.current,
            "failed": [asdict(failure) for failure in report.failed],
            "fields": report.per_column,
        }

    def _summary(self, report: RotationReport) -> None:
        rotated = "would rotate" if report.dry_run else "rotated"
        for label, counts in report.per_column.items():
            self.stdout.write(
                f"{label}: {counts['rotated']} {rotated}, {counts['current']} already current, "
                f"{counts['failed']} failed"
            )
        self.stdout.write(
            f"Total: {report.rotated} {rotated}, {report.current} already current, "
            f"{len(report.failed)} failed."
        )
        if not report.complete:
            self.stdout.write(
                self.style.WARNING("Stopped at --limit: run rotate_encryption_keys again.")
            )
