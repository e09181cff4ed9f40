"""`export_usercards`: the system settings and every card as JSON, secrets left out."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from users.transfer import usercards_export


class Command(BaseCommand):
    help = (
        "Print the system settings and every user card as the JSON that import_usercards reads "
        "(sorted by code). Secrets (smtp_password) are left out."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(usercards_export(), indent=2, ensure_ascii=False))
