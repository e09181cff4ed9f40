"""Building outgoing messages with Django's e-mail classes, addressed per the resolved mode."""

from __future__ import annotations

import binascii
import email.generator
import email.headerregistry
import email.message
import email.policy
import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# set_param()'s own formatter of a parameter (quoting, RFC 2231); not in email.message's API.
from email.message import _formatparam  # type: ignore[attr-defined]
from typing import Any

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


def attachment_base64(content: bytes, *, linesep: str = "\n") -> str:
    """Return the content as the base64 body lines that Django's attach() would write.

    The lines are those of email.contentmanager.set_bytes_content (76 characters, 57 bytes
    each); `linesep="\r\n"` ends them as they travel in SMTP, ready to be sent verbatim.
    """
    encoded = binascii.b2a_base64(content, newline=False).decode("ascii")
    if not encoded:
        return ""
    width = _BASE64_BYTES_PER_LINE // 3 * 4
    lines = [encoded[start : start + width] for start in range(0, len(encoded), width)]
    return linesep.join(lines) + linesep


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

    def wire_body(self, linesep: str) -> bytes | None:
        """Return the stored lines as this part's body on the wire, ended by `linesep`.

        Exactly what the email generator writes for the payload, without splitting it into
        lines: the lines are only re-ended when they were stored with other line ends. None when
        the payload is no longer the stored lines (someone set another).
        """
        text = self.encoded.base64
        # set_payload() keeps the very str it is given: another object means another payload.
        if self._payload is not text:  # type: ignore[attr-defined]
            return None
        # The lines are attachment_base64's: all CRLF-ended (stored now) or all LF (earlier).
        # A copy that mixed them would still travel right: the transport ends lines in CRLF.
        stored = "\r\n" if "\r" in text else "\n"
        if stored != linesep:
            text = text.replace(stored, linesep)
        return text.encode("ascii")


class _SplicingGenerator(email.generator.BytesGenerator):
    """The email package's generator that copies a pre-encoded part's body lines verbatim.

    Every header (the message's and each part's) is still folded and encoded by the policy;
    only the base64 lines of an EncodedPart skip being split and written line by line.
    """

    def _write(self, msg: email.message.Message) -> None:
        if isinstance(msg, EncodedPart):
            body = msg.wire_body(self._NL)  # type: ignore[attr-defined]
            if body is not None:
                self._write_headers(msg)  # type: ignore[attr-defined]
                self._fp.write(body)  # type: ignore[attr-defined]
                return
        super()._write(msg)  # type: ignore[misc]

    @classmethod
    def _make_boundary(cls, text: str | bytes | None = None) -> str:
        # A boundary whose delimiter occurs nowhere in the parts needs no line-by-line search.
        boundary: str = super()._make_boundary()  # type: ignore[misc]
        if text is None:
            return boundary
        delimiter = f"--{boundary}"
        found_in = (
            delimiter.encode("ascii") in text if isinstance(text, bytes) else delimiter in text
        )
        if not found_in:
            return boundary
        found: str = super()._make_boundary(text)  # type: ignore[misc]
        return found


class _HeaderFactory(email.headerregistry.HeaderRegistry):
    """policy.SMTP's header registry, minus work that is the same in every message.

    The registry makes a new class for every header it parses, and the headers that repeat
    from message to message (From, MIME-Version, a text part's Content-Type…) are parsed
    anew each time. Here each class is made once, and a repeating header is parsed once per
    process (a parsed header is immutable, so messages can share it): the same headers.
    """

    #: Headers whose values repeat over a job's messages (never the recipient, subject, date).
    REPEATING = frozenset(
        (
            "from",
            "reply-to",
            "sender",
            "mime-version",
            "content-type",
            "content-transfer-encoding",
            "content-disposition",
            "content-language",
        )
    )

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}
        self._parsed = functools.lru_cache(maxsize=1024)(super().__call__)

    def __getitem__(self, name: str) -> type:
        base = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(base)
        if made is None:
            made = self._classes[base] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and name.lower() in self.REPEATING:
            return self._parsed(name, value)
        return super().__call__(name, value)


#: policy.SMTP (CRLF, RFC 2047/2231 encoding, folding) with the header factory above.
SMTP_POLICY = email.policy.SMTP.clone(header_factory=_HeaderFactory())


def message_bytes(built: email.message.Message) -> bytes:
    """Return a built message's bytes as as_bytes() writes them, pre-encoded parts verbatim."""
    out = io.BytesIO()
    _SplicingGenerator(out, mangle_from_=False, policy=built.policy).flatten(built, unixfrom=False)
    return out.getvalue()


def attachment_part(attachment: EncodedAttachment) -> EncodedPart:
    """Return the MIME part of a pre-encoded attachment, header for header as attach() makes it.

    Django's attach(filename, content, mimetype) base64-encodes the content in every message;
    this part carries lines encoded once, so building a message costs no encoding.
    """
    # The steps of EmailMessage.add_attachment() -> set_bytes_content() without the encoding.
    # Each header is parsed by the policy once per process (a parsed header is immutable and
    # goes into a message as it is); set_param("filename", replace=True) on "attachment" is
    # "attachment; " and the parameter as the email package formats it (RFC 2231 when not
    # ASCII), so that one parse makes the same header. CR or LF in a value is refused here.
    part = EncodedPart(attachment)
    part["Content-Type"] = _part_header("Content-Type", attachment.mimetype)
    part.set_payload(attachment.base64)
    part["Content-Transfer-Encoding"] = _part_header("Content-Transfer-Encoding", "base64")
    disposition = f"attachment; {_formatparam('filename', attachment.filename)}"
    part["Content-Disposition"] = _part_header("Content-Disposition", disposition)
    part["MIME-Version"] = _part_header("MIME-Version", "1.0")
    return part


@functools.lru_cache(maxsize=1024)
def _part_header(name: str, value: str) -> Any:
    """Return the header as policy.default parses it for a part (cached: parsing is slow)."""
    return email.policy.default.header_store_parse(name, value)[1]


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
    """Return the SMTP envelope sender, the recipients and the bytes of a built message.

    The headers and the text parts are made by Django and the email package (policy SMTP:
    CRLF, encoded words, folding); a pre-encoded attachment's stored lines go in verbatim.
    """
    message_check(message)
    built = message.message(policy=SMTP_POLICY)  # adds a Message-ID when none is set
    return (
        envelope_sender(config, message_id=str(built["Message-ID"] or "")),
        message.recipients(),
        message_bytes(built),
    )
