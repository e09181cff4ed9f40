"""Celery tasks of the event mailbox: housekeeping only; they call the services."""

from __future__ import annotations

import logging

from celery import shared_task

from deliverability.retention import inbound_mail_purge as inbound_mail_purge_run

logger = logging.getLogger(__name__)

PURGE_TASK = "deliverability.inbound_mail_purge"


@shared_task(name=PURGE_TASK, ignore_result=True)
def inbound_mail_purge() -> int:
    """Delete received mail older than EVENT_MAILBOX_RETENTION_DAYS (celery beat runs it)."""
    deleted = inbound_mail_purge_run()
    if deleted:
        logger.info("Event mailbox: deleted %d stored messages past retention", deleted)
    return deleted
