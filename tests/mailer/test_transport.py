"""SmtpTransport against real aiosmtpd servers on loopback, with trustme certificates."""

from __future__ import annotations

import ast
import base64
import pickle
import socket
import ssl
import time
from pathlib import Path

import pytest
import trustme

import mailer.transport
from mailer.exceptions import (
    MailAuthError,
    MailConnectionError,
    MailDeliveryError,
    MailTlsError,
    OutcomeUnknownError,
    RecipientRefusedError,
    XOAuth2Error,
)
from mailer.transport import SmtpTransport, ssl_context_create
from tests.smtp_servers import DROP, VALID_TOKEN, XOAUTH2_SCOPE, Server
from users.secrets import Secret

USER, PASSWORD = "kivi@acme.test", "Sälajane-parool-42"
SENDER, RECIPIENT = "kivi@acme.test", "customer@example.test"
MESSAGE = (
    b"From: kivi@acme.test\r\nTo: customer@example.test\r\nSubject: Invoice 1\r\n\r\n"
    b"Hello.\r\n.leading dot line\r\n"
)
BAD_TOKEN = "expired-token-Wm3"


def transport_for(server: Server, ssl_tls: str, **kwargs: object) -> SmtpTransport:
    options: dict[str, object] = {"host": server.name, "port": server.port, "ssl_tls": ssl_tls}
    options.update(connect_address=server.address, **kwargs)
    return SmtpTransport(**options)  # type: ignore[arg-type]


def fail(transport: SmtpTransport, *recipients: str) -> MailDeliveryError:
    with pytest.raises(MailDeliveryError) as info:
        transport.send(SENDER, recipients or (RECIPIENT,), MESSAGE)
    transport.close()
    return info.value


def test_transport_plain_auth_plain_delivers(smtp_server):
    """Plain SMTP with AUTH PLAIN delivers the envelope and the dot-stuffed content intact."""
    server = smtp_server(tls="no", users={USER: PASSWORD})
    with transport_for(server, "no", username=USER, password=PASSWORD) as transport:
        result = transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert result.accepted == (RECIPIENT,) and result.code == 250
    [delivery] = server.sink.deliveries
    assert (delivery.mail_from, delivery.rcpt_tos, delivery.login) == (SENDER, (RECIPIENT,), USER)
    assert delivery.content.rstrip(b"\r\n") == MESSAGE.rstrip(b"\r\n")
    assert server.sink.auth_attempts == [("PLAIN", USER)]


def test_transport_plain_auth_login_when_plain_not_offered(smtp_server):
    """A server offering only AUTH LOGIN gets LOGIN, with a non-ASCII password in UTF-8."""
    server = smtp_server(tls="no", users={USER: PASSWORD}, exclude_mechanisms=("PLAIN",))
    with transport_for(server, "no", username=USER, password=PASSWORD) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert server.sink.auth_attempts == [("LOGIN", USER)]
    assert [d.login for d in server.sink.deliveries] == [USER]


def test_transport_login_with_empty_password_keeps_transcript_readable(smtp_server):
    """AUTH LOGIN with an empty password redacts nothing more: later replies read as sent."""
    server = smtp_server(tls="no", users={USER: ""}, exclude_mechanisms=("PLAIN",))
    result = transport_for(server, "no", username=USER, password="").probe(SENDER, RECIPIENT)
    assert result.ok and server.sink.auth_attempts == [("LOGIN", USER)]
    replies = {step.step: step.reply for step in result.transcript}
    assert replies["AUTH"] == "2.7.0 Authentication successful"
    assert replies["MAIL"] == "OK" and "[redacted]" not in repr(result.transcript)


def test_transport_no_tls_never_upgrades(smtp_server):
    """SSL/TLS "No" stays plaintext even when the server offers STARTTLS."""
    server = smtp_server(tls="starttls", auth_require_tls=False, users={USER: PASSWORD})
    with transport_for(server, "no", username=USER, password=PASSWORD) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert "STARTTLS" not in server.sink.verbs()
    assert [d.tls for d in server.sink.deliveries] == [False]


def test_transport_starttls_authenticates_only_after_tls(smtp_server):
    """StartTLS upgrades before AUTH: the server sees AUTH and the message only under TLS."""
    server = smtp_server(tls="starttls", users={USER: PASSWORD})
    with transport_for(server, "starttls", username=USER, password=PASSWORD) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
        steps = [(s.step, s.ok) for s in transport.transcript]
    commands = server.sink.commands
    assert [c.verb for c in commands][:2] == ["EHLO", "STARTTLS"]
    assert all(c.tls for c in commands if c.verb in ("AUTH", "MAIL", "RCPT", "DATA"))
    assert [d.tls for d in server.sink.deliveries] == [True]
    assert ("TLS", True) in steps and ("AUTH", True) in steps


