"""This project end to end: real Celery workers on Redis, PostgreSQL status per message.

Workers are started as `celery -A directo_mail worker` subprocesses (as tests/massmail does),
count their database statements into files (bench.counting) and are sampled for memory from
/proc. A job is created with `massmail_job_create`, as `massmail_invoices --ids` does, and is
timed until the worker marks it finished.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection

from bench.counting import statements_total
from mailer.massmail import massmail_job_create
from mailer.models import JobStatus, MassMailJob, OutgoingMail
from users.models import UserCard

BASE_DIR = Path(__file__).resolve().parent.parent
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * _PAGE_KB
    except (OSError, ValueError, IndexError):
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


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


class Workers:
    """One `celery -A directo_mail worker` with a prefork pool, on the benchmark's database."""

    def __init__(self, *, env: dict[str, str], log: Path, concurrency: int) -> None:
        self.env = env
        self.log = log
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "directo_mail",
            "worker",
            "-l",
            "info",
            "-P",
            "prefork",
            "-c",
            str(self.concurrency),
            "-n",
            f"bench{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                command,
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        while len(self.pool_pids()) < self.concurrency and time.monotonic() < deadline:
            time.sleep(0.1)

    def pool_pids(self) -> list[int]:
        return _children(self.process.pid) if self.process is not None else []

    def pids(self) -> list[int]:
        return [self.process.pid, *self.pool_pids()] if self.process is not None else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


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
    workers: Workers,
    counter_dir: Path,
    timeout: float = 300,
) -> JobRun:
    """Create a job over the invoices, wait until the workers finish it, return the timings."""
    before = statements_total(counter_dir)
    enqueue = [0]
    started = time.time()
    with connection.execute_wrapper(_count_statements(enqueue)):
        job = massmail_job_create(card=card, invoice_ids=invoice_ids, created_by="bench")
    deadline = time.monotonic() + timeout
    while True:
        row = MassMailJob.objects.filter(pk=job.pk).values("status", "finished_at").get()
        if row["status"] == JobStatus.FINISHED:
            break
        if row["status"] != JobStatus.RUNNING and row["status"] != JobStatus.QUEUED:
            raise RuntimeError(f"job {job.pk} ended {row['status']}:\n{workers.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job.pk} still {row['status']}:\n{workers.log_tail()}")
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
    """Time `massmail_job_create` over all of the card's unsent invoices; then drop the job.

    Run while no worker listens: the dispatch tasks it queues are purged with the broker.
    """
    started = time.perf_counter()
    job = massmail_job_create(card=card, all_unsent=True, created_by="bench-enqueue")
    elapsed = time.perf_counter() - started
    rows = OutgoingMail.objects.filter(job=job).count()
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(OutgoingMail._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE job_id = %s", [job.pk])  # noqa: S608
    MassMailJob.objects.filter(pk=job.pk).delete()
    return {"messages": rows, "seconds": elapsed}


def worker_env(
    *, base: dict[str, str], settings: dict[str, Any], counter_dir: Path
) -> dict[str, str]:
    """Return the environment of the benchmark's workers."""
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "BENCH_SETTINGS": json.dumps(settings),
        "BENCH_COUNT_STATEMENTS": str(counter_dir),
        "PYTHONUNBUFFERED": "1",
    }
