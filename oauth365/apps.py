from __future__ import annotations

from django.apps import AppConfig


class OAuth365Config(AppConfig):
    name = "oauth365"
    verbose_name = "Microsoft 365"
