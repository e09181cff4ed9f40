"""`mail_settings CODE [--json]`: a card's effective mail settings and where each comes from."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from mailer.services import sender_config_get
from users.exceptions import EncryptionKeyError
from users.services import usercard_get_by_code

#: The JSON keys of SPEC.md ("Commands"), in order.
JSON_KEYS = (
    "mode",
    "host",
    "port",
    "ssl_tls",
    "username",
    "password_set",
    "from",
    "reply_to",
    "envelope_from",
    "mass_mail_allowed",
    "sources",
    "ready",
    "missing",
)
TABLE_FIELDS = JSON_KEYS[:10]


def _shown(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class Command(BaseCommand):
    help = (
        "Show the effective mail settings of the user card CODE (the resolver's answer): each "
        "value with its source (user, global:CODE or platform), whether it is ready and what is "
        "missing. Never shows a secret. Exits 0 whenever the card exists, ready or not."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code", metavar="CODE", help="the user code (any case)")
        parser.add_argument("--json", action="store_true", help="one JSON document on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["code"]
        card = usercard_get_by_code(code=code)
        if card is None:
            raise CommandError(f"No user card has the code “{code}”.")
        try:
            # The output is a contract (SPEC.md "Commands"): `missing` is English whatever
            # language is active, as the rest of the command's output is.
            with translation.override("en"):
                view = sender_config_get(card=card).public_view()
        except (EncryptionKeyError, ImproperlyConfigured) as exc:
            raise CommandError(f"Cannot resolve the mail settings of {card.code}: {exc}") from None
        result = {key: view[key] for key in JSON_KEYS}
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
            return
        self._table(card.code, result)

    def _table(self, code: str, result: dict[str, Any]) -> None:
        sources = result["sources"]
        rows = [("field", "value", "source")]
        rows += [(key, _shown(result[key]), sources.get(key, "-")) for key in TABLE_FIELDS]
        widths = [max(len(row[column]) for row in rows) for column in range(2)]
        self.stdout.write(f"Mail settings of {code}")
        for name, value, source in rows:
            self.stdout.write(f"  {name:<{widths[0]}}  {value:<{widths[1]}}  {source}")
        self.stdout.write(f"Ready: {_shown(result['ready'])}")
        if result["missing"]:
            self.stdout.write("Missing:")
            for item in result["missing"]:
                self.stdout.write(f"  - {item}")
        else:
            self.stdout.write("Missing: nothing")
