"""`purge_stored_documents`: delete stored invoice PDFs that no invoice needs any more."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from invoices.documents import stored_documents_purge


class Command(BaseCommand):
    help = (
        "Delete the stored invoice PDFs that no invoice's current content names (an invoice "
        "edited or deleted since, an earlier renderer version). What a job may still send is "
        "kept. Celery beat runs it daily."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = stored_documents_purge()
        self.stdout.write(f"Deleted {deleted} stored document(s) that no invoice needs.")
