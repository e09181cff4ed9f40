"""Mass-mailing benchmark: `python -m bench.run [--n N] [--rounds R]` (or `make bench`).

Every variant runs in two forms over the same N invoices (about 86 KB each, PDF included):
"render" (each renders every invoice with the project's builder, bench.rendering) and
"stored" (each sends the same messages, rendered once before timing, bench.peers), plus small
control messages; all go to one local SMTP sink (bench.sink: STARTTLS and AUTH with a trustme
certificate, in a process of its own whose CPU time is reported apart). Rounds are
interleaved: each round runs every variant once, in a rotated order. The table shows the
median messages per second with its spread, the project's ratio to each variant, database
statements per message, SMTP connections, worker memory, the time to enqueue a large job, a
rate-limited scenario, the month-end scenario (bench.monthend), a profile of the project per
message (bench.profiling) and the issue's targets, printed and never asserted; the results
also go to bench/results/latest.json. `--month-end` runs the month-end scenario alone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import report
from bench.parameters import (
    FAST_HOST,
    LIMITED_HOST,
    MONTH_END_FIRST,
    NETWORK,
    RATE,
    RATE_CONNECTIONS,
    SINK_PASSWORD,
    SINK_PORT,
    STORED_HOOK,
)
from bench.report import table
from directo_mail.testing.worker import SETTINGS_OVERRIDES_VARIABLE

if TYPE_CHECKING:
    from bench.scenarios import Data

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = BASE_DIR / "bench" / "results" / "latest.json"
MONTH_END_OUTPUT = BASE_DIR / "bench" / "results" / "month-end.json"

__all__ = ["Bench", "Sink", "main", "table"]


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Mass-mailing benchmark (issues 6 and 14).")
    parser.add_argument("--n", type=int, default=300, help="messages per variant and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median)")
    parser.add_argument("--enqueue", type=int, default=100_000, help="messages of the big job")
    parser.add_argument("--memory-n", type=int, default=2000, help="messages of the memory job")
    parser.add_argument("--rate-n", type=int, default=90, help="messages of the limited job")
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--database", default="bench_directo", help="PostgreSQL database")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--output", type=Path, default=None, help=f"default {DEFAULT_OUTPUT}")
    parser.add_argument("--month-end", action="store_true", help="run the month-end scenario alone")
    parser.add_argument("--warm-up", type=int, default=20, help="untimed messages per variant")
    parser.add_argument("--month-end-users", type=int, default=20, help="0: no month end")
    parser.add_argument("--month-end-invoices", type=int, default=250, help="per user")
    parser.add_argument(
        "--profile-n", type=int, default=100, help="invoices of the profile (0: none)"
    )
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = MONTH_END_OUTPUT if args.month_end else DEFAULT_OUTPUT
    return args


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _database_ensure(postgres: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{postgres}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


@dataclass(frozen=True)
class Tls:
    """The files of the run's trustme CA and the sink's certificate (paths)."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class Bench:
    """What every step of one run shares: its arguments, files, settings, environment, clock."""

    args: argparse.Namespace
    workdir: Path
    tls: Tls
    settings: dict[str, Any]  # overridden in this process and in the workers
    env: dict[str, str]  # the workers' environment (before their own settings)
    started_at: datetime
    clock: float  # time.monotonic() at the start
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])  # other work here

    @property
    def counter_dir(self) -> Path:
        """Where this process and the workers count their database statements."""
        return self.workdir / "statements"

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.clock:6.1f}s] {text}", flush=True)


class Sink:
    """The sink subprocess and its control connection."""

    def __init__(self, *, workdir: Path, cert: str, key: str) -> None:
        self.control = _free_port()
        self.log = workdir / "sink.log"
        listen = [f"{host}:{SINK_PORT}" for host in (FAST_HOST, LIMITED_HOST)]
        command = [sys.executable, "-m", "bench.sink", "--listen", listen[0]]
        command += ["--listen", listen[1], "--control", str(self.control)]
        command += ["--cert", cert, "--key", key, "--password", SINK_PASSWORD]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
                command, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 15
        while b"sink ready" not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the SMTP sink did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.sock = socket.create_connection(("127.0.0.1", self.control))
        self.reader = self.sock.makefile("rb")

    def ask(self, command: str, **values: Any) -> dict[str, Any]:
        self.sock.sendall(json.dumps({"cmd": command, **values}).encode() + b"\n")
        answer: dict[str, Any] = json.loads(self.reader.readline())
        return answer

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.ask("stop")
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _bench_key(generate: Callable[[], bytes]) -> str:
    """Return the benchmark database's encryption key (kept in var/, made once)."""
    path = BASE_DIR / "var" / "bench-field-encryption.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate())
        path.chmod(0o600)
    return path.read_text().strip()


def _tls_files(workdir: Path, hosts: Sequence[str]) -> Tls:
    """Write a new trustme CA and the sink's certificate for all of its hosts."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(FAST_HOST, LIMITED_HOST, "localhost", *hosts)
    tls = Tls(*(str(workdir / name) for name in ("ca.pem", "cert.pem", "key.pem")))
    ca.cert_pem.write_to_path(tls.ca)
    cert.private_key_and_cert_chain_pem.write_to_path(tls.cert)
    cert.private_key_pem.write_to_path(tls.key)
    return tls


def _settings(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Return the settings this process and the workers override: limits, media, Django's SMTP."""
    limits = [
        {
            "name": "microsoft365-bench",
            "hosts": [LIMITED_HOST],
            "rates": [list(RATE)],
            "connections": RATE_CONNECTIONS,
            "quota_pause": 30,
        },
        {"name": "default", "hosts": ["*"], "rates": [], "connections": 4},
    ]
    django_smtp = {
        "host": FAST_HOST,
        "port": SINK_PORT,
        "username": "django@acme.test",
        "password": SINK_PASSWORD,
        "use_tls": True,
        "timeout": 30,
    }
    return {
        "MAILER_LIMITS_REDIS_URL": args.redis,
        "MAILER_PROVIDER_LIMITS": limits,
        "MEDIA_ROOT": str(workdir / "media"),
        "MAILERS": {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": django_smtp,
            }
        },
    }


