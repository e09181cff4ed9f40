"""`run_event_mailbox [--host HOST] [--port PORT]`: the event mailbox receiver until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliverability.receiver import EventMailboxController, event_domain_get


class Command(BaseCommand):
    help = (
        "Receive mail for *@EVENT_MAILBOX_DOMAIN over SMTP: bounces become events on the "
        "sender's card, other mail is kept as inbound events. Runs until stopped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=2525, help="port to listen on")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535 (got {port}).")
        controller = EventMailboxController(host=host, port=port)
        try:
            controller.start()
        except (OSError, TimeoutError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise CommandError(
                f"The event mailbox cannot listen on {host}:{port}: {reason}. Choose another "
                "--host/--port, or stop what already listens there."
            ) from exc
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write(
            f"Event mailbox listening on {host}:{port} for *@{event_domain_get()} "
            "(Ctrl+C or SIGTERM stops it)."
        )
        self.stdout.flush()
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
            signal.signal(signal.SIGTERM, previous)
        self.stdout.write("Event mailbox stopped.")
