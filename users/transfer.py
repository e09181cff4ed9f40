"""Import and export of user cards and the system settings as one JSON document (SPEC.md).

The document is ``{"system_settings": {...}, "user_cards": [{...}, ...]}``; both keys are
optional on import. Rows are upserted by ``code`` (matched case-insensitively; an existing
card keeps its stored spelling). A field left out of a row keeps its stored value on update and
the model default on create. ``smtp_password`` is the only secret: given in clear it is stored
encrypted, missing or null keeps the stored one, ``""`` clears it; export leaves it out.
Booleans are JSON booleans, or the strings "Yes"/"No" (any case) as the Directo UI shows them.
Choice fields take the contract values only (``smtp``, ``starttls``, ``pdf`` …). ``language``
(``""``, ``en``, ``et``, ``lv`` or ``pl``) is optional like every other field: a new card
without it is blank (it follows the browser), an existing one keeps its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction

from users.exceptions import EncryptionKeyError
from users.models import CARD_FIELDS, SystemSettings, UserCard
from users.services import usercard_account_get_or_create

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SECRET_FIELDS = frozenset({"smtp_password"})
EXPORT_CARD_FIELDS = tuple(name for name in CARD_FIELDS if name not in SECRET_FIELDS)
BOOLEAN_FIELDS = frozenset({"attachments_with_email", "mail_edit"})
SYSTEM_FIELDS = ("mail_sending_user_code", "company_name")
TOP_LEVEL_KEYS = ("system_settings", "user_cards")

_BOOLEAN_WORDS = {"yes": True, "no": False}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")


class UserCardImportError(Exception):
    """The import document is invalid; nothing was saved. `errors` holds one line per error."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(
            f"{len(errors)} error{'s' if len(errors) != 1 else ''}; nothing was imported:\n"
            + "\n".join(errors)
        )


@dataclass(frozen=True)
class ImportResult:
    """What an import saved (or, on a dry run, would save)."""

    created: list[str]
    updated: list[str]
    system_settings_updated: bool
    warnings: list[str]
    dry_run: bool


@dataclass
class _Row:
    number: int
    code: str
    values: dict[str, Any] = field(repr=False)


class _Rollback(Exception):
    """Leave the import transaction without saving anything."""


def _shown(value: object) -> str:
    """Return a value fit for one line of error output (control characters escaped)."""
    text = str(value)
    return json.dumps(text) if _UNPRINTABLE.search(text) else text


def _row_label(number: int, code: str) -> str:
    return f"row {number} ({_shown(code) or '?'})"


def usercards_export() -> dict[str, Any]:
    """Return the system settings and every card, sorted by code, without any secret."""
    system = SystemSettings.load()
    # values() never decrypts: the export works, and leaks nothing, whatever the keys.
    cards = sorted(UserCard.objects.values(*EXPORT_CARD_FIELDS), key=lambda card: str(card["code"]))
    return {
        "system_settings": {name: getattr(system, name) for name in SYSTEM_FIELDS},
        "user_cards": cards,
    }