def _environment(args: argparse.Namespace, tls: Tls) -> dict[str, str]:
    """Return the workers' environment: this process's, the database, broker, key and CA."""
    from cryptography.fernet import Fernet

    return {
        **os.environ,
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "CELERY_BROKER_URL": args.redis,
        "FIELD_ENCRYPTION_KEYS": _bench_key(Fernet.generate_key),
        "MAILER_ALLOW_PRIVATE_HOSTS": "true",
        "MAILER_CA_BUNDLE": tls.ca,
        "DJANGO_DEBUG": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(BASE_DIR),
    }


def _django_setup(bench: Bench) -> None:
    """Set up Django in this process with the workers' environment and the bench settings."""
    os.environ.update(bench.env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # Django's SMTP backend (and post_office through it) verifies with the default trust store:
    # in this process that is the benchmark's CA alone.
    os.environ["SSL_CERT_FILE"] = bench.tls.ca
    os.environ[SETTINGS_OVERRIDES_VARIABLE] = json.dumps(bench.settings)
    sys.path.insert(0, str(BASE_DIR))

    import django

    django.setup()
    # post_office logs every batch at INFO on its own handler.
    logging.getLogger("post_office").setLevel(logging.WARNING)


def _bench_prepare(args: argparse.Namespace, workdir: Path) -> Bench:
    """Write the TLS files, ensure the database, set up Django; return the run's context."""
    started_at, clock = datetime.now(UTC), time.monotonic()
    users = range(args.month_end_users)
    tls = _tls_files(workdir, [f"{NETWORK}{user + MONTH_END_FIRST}" for user in users])
    settings = _settings(args, workdir)
    _database_ensure(args.postgres, args.database)
    env = _environment(args, tls)
    bench = Bench(args, workdir, tls, settings, env, started_at=started_at, clock=clock)
    _django_setup(bench)
    return bench


def _results(
    bench: Bench, prepared: Data, enqueue: dict[str, Any], measured: dict[str, Any]
) -> dict[str, Any]:
    """Return the whole report (the JSON written to --output), targets included."""
    args, runs = bench.args, measured["runs"]
    results = {
        "date": bench.started_at.isoformat(timespec="seconds"),
        "machine": report.machine(),
        "command": args.command,
        "n": args.n,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "message_bytes": {
            kind: statistics.mean(len(m.raw) for m in messages)
            for kind, messages in prepared.messages.items()
        },
        "variants": {key: report.variant_summary(values) for key, values in runs.items()},
        "runs": runs,
        "enqueue": enqueue,
        "project_build_rate_one_process": {
            kind: args.n / seconds for kind, seconds in prepared.build_seconds.items()
        },
        "memory": measured["memory"],
        "rate_limited": measured["rate_limited"],
        "month_end": measured["month_end"],
        "profile": measured["profile"],
        "project_stored": {
            "available": "project_stored/invoice" in runs,
            "hook": STORED_HOOK,
            "note": "the product does not store rendered documents yet: in the stored form the "
            "project renders per send"
            if "project_stored/invoice" not in runs
            else "the product's stored documents, prepared once before timing",
        },
        "seconds_total": time.monotonic() - bench.clock,
        "load_average": {"start": bench.load_average, "end": os.getloadavg()[0]},
    }
    # The project renders per send in both forms: its render row is its stored invoice row.
    results["variants"]["project/render"] = {
        **results["variants"]["project/invoice"],
        "same_runs_as": "project/invoice",
    }
    results["targets"] = report.targets(results)
    return results


def _month_end_only(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run the month-end scenario alone (`--month-end`); write and print its report."""
    bench = _bench_prepare(args, workdir)
    from bench import scenarios

    scenarios.database_reset(bench)
    with contextlib.ExitStack() as stack:
        sink = Sink(workdir=workdir, cert=bench.tls.cert, key=bench.tls.key)
        stack.callback(sink.stop)
        month_end = scenarios.month_end(bench, sink)
    results = {
        "date": bench.started_at.isoformat(timespec="seconds"),
        "machine": report.machine(),
        "command": args.command,
        "month_end": month_end,
        "targets": report.month_end_targets(month_end),
        "seconds_total": time.monotonic() - bench.clock,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(report.month_end_table(results))
    print(f"\nresults: {args.output}")
    return results


def _run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.month_end:
        return _month_end_only(args, workdir)
    bench = _bench_prepare(args, workdir)
    from bench import scenarios

    scenarios.database_reset(bench)
    prepared = scenarios.data_prepare(bench)
    enqueue = scenarios.enqueue_measure(bench, prepared)
    with contextlib.ExitStack() as stack:  # stops the workers, then the sink
        sink = Sink(workdir=workdir, cert=bench.tls.cert, key=bench.tls.key)
        stack.callback(sink.stop)
        measured = scenarios.scenarios_run(bench, prepared, sink, stack)
        results = _results(bench, prepared, enqueue, measured)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nresults: {args.output}")
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = _arguments(argv)
    args.command = "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        return _run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
