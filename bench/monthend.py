"""Month end: many users start their invoice jobs within one second, each on a server of its own.

User i sends through a listener of the sink on a loopback address of its own (port 587 with
STARTTLS, or 465 with TLS from the first byte, as cards allow), with that server's own limits:
a few are Microsoft 365 (30 messages a minute, 3 connections), the last one is Zone-like (1
message per 5 seconds, 1 connection), both sped up (bench.parameters.SPEED_UP), and the
listener answers 4.3.2 beyond them. The project's provider limits (`MAILER_PROVIDER_LIMITS`)
are set to match, in the workers and in this process. The jobs run on one worker with the
production pool (`--concurrency`, 2) and beat's mass-mail tick, sped up as well.

Reported per job: the time to its first message (every job should progress within seconds),
when it finished and its rate since the common start; per server: whether its limits held
(zero 4.3.2); overall: the throughput and the fairness (the highest per-job rate over the
lowest among the jobs that no provider limit throttles).
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.test.utils import override_settings

from bench import data, project
from bench.parameters import (
    FIRST_SENT_SECONDS,
    MAX_FAIRNESS,
    MONTH_END_FIRST,
    MONTH_END_RATES,
    MONTH_END_TICK,
    NETWORK,
    RATE_TOLERANCE,
    SINK_PASSWORD,
    SPEED_UP,
)
from bench.report import max_in_window
from invoices.mailing import invoices_mass_mail_start
from massmail.models import JobStatus, MassMailJob
from users.models import SslTls

if TYPE_CHECKING:
    from bench.run import Bench, Sink

PLAIN = "plain"  # a server without limits (the user's own or their hosting's)


@dataclass(frozen=True)
class Server:
    """One user's mail server: a listener of the sink with its provider's limits."""

    user: int
    host: str
    port: int
    provider: str  # "microsoft365", "zone" or PLAIN

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def tls(self) -> str:
        return SslTls.SSL if self.port == 465 else SslTls.STARTTLS

    @property
    def rate(self) -> tuple[int, float] | None:
        return MONTH_END_RATES[self.provider][0] if self.throttled else None

    @property
    def connections(self) -> int | None:
        return MONTH_END_RATES[self.provider][1] if self.throttled else None

    @property
    def throttled(self) -> bool:
        return self.provider != PLAIN


def servers(users: int) -> list[Server]:
    """Return each user's server: every seventh on Microsoft 365, the last one Zone-like."""
    found = []
    for user in range(users):
        if user == users - 1 and users > 1:
            provider, port = "zone", 465
        elif user % 7 == 0:
            provider, port = "microsoft365", 587
        else:
            provider, port = PLAIN, 465 if user % 2 else 587
        found.append(Server(user, f"{NETWORK}{user + MONTH_END_FIRST}", port, provider))
    return found


def provider_limits(chosen: list[Server]) -> list[dict[str, Any]]:
    """Return `MAILER_PROVIDER_LIMITS` as the product would be configured for these servers."""
    limits = []
    for provider, ((count, seconds), connections) in MONTH_END_RATES.items():
        matching = [server.host for server in chosen if server.provider == provider]
        if matching:
            limits.append(
                {
                    "name": f"{provider}-bench",
                    "hosts": matching,
                    "rates": [[count, seconds]],
                    "connections": connections,
                    "quota_pause": 30,
                }
            )
    limits.append({"name": "default", "hosts": ["*"], "rates": [], "connections": 4})
    return limits


def _cards(chosen: list[Server], invoices: int) -> list[tuple[Any, list[int]]]:
    cards = []
    for server in chosen:
        card = data.card_ensure(
            code=f"ME{server.user + 1:02d}",
            server=server.name,
            password=SINK_PASSWORD,
            attachments=False,
            ssl_tls=server.tls,
        )
        ids = data.invoices_ensure(card=card, count=invoices, pad=False, seed=100 + server.user)
        cards.append((card, ids))
    return cards


