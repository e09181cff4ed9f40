"""Celery tasks of invoices: housekeeping only; they call the services."""

from __future__ import annotations

import logging

from celery import shared_task

from invoices.documents import stored_documents_purge as stored_documents_purge_run

logger = logging.getLogger(__name__)

PURGE_TASK = "invoices.stored_documents_purge"


@shared_task(name=PURGE_TASK, ignore_result=True)
def stored_documents_purge() -> int:
    """Delete the stored PDFs that no invoice needs any more (celery beat runs it daily)."""
    deleted = stored_documents_purge_run()
    if deleted:
        logger.info("Stored documents: deleted %d that no invoice needs", deleted)
    return deleted
