"""A Django e-mail backend that sends each message through its user's resolved settings.

Configure it as a mailer (settings.MAILERS["usercard"]) and send with
`send_mail(..., from_email=card.email, using="usercard")` or `message.send(using="usercard")`.
The user is the card named by the `X-Directo-User` header (removed before sending), else the
backend's `card` option, else the one card whose e-mail is the message's From address.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from mailer.causes import MailCause, detail_params
from mailer.config import SenderConfig
from mailer.exceptions import MailDeliveryError
from mailer.services import SEND_ERRORS, mail_send, mail_transport_get, sender_config_get
from mailer.transport import SmtpTransport
from users.models import UserCard
from users.services import usercard_get_by_code

USER_HEADER = "X-Directo-User"


class UnknownSenderError(MailDeliveryError):
    """The backend cannot tell on whose behalf a message is sent."""

    causes = (MailCause.SENDER_UNKNOWN,)


class UserCardEmailBackend(BaseEmailBackend):
    """Send through the sending user's resolved settings: one connection per user and batch."""

    def __init__(
        self,
        *,
        card: UserCard | None = None,
        user_code: str | None = None,
        fail_silently: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fail_silently = fail_silently
        if card is None and user_code:
            card = self._card_by_code(user_code)
        self.card = card
        self._sessions: dict[int, tuple[SenderConfig, SmtpTransport]] = {}

    @staticmethod
    def _card_by_code(code: str) -> UserCard:
        card = usercard_get_by_code(code=code)
        if card is None:
            detail = detail_params("no card has the code {code}", code=code)
            raise UnknownSenderError(MailCause.SENDER_UNKNOWN, extra=detail)
        return card

    def _card_for(self, message: EmailMessage) -> UserCard:
        code = message.extra_headers.pop(USER_HEADER, None)
        if code:
            return self._card_by_code(str(code))
        if self.card is not None:
            return self.card
        address = parseaddr(str(message.from_email))[1]
        cards = list(UserCard.objects.filter(email__iexact=address)[:2]) if address else []
        if len(cards) != 1:
            template = "several cards with e-mail “{address}”"
            if not cards:
                template = "no card with e-mail “{address}”"
            raise UnknownSenderError(
                MailCause.SENDER_UNKNOWN, extra=detail_params(template, address=address)
            )
        return cards[0]

    def _session(self, card: UserCard) -> tuple[SenderConfig, SmtpTransport]:
        if card.pk not in self._sessions:
            config = sender_config_get(card=card)
            # mail_transport_get() refuses settings that are not ready.
            self._sessions[card.pk] = (config, mail_transport_get(config=config))
        return self._sessions[card.pk]

    def open(self) -> bool:
        return False  # connections open per user, on the first message

    def close(self) -> None:
        for _, transport in self._sessions.values():
            transport.close()
        self._sessions.clear()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        try:
            for message in email_messages:
                if not message.recipients():
                    continue
                try:
                    card = self._card_for(message)
                    config, transport = self._session(card)
                    mail_send(card=card, message=message, transport=transport, config=config)
                except SEND_ERRORS:
                    if not self.fail_silently:
                        raise
                    continue
                sent += 1
        finally:
            self.close()
        return sent
