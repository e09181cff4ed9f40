"""Parsing bounces: RFC 3464 delivery status notifications and common plain-text formats.

Nothing here touches the database; `bounce_parse` never raises, whatever bytes it is given.
Every pattern runs in time linear in its input: the plain-text formats are read line by line,
each line cut to LINE_LIMIT, and no pattern lets whitespace run across lines (issue 10: one
400 KB bounce of blank lines, or of one `a@a@a@…` line, took minutes).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser, HeaderParser

#: A bounce's text is searched within this many characters (hostile input stays cheap).
TEXT_LIMIT = 200_000
#: Parts beyond this many are not looked at (a "deeply nested" message is not worth more).
PART_LIMIT = 200
#: Plain-text bounces are read line by line, each cut to this many characters (RFC 5322
#: §2.1.1 allows 998; a longer line is broken or hostile and only its start matters).
LINE_LIMIT = 1000
#: A recipient's diagnostic is gathered from at most this many lines.
DIAGNOSTIC_LINES = 20

FAILED = "failed"
DELAYED = "delayed"

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")
_MESSAGE_ID = re.compile(r"^message-id:[ \t]*(<[^>\r\n]{1,900}>)", re.IGNORECASE | re.MULTILINE)
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@[A-Za-z0-9.-]{1,253}")
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Plain-text formats; each is matched against one line (at most LINE_LIMIT characters).
_ANGLE_RECIPIENT = re.compile(r"<([^<>]{3,320})>:[ \t]*")
_EXIM_MARKER = re.compile(r"following address\(es\) failed:[ \t]*$", re.IGNORECASE)
_MICROSOFT_MARKER = re.compile(r"delivery has failed to these recipients or groups:", re.I)
_MICROSOFT_RETURNED = re.compile(r"Remote Server returned '([^'\n]{1,2000})'")
_MICROSOFT_STATUS = re.compile(r"#?[ \t]*([45]\d\d[ -][45]\.\d{1,3}\.\d{1,3})")


@dataclass(frozen=True)
class BounceRecipient:
    """One recipient a bounce reports on."""

    recipient: str
    action: str  # "failed" or "delayed" (RFC 3464 §2.3.3; other actions are not bounces)
    status: str  # the enhanced status code, e.g. "5.1.1", or ""
    diagnostic: str  # the remote server's words, e.g. "550 5.1.1 User unknown"
    smtp_code: int | None
    remote_mta: str = ""


@dataclass(frozen=True)
class BounceReport:
    """What a bounce says: its format, the original Message-ID and the failed recipients."""

    format: str  # "rfc3464", "postfix", "exim", "microsoft" or "qmail"
    original_message_id: str
    recipients: tuple[BounceRecipient, ...]
    original_headers: tuple[tuple[str, str], ...] = ()

    @property
    def failed(self) -> tuple[BounceRecipient, ...]:
        return tuple(r for r in self.recipients if r.action == FAILED)

    def original_header(self, name: str) -> str:
        """Return a header of the original message as the bounce quotes it, or ""."""
        for key, value in self.original_headers:
            if key.lower() == name.lower():
                return value
        return ""


def text_clean(value: object, limit: int = 998) -> str:
    """Return a value as text safe to store: no NUL or control characters, no lone surrogates."""
    text = str(value or "")
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    text = _UNSAFE.sub(" ", text).replace("\r", " ").replace("\n", " ")
    return " ".join(text.split())[:limit]


def message_parse(raw: bytes) -> Message:
    """Parse raw bytes into a message (email's parser recovers from defects instead of raising)."""
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def message_id_normalize(value: str) -> str:
    """Return a Message-ID in its canonical `<id>` form, or "" when there is none."""
    value = text_clean(value)
    match = re.search(r"<[^<>\s]+>", value)
    if match:
        return match.group(0)
    value = value.strip().strip("<>")
    return f"<{value}>" if value and " " not in value else ""


def bounce_parse(raw: bytes) -> BounceReport | None:
    """Return what a bounce reports, or None when the bytes are not a recognisable bounce."""
    try:
        return _bounce_parse(message_parse(raw[: TEXT_LIMIT * 5]))
    except Exception:
        # Hostile input (deep nesting, broken encodings) must never break the receiver; the
        # caller stores the raw bytes as unparsable mail instead.
        return None


def _bounce_parse(message: Message) -> BounceReport | None:
    parts = _parts(message)
    report = _rfc3464(message, parts)
    if report is not None:
        return report
    text = _body_text(parts)
    for parse in (_postfix, _exim, _microsoft, _qmail):
        recipients = parse(text)
        if recipients:
            headers = _original_headers(parts, text)
            return BounceReport(
                format=parse.__name__.lstrip("_"),
                original_message_id=_original_message_id(headers, text, message),
                recipients=tuple(recipients),
                original_headers=headers,
            )
    return None


def _parts(message: Message) -> list[Message]:
    """Return the message's parts breadth-first, at most PART_LIMIT, without recursion."""
    found: list[Message] = []
    queue = [message]
    while queue and len(found) < PART_LIMIT:
        part = queue.pop(0)
        found.append(part)
        payload = part.get_payload()
        if isinstance(payload, list):
            queue.extend(p for p in payload if isinstance(p, Message))
    return found


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:TEXT_LIMIT] if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload[:TEXT_LIMIT].decode(charset, "replace")
    except LookupError:
        return payload[:TEXT_LIMIT].decode("utf-8", "replace")