def test_transport_implicit_tls_delivers(smtp_server):
    """SSL (implicit TLS on 465) verifies the certificate by name and delivers over TLS."""
    server = smtp_server(tls="ssl", users={USER: PASSWORD})
    with transport_for(server, "ssl", username=USER, password=PASSWORD) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert [(d.tls, d.login) for d in server.sink.deliveries] == [(True, USER)]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_transport_untrusted_certificate_sends_no_auth(smtp_server, tls):
    """A certificate from an unknown CA fails as certificate_untrusted; no AUTH ever leaves."""
    server = smtp_server(tls=tls, users={USER: PASSWORD}, cert_ca=trustme.CA())
    error = fail(transport_for(server, tls, username=USER, password=PASSWORD))
    assert isinstance(error, MailTlsError) and error.cause == "certificate_untrusted"
    assert error.step == "TLS" and not error.transient
    assert server.sink.auth_attempts == []
    assert not {"AUTH", "MAIL", "RCPT", "DATA"} & set(server.sink.verbs())


def test_transport_certificate_for_another_name_fails(smtp_server):
    """A trusted certificate issued for another host name fails as a hostname mismatch."""
    server = smtp_server(tls="starttls", users={USER: PASSWORD}, cert_names=("other.test",))
    error = fail(transport_for(server, "starttls", username=USER, password=PASSWORD))
    assert error.cause == "certificate_hostname_mismatch"
    assert "smtp.directo.test" in error.user_message
    assert server.sink.auth_attempts == []


def test_transport_starttls_not_offered_sends_nothing_in_plaintext(smtp_server):
    """StartTLS required but not offered: fail, and only EHLO ever went out in plaintext."""
    server = smtp_server(tls="no", users={USER: PASSWORD})
    error = fail(transport_for(server, "starttls", username=USER, password=PASSWORD))
    assert isinstance(error, MailTlsError) and error.cause == "starttls_not_offered"
    assert server.sink.verbs() == ["EHLO"]
    assert server.sink.auth_attempts == [] and server.sink.deliveries == []


@pytest.mark.parametrize("port", [587, 25])
def test_transport_ssl_on_starttls_port_is_explained(smtp_server, port):
    """SSL chosen against a port that greets in plaintext says: choose StartTLS or port 465."""
    server = smtp_server(tls="starttls", port=port, users={USER: PASSWORD})
    error = fail(transport_for(server, "ssl", username=USER, password=PASSWORD))
    assert error.cause == "ssl_on_starttls_port" and error.step == "TLS"
    assert "StartTLS" in error.user_message and "465" in error.user_message
    assert server.sink.auth_attempts == []


def test_transport_starttls_on_implicit_tls_port_is_explained(smtp_server):
    """StartTLS chosen against port 465 (which waits for a TLS hello) says: choose SSL."""
    server = smtp_server(tls="ssl", users={USER: PASSWORD})
    error = fail(transport_for(server, "starttls", username=USER, password=PASSWORD, timeout=0.5))
    assert error.cause == "plaintext_on_ssl_port" and "Choose SSL" in error.user_message


def test_transport_xoauth2_accepted(smtp_server):
    """XOAUTH2 with a good token authenticates as the mailbox and delivers."""
    server = smtp_server(tls="starttls", xoauth2=True, exclude_mechanisms=("PLAIN", "LOGIN"))
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return VALID_TOKEN

    with transport_for(server, "starttls", username=USER, xoauth2_token=token) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert server.sink.auth_attempts == [("XOAUTH2", USER)]
    assert [d.login for d in server.sink.deliveries] == [USER] and calls == [1]


