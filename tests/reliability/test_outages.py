"""A running job, and the event mailbox, ride out a restart of PostgreSQL, of Redis, of a worker.

Real processes on private servers: a Celery worker with beat inside it, `massmail_invoices
--wait --json` and `run_event_mailbox`, each a subprocess on a PostgreSQL cluster and a Redis
server that the test restarts. The local SMTP server is slow at DATA, so the job is surely
mid-way when the fault comes. Each test prints how long the job took to go on after it.
"""

from __future__ import annotations

import collections
import email
import email.policy
import json
import re
import smtplib
import subprocess
import time
from typing import Any

import pytest

from tests.deliverability import bounces
from tests.massmail.conftest import PASSWORD
from tests.reliability.conftest import Stack
from tests.reliability.services import free_port

pytestmark = [pytest.mark.slow, pytest.mark.celery, pytest.mark.timeout(120)]

COUNT = 40
DATA_DELAY = 0.1  # seconds the SMTP server holds each DATA: a job of COUNT lasts seconds


def _message_ids(server: Any) -> list[str]:
    return [
        email.message_from_bytes(d.content, policy=email.policy.default)["Message-ID"]
        for d in server.sink.deliveries
    ]


def _wait_deliveries(server: Any, stack: Stack, at_least: int, timeout: float = 40) -> float:
    """Wait until the server took `at_least` messages; return when (monotonic)."""
    deadline = time.monotonic() + timeout
    while len(server.sink.deliveries) < at_least:
        assert time.monotonic() < deadline, stack.logs()
        time.sleep(0.02)
    return time.monotonic()


def _start_job(stack: Stack, mass_server: Any) -> tuple[Any, subprocess.Popen[str]]:
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD}, data_delay=DATA_DELAY)
    stack.seed(code="KIVI", server=f"{server.address}:{server.port}", count=COUNT)
    stack.worker()
    command = stack.manage(
        "massmail_invoices", "--user", "KIVI", "--all-unsent", "--wait", "--json",
        "--timeout", "100",
    )  # fmt: skip
    return server, command


def _finish(stack: Stack, server: Any, command: subprocess.Popen[str]) -> tuple[dict, str]:
    """Wait for the command; check the job's end: every row counted once, nothing failed."""
    try:
        out, err = command.communicate(timeout=100)
    except subprocess.TimeoutExpired:
        command.kill()
        out, err = command.communicate()
        raise AssertionError(f"the command did not end:\n{err[-3000:]}\n{stack.logs()}") from None
    assert out.strip(), f"no JSON on stdout (exit {command.returncode}):\n{err[-3000:]}"
    document = json.loads(out)
    assert document["status"] == "finished", (document, err[-2000:], stack.logs())
    assert document["total"] == COUNT
    assert document["sent"] + document["failed"] + document["unknown"] == COUNT
    assert document["failed"] == 0, stack.logs()
    assert stack.mail_counts() == {
        status: n
        for status, n in (("sent", document["sent"]), ("unknown", document["unknown"]))
        if n
    }
    # Each `sent` row was delivered exactly once; a duplicate may only be an `unknown` one.
    statuses = dict(stack.query("SELECT message_id, status FROM mailer_outgoingmail"))
    delivered = collections.Counter(_message_ids(server))
    for message_id, status in statuses.items():
        if status == "sent":
            assert delivered[message_id] == 1, (message_id, delivered[message_id])
    assert all(statuses[m] == "unknown" for m, n in delivered.items() if n > 1)
    assert command.returncode == (1 if document["unknown"] else 0), err[-2000:]
    return document, err


def _recovery(server: Any, stack: Stack, since: float, before: int) -> float:
    """Return the seconds from `since` until the server took a new message."""
    _wait_deliveries(server, stack, before + 1, timeout=60)
    return time.monotonic() - since


