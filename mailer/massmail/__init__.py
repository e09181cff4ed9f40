"""Mass-mailing invoices: jobs (jobs.py), dispatch (dispatch.py), the reaper, the settings."""

from __future__ import annotations

from mailer.massmail.conf import MassMailRefusedError, MassMailSettings, massmail_settings
from mailer.massmail.dispatch import (
    Outcome,
    massmail_claim,
    massmail_dispatch_run,
    massmail_inline_run,
)
from mailer.massmail.jobs import (
    JobProgress,
    invoices_unsent,
    massmail_dispatch_enqueue,
    massmail_job_cancel,
    massmail_job_counts,
    massmail_job_create,
    massmail_job_finish_if_done,
    massmail_job_pause,
    massmail_job_progress,
    massmail_job_resume,
    massmail_jobs_pause_for_card,
)
from mailer.massmail.reaper import massmail_reap

__all__ = [
    "JobProgress",
    "MassMailRefusedError",
    "MassMailSettings",
    "Outcome",
    "invoices_unsent",
    "massmail_claim",
    "massmail_dispatch_enqueue",
    "massmail_dispatch_run",
    "massmail_inline_run",
    "massmail_job_cancel",
    "massmail_job_counts",
    "massmail_job_create",
    "massmail_job_finish_if_done",
    "massmail_job_pause",
    "massmail_job_progress",
    "massmail_job_resume",
    "massmail_jobs_pause_for_card",
    "massmail_reap",
    "massmail_settings",
]
