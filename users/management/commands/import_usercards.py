"""`import_usercards FILE`: upsert user cards and the system settings from JSON."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from users.transfer import UserCardImportError, usercards_document_parse, usercards_import


class Command(BaseCommand):
    help = (
        'Import {"system_settings": {...}, "user_cards": [{...}, ...]} (FILE, or - for stdin). '
        "Cards are upserted by code (case-insensitively); smtp_password given in clear is stored "
        'encrypted, left out or null keeps the stored one, "" clears it. Booleans are true/false '
        'or "Yes"/"No". The whole file is validated first: if any row is invalid nothing is saved '
        "and every error is printed as `row N (CODE) field: message`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="the JSON file, or - for stdin")
        parser.add_argument(
            "--dry-run", action="store_true", help="validate the whole file and save nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        text = self._read(options["file"])
        try:
            result = usercards_import(
                document=usercards_document_parse(text), dry_run=options["dry_run"]
            )
        except UserCardImportError as exc:
            raise CommandError(str(exc)) from None
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}", self.style.WARNING)
        verb = "Would import" if result.dry_run else "Imported"
        settings_note = ", system settings updated" if result.system_settings_updated else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {len(result.created)} new and {len(result.updated)} updated user "
                f"card(s){settings_note}."
            )
        )
        if result.created and not result.dry_run:
            self.stdout.write(
                "Accounts created for new cards have no usable password: set one with "
                "`python manage.py changepassword CODE`."
            )

    def _read(self, path: str) -> str:
        if path == "-":
            return sys.stdin.read()
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text: save the JSON file as UTF-8.") from None