def _body_text(parts: list[Message]) -> str:
    texts = [_part_text(p) for p in parts if p.get_content_type() == "text/plain"]
    if not texts:
        texts = [_part_text(p) for p in parts if not p.is_multipart()]
    return "\n".join(texts)[:TEXT_LIMIT].replace("\r\n", "\n")


def _status_from(text: str) -> str:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else ""


def _smtp_code_from(text: str) -> int | None:
    match = _SMTP_CODE.search(text)
    return int(match.group(1)) if match else None


def _recipient(
    address: str, diagnostic: str, *, action: str = "", status: str = ""
) -> BounceRecipient:
    diagnostic = text_clean(diagnostic, 2000)
    status = status or _status_from(diagnostic)
    if not action:
        action = DELAYED if status.startswith("4") else FAILED
    return BounceRecipient(
        recipient=text_clean(address, 320).strip("<>"),
        action=action,
        status=status,
        diagnostic=diagnostic,
        smtp_code=_smtp_code_from(diagnostic),
    )


# --- RFC 3464 ------------------------------------------------------------------------------
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")


def _rfc3464(message: Message, parts: list[Message]) -> BounceReport | None:
    status_part = next((p for p in parts if p.get_content_type() in _STATUS_TYPES), None)
    if status_part is None:
        return None
    blocks = _status_blocks(status_part)
    recipients = []
    for block in blocks[1:] or blocks:
        address = block.get("Final-Recipient") or block.get("Original-Recipient") or ""
        address = str(address).partition(";")[2].strip() or str(address).strip()
        if not address:
            continue
        action = text_clean(block.get("Action", ""), 20).lower()
        if action not in (FAILED, DELAYED):
            continue  # delivered, relayed, expanded: not a bounce
        diagnostic = str(block.get("Diagnostic-Code") or "")
        diagnostic = diagnostic.partition(";")[2].strip() or diagnostic
        status = _status_from(str(block.get("Status") or "")) or _status_from(diagnostic)
        recipient = _recipient(address, diagnostic or status, action=action, status=status)
        remote = str(block.get("Remote-MTA") or "").partition(";")[2].strip()
        recipients.append(
            BounceRecipient(
                recipient=recipient.recipient,
                action=recipient.action,
                status=recipient.status,
                diagnostic=recipient.diagnostic,
                smtp_code=recipient.smtp_code,
                remote_mta=text_clean(remote, 255),
            )
        )
    if not recipients:
        return None
    text = _body_text(parts)
    headers = _original_headers(parts, text)
    return BounceReport(
        format="rfc3464",
        original_message_id=_original_message_id(headers, text, message),
        recipients=tuple(recipients),
        original_headers=headers,
    )


def _status_blocks(part: Message) -> list[Message]:
    """Return the per-message block and the per-recipient blocks of a delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return [p for p in payload if isinstance(p, Message)]
    # Some MTAs send the status with a transfer encoding that leaves it unparsed.
    text = _part_text(part).replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in _paragraphs(text)]


def _paragraphs(text: str) -> list[str]:
    """Return the blocks of text between blank lines (a loop, not a cross-line pattern)."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            blocks.append("\n".join(current))
            current = []
    if current:
        blocks.append("\n".join(current))
    return blocks


def _original_headers(parts: list[Message], text: str) -> tuple[tuple[str, str], ...]:
    """Return the original message's headers as the bounce quotes them (attached or inline)."""
    for part in parts[1:]:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _header_items(payload[0])
        elif ctype in ("text/rfc822-headers", "message/global-headers"):
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                return _header_items(BytesHeaderParser().parsebytes(raw[:TEXT_LIMIT]))
    # Plain-text bounces quote the original below a marker line; take the header block there.
    match = _MESSAGE_ID.search(text)
    if match:
        start = text.rfind("\n\n", 0, match.start()) + 2
        end = text.find("\n\n", match.end())
        block = text[start : end if end != -1 else len(text)]
        return _header_items(HeaderParser().parsestr(block))
    return ()


def _header_items(message: Message) -> tuple[tuple[str, str], ...]:
    return tuple((text_clean(k, 80), text_clean(v)) for k, v in list(message.items())[:200])