def usercards_document_parse(text: str) -> Any:
    """Parse the JSON text of an import file, or raise UserCardImportError saying where."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserCardImportError(
            [f"the file is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None


def _value_check(name: str, value: Any) -> tuple[Any, str | None]:
    """Return the Python value of one imported field, or an error message."""
    if name in BOOLEAN_FIELDS:
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS:
            return _BOOLEAN_WORDS[value.strip().lower()], None
        return None, 'must be true or false (or "Yes" / "No")'
    if isinstance(value, str):
        return (value.strip() if name == "code" else value), None
    return None, 'must be a string (use "" for blank)'


def _rows_parse(raw_rows: Any, errors: list[tuple[int, str]]) -> list[_Row]:
    if not isinstance(raw_rows, list):
        errors.append((0, "user_cards: must be a list of card objects"))
        return []
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(raw_rows, start=1):
        if not isinstance(raw, dict):
            errors.append((number, f"row {number}: must be an object of card fields"))
            continue
        code = raw.get("code")
        label = _row_label(number, code if isinstance(code, str) else "")
        row_errors = [
            f"{label} {_shown(name)}: unknown field; the fields are {', '.join(CARD_FIELDS)}"
            for name in raw
            if name not in CARD_FIELDS
        ]
        values: dict[str, Any] = {}
        for name in CARD_FIELDS:
            if name not in raw or (name in SECRET_FIELDS and raw[name] is None):
                continue  # Keep the stored value (or the model default on create).
            value, message = _value_check(name, raw[name])
            if message:
                row_errors.append(f"{label} {name}: {message}")
            else:
                values[name] = value
        code = values.get("code", "")
        if not code:
            row_errors.append(f"{label} code: every row needs the user code")
        elif code.lower() in seen:
            row_errors.append(f"{label} code: the same code is already in row {seen[code.lower()]}")
        else:
            seen[code.lower()] = number
        errors.extend((number, message) for message in row_errors)
        if code and seen.get(code.lower()) == number:
            # Validate the fields that parsed too, so the file's every error is reported.
            rows.append(_Row(number=number, code=code, values=values))
    return rows


def _system_parse(raw: Any, errors: list[tuple[int, str]]) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        errors.append((0, "system_settings: must be an object"))
        return None
    values: dict[str, str] = {}
    for name, value in raw.items():
        if name not in SYSTEM_FIELDS:
            errors.append(
                (
                    0,
                    f"system_settings {_shown(name)}: unknown field; the fields are "
                    f"{', '.join(SYSTEM_FIELDS)}",
                )
            )
        elif not isinstance(value, str):
            errors.append((0, f'system_settings {name}: must be a string (use "" for blank)'))
        else:
            values[name] = value.strip() if name == "mail_sending_user_code" else value
    return values


def _validation_messages(label: str, exc: ValidationError) -> list[str]:
    messages: list[str] = []
    for name, field_errors in exc.error_dict.items():
        # The account is derived from the code, so its errors are the code's.
        shown = {NON_FIELD_ERRORS: "card", "user": "code"}.get(name, name)
        for error in field_errors:
            message = " ".join(error.messages)
            if error.code == "invalid_choice":
                choices = getattr(UserCard._meta.get_field(name), "choices", None) or []
                message += f" Use one of: {', '.join(str(value) for value, _ in choices)}."
            messages.append(f"{label} {shown}: {message}")
    return messages


def _system_messages(exc: ValidationError) -> list[tuple[int, str]]:
    return [
        (0, f"system_settings {name}: {message}")
        for name, messages in exc.message_dict.items()
        for message in messages
    ]


def _row_save(row: _Row) -> tuple[UserCard | None, bool, list[str]]:
    """Validate one row against the current (in-transaction) state and save it if valid."""
    label = _row_label(row.number, row.code)
    # The password stays encrypted unless validation needs it, so a row that replaces a
    # password stored under a lost key still imports.
    card = UserCard.objects.defer("smtp_password").by_code(row.code)
    created = card is None
    values = {name: value for name, value in row.values.items() if name != "code"}
    if card is None:
        try:
            # Checked before the account exists: the code becomes its username.
            UserCard._meta.get_field("code").clean(row.code, None)
        except ValidationError as exc:
            return None, created, [f"{label} code: {message}" for message in exc.messages]
        account = cast("User", usercard_account_get_or_create(code=row.code))
        card = UserCard(code=row.code, user=account)
    for name, value in values.items():
        setattr(card, name, value)
    try:
        card.full_clean()
    except ValidationError as exc:
        return None, created, _validation_messages(label, exc)
    except EncryptionKeyError as exc:
        return None, created, [f"{label} smtp_password: {exc}"]
    card.save()
    return card, created, []


def usercards_import(*, document: Any, dry_run: bool = False) -> ImportResult:
    """Validate the whole document, then save all of it in one transaction, or nothing.

    Rows are validated and saved one by one inside the transaction, so each is checked
    against the state the import produces (the system setting of the file, the cards
    before it); any error rolls everything back. The system settings are checked last,
    against the cards as imported.
    """
    errors: list[tuple[int, str]] = []
    if not isinstance(document, dict):
        raise UserCardImportError(
            ['the file must hold one JSON object: {"system_settings": {...}, "user_cards": [...]}']
        )
    errors.extend(
        (0, f"{_shown(key)}: unknown key; the file holds {' and '.join(TOP_LEVEL_KEYS)}")
        for key in document
        if key not in TOP_LEVEL_KEYS
    )
    rows = _rows_parse(document.get("user_cards", []), errors)
    system_values = (
        _system_parse(document["system_settings"], errors)
        if "system_settings" in document
        else None
    )
    created: list[str] = []
    updated: list[str] = []
    warnings: list[tuple[int, str]] = []
    try:
        with transaction.atomic():
            system = SystemSettings.load()
            if system_values:
                # Cards are validated under the system setting this file leaves behind (the
                # global card may change mode when the file names another one).
                for name, value in system_values.items():
                    setattr(system, name, value)
                try:
                    system.clean_fields()
                except ValidationError as exc:
                    errors.extend(_system_messages(exc))
                    system = SystemSettings.load()
                    system_values = None
                else:
                    system.save()
            global_code = system.mail_sending_user_code.lower()
            # The global card first: the others' checks read its server.
            for row in sorted(rows, key=lambda r: r.code.lower() != global_code):
                with transaction.atomic():
                    card, was_created, row_errors = _row_save(row)
                if card is None:
                    errors.extend((row.number, message) for message in row_errors)
                    continue
                (created if was_created else updated).append(card.code)
                label = _row_label(row.number, card.code)
                warnings.extend((row.number, f"{label}: {text}") for text in card.warnings())
            if system_values:
                try:
                    system.full_clean()
                except ValidationError as exc:
                    errors.extend(_system_messages(exc))
                else:
                    system.save()
            if errors or dry_run:
                raise _Rollback
    except _Rollback:
        pass
    if errors:
        # Rows in file order; file-level and system_settings errors (number 0) last.
        errors.sort(key=lambda item: (item[0] == 0, item[0]))
        raise UserCardImportError([message for _, message in errors])
    return ImportResult(
        created=created,
        updated=updated,
        system_settings_updated=bool(system_values),
        warnings=[text for _, text in sorted(warnings, key=lambda item: item[0])],
        dry_run=dry_run,
    )
