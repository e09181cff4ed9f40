"""`mail_diagnostics CODE [--json]`: the DNS diagnostics of a card's e-mail domain."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from deliverability.diagnostics import card_diagnostics_get
from users.models import UserCard


class Command(BaseCommand):
    help = (
        "Check the DNS of a card's e-mail domain: SPF for the platform's outbound IPs, the DMARC "
        "policy, the mail provider (MX) and what to do about it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", help="the user card's code")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["code"]
        card = UserCard.objects.filter(code__iexact=code).first()
        if card is None:
            raise CommandError(f"No user card has the code “{code}”.")
        try:
            diagnostics = card_diagnostics_get(card=card)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if diagnostics is None:
            raise CommandError(
                f"Card {card.code} has no e-mail address, so there is no domain to check: set "
                f"E-mail on card {card.code}."
            )
        if options["json"]:
            document = {"code": card.code, "email": card.email, **diagnostics.as_dict()}
            self.stdout.write(json.dumps(document, indent=2))
            return
        d = diagnostics
        self.stdout.write(f"Card {card.code}: {card.email} (mode {d.mode})")
        self.stdout.write(f"SPF for the platform's outbound IPs: {d.spf}")
        for ip, result in d.spf_by_ip.items():
            self.stdout.write(f"    {ip:<40} {result}")
        self.stdout.write(f"SPF record: {d.spf_record or '(none)'}")
        self.stdout.write(f"DMARC policy: {d.dmarc_policy or '(none)'}")
        provider = d.provider_label or "(not recognised)"
        preset = f" (preset {d.preset.mail_server}, {d.preset.ssl_tls})" if d.preset else ""
        self.stdout.write(f"Provider: {provider}{preset}")
        self.stdout.write(f"Recommendation: {d.recommendation}")
        for warning in d.warnings:
            self.stdout.write(f"Warning: {warning}")
