"""The transcript of an SMTP session as a user may see it, with every secret redacted."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailer.exceptions import MailDeliveryError

REDACTED = "[redacted]"


@dataclass(frozen=True)
class TranscriptStep:
    """One step of a session as a user may see it: never a password, token or AUTH payload."""

    step: str
    ok: bool
    code: int | None = None
    reply: str = ""
    detail: str = ""


class Transcript:
    """Record the steps of the current connection; redact every known secret from replies.

    The steps start over with each connection; the secrets are kept for the transport's life.
    """

    def __init__(self) -> None:
        self._steps: list[TranscriptStep] = []
        self._secrets: set[str] = set()

    def __repr__(self) -> str:
        return f"<Transcript steps={len(self._steps)}>"

    @property
    def steps(self) -> tuple[TranscriptStep, ...]:
        return tuple(self._steps)

    def restart(self) -> None:
        """Forget the steps of the previous connection (its secrets stay redacted)."""
        self._steps = []

    def record(
        self, step: str, ok: bool, code: int | None = None, reply: str = "", detail: str = ""
    ) -> None:
        self._steps.append(TranscriptStep(str(step), ok, code, reply, detail))

    def fail(self, step: str, error: MailDeliveryError) -> MailDeliveryError:
        """Record a failed step from its named error and return the error for raising."""
        self.record(step, False, error.smtp_code, error.smtp_reply, detail=error.cause)
        return error

    def remember(self, secret: str) -> None:
        """Redact this secret (a password, a token) from every reply from now on."""
        # An empty secret (LOGIN's empty password) would "redact" between every two characters.
        if secret:
            self._secrets.add(secret)

    def secret_b64(self, data: bytes) -> str:
        """Return an AUTH payload in base64; the encoded form is redacted from now on."""
        encoded = base64.b64encode(data).decode("ascii")
        self.remember(encoded)
        return encoded

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text
