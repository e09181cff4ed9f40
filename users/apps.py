from __future__ import annotations

from django.apps import AppConfig

from users.crypto import fernet_keys


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Users and mail settings"

    def ready(self) -> None:
        # Outside development a missing key stops start-up here, naming FIELD_ENCRYPTION_KEYS.
        fernet_keys()
