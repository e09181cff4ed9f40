"""The benchmark's steps once Django is set up: data, variants in rounds, memory, rate limit.

Every variant runs in two forms over the same invoices: "render" (each renders every invoice
with the project's builder and builds its MIME; bench.rendering) and "stored" (each sends the
same messages, rendered once before timing: kinds "invoice" and "small"; bench.peers). The
project's "invoice" row renders per send (its stored PDFs are forgotten before each job) and is
also its render row; "project_stored" sends documents the product stored once (bench.project).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from django.test.utils import override_settings
from post_office.models import Attachment as PostOfficeAttachment
from post_office.models import Email as PostOfficeEmail
from post_office.models import Log as PostOfficeLog

from bench import data, monthend, peers, profiling, project, rendering, report
from bench.data import Prebuilt
from bench.parameters import (
    FAST_HOST,
    LIMITED_HOST,
    RATE,
    RATE_CONNECTIONS,
    SINK_PASSWORD,
    SINK_PORT,
)
from directo_mail.testing.worker import CeleryWorker
from massmail import stores as massmail_stores
from massmail.models import MassMailJob, OutgoingMail
from users.models import UserCard

if TYPE_CHECKING:
    from bench.run import Bench, Sink

Work = Sequence[Prebuilt] | rendering.Renderer  # stored messages, or invoices to render
Send = Callable[[peers.Target, Any], float]
RENDER = "render"  # the kind of the render form's variants


@dataclass(frozen=True)
class Invoices:
    """A card and the ids of its invoices."""

    card: UserCard
    ids: list[int]


@dataclass(frozen=True)
class Data:
    """The run's cards and invoices, and the messages the peers send, prebuilt."""

    invoice: Invoices  # padded: the 86 KB message
    small: Invoices  # no PDF, no attachments: small control messages
    rate: Invoices  # on the limited host
    big: Invoices  # the enqueue and memory jobs'
    messages: dict[str, list[Prebuilt]]  # by kind: "invoice", "small"
    build_seconds: dict[str, float]  # by kind: building them in this process
    stored: Invoices | None = None  # the invoice card's twin whose documents the product stored


@dataclass
class ProjectSend:
    """The project as a variant: one job over the card's invoices, sent by the worker."""

    invoices: Invoices
    worker: CeleryWorker
    counter_dir: Path
    statements: dict[str, int] = field(default_factory=dict)  # of the last job
    #: Render per send: forget the invoices' stored PDFs before each (untimed) job start.
    renders: bool = False

    def job(self, *, count: int | None = None) -> project.JobRun:
        """Run a job over the first `count` invoices (all by default) until it finishes."""
        if self.renders:
            project.stored_documents_forget(invoice_ids=self.invoices.ids[:count])
        return project.job_run(
            card=self.invoices.card,
            invoice_ids=self.invoices.ids[:count],
            worker=self.worker,
            counter_dir=self.counter_dir,
        )

    def __call__(self, _: peers.Target, messages: Work) -> float:
        job = self.job()
        if job.sent != len(messages):
            raise RuntimeError(f"the project sent {job.sent} of {len(messages)}")
        self.statements = {
            "statements": job.worker_statements + job.enqueue_statements,
            "worker_statements": job.worker_statements,
            "enqueue_statements": job.enqueue_statements,
        }
        return job.elapsed


@dataclass(frozen=True)
class Variant:
    """One way of sending one kind of message, timed in every round."""

    name: str
    kind: str  # "render" (renders each invoice), or the stored messages' "invoice" or "small"
    send: Send
    messages: Work

    @property
    def key(self) -> str:
        return f"{self.name}/{self.kind}"


@dataclass(frozen=True)
class Stage:
    """The running benchmark: its context and data, the sink, the worker, the sink's address."""

    bench: Bench
    data: Data
    sink: Sink
    worker: CeleryWorker
    target: peers.Target


def _post_office_truncate() -> None:
    data.table_truncate(PostOfficeLog, PostOfficeAttachment)
    data.table_truncate(PostOfficeEmail)