def _wait(job_ids: list[int], timeout: float, worker: Any) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = dict(MassMailJob.objects.filter(pk__in=job_ids).values_list("pk", "status"))
        if len(rows) != len(job_ids):  # another run emptied the tables under this one
            raise RuntimeError(f"month end: jobs {set(job_ids) - set(rows)} are gone")
        if all(status == JobStatus.FINISHED for status in rows.values()):
            return
        active = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FINISHED)
        stopped = {pk: status for pk, status in rows.items() if status not in active}
        if stopped:
            raise RuntimeError(f"month end: jobs {stopped} stopped:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            tail = worker.log_tail()
            raise RuntimeError(f"month end: jobs still {rows} at the deadline:\n{tail}")
        time.sleep(0.2)


def month_end_run(bench: Bench, sink: Sink) -> dict[str, Any]:
    """Start every user's job within one second; wait for all; return the summary."""
    args = bench.args
    chosen = servers(args.month_end_users)
    bench.say(
        f"month end: {len(chosen)} users x {args.month_end_invoices} invoices, each user on a "
        f"server of their own (limits sped up {SPEED_UP}x)"
    )
    cards = _cards(chosen, args.month_end_invoices)
    for server in chosen:
        sink.ask(
            "serve",
            host=server.host,
            port=server.port,
            tls=server.tls,
            sessions_per_user=server.connections,
            rate=server.rate,
        )
    limits = provider_limits(chosen)
    tick = {"massmail-tick": {"task": "massmail.tick", "schedule": MONTH_END_TICK}}
    settings = {
        **bench.settings,
        "MAILER_PROVIDER_LIMITS": limits,
        "MAILER_TICK_SECONDS": MONTH_END_TICK,
        "CELERY_BEAT_SCHEDULE": tick,
    }
    zone_seconds = max((s.rate[1] / s.rate[0] for s in chosen if s.rate is not None), default=0.0)
    timeout = (
        60
        + len(chosen) * args.month_end_invoices / 10
        + 3 * zone_seconds * (args.month_end_invoices)
    )
    with ExitStack() as stack:
        worker = stack.enter_context(
            project.worker(
                name=f"bench-monthend-{args.database}@%h",
                log=bench.workdir / "worker-monthend.log",
                env=bench.env,
                settings=settings,
                counter_dir=bench.counter_dir,
                concurrency=args.concurrency,
                beat_schedule=bench.workdir / "beat-monthend",
            )
        )
        stack.enter_context(override_settings(MAILER_PROVIDER_LIMITS=limits))
        started = time.monotonic()
        jobs = []
        for card, ids in cards:
            job = invoices_mass_mail_start(card=card, invoice_ids=ids, created_by="bench-month-end")
            jobs.append((job.pk, time.monotonic() - started))
        _wait([pk for pk, _ in jobs], timeout, worker)
        stats = {server.name: sink.ask("stats", listener=server.name) for server in chosen}
        worker.terminate()
    counts: dict[int, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in MassMailJob.objects.filter(pk__in=[pk for pk, _ in jobs]).values(
            "pk", "sent_count", "failed_count", "unknown_count"
        )
    }
    return month_end_summary(
        chosen=chosen,
        invoices=args.month_end_invoices,
        concurrency=args.concurrency,
        started=started,
        jobs=[(offset, counts[pk]) for pk, offset in jobs],
        stats=stats,
    )


def _job(
    server: Server, offset: float, counts: dict[str, Any], stats: dict[str, Any], started: float
) -> dict[str, Any]:
    stamps = stats["stamps"]
    finished = stamps[-1] - started if stamps else None
    job = {
        "user": server.user + 1,
        "server": server.name,
        "provider": server.provider,
        "throttled": server.throttled,
        "started_seconds": offset,
        "sent": counts["sent_count"],
        "failed": counts["failed_count"],
        "unknown": counts["unknown_count"],
        "delivered": stats["messages"],
        "first_sent_seconds": stamps[0] - started if stamps else None,
        "finished_seconds": finished,
        "rate": stats["messages"] / finished if finished else None,
        "connections": stats["connections"],
        "peak_sessions": stats["peak_sessions_per_user"],
        "rejected_432": stats["rejected_432"],
        "rejected_432_rate": stats["rejected_432_rate"],
    }
    if server.rate is not None:
        count, seconds = server.rate
        job["limit"] = f"{count} per {seconds:g} s, {server.connections} connections"
        job["max_in_any_window"] = max_in_window(stamps, seconds - RATE_TOLERANCE)
        job["held"] = (
            job["max_in_any_window"] <= count
            and stats["peak_sessions_per_user"] <= (server.connections or 0)
            and stats["rejected_432"] == 0
        )
    else:
        job["held"] = stats["rejected_432"] == 0
    return job


def month_end_summary(
    *,
    chosen: list[Server],
    invoices: int,
    concurrency: int,
    started: float,
    jobs: list[tuple[float, dict[str, Any]]],
    stats: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Return every job's figures, the throughput, the fairness and whether limits held."""
    rows = [
        _job(server, offset, counts, stats[server.name], started)
        for server, (offset, counts) in zip(chosen, jobs, strict=True)
    ]
    free = [row for row in rows if not row["throttled"] and row["rate"]]
    fastest = max(free, key=lambda row: row["rate"], default=None)
    slowest = min(free, key=lambda row: row["rate"], default=None)
    finished = [row["finished_seconds"] for row in rows if row["finished_seconds"] is not None]
    first = [row["first_sent_seconds"] for row in rows if row["first_sent_seconds"] is not None]
    delivered = sum(row["delivered"] for row in rows)
    seconds = max(finished, default=0.0)
    return {
        "users": len(chosen),
        "invoices_per_user": invoices,
        "messages": len(chosen) * invoices,
        "delivered": delivered,
        "failed": sum(row["failed"] for row in rows),
        "concurrency": concurrency,
        "speed_up": SPEED_UP,
        "start_spread_seconds": max(offset for offset, _ in jobs),
        "seconds": seconds,
        "throughput": delivered / seconds if seconds else None,
        "first_sent_max_seconds": max(first) if len(first) == len(rows) else None,
        "first_sent_median_seconds": statistics.median(first) if first else None,
        "first_sent_target_seconds": FIRST_SENT_SECONDS,
        "all_progressed_in_time": len(first) == len(rows) and max(first) <= FIRST_SENT_SECONDS,
        "fairness": fastest["rate"] / slowest["rate"] if fastest and slowest else None,
        "fairness_target": MAX_FAIRNESS,
        "fairness_between": [fastest["user"], slowest["user"]] if fastest and slowest else [],
        "rejected_432": sum(row["rejected_432"] for row in rows),
        "limits_held": all(row["held"] for row in rows),
        "jobs": rows,
    }
