"""Fixtures of the mass-mail tests: Redis, fast settings, counting servers, real workers."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from directo_mail.testing.worker import CeleryWorker
from massmail import stores
from tests.conftest import TEST_KEYS, service_missing
from tests.factories import SmtpCardFactory
from tests.massmail.servers import limited_server_start
from tests.smtp_servers import Server

PASSWORD = "Mass-parool-7"
PORT_TLS = {25: "no", 465: "ssl", 587: "starttls"}


def redis_url_for_tests() -> str:
    broker = os.environ.get("CELERY_BROKER_URL", "")
    return broker if broker.startswith("redis://") else "redis://127.0.0.1:6379/7"


@pytest.fixture
def redis_url() -> str:
    """The Redis database of these tests, emptied; missing Redis fails under CI."""
    import redis

    url = redis_url_for_tests()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis is not reachable at {url} ({exc})")
    client.flushdb()
    return url


def fast_limits(connections: int = 3, rates: list[list[float]] | None = None) -> list[Any]:
    """Microsoft 365-style limits for the loopback test servers (127.x.y.z), sped up."""
    return [
        {
            "name": "microsoft365-test",
            "hosts": ["127.*"],
            "rates": rates or [],
            "connections": connections,
            "quota_pause": 30,
        },
        {"name": "default", "hosts": ["*"], "connections": 4},
    ]


#: Settings shared by the test process and its workers: short leases and fast retries.
FAST = {
    "MAILER_LEASE_SECONDS": 3.0,
    "MAILER_DISPATCH_TIME_LIMIT": 20.0,
    "MAILER_RETRY_BASE_SECONDS": 0.3,
    "MAILER_RETRY_MAX_SECONDS": 2.0,
    "MAILER_MAX_INLINE_WAIT": 5.0,
    "MAILER_SLOT_WAIT": 1.0,
    "MAILER_SLOT_TTL": 10.0,
    "MAILER_TICK_SECONDS": 0.5,
    "MAILER_BATCH_SIZE": 10,
    "MAILER_TIMEOUT": 5.0,
}


def worker_overrides(mass_settings: Any, **extra: Any) -> dict[str, Any]:
    """A worker's settings: this process's fast values and limits, a fast tick, plus `extra`."""
    values: dict[str, Any] = {name: getattr(mass_settings, name) for name in FAST}
    values.update(
        MAILER_LIMITS_REDIS_URL=mass_settings.MAILER_LIMITS_REDIS_URL,
        MAILER_PROVIDER_LIMITS=mass_settings.MAILER_PROVIDER_LIMITS,
        MAILER_DISPATCH_PARALLELISM=getattr(mass_settings, "MAILER_DISPATCH_PARALLELISM", 2),
        CELERY_BROKER_TRANSPORT_OPTIONS={"visibility_timeout": 60},
        CELERY_BEAT_SCHEDULE={
            "massmail-tick": {"task": "massmail.tick", "schedule": FAST["MAILER_TICK_SECONDS"]}
        },
    )
    values.update(extra)
    return values


@pytest.fixture
def mass_settings(settings: Any, redis_url: str, smtp_settings: Any) -> Any:
    """Fast mass-mail settings in this process, limits in the test Redis."""
    for name, value in FAST.items():
        setattr(settings, name, value)
    settings.MAILER_LIMITS_REDIS_URL = redis_url
    settings.MAILER_PROVIDER_LIMITS = fast_limits()
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60}
    stores._store_for.cache_clear()
    yield settings
    stores._store_for.cache_clear()


@pytest.fixture
def mass_server(ca: Any, smtp_settings: Any) -> Iterator[Callable[..., Server]]:
    """Start counting SMTP servers (see tests.massmail.servers); stop them afterwards."""
    controllers: list[Any] = []

    def start(**kwargs: Any) -> Server:
        return limited_server_start(ca=ca, controllers=controllers, **kwargs)

    yield start
    for controller in controllers:
        controller.stop()


def server_card(server: Server, **values: Any) -> Any:
    """A card whose own SMTP server is the local server, named by its address."""
    defaults = {
        "code": "KIVI",
        "email": "kivi@acme.test",
        "mail_server": f"{server.address}:{server.port}",
        "ssl_tls": PORT_TLS[server.port],
        "smtp_username": "kivi@acme.test",
        "smtp_password": PASSWORD,
        "mail_as_attachment": "no",
    }
    return SmtpCardFactory(**(defaults | values))


def database_url_for_workers() -> str:
    """The URL of the database this test process uses (the test database)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Real `celery -A directo_mail worker` processes on the test database and Redis."""

    def __init__(self, *, tmp_path: Path, redis_url: str, ca_bundle: str) -> None:
        self.tmp_path = tmp_path
        self.redis_url = redis_url
        self.ca_bundle = ca_bundle
        self.started: list[CeleryWorker] = []

    def start(
        self, *, concurrency: int = 2, beat: bool = False, overrides: dict[str, Any]
    ) -> CeleryWorker:
        number = len(self.started)
        worker = CeleryWorker(
            name=f"massmail{number}@%h",
            log=self.tmp_path / f"worker{number}.log",
            broker_url=self.redis_url,
            database_url=database_url_for_workers(),
            settings_module="tests.massmail.worker_settings",
            overrides=overrides,
            environment={
                **os.environ,
                "FIELD_ENCRYPTION_KEYS": TEST_KEYS[0],
                "MAILER_ALLOW_PRIVATE_HOSTS": "true",
                "MAILER_CA_BUNDLE": self.ca_bundle,
                "PLATFORM_RELAY_URL": "smtp://relay.platform.test:25",
            },
            concurrency=concurrency,
            beat_schedule=self.tmp_path / f"beat{number}" if beat else None,
            ready_timeout=30,
        )
        self.started.append(worker)
        return worker.start()

    def kill(self, worker: CeleryWorker) -> None:
        """kill -9 the worker and its pool processes."""
        worker.kill()

    def stop_all(self) -> None:
        for worker in self.started:
            worker.terminate()
        for worker in self.started:
            worker.join(10)

    def log_tail(self) -> str:
        return "\n".join(worker.log_tail(2000) for worker in self.started)


@pytest.fixture
def workers(
    transactional_db: None, mass_settings: Any, redis_url: str, ca_bundle: str, tmp_path: Path
) -> Iterator[Workers]:
    """Start real workers on demand; they see committed rows; all stop at teardown."""
    from directo_mail.celery import app

    app.conf.broker_url = redis_url
    pool = Workers(tmp_path=tmp_path, redis_url=redis_url, ca_bundle=ca_bundle)
    yield pool
    pool.stop_all()