def test_transport_xoauth2_rejected_surfaces_decoded_challenge(smtp_server):
    """A bad token gets 334 JSON then 535: the error carries status and scope, never the token."""
    server = smtp_server(tls="starttls", xoauth2=True)
    transport = transport_for(server, "starttls", username=USER, xoauth2_token=lambda: BAD_TOKEN)
    error = fail(transport)
    assert isinstance(error, XOAuth2Error) and error.cause == "xoauth2_rejected"
    assert (error.status, error.scope, error.smtp_code) == ("401", XOAUTH2_SCOPE, 535)
    assert "401" in error.user_message and XOAUTH2_SCOPE in error.user_message
    payload = base64.b64encode(f"user={USER}\x01auth=Bearer {BAD_TOKEN}\x01\x01".encode()).decode()
    visible = [
        str(error),
        repr(error),
        error.smtp_reply,
        repr(transport),
        repr(transport.transcript),
    ]
    assert not any(BAD_TOKEN in text or payload in text for text in visible)
    assert server.sink.deliveries == []


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_many_messages_share_one_connection(smtp_server, pipelining):
    """Several messages go over one connection: the server sees a single session."""
    server = smtp_server(tls="starttls", users={USER: PASSWORD})
    server.sink.pipelining = pipelining
    with transport_for(server, "starttls", username=USER, password=PASSWORD) as transport:
        for n in range(3):
            transport.send(SENDER, [f"c{n}@example.test"], MESSAGE)
    assert server.sink.connections == 1
    assert [d.rcpt_tos for d in server.sink.deliveries] == [
        (f"c{n}@example.test",) for n in range(3)
    ]
    assert server.sink.verbs().count("AUTH") == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_421_mid_session_reconnects_and_delivers(smtp_server, pipelining):
    """A 421 at MAIL on the second message reconnects once and delivers that message."""
    server = smtp_server(tls="no", users={USER: PASSWORD})
    server.sink.pipelining = pipelining
    server.sink.plan["MAIL"] = [None, "421 4.3.2 Service shutting down"]
    with transport_for(server, "no", username=USER, password=PASSWORD) as transport:
        first = transport.send(SENDER, ["a@example.test"], MESSAGE)
        second = transport.send(SENDER, ["b@example.test"], MESSAGE)
    assert (first.reconnected, second.reconnected) == (False, True)
    assert [d.rcpt_tos for d in server.sink.deliveries] == [
        ("a@example.test",),
        ("b@example.test",),
    ]
    assert server.sink.connections == 2


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_421_twice_raises_throttled(smtp_server, pipelining):
    """A 421 again after the one reconnect is a transient throttled error."""
    server = smtp_server(tls="no")
    server.sink.pipelining = pipelining
    server.sink.plan["MAIL"] = ["421 4.7.0 Try again later", "421 4.7.0 Try again later"]
    error = fail(transport_for(server, "no"))
    assert error.cause == "throttled" and error.transient and error.smtp_code == 421
    assert server.sink.connections == 2


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_drop_before_data_reconnects_and_delivers_once(smtp_server, pipelining):
    """A connection dropped at RCPT reconnects and the message arrives exactly once."""
    server = smtp_server(tls="no")
    server.sink.pipelining = pipelining
    server.sink.plan["RCPT"] = [DROP]
    with transport_for(server, "no") as transport:
        result = transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert result.reconnected and result.accepted == (RECIPIENT,)
    assert len(server.sink.deliveries) == 1 and server.sink.connections == 2


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_drop_after_data_is_outcome_unknown_and_not_resent(smtp_server, pipelining):
    """A drop after the payload was sent is outcome_unknown; the server got it exactly once."""
    server = smtp_server(tls="no")
    server.sink.pipelining = pipelining
    server.sink.plan["DATA"] = [DROP]
    error = fail(transport_for(server, "no"))
    assert isinstance(error, OutcomeUnknownError) and error.step == "DATA"
    assert not error.transient and "not sent again" in error.user_message
    assert len(server.sink.deliveries) == 1 and server.sink.connections == 1


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_pipelines_the_envelope_only_when_offered(smtp_server, pipelining):
    """PIPELINING offered: MAIL, RCPT and DATA go in one write (a refused sender's RCPT and
    DATA still arrive, nothing is delivered); not offered: nothing follows a refused MAIL.
    Either way the session is reset and the next message goes over the same connection."""
    server = smtp_server(tls="no")
    server.sink.pipelining = pipelining
    server.sink.plan["MAIL"] = ["550 5.7.1 Sender not allowed"]
    with transport_for(server, "no") as transport:
        with pytest.raises(MailDeliveryError) as info:
            transport.send(SENDER, [RECIPIENT, "b@example.test"], MESSAGE)
        result = transport.send(SENDER, [RECIPIENT, "b@example.test"], MESSAGE)
    assert info.value.step == "MAIL" and info.value.smtp_code == 550
    first = server.sink.verbs()[: server.sink.verbs().index("RSET")]
    if pipelining:
        assert first[-4:] == ["MAIL", "RCPT", "RCPT", "DATA"]
    else:
        assert first[-1] == "MAIL" and "RCPT" not in first
    assert result.accepted == (RECIPIENT, "b@example.test")
    assert [d.rcpt_tos for d in server.sink.deliveries] == [(RECIPIENT, "b@example.test")]
    assert server.sink.connections == 1


