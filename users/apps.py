from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from users.crypto import fernet_keys


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = _("Users and mail settings")

    def ready(self) -> None:
        # Outside development a missing key stops start-up here, naming FIELD_ENCRYPTION_KEYS.
        fernet_keys()