def _original_message_id(headers: tuple[tuple[str, str], ...], text: str, message: Message) -> str:
    for key, value in headers:
        if key.lower() == "message-id":
            found = message_id_normalize(value)
            if found:
                return found
    match = _MESSAGE_ID.search(text)
    if match:
        return message_id_normalize(match.group(1))
    # Some servers only point back through References / In-Reply-To of the bounce itself.
    for name in ("In-Reply-To", "References"):
        value = str(message.get(name) or "")
        if value:
            return message_id_normalize(value.split()[-1] if value.split() else value)
    return ""


# --- Non-standard plain-text formats ---------------------------------------------------------
def _lines(text: str) -> list[str]:
    return [line[:LINE_LIMIT] for line in text.split("\n")]


def _blank(line: str) -> bool:
    return not line.strip()


def _block(lines: list[str], start: int) -> tuple[list[str], int]:
    """Return the lines from `start` up to the next blank line, and the index after them."""
    end = start
    while end < len(lines) and not _blank(lines[end]):
        end += 1
    return lines[start : min(end, start + DIAGNOSTIC_LINES)], end


def _postfix(text: str) -> list[BounceRecipient]:
    """Postfix: `<user@example.com>: host mx[1.2.3.4] said: 550 5.1.1 ... (in reply to ...)`."""
    if "mail system" not in text.lower() or "could not" not in text.lower():
        return []
    lines = _lines(text)
    found = []
    index = 0
    while index < len(lines):
        match = _ANGLE_RECIPIENT.match(lines[index])
        if match is None:
            index += 1
            continue
        first = lines[index][match.end() :]
        # The diagnostic runs to the next blank line (it may start on the line after).
        rest, index = _block(lines, index + 1)
        diagnostic = " ".join([first, *rest]).strip()
        if diagnostic:
            found.append(_recipient(match.group(1), diagnostic))
    return found


def _exim(text: str) -> list[BounceRecipient]:
    """Exim: `The following address(es) failed:` then indented addresses and diagnostics."""
    lines = _lines(text)
    marker = next((i for i, line in enumerate(lines) if _EXIM_MARKER.search(line)), None)
    if marker is None:
        return []
    found = []
    index = marker + 1
    while index < len(lines) and _blank(lines[index]):  # blank lines right after the marker
        index += 1
    blank_run = 0
    while index < len(lines):
        line = lines[index]
        # The list ends at a "----" line or at two blank lines in a row.
        if line.startswith("---"):
            break
        blank_run = blank_run + 1 if _blank(line) else 0
        if blank_run >= 2:
            break
        index += 1
        address = _exim_address(line)
        if address is None:
            continue
        diagnostic: list[str] = []
        while index < len(lines) and lines[index].startswith(("   ", "\t")):
            if len(diagnostic) < DIAGNOSTIC_LINES:
                diagnostic.append(lines[index])
            index += 1
        found.append(_recipient(address, " ".join(" ".join(diagnostic).split())))
    return found


def _exim_address(line: str) -> str | None:
    """Return the address of an Exim address line (two spaces, one word holding an @)."""
    if not line.startswith("  ") or line.startswith("   ") or line[2:3] == "\t":
        return None
    words = line[2:].split()
    # Plain string operations: `\S+@\S+` backtracks quadratically on `a@a@a@…`.
    if len(words) != 1 or "@" not in words[0][1:-1]:
        return None
    return words[0].rstrip(":")


def _microsoft(text: str) -> list[BounceRecipient]:
    """Exchange / Microsoft 365: `Delivery has failed to these recipients or groups:`."""
    marker = _MICROSOFT_MARKER.search(text)
    if marker is None:
        return []
    rest = text[marker.end() :]
    addresses = list(dict.fromkeys(_ADDRESS.findall(rest[:2000])))
    if not addresses:
        return []
    diagnostic = ""
    lines = _lines(rest)
    for line in lines:
        match = _MICROSOFT_RETURNED.search(line)
        if match:
            diagnostic = match.group(1)
            break
    else:
        for line in lines:
            match = _MICROSOFT_STATUS.match(line)
            if match:
                diagnostic = line[match.start(1) :].partition("##")[0]
                break
    return [_recipient(addresses[0], diagnostic or "delivery failed")]


def _qmail(text: str) -> list[BounceRecipient]:
    """qmail: `Hi. This is the qmail-send program` then `<user@example.com>:` and its reason."""
    if "qmail-send program" not in text and "wasn't able to deliver" not in text:
        return []
    body = text.split("\n--- Below this line", 1)[0]
    lines = _lines(body)
    found = []
    index = 0
    while index < len(lines):
        match = _ANGLE_RECIPIENT.match(lines[index])
        index += 1
        if match is None or lines[index - 1][match.end() :].strip():
            continue
        while index < len(lines) and _blank(lines[index]):
            index += 1
        diagnostic, index = _block(lines, index)
        if diagnostic:
            found.append(_recipient(match.group(1), " ".join(diagnostic)))
    return found
