"""Card services: the account behind a card, the card by code, rotating the encryption keys."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from users.crypto import KEYS_SETTING, fernet_keys, secret_needs_rotation, secret_rotate
from users.exceptions import EncryptionKeyError
from users.fields import EncryptedTextField
from users.models import UserCard

logger = logging.getLogger(__name__)

#: How often one value is re-read and retried when it changes under a rotation.
_SWAP_ATTEMPTS = 3


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


def usercard_get_by_code(*, code: str) -> UserCard | None:
    """Return the card whose code matches case-insensitively, with its Microsoft 365 link."""
    return UserCard.objects.select_related("m365_connection").by_code(code)


@dataclass(frozen=True)
class EncryptedColumn:
    """One EncryptedTextField's column: where the rotation reads and writes raw tokens."""

    model: type[models.Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def column(self) -> str:
        return self.field.column or self.field.name


@dataclass(frozen=True)
class RotationFailure:
    """A stored secret that no key opens (never its value)."""

    model: str
    pk: Any
    field: str


@dataclass
class RotationReport:
    """Counts of one rotation run, overall and per column label."""

    dry_run: bool
    rotated: int = 0
    current: int = 0
    failed: list[RotationFailure] = dataclass_field(default_factory=list)
    per_column: dict[str, dict[str, int]] = dataclass_field(default_factory=dict)
    complete: bool = True

    def count(self, column: EncryptedColumn, outcome: str) -> None:
        counts = self.per_column.setdefault(column.label, {"rotated": 0, "current": 0, "failed": 0})
        counts[outcome] += 1
        if outcome == "rotated":
            self.rotated += 1
        elif outcome == "current":
            self.current += 1


def encrypted_columns() -> list[EncryptedColumn]:
    """Return every EncryptedTextField of every installed model, each table column once."""
    columns: dict[tuple[str, str], EncryptedColumn] = {}
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.get_fields():
            if isinstance(field, EncryptedTextField) and field.concrete:
                # A field inherited from a concrete parent lives in the parent's table.
                column = EncryptedColumn(field.model, field)
                columns.setdefault((field.model._meta.db_table, column.column), column)
    return list(columns.values())


def _quoted(connection: BaseDatabaseWrapper, column: EncryptedColumn) -> tuple[str, str, str]:
    quote = connection.ops.quote_name
    meta = column.model._meta
    pk_column = meta.pk.column if meta.pk is not None else None
    return quote(meta.db_table), quote(pk_column or "id"), quote(column.column)


def _raw_tokens(column: EncryptedColumn, batch_size: int) -> Iterator[tuple[Any, str]]:
    """Yield (pk, raw token) of non-empty values, in pk order, a batch per query."""
    alias = router.db_for_write(column.model)
    connection = connections[alias]
    table, pk, value = _quoted(connection, column)
    last_pk: Any = None
    while True:
        after = "" if last_pk is None else f"AND {pk} > %s "
        sql = (
            f"SELECT {pk}, {value} FROM {table} "  # noqa: S608 (quoted identifiers only)
            f"WHERE {value} IS NOT NULL AND {value} <> '' {after}ORDER BY {pk} LIMIT %s"
        )
        params = ([] if last_pk is None else [last_pk]) + [batch_size]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            batch = cursor.fetchall()
        yield from batch
        if len(batch) < batch_size:
            return
        last_pk = batch[-1][0]


def _token_reread(column: EncryptedColumn, pk: Any) -> str | None:
    connection = connections[router.db_for_write(column.model)]
    table, pk_column, value = _quoted(connection, column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {value} FROM {table} WHERE {pk_column} = %s", [pk])  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else None


def _token_swap(column: EncryptedColumn, pk: Any, old: str, new: str) -> bool:
    """Write `new` only if the row still holds `old`; return whether it did."""
    alias = router.db_for_write(column.model)
    connection = connections[alias]
    table, pk_column, value = _quoted(connection, column)
    # Compare-and-swap: a value changed since it was read (a save, a concurrent rotation) is
    # never overwritten with a re-encryption of the stale one.
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {value} = %s "  # noqa: S608
            f"WHERE {pk_column} = %s AND {value} = %s",
            [new, pk, old],
        )
        return cursor.rowcount == 1


def _token_outcome(token: str) -> str:
    try:
        return "rotate" if secret_needs_rotation(token) else "current"
    except UnicodeError:  # Not a Fernet token at all (e.g. plaintext from before encryption).
        return "failed"


def encryption_keys_rotate(
    *, dry_run: bool = False, limit: int | None = None, batch_size: int = 200
) -> RotationReport:
    """Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS.

    Each value is rewritten on its own (compare-and-swap on the raw token), so an interrupted
    run loses nothing and the next run continues; values already under the first key are
    skipped. A value no key opens is reported and left untouched. `limit` stops after that
    many rotations (the report is then not complete).
    """
    fernet_keys()  # Fail early, naming the variable, when the keys are missing or malformed.
    report = RotationReport(dry_run=dry_run)
    for column in encrypted_columns():
        report.per_column.setdefault(column.label, {"rotated": 0, "current": 0, "failed": 0})
        for pk, token in _raw_tokens(column, batch_size):
            if limit is not None and report.rotated >= limit:
                report.complete = False
                return report
            outcome = _token_rotate(column, pk, token, dry_run=dry_run)
            if outcome == "failed":
                report.failed.append(
                    RotationFailure(column.model._meta.label, pk, column.field.name)
                )
                logger.warning(
                    "Cannot decrypt %s pk=%s field %s with any key in %s; left unchanged.",
                    column.model._meta.label,
                    pk,
                    column.field.name,
                    KEYS_SETTING,
                )
            if outcome != "gone":
                report.count(column, outcome)
    return report


def _token_rotate(column: EncryptedColumn, pk: Any, token: str, *, dry_run: bool) -> str:
    """Rotate one stored value; return "rotated", "current", "failed" or "gone"."""
    for _attempt in range(_SWAP_ATTEMPTS):
        outcome = _token_outcome(token)
        if outcome != "rotate":
            return outcome
        try:
            new_token = secret_rotate(token)
        except (EncryptionKeyError, UnicodeError):
            return "failed"
        if dry_run or _token_swap(column, pk, token, new_token):
            return "rotated"
        # The row changed after it was read: look at its new value.
        reread = _token_reread(column, pk)
        if not reread:
            return "gone"
        token = reread
    return "failed"