def test_outage_postgres_restart_mid_job(stack, mass_server):
    """A PostgreSQL fast restart mid-job: all go on; no row failed; the command reports, waits."""
    server, command = _start_job(stack, mass_server)
    _wait_deliveries(server, stack, COUNT // 4)
    stack.postgres.restart(down_for=3.0)
    back = time.monotonic()
    recovery = _recovery(server, stack, back, len(server.sink.deliveries))

    document, err = _finish(stack, server, command)
    assert document["unknown"] == 0, "a message the server took was not marked sent"
    assert "database is unreachable" in err
    print(f"\nRECOVERY postgres restart: first message {recovery:.1f}s after the database is up")


def test_outage_redis_restart_mid_job(stack, mass_server):
    """Redis restarted empty mid-job (tasks and limit counters lost): the job ends, none failed."""
    server, command = _start_job(stack, mass_server)
    _wait_deliveries(server, stack, COUNT // 4)
    stack.redis.restart(down_for=1.0)
    back = time.monotonic()
    recovery = _recovery(server, stack, back, len(server.sink.deliveries))

    document, _err = _finish(stack, server, command)
    assert document["unknown"] == 0
    print(f"\nRECOVERY redis restart: first message {recovery:.1f}s after Redis is up")


def test_outage_redis_down_when_the_job_starts(stack, mass_server):
    """Redis down as the job starts: the job is kept, the command waits, the tick starts it."""
    server = mass_server(tls="no", users={"kivi@acme.test": PASSWORD}, data_delay=DATA_DELAY)
    stack.seed(code="KIVI", server=f"{server.address}:{server.port}", count=COUNT)
    stack.worker()
    stack.redis.stop()
    try:
        command = stack.manage(
            "massmail_invoices", "--user", "KIVI", "--all-unsent", "--wait", "--json",
            "--timeout", "100",
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not stack.query("SELECT id FROM mailer_massmailjob"):
            assert command.poll() is None and time.monotonic() < deadline, command.stderr
            time.sleep(0.1)
        time.sleep(3)  # the enqueue gives up while Redis is down
        assert command.poll() is None
        assert not server.sink.deliveries
    finally:
        stack.redis.start()
    back = time.monotonic()
    recovery = _recovery(server, stack, back, 0)

    document, err = _finish(stack, server, command)
    assert document["unknown"] == 0
    assert "broker is unreachable" in err
    print(f"\nRECOVERY redis down at job start: first message {recovery:.1f}s after Redis is up")


def test_outage_worker_sigterm_then_new_worker(stack, mass_server):
    """A worker stopped with SIGTERM mid-job stops soon; a new one finishes without unknown."""
    server, command = _start_job(stack, mass_server)
    _wait_deliveries(server, stack, COUNT // 4)
    [first] = stack.workers
    stopped = time.monotonic()
    first.terminate()
    first.join(60)
    assert not first.running()
    stop_took = time.monotonic() - stopped
    before = len(server.sink.deliveries)
    started = time.monotonic()
    stack.worker()
    recovery = _recovery(server, stack, started, before)

    document, _err = _finish(stack, server, command)
    assert document["unknown"] == 0, stack.logs()
    assert stop_took < 60
    print(
        f"\nRECOVERY worker SIGTERM: stopped in {stop_took:.1f}s; first message "
        f"{recovery:.1f}s after the new worker started"
    )


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.sendmail("", ["acme@event.data.directo.ee"], raw)


def test_outage_event_mailbox_receives_bounce_after_database_restart(stack):
    """While the database is down the receiver answers 451; after its restart bounces are kept."""
    port = free_port()
    process = stack.manage("run_event_mailbox", "--host", "127.0.0.1", "--port", str(port))
    assert process.stdout is not None
    lines = (process.stdout.readline() for _ in range(50))
    if not any("listening on" in line for line in lines if line):
        process.kill()
        raise AssertionError(process.communicate()[1][-3000:])
    try:
        _send(port, bounces.rfc3464())
    except smtplib.SMTPException:
        process.kill()
        raise AssertionError(process.communicate()[1][-3000:]) from None

    stack.postgres.stop()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(port, bounces.rfc3464(recipient="second@customer.test"))
        assert refused.value.smtp_code == 451
    finally:
        stack.postgres.start()
    up = time.monotonic()
    _send(port, bounces.rfc3464(recipient="third@customer.test"))
    took = time.monotonic() - up
    stack.postgres.restart()  # a fast restart with no pause: the next message still goes in
    _send(port, bounces.rfc3464(recipient="fourth@customer.test"))

    rows = stack.query("SELECT bounce_format FROM deliverability_inboundmessage ORDER BY id", ())
    assert [row[0] for row in rows] == ["rfc3464"] * 3
    assert process.poll() is None
    process.terminate()
    assert process.wait(timeout=15) == 0
    assert re.search(r"database", process.stderr.read() if process.stderr else "")
    print(f"\nRECOVERY event mailbox: a bounce stored {took:.1f}s after the database is up")