@pytest.mark.parametrize(("ssl_tls", "step"), [("no", "CONNECT"), ("ssl", "TLS")])
def test_transport_silent_server_times_out(silent_server, ssl_tls, step):
    """A server that accepts TCP but never answers fails as timeout within the timeout."""
    transport = transport_for(silent_server, ssl_tls, timeout=0.5)
    started = time.monotonic()
    error = fail(transport)
    assert time.monotonic() - started < 3
    assert isinstance(error, MailConnectionError) and error.cause == "timeout"
    assert error.step == step and error.transient


def test_transport_connection_refused(closed_port, smtp_settings):
    """Nothing listening on the port is connection_refused, explained as a blocked port."""
    error = fail(transport_for(closed_port, "no"))
    assert error.cause == "connection_refused" and error.step == "CONNECT"
    assert "firewall" in error.user_message


def test_transport_gmail_535_asks_for_app_password(smtp_server):
    """Gmail's 535 5.7.8 on smtp.gmail.com is explained as "use an app password"."""
    server = smtp_server(tls="ssl", name="smtp.gmail.com", users={USER: PASSWORD})
    server.sink.auth_reply = (
        "535 5.7.8 Username and Password not accepted. For more information, go to "
        "https://support.google.com/mail/?p=BadCredentials"
    )
    error = fail(transport_for(server, "ssl", username=USER, password="wrong"))
    assert isinstance(error, MailAuthError) and error.cause == "gmail_app_password_required"
    assert "app password" in error.user_message and error.step == "AUTH"


def test_transport_basic_auth_retired_is_explained(smtp_server):
    """550 5.7.30 to a password sign-in points to Microsoft 365 OAUTH."""
    server = smtp_server(tls="starttls", name="smtp.office365.com", users={USER: PASSWORD})
    server.sink.auth_reply = (
        "550 5.7.30 Basic authentication is not supported for Client Submission"
    )
    error = fail(transport_for(server, "starttls", username=USER, password=PASSWORD))
    assert error.cause == "m365_basic_auth_retired" and "Microsoft 365 OAUTH" in error.user_message


def test_transport_send_as_denied_is_explained(smtp_server):
    """554 5.2.252 SendAsDenied after DATA explains the missing Send As right."""
    server = smtp_server(tls="starttls", name="smtp.office365.com", users={USER: PASSWORD})
    server.sink.plan["DATA"] = [
        "554 5.2.252 SendAsDenied; kivi@acme.test not allowed to send as boss@acme.test"
    ]
    error = fail(transport_for(server, "starttls", username=USER, password=PASSWORD))
    assert error.cause == "m365_send_as_denied" and error.step == "DATA"
    assert "Send As" in error.user_message and not error.transient
    assert server.sink.deliveries == []


@pytest.mark.parametrize("pipelining", [False, True])
def test_transport_rcpt_4xx_is_transient_and_5xx_permanent(smtp_server, pipelining):
    """Per-recipient results: 452/451 refusals are transient, 550 permanent, others delivered."""
    server = smtp_server(tls="no")
    server.sink.pipelining = pipelining
    server.sink.rcpt_replies = {
        "full@example.test": "452 4.2.2 Mailbox full",
        "grey@example.test": "451 4.7.1 Greylisted, try later",
        "gone@example.test": "550 5.1.1 No such user",
    }
    targets = ["full@example.test", "grey@example.test", "gone@example.test", RECIPIENT]
    with transport_for(server, "no") as transport:
        result = transport.send(SENDER, targets, MESSAGE)
        with pytest.raises(RecipientRefusedError) as info:
            transport.send(SENDER, ["gone@example.test"], MESSAGE)
        # The refused message leaves the connection usable for the next one.
        transport.send(SENDER, [RECIPIENT], MESSAGE)
    assert result.accepted == (RECIPIENT,)
    assert {r: e.transient for r, e in result.refused.items()} == {
        "full@example.test": True,
        "grey@example.test": True,
        "gone@example.test": False,
    }
    assert info.value.recipient == "gone@example.test" and info.value.smtp_code == 550
    assert [d.rcpt_tos for d in server.sink.deliveries] == [(RECIPIENT,), (RECIPIENT,)]
    assert server.sink.connections == 1


