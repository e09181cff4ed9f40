"""The project package as an app, so that its system checks are registered."""

from __future__ import annotations

from django.apps import AppConfig


class DirectoMailConfig(AppConfig):
    name = "directo_mail"
    verbose_name = "Directo Mail"

    def ready(self) -> None:
        from directo_mail import checks  # noqa: F401  (registers the deployment checks)
