"""One error model: a cause (an enum member with its template), its parameters, if transient.

Each app declares its causes in one `ErrorCause` enum and registers it from its
`AppConfig.ready()`; the event log stores a cause and its parameters and renders the text
when it is shown (`cause_render`), so an event can be read in the reader's language.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, ClassVar, Self

from django.utils.translation import gettext

#: A parameter of a message: named, plain and never a secret.
Param = str | int | None


class ErrorCause(StrEnum):
    """A cause code (the stored value) and the message template a user reads.

    Members are declared as `NAME = "code", gettext_noop("template with {placeholders}")`. A
    template is one complete sentence or more and names the fix; `gettext_noop` puts it in the
    app's catalog, and `render` translates it into the active language when the text is made
    (so an event recorded in Estonian reads in Polish to a Polish reader). Because a member
    equals its code, `error.cause == "connection_refused"` holds.
    """

    template: str

    def __new__(cls, value: str, template: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.template = template
        return member

    @property
    def placeholders(self) -> frozenset[str]:
        """Return the names the template fills in."""
        return frozenset(name for _, name, _, _ in string.Formatter().parse(self.template) if name)

    def context(self, params: Mapping[str, Param]) -> dict[str, Any]:
        """Return the values the template is filled with; a missing placeholder is blank."""
        return {name: "" for name in self.placeholders} | {
            key: "" if value is None else value for key, value in params.items()
        }

    def render(self, params: Mapping[str, Param]) -> str:
        """Return the message for these parameters, in the active language."""
        translated = gettext(self.template) if self.template else ""
        return translated.format_map(self.context(params))


_REGISTRY: dict[str, ErrorCause] = {}


def cause_register(causes: Iterable[ErrorCause]) -> None:
    """Make an app's causes renderable from the event log (call it from AppConfig.ready())."""
    for cause in causes:
        known = _REGISTRY.setdefault(cause.value, cause)
        if known is not cause:
            raise ValueError(
                f"The cause {cause.value!r} is declared twice: by {type(known).__name__} and "
                f"by {type(cause).__name__}."
            )


def cause_get(code: str) -> ErrorCause | None:
    """Return the registered cause with this code, or None."""
    return _REGISTRY.get(code)


def causes_registered() -> list[ErrorCause]:
    """Return every registered cause."""
    return list(_REGISTRY.values())


def cause_render(cause: str, params: Mapping[str, Param], *, fallback: str = "") -> str:
    """Return the text of a stored cause and its parameters, or `fallback` if it cannot be made.

    An unknown cause (an old row, a removed app) or parameters that no longer fit the template
    show the fallback, usually the message stored when the event was recorded.
    """
    known = _REGISTRY.get(cause)
    if known is None:
        return fallback
    try:
        return known.render(params)
    except (KeyError, ValueError, IndexError, TypeError):
        return fallback


def _rebuild(cls: type[UserFacingError], state: dict[str, Any]) -> UserFacingError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error.message)
    return error


class UserFacingError(Exception):
    """An error a user reads: its cause, its parameters and whether a retry may succeed.

    `message` (alias `user_message`, and `str(error)`) is rendered from the cause's template.
    Subclasses list the causes they may carry in `causes`; any other cause is refused.
    """

    causes: ClassVar[tuple[ErrorCause, ...]] = ()
    transient_default: ClassVar[bool] = False

    cause: ErrorCause
    params: Mapping[str, Param]
    transient: bool

    def __init__(
        self,
        cause: ErrorCause | str,
        /,
        *,
        params: Mapping[str, Param] | None = None,
        transient: bool | None = None,
    ) -> None:
        self.cause = self._cause_of(cause)
        self.params = _params_check(params or {})
        self.transient = self.transient_default if transient is None else transient
        super().__init__(self.message)

    @classmethod
    def _cause_of(cls, cause: ErrorCause | str) -> ErrorCause:
        for member in cls.causes:
            if member == cause:
                return member
        if not cls.causes and isinstance(cause, ErrorCause):
            return cause
        raise ValueError(f"{cls.__name__} has no cause {cause!r}")

    @property
    def message(self) -> str:
        """Return what the user reads: why, and the fix."""
        return self.cause.render(self.params)

    @property
    def user_message(self) -> str:
        """Return `message` (the older name)."""
        return self.message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive Exception's default pickling (Celery results).
        return (_rebuild, (type(self), dict(self.__dict__)))


def _params_check(params: Mapping[str, Param]) -> dict[str, Param]:
    # Only plain values: a Secret (or any object that might print one) never gets in.
    for key, value in params.items():
        if not isinstance(value, str | int | None):
            raise TypeError(f"Parameter {key!r} must be str, int or None, not {type(value)}.")
    return dict(params)
