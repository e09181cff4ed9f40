"""This project end to end: real Celery workers on Redis, PostgreSQL status per message.

Workers are `celery -A directo_mail worker` subprocesses (directo_mail.testing.worker, as in
tests/massmail), count their database statements into files (bench.counting) and are sampled
for memory from /proc. A job is created with `invoices_mass_mail_start`, as
`massmail_invoices --ids` does, and is timed until the worker marks it finished.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from bench.counting import ENV_DIRECTORY, statements_total
from bench.parameters import STORED_HOOK
from directo_mail.testing.worker import CeleryWorker
from invoices.mailing import invoices_mass_mail_start
from invoices.models import Invoice, StoredDocument
from invoices.pdf import invoice_pdf_key, seller_name
from massmail.models import JobStatus, MassMailJob, OutgoingMail
from users.models import UserCard

_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        return 0


@dataclass
class MemorySampler:
    """Sample the RSS of worker processes (main and pool) a few times a second."""

    pids: list[int]
    interval: float = 0.2
    peak_kb: dict[int, int] = field(default_factory=dict)
    series: list[tuple[float, int]] = field(default_factory=list)  # (time, pool total kB)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> int:
        total = 0
        for pid in self.pids:
            rss = _rss_kb(pid)
            self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), rss)
            total += rss
        self.series.append((time.monotonic(), total))
        return total

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self._stop.clear()
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def worker(
    *,
    name: str,
    log: Path,
    env: Mapping[str, str],
    settings: Mapping[str, Any],
    counter_dir: Path,
    concurrency: int,
    beat_schedule: Path | None = None,
) -> CeleryWorker:
    """Return a worker (not started) on the benchmark's settings that counts its statements.

    With `beat_schedule`, beat runs beside it (the mass-mail tick wakes waiting jobs).
    """
    return CeleryWorker(
        name=name,
        log=log,
        broker_url=env["CELERY_BROKER_URL"],
        database_url=env["DATABASE_URL"],
        settings_module="bench.settings",
        overrides=settings,
        environment={**env, ENV_DIRECTORY: str(counter_dir)},
        concurrency=concurrency,
        beat_schedule=beat_schedule,
    )


def stored_documents_forget(*, invoice_ids: Sequence[int]) -> int:
    """Delete the stored PDFs of these invoices, so that the next send renders each again."""
    invoices = Invoice.objects.filter(pk__in=invoice_ids).select_related("owner")
    keys = [
        invoice_pdf_key(invoice=invoice, company=seller_name(invoice))
        for invoice in invoices.prefetch_related("lines")
    ]
    deleted, _ = StoredDocument.objects.filter(key__in=keys).delete()
    return deleted


def stored_hook() -> Callable[..., Any] | None:
    """Return the product's stored-documents service, or None while it has none."""
    module, _, name = STORED_HOOK.partition(":")
    try:
        hook: Callable[..., Any] = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return hook


@dataclass(frozen=True)
class JobRun:
    elapsed: float
    sent: int
    failed: int
    unknown: int
    worker_statements: int
    enqueue_statements: int


def _count_statements(counter: list[int]) -> Any:
    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        counter[0] += 1
        return execute(sql, params, many, context)

    return wrapper


def job_run(
    *,
    card: UserCard,
    invoice_ids: Sequence[int],
    worker: CeleryWorker,
    counter_dir: Path,
    timeout: float = 300,
) -> JobRun:
    """Create a job over the invoices, wait until the workers finish it, return the timings."""
    before = statements_total(counter_dir)
    enqueue = [0]
    started = time.time()
    with connection.execute_wrapper(_count_statements(enqueue)):
        job = invoices_mass_mail_start(card=card, invoice_ids=invoice_ids, created_by="bench")
    deadline = time.monotonic() + timeout
    while True:
        row = MassMailJob.objects.filter(pk=job.pk).values("status", "finished_at").get()
        if row["status"] == JobStatus.FINISHED:
            break
        if row["status"] != JobStatus.RUNNING and row["status"] != JobStatus.QUEUED:
            raise RuntimeError(f"job {job.pk} ended {row['status']}:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job.pk} still {row['status']}:\n{worker.log_tail()}")
        time.sleep(0.02)
    finished = row["finished_at"]
    elapsed = (finished.timestamp() if finished else time.time()) - started
    # The other dispatcher notices the end a moment later: wait until the counts stand still.
    statements = statements_total(counter_dir)
    while True:
        time.sleep(0.3)
        now = statements_total(counter_dir)
        if now == statements:
            break
        statements = now
    job.refresh_from_db()
    return JobRun(
        elapsed=elapsed,
        sent=job.sent_count,
        failed=job.failed_count,
        unknown=job.unknown_count,
        worker_statements=statements - before,
        enqueue_statements=enqueue[0] + 1,  # + the COPY, which bypasses Django's wrappers
    )


def enqueue_time(*, card: UserCard) -> dict[str, Any]:
    """Time `invoices_mass_mail_start` over all of the card's unsent invoices; then drop the job.

    Run while no worker listens: the dispatch tasks it queues are purged with the broker.
    """
    started = time.perf_counter()
    job = invoices_mass_mail_start(card=card, all_unsent=True, created_by="bench-enqueue")
    elapsed = time.perf_counter() - started
    rows = OutgoingMail.objects.filter(job=job).count()
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(OutgoingMail._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE job_id = %s", [job.pk])  # noqa: S608
    MassMailJob.objects.filter(pk=job.pk).delete()
    return {"messages": rows, "seconds": elapsed}
