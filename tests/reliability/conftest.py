"""Fixtures of the outage tests: private PostgreSQL and Redis, and the processes under test.

Everything under test runs in subprocesses (Celery workers with beat, `massmail_invoices
--wait`, `run_event_mailbox`) on a database and a broker that the test owns and restarts; the
test process reads the results with plain psycopg.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

from directo_mail.testing.worker import SETTINGS_OVERRIDES_VARIABLE, CeleryWorker
from tests.conftest import TEST_KEYS, service_missing
from tests.massmail.conftest import FAST, fast_limits
from tests.massmail.servers import limited_server_start
from tests.reliability.services import PrivatePostgres, PrivateRedis, postgres_bin_dir
from tests.smtp_servers import Server

TEMPLATE_DB = "dm_template"
SETTINGS_MODULE = "tests.massmail.worker_settings"
_numbers = itertools.count()


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test session with a migrated template database."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        service_missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    assert bin_dir is not None
    server = PrivatePostgres(bin_dir=bin_dir)
    try:
        server.init()
        server.start()
        server.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        migrated = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=base_env(database_url=server.url(TEMPLATE_DB), broker_url="memory://"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_db(private_postgres: PrivatePostgres) -> Iterator[str]:
    """A fresh database (a copy of the migrated template) on the private server; its URL."""
    if not private_postgres.running():  # a failed test may have left it stopped
        private_postgres.start()
    name = f"dm_test_{os.getpid()}_{next(_numbers)}"
    private_postgres.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    yield private_postgres.url(name)
    if not private_postgres.running():
        private_postgres.start()
    private_postgres.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    """A Redis server of this test alone (no persistence); stopped at teardown."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server is not installed")
    assert binary is not None
    server = PrivateRedis(binary=binary)
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def mass_server(ca: Any) -> Iterator[Callable[..., Server]]:
    """Start counting SMTP servers (tests.massmail.servers) in this process; stop them after."""
    controllers: list[Any] = []

    def start(**kwargs: Any) -> Server:
        return limited_server_start(ca=ca, controllers=controllers, **kwargs)

    yield start
    for controller in controllers:
        controller.stop()


def base_env(*, database_url: str, broker_url: str, **overrides: Any) -> dict[str, str]:
    """Return the environment of a project subprocess on the given database and broker."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "FIELD_ENCRYPTION_KEYS": TEST_KEYS[0],
        "MAILER_ALLOW_PRIVATE_HOSTS": "true",
        "PLATFORM_RELAY_URL": "smtp://relay.platform.test:25",
        "EVENT_MAILBOX_DOMAIN": "event.data.directo.ee",
        "PYTHONUNBUFFERED": "1",
        SETTINGS_OVERRIDES_VARIABLE: json.dumps(overrides),
    }


@dataclass
class Stack:
    """The private database and broker of one test, and the processes started on them."""

    database_url: str
    redis: PrivateRedis
    postgres: PrivatePostgres
    tmp_path: Path
    ca_bundle: str
    overrides: dict[str, Any]

    def __post_init__(self) -> None:
        self.workers: list[CeleryWorker] = []
        self.processes: list[subprocess.Popen[str]] = []

    def env(self) -> dict[str, str]:
        return {
            **base_env(
                database_url=self.database_url, broker_url=self.redis.url(0), **self.overrides
            ),
            "MAILER_CA_BUNDLE": self.ca_bundle,
        }

    def seed(self, *, code: str, server: str, count: int) -> None:
        """Create a card sending through `server` (host:port) and `count` invoices of it."""
        done = subprocess.run(
            [sys.executable, "-m", "tests.reliability.seed", code, server, str(count)],
            cwd=settings.BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    def worker(self, *, beat: bool = True, concurrency: int = 2) -> CeleryWorker:
        """Start a real worker (with beat inside it, by default) on the private services."""
        number = len(self.workers)
        worker = CeleryWorker(
            name=f"reliab{number}@%h",
            log=self.tmp_path / f"worker{number}.log",
            broker_url=self.redis.url(0),
            database_url=self.database_url,
            settings_module=SETTINGS_MODULE,
            overrides=self.overrides,
            environment=self.env(),
            concurrency=concurrency,
            beat_schedule=self.tmp_path / f"beat{number}" if beat else None,
            ready_timeout=40,
        )
        self.workers.append(worker)
        return worker.start()

    def manage(self, *args: str) -> subprocess.Popen[str]:
        """Start `manage.py ARGS` (stdout and stderr kept apart, text) on the private services."""
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run one read-only query on the private database."""
        with psycopg.connect(self.database_url.replace("postgres://", "postgresql://")) as conn:
            return list(conn.execute(sql, params).fetchall())  # type: ignore[call-overload]

    def mail_counts(self) -> dict[str, int]:
        """Return the outgoing mail rows per status (all jobs)."""
        return dict(self.query("SELECT status, count(*) FROM mailer_outgoingmail GROUP BY 1"))

    def logs(self) -> str:
        """Return the workers' log tails and the output of processes that ended."""
        ended = [
            f"{process.args} exited {process.returncode}:\n{process.communicate()[1][-3000:]}"
            for process in self.processes
            if process.poll() is not None and process.stderr and not process.stderr.closed
        ]
        return "\n".join([*ended, *(worker.log_tail(4000) for worker in self.workers)])

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.join(15)


#: The workers' and the command's settings: fast ticks, a lease that outlives a restart.
RELIABILITY = {
    **FAST,
    "MAILER_LEASE_SECONDS": 8.0,
    "MAILER_TICK_SECONDS": 1.0,
    "MAILER_DISPATCH_TIME_LIMIT": 30.0,
    "MAILER_DISPATCH_PARALLELISM": 2,
    "MAILER_PROVIDER_LIMITS": fast_limits(),
    "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 60},
    "CELERY_BEAT_SCHEDULE": {"massmail-tick": {"task": "massmail.tick", "schedule": 1.0}},
}
if os.environ.get("OUTAGE_TIMINGS") == "default":
    # Measures the README's recovery times: the production tick, lease and time limit.
    RELIABILITY |= {
        "MAILER_LEASE_SECONDS": 120.0,
        "MAILER_TICK_SECONDS": 30.0,
        "MAILER_DISPATCH_TIME_LIMIT": 900.0,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {"visibility_timeout": 3600},
        "CELERY_BEAT_SCHEDULE": {"massmail-tick": {"task": "massmail.tick", "schedule": 30.0}},
    }


@pytest.fixture
def stack(
    private_db: str, private_redis: PrivateRedis, private_postgres: PrivatePostgres,
    tmp_path: Path, ca_bundle: str,
) -> Iterator[Stack]:  # fmt: skip
    """The private services of one test; every process started on them stops at teardown."""
    overrides = {**RELIABILITY, "MAILER_LIMITS_REDIS_URL": private_redis.url(1)}
    stack = Stack(
        database_url=private_db,
        redis=private_redis,
        postgres=private_postgres,
        tmp_path=tmp_path,
        ca_bundle=ca_bundle,
        overrides=overrides,
    )
    yield stack
    stack.stop()
