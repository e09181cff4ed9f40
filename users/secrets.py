"""Secret: a decrypted value that never shows itself unless asked by name.

Encrypted fields hand out `Secret` objects, never plain strings, so a template, an admin read-only
field, a log line, an exception report or a serializer that meets one prints a redaction instead
of the plaintext. Only the code that really needs the value (SMTP AUTH, the MSAL token cache)
calls `reveal()`.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

REDACTED = "********"


class Secret:
    """Hold a secret string; `str`, `repr`, format and pickling never show it."""

    __slots__ = ("_value",)

    _value: str

    def __init__(self, value: Secret | str = "") -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the plaintext: call this only where the secret leaves for its server."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __str__(self) -> str:
        return REDACTED if self._value else ""

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})" if self._value else "Secret('')"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a Secret is immutable")

    # Immutable: copies may share it; pickling would write the plaintext, so it is refused.
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled: store it encrypted, pass primary keys")


def secret_reveal(value: Secret | str | None) -> str:
    """Return the plaintext of a secret, or of a plain string typed in just now."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Secret) else value
