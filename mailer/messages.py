"""Building outgoing messages with Django's e-mail classes, addressed per the resolved mode."""

from __future__ import annotations

import binascii
import email.message
import email.policy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.mail import EmailMessage, EmailMultiAlternatives, make_msgid

from events.errors import UserFacingError
from mailer.causes import MailCause
from mailer.config import PLATFORM, SenderConfig
from mailer.verp import verp_address_make
from users.validation import has_control_characters


class HeaderInjectionError(UserFacingError, ValueError):
    """A header or address carried CR, LF or NUL (an attempt to add headers or recipients)."""

    causes = (MailCause.HEADER_INJECTION,)

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(MailCause.HEADER_INJECTION, params={"field": field})


def header_value_check(field: str, value: str) -> str:
    """Return the value, or raise HeaderInjectionError when it holds CR, LF or NUL."""
    if has_control_characters(value):
        raise HeaderInjectionError(field)
    return value


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class EncodedAttachment:
    """An attachment whose base64 body lines were encoded once (attachment_base64) and kept."""

    filename: str
    base64: str
    mimetype: str


#: Bytes per base64 line: email.policy.default's 78-character limit gives 76-character lines.
_BASE64_BYTES_PER_LINE = 78 // 4 * 3


def attachment_base64(content: bytes) -> str:
    """Return the content as the base64 body lines that Django's attach() would write."""
    # The same lines as email.contentmanager.set_bytes_content: 57 bytes each, "\n" ended.
    return "".join(
        binascii.b2a_base64(content[start : start + _BASE64_BYTES_PER_LINE]).decode("ascii")
        for start in range(0, len(content), _BASE64_BYTES_PER_LINE)
    )


class EncodedPart(email.message.EmailMessage):
    """A pre-encoded attachment's MIME part that still reads as Django's EmailAttachment.

    Code that inspects message.attachments (filename, content, mimetype) keeps working: the
    content is decoded from the stored lines only when someone asks for it.
    """

    def __init__(self, attachment: EncodedAttachment) -> None:
        super().__init__(policy=email.policy.default)
        self.encoded = attachment

    @property
    def filename(self) -> str:
        return self.encoded.filename

    @property
    def mimetype(self) -> str:
        return self.encoded.mimetype

    @property
    def content(self) -> bytes:
        return binascii.a2b_base64(self.encoded.base64)


def attachment_part(attachment: EncodedAttachment) -> EncodedPart:
    """Return the MIME part of a pre-encoded attachment, header for header as attach() makes it.

    Django's attach(filename, content, mimetype) base64-encodes the content in every message;
    this part carries lines encoded once, so building a message costs no encoding.
    """
    # The steps of EmailMessage.add_attachment() -> set_bytes_content() without the encoding.
    part = EncodedPart(attachment)
    part["Content-Type"] = attachment.mimetype
    part.set_payload(attachment.base64)
    part["Content-Transfer-Encoding"] = "base64"
    part["Content-Disposition"] = "attachment"
    part.set_param("filename", attachment.filename, header="Content-Disposition", replace=True)
    part["MIME-Version"] = "1.0"
    return part


def message_id_make(config: SenderConfig) -> str:
    """Return a new Message-ID in the sending domain (From's domain)."""
    domain = config.from_email.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def message_address(message: EmailMessage, config: SenderConfig) -> EmailMessage:
    """Set From, Reply-To and the envelope sender of a message as the resolved mode requires."""
    message.from_email = config.from_email
    message.reply_to = [config.reply_to] if config.reply_to else list(message.reply_to)
    message.extra_headers.pop("From", None)
    if config.reply_to:
        message.extra_headers.pop("Reply-To", None)
    return message


def message_check(message: EmailMessage) -> None:
    """Refuse a message whose headers or addresses carry CR, LF or NUL."""
    header_value_check("subject", str(message.subject))
    header_value_check("sender address", str(message.from_email))
    for field, addresses in (
        ("recipient address", message.to),
        ("Cc address", message.cc),
        ("Bcc address", message.bcc),
        ("Reply-To address", message.reply_to),
    ):
        for address in addresses:
            header_value_check(field, str(address))
    for name, value in message.extra_headers.items():
        header_value_check(f"header name “{name[:40]}”", str(name))
        header_value_check(f"header {name}", str(value))


def message_build(
    *,
    config: SenderConfig,
    to: Sequence[str],
    subject: str,
    body: str,
    html: str | None = None,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    attachments: Iterable[Attachment | EncodedAttachment] = (),
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """Build a message from the resolved settings, with a stable Message-ID.

    An EncodedAttachment goes in as a ready MIME part (Django's attach() takes a MIMEPart).
    """
    extra = dict(headers or {})
    extra["Message-ID"] = message_id or message_id_make(config)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=config.from_email,
        to=list(to),
        cc=list(cc),
        bcc=list(bcc),
        reply_to=[config.reply_to] if config.reply_to else None,
        headers=extra,
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    for attachment in attachments:
        if isinstance(attachment, EncodedAttachment):
            message.attach(attachment_part(attachment))
        else:
            message.attach(attachment.filename, attachment.content, attachment.mimetype)
    message_check(message)
    return message


def envelope_sender(config: SenderConfig, *, message_id: str) -> str:
    """Return one message's envelope sender: signed VERP when bounces go to the event mailbox.

    The signed address names the card and the message, so a bounce is attributed only by what
    the product itself put on the message (SPEC.md "Events"; issue 10).
    """
    if config.envelope_from and config.sources.get("envelope_from") == PLATFORM:
        return verp_address_make(
            mailbox=config.envelope_from, card_code=config.code, message_id=message_id
        )
    return config.envelope_from


def message_envelope(message: EmailMessage, config: SenderConfig) -> tuple[str, list[str], bytes]:
    """Return the SMTP envelope sender, the recipients and the bytes of a built message."""
    message_check(message)
    built = message.message(policy=email.policy.SMTP)  # adds a Message-ID when none is set
    return (
        envelope_sender(config, message_id=str(built["Message-ID"] or "")),
        message.recipients(),
        built.as_bytes(),
    )
