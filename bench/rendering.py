"""The render form: every peer renders each invoice with the project's builder, then sends it.

Each variant loads its invoices (one query and two prefetches, as a dispatch batch does),
renders every invoice's e-mail and PDF with `invoice_email_build` (the project's renderer)
and builds its MIME its own way: bytes through `message_envelope` for raw smtplib and the
naive loop, Django's `EmailMessage.message()` inside Django's backend, and django-post_office
queues the rendered parts (its users render before they queue) and builds them when it sends.
Loading and rendering are inside the timed part, as they are in the project's workers.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.db import connections

from bench.peers import Target
from invoices.documents import invoice_email_build
from invoices.models import Invoice
from invoices.pdf import seller_name
from mailer.messages import message_envelope
from mailer.services import sender_config_get
from users.models import UserCard

Rendered = tuple[str, list[str], bytes]  # envelope sender, recipients, bytes


@dataclass(frozen=True)
class Renderer:
    """Renders one card's invoices as the project does, one message at a time."""

    card: UserCard
    ids: list[int]

    def invoices(self, ids: Sequence[int] | None = None) -> list[Invoice]:
        """Load the invoices with their lines and attachments (a dispatch batch's queries)."""
        invoices = list(
            Invoice.objects.filter(owner=self.card, pk__in=self.ids if ids is None else ids)
            .prefetch_related("lines", "attachments")
            .order_by("pk")
        )
        for invoice in invoices:
            invoice.owner = self.card
        return invoices

    def messages(self, ids: Sequence[int] | None = None) -> Iterator[EmailMultiAlternatives]:
        """Yield each invoice's e-mail, rendered by the project's builder (PDF included)."""
        config = sender_config_get(card=self.card)
        company = ""
        for invoice in self.invoices(ids):
            company = company or seller_name(invoice)
            yield invoice_email_build(invoice=invoice, config=config, company=company)

    def raw(self, ids: Sequence[int] | None = None) -> Iterator[Rendered]:
        """Yield each invoice's envelope and bytes, serialised as the project serialises."""
        config = sender_config_get(card=self.card)
        for message in self.messages(ids):
            yield message_envelope(message, config)

    def __len__(self) -> int:
        return len(self.ids)


def _send_over_one(target: Target, rendered: Iterator[Rendered]) -> int:
    client = target.connect(target.context())
    sent = 0
    try:
        for envelope_from, recipients, raw in rendered:
            client.sendmail(envelope_from, recipients, raw)
            sent += 1
    finally:
        client.quit()
    return sent


def raw_one(target: Target, renderer: Renderer) -> float:
    """Render and serialise each invoice, send it over one reused connection (smtplib)."""
    started = time.perf_counter()
    _send_over_one(target, renderer.raw())
    return time.perf_counter() - started


def _forked(work: Callable[[], Any]) -> int:
    """Run `work` in a forked child (its own core and database connection); return its pid."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            work()
        except BaseException:  # reported through the exit code, the traceback on stderr
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def raw_two(target: Target, renderer: Renderer) -> float:
    """Two processes, each rendering half and sending it over its own connection: the limit.

    Processes, not threads: rendering is Python, and two threads would share one core.
    """
    halves = [renderer.ids[0::2], renderer.ids[1::2]]
    connections.close_all()  # each child opens its own database connection
    started = time.perf_counter()
    pids = [_forked(partial(_send_over_one, target, renderer.raw(half))) for half in halves]
    failed = [pid for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0]
    elapsed = time.perf_counter() - started
    if failed:
        raise RuntimeError(f"raw_two (render): {len(failed)} of 2 processes failed")
    return elapsed


def naive(target: Target, renderer: Renderer) -> float:
    """Render each invoice, then a new connection, TLS handshake and AUTH for it."""
    started = time.perf_counter()
    context = target.context()
    for envelope_from, recipients, raw in renderer.raw():
        client = target.connect(context)
        try:
            client.sendmail(envelope_from, recipients, raw)
        finally:
            client.quit()
    return time.perf_counter() - started


def django_backend(target: Target, renderer: Renderer) -> float:
    """Render every invoice's EmailMessage; Django's backend serialises and sends them."""
    from django.core.mail import mailers

    started = time.perf_counter()
    built = list(renderer.messages())
    sent = mailers["default"].send_messages(built)
    elapsed = time.perf_counter() - started
    if sent != len(renderer):
        raise RuntimeError(f"Django's backend sent {sent} of {len(renderer)}")
    return elapsed


def post_office(target: Target, renderer: Renderer) -> float:
    """Render each invoice, queue its parts in post_office, then `send_queued`."""
    from django.core.files.base import ContentFile
    from post_office import mail

    from bench.peers import post_office_drain

    started = time.perf_counter()
    for message in renderer.messages():
        html = next((content for content, kind in message.alternatives if kind == "text/html"), "")
        mail.send(
            list(message.to),
            str(message.from_email),
            subject=str(message.subject),
            message=str(message.body),
            html_message=str(html),
            headers=dict(message.extra_headers),
            attachments={
                a.filename: {"file": ContentFile(a.content), "mimetype": a.mimetype}
                for a in message.attachments
            },
        )
    post_office_drain(len(renderer))
    return time.perf_counter() - started
