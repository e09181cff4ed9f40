from __future__ import annotations

from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and mail settings"

    def ready(self) -> None:
        from users import checks, crypto  # noqa: F401  (registers the system checks)

        # Outside development a missing key stops start-up here, naming FIELD_ENCRYPTION_KEYS.
        crypto.fernet_keys()