def database_reset(bench: Bench) -> None:
    """Migrate the benchmark database, empty its jobs and mails, the broker and the limits."""
    bench.say(f"database {bench.args.database}: migrating")
    data.database_prepare()
    data.table_truncate(OutgoingMail, MassMailJob, PostOfficeLog, PostOfficeAttachment)
    data.table_truncate(PostOfficeEmail)
    redis.Redis.from_url(bench.args.redis).flushdb()
    massmail_stores._store_for.cache_clear()


def _invoices(code: str, server: str, *, count: int, seed: int, pad: bool, **card: Any) -> Invoices:
    """Return a card that sends through the sink, and `count` of its invoices."""
    card_row = data.card_ensure(code=code, server=server, password=SINK_PASSWORD, **card)
    return Invoices(card_row, data.invoices_ensure(card=card_row, count=count, pad=pad, seed=seed))


def data_prepare(bench: Bench) -> Data:
    """Create the cards and their missing invoices; prebuild the messages the peers send."""
    args = bench.args
    fast, limited = f"{FAST_HOST}:{SINK_PORT}", f"{LIMITED_HOST}:{SINK_PORT}"
    started = time.perf_counter()
    invoice = _invoices("BENCH", fast, count=args.n, seed=1, pad=True)
    small = _invoices("SMALL", fast, count=args.n, seed=2, pad=False, pdf=False, attachments=False)
    rate = _invoices("RATE", limited, count=args.rate_n, seed=3, pad=True)
    big_count = max(args.enqueue, args.memory_n)
    big = _invoices("BIG", fast, count=big_count, seed=4, pad=False, attachments=False)
    stored = None
    hook = project.stored_hook()
    if hook is not None:  # the product stores rendered documents: prepare them before timing
        stored = _invoices("STORED", fast, count=args.n, seed=1, pad=True)
        hook(card=stored.card, invoice_ids=stored.ids)
    bench.say(f"invoices ready in {time.perf_counter() - started:.1f} s; prebuilding messages")
    messages, build_seconds = {}, {}
    for kind, invoices in (("invoice", invoice), ("small", small)):
        # Timed as well: what building a message costs the project, in one process.
        started = time.perf_counter()
        messages[kind] = data.messages_prebuild(card=invoices.card, invoice_ids=invoices.ids)
        build_seconds[kind] = time.perf_counter() - started
    return Data(
        invoice, small, rate, big, messages=messages, build_seconds=build_seconds, stored=stored
    )


def enqueue_measure(bench: Bench, prepared: Data) -> dict[str, Any]:
    """Time creating a job over the big card's invoices while no worker runs; drop its tasks."""
    bench.say(f"enqueue: massmail_job_create over {len(prepared.big.ids)} invoices")
    enqueue = project.enqueue_time(card=prepared.big.card)
    redis.Redis.from_url(bench.args.redis).flushdb()  # the big job's dispatch tasks: never run
    return enqueue


def profile_run(bench: Bench, prepared: Data) -> dict[str, Any] | None:
    """Profile the project dispatching `--profile-n` invoices in this process (no worker runs).

    The sink must be up. The job's dispatch tasks are dropped with the broker's database.
    """
    count = min(bench.args.profile_n, len(prepared.invoice.ids))
    if count <= 0:
        return None
    bench.say(f"profile: the project's dispatch of {count} invoices in this process (cProfile)")
    profile = profiling.project_profile(
        card=prepared.invoice.card, invoice_ids=prepared.invoice.ids[:count]
    )
    redis.Redis.from_url(bench.args.redis).flushdb()
    massmail_stores._store_for.cache_clear()
    return profile


def _worker(bench: Bench, *, name: str, settings: dict[str, Any], concurrency: int) -> CeleryWorker:
    return project.worker(
        name=f"bench{os.getpid()}{name}@%h",
        log=bench.workdir / f"worker{name}.log",
        env=bench.env,
        settings=settings,
        counter_dir=bench.counter_dir,
        concurrency=concurrency,
    )


