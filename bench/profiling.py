"""What bounds the project per message: cProfile of one process dispatching a job to the sink.

The job is created as in the rounds and sent by `massmail_inline_run` in this process (the
worker's code path without Celery: claim, load, render, serialise, send, two status writes),
while no worker consumes; its dispatch tasks are dropped with the broker's database after.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Sequence
from typing import Any

from invoices.mailing import invoices_mass_mail_start
from massmail.dispatch import massmail_inline_run
from massmail.models import MassMailJob
from users.models import UserCard

TOP = 18
#: Where a message's time goes, by (file, function) of the profile: cumulative per message.
STEPS = {
    "render: e-mail and PDF (invoice_email_build)": (
        "invoices/documents.py",
        "invoice_email_build",
    ),
    "of which the PDF (invoice_pdf_render)": ("invoices/pdf.py", "invoice_pdf_render"),
    "serialise MIME (message_envelope)": ("mailer/messages.py", "message_envelope"),
    "SMTP transaction (SmtpTransport.send, with its status write)": (
        "mailer/transport/smtp.py",
        "send",
    ),
    "status write: transmitting": ("massmail/rows.py", "mark"),
    "status write: sent": ("massmail/rows.py", "sent"),
    "claim a batch": ("massmail/rows.py", "claim"),
    "load a batch's documents": ("invoices/mailing.py", "load"),
}


def _where(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":  # a built-in
        return name
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in filename:
            filename = filename.rpartition(marker)[2]
            break
    else:
        filename = filename.rpartition("/work/main/")[2] or filename
    return f"{filename}:{line}({name})"


def _rows(stats: Any, order: str, messages: int, top: int) -> list[dict[str, Any]]:
    entries = sorted(
        stats.stats.items(), key=lambda item: item[1][3 if order == "cumulative" else 2]
    )[::-1]
    rows = []
    for key, (_, calls, own, cumulative, _) in entries:
        if key[2] in ("<built-in method builtins.exec>", "enable", "disable"):
            continue
        rows.append(
            {
                "function": _where(key),
                "calls": calls,
                "own_ms_per_message": 1000 * own / messages,
                "cumulative_ms_per_message": 1000 * cumulative / messages,
            }
        )
        if len(rows) == top:
            break
    return rows


def _steps(stats: Any, messages: int) -> dict[str, float]:
    found = dict.fromkeys(STEPS, 0.0)
    for (filename, _, name), (_, _, _, cumulative, _) in stats.stats.items():
        for step, (path, function) in STEPS.items():
            if name == function and filename.endswith(path):
                found[step] += 1000 * cumulative / messages
    return found


def project_profile(*, card: UserCard, invoice_ids: Sequence[int]) -> dict[str, Any]:
    """Dispatch one job over the invoices in this process under cProfile; return the top."""
    job = invoices_mass_mail_start(card=card, invoice_ids=invoice_ids, created_by="bench-profile")
    profiler = cProfile.Profile()
    cpu, started = time.process_time(), time.perf_counter()
    profiler.enable()
    outcome = massmail_inline_run(job_id=job.pk, timeout=300)
    profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    sent = MassMailJob.objects.values_list("sent_count", flat=True).get(pk=job.pk)
    stats = pstats.Stats(profiler)
    messages = max(sent, 1)
    return {
        "messages": sent,
        "outcome": str(outcome),
        "seconds": elapsed,
        "cpu_ms_per_message": 1000 * cpu / messages,
        "note": "one process, cProfile on (about 1.5x slower than without)",
        "steps_ms_per_message": _steps(stats, messages),
        "top_cumulative": _rows(stats, "cumulative", messages, TOP),
        "top_own": _rows(stats, "own", messages, 10),
    }
