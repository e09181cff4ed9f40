"""The variants the project is compared with: raw smtplib, naive, Django, django-post_office.

Each takes the prebuilt messages and the sink's address and returns its elapsed seconds.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.mail import EmailMultiAlternatives

from bench.data import Prebuilt


@dataclass(frozen=True)
class Target:
    """Where and as whom every variant sends: the sink, STARTTLS, AUTH."""

    host: str
    port: int
    username: str
    password: str
    cafile: str

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        return context

    def connect(self, context: ssl.SSLContext) -> smtplib.SMTP:
        client = smtplib.SMTP(self.host, self.port, timeout=30)
        client.starttls(context=context)
        client.login(self.username, self.password)
        return client


def _send_over_one(target: Target, messages: Sequence[Prebuilt]) -> None:
    client = target.connect(target.context())
    try:
        for message in messages:
            client.sendmail(message.envelope_from, message.recipients, message.raw)
    finally:
        client.quit()


def raw_one(target: Target, messages: Sequence[Prebuilt]) -> float:
    """Prebuilt bytes over one reused connection (smtplib): the limit of one session."""
    started = time.perf_counter()
    _send_over_one(target, messages)
    return time.perf_counter() - started


def raw_two(target: Target, messages: Sequence[Prebuilt]) -> float:
    """Prebuilt bytes over two connections in parallel (threads): the two-core limit."""
    halves = [messages[0::2], messages[1::2]]
    errors: list[BaseException] = []

    def send(part: Sequence[Prebuilt]) -> None:
        try:
            _send_over_one(target, part)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(half,)) for half in halves]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def naive(target: Target, messages: Sequence[Prebuilt]) -> float:
    """A new connection, TLS handshake and AUTH for every message."""
    started = time.perf_counter()
    context = target.context()  # one context: loading the CA file is not the handshake
    for message in messages:
        client = target.connect(context)
        try:
            client.sendmail(message.envelope_from, message.recipients, message.raw)
        finally:
            client.quit()
    return time.perf_counter() - started


def _django_message(message: Prebuilt) -> EmailMultiAlternatives:
    built = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body,
        from_email=message.from_email,
        to=message.to,
        headers=dict(message.headers),
        alternatives=list(message.alternatives) or None,  # type: ignore[arg-type]
    )
    for filename, content, mimetype in message.attachments:
        built.attach(filename, content, mimetype)
    return built


def django_backend(target: Target, messages: Sequence[Prebuilt]) -> float:
    """Django's SMTP backend: build EmailMessages, send_messages() over one connection."""
    from django.core.mail import mailers

    started = time.perf_counter()
    built = [_django_message(message) for message in messages]
    backend = mailers["default"]
    sent = backend.send_messages(built)
    elapsed = time.perf_counter() - started
    if sent != len(messages):
        raise RuntimeError(f"Django's backend sent {sent} of {len(messages)}")
    return elapsed


def post_office(target: Target, messages: Sequence[Prebuilt]) -> float:
    """django-post_office with its default settings: queue every message, then send_queued."""
    from django.core.files.base import ContentFile
    from post_office import mail

    started = time.perf_counter()
    for message in messages:
        mail.send(
            message.to,
            message.from_email,
            subject=message.subject,
            message=message.body,
            html_message=message.alternatives[0][0] if message.alternatives else "",
            headers=dict(message.headers),
            attachments={
                filename: {"file": ContentFile(content), "mimetype": mimetype}
                for filename, content, mimetype in message.attachments
            },
        )
    post_office_drain(len(messages))
    return time.perf_counter() - started


def post_office_drain(expected: int) -> None:
    """Send post_office's queue (`send_queued` until empty); check that `expected` went."""
    from post_office import mail
    from post_office.models import STATUS, Email

    sent = 0
    while True:
        batch_sent, failed, _ = mail.send_queued()
        sent += batch_sent
        if failed:
            raise RuntimeError(f"post_office: {failed} messages failed")
        if not batch_sent:
            break
    if sent != expected or Email.objects.filter(status=STATUS.sent).count() != sent:
        raise RuntimeError(f"post_office sent {sent} of {expected}")