def _variants(stage: Stage) -> list[Variant]:
    """Return every variant: rendering invoices; then stored invoices, then small messages."""
    invoices, smalls = stage.data.messages["invoice"], stage.data.messages["small"]
    renderer = rendering.Renderer(stage.data.invoice.card, stage.data.invoice.ids)

    def project_send(invoices: Invoices, *, renders: bool = False) -> ProjectSend:
        return ProjectSend(invoices, stage.worker, stage.bench.counter_dir, renders=renders)

    # The project's render row is its "invoice" row: it renders per send in both forms.
    stored = []
    if stage.data.stored is not None:
        stored = [Variant("project_stored", "invoice", project_send(stage.data.stored), invoices)]
    return [
        Variant("raw_one", RENDER, rendering.raw_one, renderer),
        Variant("raw_two", RENDER, rendering.raw_two, renderer),
        Variant("naive", RENDER, rendering.naive, renderer),
        Variant("django", RENDER, rendering.django_backend, renderer),
        Variant("post_office", RENDER, rendering.post_office, renderer),
        *stored,
        Variant("raw_one", "invoice", peers.raw_one, invoices),
        Variant("raw_two", "invoice", peers.raw_two, invoices),
        Variant("naive", "invoice", peers.naive, invoices),
        Variant("django", "invoice", peers.django_backend, invoices),
        Variant("post_office", "invoice", peers.post_office, invoices),
        Variant("project", "invoice", project_send(stage.data.invoice, renders=True), invoices),
        Variant("raw_one", "small", peers.raw_one, smalls),
        Variant("raw_two", "small", peers.raw_two, smalls),
        Variant("django", "small", peers.django_backend, smalls),
        Variant("project", "small", project_send(stage.data.small), smalls),
    ]


def _warm_up(stage: Stage, variants: list[Variant]) -> None:
    stage.bench.say("warming up every variant (untimed)")
    for variant in variants:
        if not isinstance(variant.send, ProjectSend):
            variant.send(stage.target, _head(variant.messages, stage.bench.args.warm_up))
            if variant.name == "post_office":
                _post_office_truncate()
    for variant in variants:
        if isinstance(variant.send, ProjectSend):
            variant.send.job(count=max(1, stage.bench.args.warm_up))
    _post_office_truncate()


def _head(work: Work, count: int) -> Work:
    if isinstance(work, rendering.Renderer):
        return rendering.Renderer(work.card, work.ids[:count])
    return work[:count]


