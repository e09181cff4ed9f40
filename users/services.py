"""Card services: the account behind a card."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser


def usercard_account_get_or_create(*, code: str) -> AbstractBaseUser:
    """Return the account whose username is the card's code (case-insensitively).

    A new account gets an unusable password; an administrator sets one with
    `python manage.py changepassword CODE`.
    """
    user_model = get_user_model()
    account = user_model._default_manager.filter(username__iexact=code).first()
    if account is None:
        # create_user() without a password stores an unusable one.
        account = user_model._default_manager.create_user(username=code)
    return account