def test_transport_probe_transcript_redacts_secrets(smtp_server):
    """probe() runs connect..RCPT then RSET, sends no DATA, and its transcript holds no secret."""
    server = smtp_server(tls="starttls", users={USER: PASSWORD})
    transport = transport_for(server, "starttls", username=USER, password=PASSWORD)
    result = transport.probe(SENDER, RECIPIENT)
    assert result.ok and result.error is None
    assert [s.step for s in result.transcript] == [
        "CONNECT",
        "EHLO",
        "TLS",
        "EHLO",
        "AUTH",
        "MAIL",
        "RCPT",
        "RSET",
    ]
    assert all(s.ok for s in result.transcript)
    plain_payload = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    text = repr(result)
    assert PASSWORD not in text and plain_payload not in text
    assert "DATA" not in server.sink.verbs() and server.sink.deliveries == []


def test_transport_probe_reports_the_failing_step(smtp_server):
    """A refused recipient ends the transcript with a failed RCPT step and the named error."""
    server = smtp_server(tls="no")
    server.sink.rcpt_replies = {"gone@example.test": "550 5.1.1 No such user"}
    result = SmtpTransport(
        host=server.name, port=server.port, ssl_tls="no", connect_address=server.address
    ).probe(SENDER, "gone@example.test")
    assert not result.ok and result.error is not None
    assert result.error.cause == "recipient_refused"
    last = result.transcript[-1]
    assert (last.step, last.ok, last.code) == ("RCPT", False, 550)


def test_transport_refuses_line_breaks_in_addresses(smtp_server):
    """An envelope address with CR/LF is refused before anything reaches the server."""
    server = smtp_server(tls="no")
    error = fail(transport_for(server, "no"), "a@example.test\r\nRCPT TO:<b@example.test>")
    assert error.cause == "address_invalid" and server.sink.connections == 0


def test_transport_ssl_context_verifies_with_ca_bundle(smtp_settings, ca):
    """The context verifies names and certificates and trusts MAILER_CA_BUNDLE's CA."""
    context = ssl_context_create()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    ca_subjects = [cert["subject"] for cert in context.get_ca_certs()]
    assert any("trustme" in repr(subject) for subject in ca_subjects)


def test_transport_error_survives_pickling(closed_port, smtp_settings):
    """A named error pickles (Celery results) with its cause, step and message intact."""
    error = fail(transport_for(closed_port, "no"))
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.cause, copy.step, str(copy)) == (
        type(error),
        error.cause,
        error.step,
        str(error),
    )


def test_transport_sets_tcp_nodelay(smtp_server):
    """The client socket sends small SMTP writes at once (no delayed-ACK stalls)."""
    server = smtp_server(tls="starttls")
    with transport_for(server, "starttls") as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
        sock = transport._connection.smtp.sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    assert len(server.sink.deliveries) == 1


def test_ssl_context_create_reuses_context_per_bundle(settings, ca_bundle, tmp_path):
    """One context per CA bundle: the same object again, a new one for another bundle."""
    settings.MAILER_CA_BUNDLE = ca_bundle
    first = ssl_context_create()
    assert ssl_context_create() is first
    other = tmp_path / "other.pem"
    other.write_bytes(Path(ca_bundle).read_bytes())
    settings.MAILER_CA_BUNDLE = str(other)
    assert ssl_context_create() is not first


def test_transport_package_imports_neither_users_nor_the_resolver():
    """The SMTP layer knows no card and no resolver: services build it from resolved settings."""
    package = Path(mailer.transport.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    forbidden = {name for name in imported if name.split(".")[0] == "users"}
    forbidden |= {name for name in imported if name.startswith("mailer.config")}
    assert imported and not forbidden


def test_transport_accepts_a_secret_password_and_hides_it(smtp_server):
    """A Secret password logs in with its plaintext, never shown in the repr or transcript."""
    server = smtp_server(tls="no", users={USER: PASSWORD})
    with transport_for(server, "no", username=USER, password=Secret(PASSWORD)) as transport:
        transport.send(SENDER, [RECIPIENT], MESSAGE)
        shown = repr(transport) + repr(transport.transcript) + repr(vars(transport))
    assert PASSWORD not in shown
    assert [d.login for d in server.sink.deliveries] == [USER]