def _process_cpu(pids: Sequence[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _self_cpu() -> float:
    """Return this process's CPU and its reaped children's (the render form's forked senders).

    The sink and the workers are children too, but none ends while variants are measured.
    """
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _measure(stage: Stage, variant: Variant) -> dict[str, Any]:
    """Send the variant's messages once; return its time, CPU and what the sink counted."""
    sink = stage.sink
    if isinstance(variant.messages, rendering.Renderer):
        # Equal work: a render-form peer renders every PDF, as the project's render row does.
        # The product stores each invoice's PDF once (the last job's run stored them again).
        project.stored_documents_forget(invoice_ids=variant.messages.ids)
    sink.ask("reset")
    sink_cpu = sink.ask("stats")["cpu_seconds"]
    pool = stage.worker.pool_pids()
    pool_before, self_before = _process_cpu(pool), _self_cpu()
    elapsed = variant.send(stage.target, variant.messages)
    pool_cpu = _process_cpu(pool) - pool_before
    cpu = _self_cpu() - self_before + pool_cpu
    stats = sink.ask("stats")
    if stats["messages"] != len(variant.messages) or stats["duplicates"]:
        raise RuntimeError(f"{variant.key}: the sink got {stats['messages']} messages")
    return {
        "seconds": elapsed,
        "rate": len(variant.messages) / elapsed,
        "connections": stats["connections"],
        "sink_cpu_seconds": stats["cpu_seconds"] - sink_cpu,
        "client_cpu_seconds": cpu,
        "worker_cpu_seconds": pool_cpu,
        "bytes": stats["bytes"],
        **(variant.send.statements if isinstance(variant.send, ProjectSend) else {}),
    }


def _rounds(stage: Stage, variants: list[Variant]) -> dict[str, list[dict[str, Any]]]:
    """Run every variant once a round, in an order rotated each round; return the runs."""
    rounds = stage.bench.args.rounds
    runs: dict[str, list[dict[str, Any]]] = {variant.key: [] for variant in variants}
    for round_no in range(rounds):
        shift = round_no % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            runs[variant.key].append(_measure(stage, variant))
            if variant.name == "post_office":
                _post_office_truncate()
        stage.bench.say(
            f"round {round_no + 1}/{rounds}: "
            + ", ".join(f"{k} {v[-1]['rate']:.0f}/s" for k, v in runs.items())
        )
    return runs


def _memory(stage: Stage, rounds_sampler: project.MemorySampler) -> dict[str, Any]:
    """Run one large job while sampling the worker's memory; return the memory summary."""
    count = stage.bench.args.memory_n
    stage.bench.say(f"memory: one job of {count} messages, worker RSS sampled")
    sampler = project.MemorySampler(pids=stage.worker.pids(), interval=0.1)
    sampler.sample()
    sampler.start()
    job = project.job_run(
        card=stage.data.big.card,
        invoice_ids=stage.data.big.ids[:count],
        worker=stage.worker,
        counter_dir=stage.bench.counter_dir,
        timeout=max(300, count / 5),
    )
    sampler.stop()
    return report.memory_summary(sampler, rounds_sampler, job)


def _rate_limited(stage: Stage, stack: ExitStack) -> dict[str, Any]:
    """Run a job on the limited host through two workers; return what the sink saw."""
    bench, sink, count = stage.bench, stage.sink, stage.bench.args.rate_n
    bench.say(f"rate-limited: {count} messages, {RATE[0]} per {RATE[1]:g} s, 3 sessions")
    # Four dispatchers in two workers may want the mailbox; three connections are allowed (a
    # job's first run queues the others, no more than its mailbox's connections).
    stage.worker.terminate()  # it stops while the next ones start
    settings = {**bench.settings, "MAILER_BATCH_SIZE": 5, "MAILER_DISPATCH_PARALLELISM": 4}
    workers = [  # stopped when the scenario ends (`stack` is the scenario's own)
        stack.enter_context(_worker(bench, name=f"-rate{number}", settings=settings, concurrency=2))
        for number in range(2)
    ]
    stage.worker.join()
    sink.ask("limit", sessions_per_user=RATE_CONNECTIONS)
    sink.ask("reset")
    with override_settings(MAILER_DISPATCH_PARALLELISM=4, MAILER_BATCH_SIZE=5):
        job = project.job_run(
            card=stage.data.rate.card,
            invoice_ids=stage.data.rate.ids,
            worker=workers[0],
            counter_dir=bench.counter_dir,
            timeout=max(120, count / RATE[0] * RATE[1] * 3),
        )
    stats = sink.ask("stats")
    for worker in workers:  # together: the scenario's stack then joins them
        worker.terminate()
    sink.ask("limit", sessions_per_user=None)
    return report.rate_summary(messages=count, job=job, stats=stats)


def month_end(bench: Bench, sink: Sink) -> dict[str, Any] | None:
    """Run the month-end scenario (bench.monthend) unless `--month-end-users 0`."""
    if bench.args.month_end_users <= 0:
        return None
    return monthend.month_end_run(bench, sink)


def scenarios_run(bench: Bench, prepared: Data, sink: Sink, stack: ExitStack) -> dict[str, Any]:
    """Profile; start the worker; run the variants in rounds, the memory, rate-limited and
    month-end jobs.

    Every worker started here stops when `stack` closes, or when its scenario ends.
    """
    profile = profile_run(bench, prepared)
    concurrency = bench.args.concurrency
    bench.say(f"starting a Celery worker (prefork, concurrency {concurrency})")
    worker = _worker(bench, name="", settings=bench.settings, concurrency=concurrency)
    stack.enter_context(worker)
    sampler = project.MemorySampler(pids=worker.pids())
    sampler.sample()
    sampler.start()
    target = peers.Target(FAST_HOST, SINK_PORT, "bench@acme.test", SINK_PASSWORD, bench.tls.ca)
    stage = Stage(bench, prepared, sink, worker, target)
    variants = _variants(stage)
    _warm_up(stage, variants)
    runs = _rounds(stage, variants)
    sampler.stop()
    memory = _memory(stage, sampler)
    with ExitStack() as rate_stack:
        rate_limited = _rate_limited(stage, rate_stack)
    return {
        "runs": runs,
        "memory": memory,
        "rate_limited": rate_limited,
        "month_end": month_end(bench, sink),
        "profile": profile,
    }
