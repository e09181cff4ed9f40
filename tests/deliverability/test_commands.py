"""`mail_diagnostics CODE [--json]` and `run_event_mailbox [--host] [--port]`."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from io import StringIO
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from deliverability.models import InboundMessage
from tests.conftest import TEST_KEYS, service_missing
from tests.deliverability import bounces
from tests.factories import UserCardFactory
from tests.smtp_servers import loopback_address
from users.models import MailSender

CONTRACT_KEYS = {"spf", "dmarc_policy", "provider", "preset", "recommendation"}


def diagnostics_json(code: str) -> dict:
    out = StringIO()
    call_command("mail_diagnostics", code, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_mail_diagnostics_json_for_domain_leaving_platform_out():
    """SPF fail, DMARC reject and Google MX: the JSON says so and recommends Directo-Reply-To."""
    UserCardFactory(code="KIVI", email="kivi@fail.test", mail_sender=MailSender.DIRECTO)
    document = diagnostics_json("kivi")
    assert set(document) >= CONTRACT_KEYS
    assert document["code"] == "KIVI"
    assert document["spf"] == "fail"
    assert document["dmarc_policy"] == "reject"
    assert document["provider"] == "google"
    assert document["preset"]["mail_server"] == "smtp.gmail.com:465"
    assert "Directo-Reply-To" in document["recommendation"]
    assert document["platform_outbound_ips"] == ["192.0.2.10", "192.0.2.11", "2001:db8::25"]


@pytest.mark.django_db
def test_mail_diagnostics_json_for_passing_domain():
    """A domain that allows the platform passes, with its provider's preset and no DMARC."""
    UserCardFactory(code="MARI", email="mari@pass.test")
    document = diagnostics_json("MARI")
    assert document["spf"] == "pass"
    assert document["dmarc_policy"] is None
    assert document["provider"] == "zone"
    assert document["preset"]["key"] == "zone"
    assert "will pass SPF" in document["recommendation"]


@pytest.mark.django_db
def test_mail_diagnostics_json_values_are_contract_values():
    """`spf` is one of the SPEC.md values and `provider` one of the providers or null."""
    UserCardFactory(code="TIIT", email="tiit@nospf.test")
    document = diagnostics_json("TIIT")
    assert document["spf"] == "none"
    assert document["provider"] is None
    assert document["preset"] is None


@pytest.mark.django_db
def test_mail_diagnostics_dns_timeout_is_temperror_and_exit_zero(settings, local_dns):
    """When DNS does not answer, the command still answers: temperror and advice."""
    settings.MAILER_DNS_NAMESERVERS = [local_dns.silent_nameserver]
    UserCardFactory(code="KIVI", email="kivi@pass.test")
    document = diagnostics_json("KIVI")
    assert document["spf"] == "temperror"
    assert "could not be checked" in document["recommendation"]


@pytest.mark.django_db
def test_mail_diagnostics_text_output_names_results():
    """Without --json the command prints the SPF result, DMARC policy, provider and advice."""
    UserCardFactory(code="KIVI", email="kivi@fail.test")
    out = StringIO()
    call_command("mail_diagnostics", "KIVI", stdout=out)
    text = out.getvalue()
    assert "SPF for the platform's outbound IPs: fail" in text
    assert "DMARC policy: reject" in text
    assert "Gmail / Google Workspace" in text
    assert "Warning:" in text


@pytest.mark.django_db
def test_mail_diagnostics_unknown_code_fails():
    """An unknown code exits non-zero and names the code."""
    with pytest.raises(CommandError, match="NOPE"):
        call_command("mail_diagnostics", "NOPE", stdout=StringIO())


@pytest.mark.django_db
def test_mail_diagnostics_card_without_email_fails():
    """A card without an e-mail address has no domain to check: the error says what to set."""
    UserCardFactory(code="KIVI", email="")
    with pytest.raises(CommandError, match="set E-mail on card KIVI"):
        call_command("mail_diagnostics", "KIVI", stdout=StringIO())


def manage_env() -> dict[str, str]:
    """Return the environment of a `manage.py` subprocess using the test database."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        service_missing("the subprocess test needs the PostgreSQL test database")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    url = (
        f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {**os.environ, "DATABASE_URL": url, "FIELD_ENCRYPTION_KEYS": TEST_KEYS[0]}


def free_address() -> tuple[str, int]:
    address = loopback_address()
    with socket.socket() as probe:
        probe.bind((address, 0))
        return address, probe.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_run_event_mailbox_receives_until_sigterm():
    """The command listens where told, stores a bounce, refuses others and exits 0 on SIGTERM."""
    host, port = free_address()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_event_mailbox", "--host", host, "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=manage_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        # Start-up log lines of other apps may come first.
        lines = (process.stdout.readline() for _ in range(20))
        line = next((text for text in lines if "listening on" in text or not text), "")
        assert f"listening on {host}:{port}" in line
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.sendmail("", ["acme@event.data.directo.ee"], bounces.rfc3464())
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("", ["x@elsewhere.test"], bounces.PLAIN_REPLY)
        assert InboundMessage.objects.get().bounce_format == "rfc3464"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_event_mailbox_port_in_use_fails_clearly():
    """A port already taken is an error that names the address, not a traceback."""
    host, _ = free_address()
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(CommandError, match=f"cannot listen on {host}:{port}"):
            call_command("run_event_mailbox", "--host", host, "--port", str(port))
    assert time.monotonic() - started < 30
