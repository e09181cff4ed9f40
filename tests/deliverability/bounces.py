"""Bounce messages as real mail servers write them (RFC 3464 and plain-text formats)."""

from __future__ import annotations

import base64

ORIGINAL_ID = "<170000000.1.42@event.data.directo.ee>"
DIAGNOSTIC = "550 5.1.1 <ghost@customer.test>: Recipient address rejected: User unknown"


def original_message(
    *,
    message_id: str = ORIGINAL_ID,
    from_: str = "acme-trading@event.data.directo.ee",
    reply_to: str = "kivi@seller.test",
    to: str = "ghost@customer.test",
) -> str:
    return (
        f"From: {from_}\r\n"
        f"Reply-To: {reply_to}\r\n"
        f"To: {to}\r\n"
        "Subject: Invoice 1001\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Please find the invoice attached.\r\n"
    )


def rfc3464(
    *,
    original: str | None = None,
    recipient: str = "ghost@customer.test",
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = DIAGNOSTIC,
    headers_only: bool = False,
    envelope_to: str = "acme-trading@event.data.directo.ee",
) -> bytes:
    """Return a Postfix-style multipart/report DSN about one recipient."""
    original = original if original is not None else original_message()
    if headers_only:
        attached = "Content-Type: text/rfc822-headers\r\n\r\n" + original.split("\r\n\r\n")[0]
    else:
        attached = "Content-Type: message/rfc822\r\n\r\n" + original
    return (
        "Return-Path: <>\r\n"
        "From: MAILER-DAEMON@mx.customer.test (Mail Delivery System)\r\n"
        f"To: {envelope_to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn.1@mx.customer.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
        "\r\n"
        "--B1\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n"
        "This is the mail system at host mx.customer.test.\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n"
        "\r\n"
        "--B1\r\n"
        "Content-Type: message/delivery-status\r\n"
        "\r\n"
        "Reporting-MTA: dns; mx.customer.test\r\n"
        "Arrival-Date: Mon, 2 Mar 2026 10:00:00 +0200\r\n"
        "\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Remote-MTA: dns; mail.customer.test\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "\r\n"
        "--B1\r\n"
        f"{attached}\r\n"
        "--B1--\r\n"
    ).encode()


POSTFIX_TEXT = (
    "From: MAILER-DAEMON@mx.customer.test\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
    "\r\n"
    "This is the mail system at host mx.customer.test.\r\n"
    "\r\n"
    "I'm sorry to have to inform you that your message could not\r\n"
    "be delivered to one or more recipients. It's attached below.\r\n"
    "\r\n"
    "<ghost@customer.test>: host mail.customer.test[198.51.100.9] said: 550 5.1.1\r\n"
    "    <ghost@customer.test>: Recipient address rejected: User unknown (in reply to\r\n"
    "    RCPT TO command)\r\n"
    "\r\n"
    "------ Original message ------\r\n"
    "\r\n" + original_message()
).encode()

EXIM_TEXT = (
    "From: Mail Delivery System <Mailer-Daemon@mx.customer.test>\r\n"
    "Subject: Mail delivery failed: returning message to sender\r\n"
    "\r\n"
    "This message was created automatically by mail delivery software.\r\n"
    "\r\n"
    "A message that you sent could not be delivered to one or more of its\r\n"
    "recipients. This is a permanent error. The following address(es) failed:\r\n"
    "\r\n"
    "  ghost@customer.test\r\n"
    "    host mail.customer.test [198.51.100.9]\r\n"
    "    SMTP error from remote mail server after RCPT TO:<ghost@customer.test>:\r\n"
    "    550 5.1.1 User unknown\r\n"
    "\r\n"
    "------ This is a copy of the message, including all the headers. ------\r\n"
    "\r\n" + original_message()
).encode()

MICROSOFT_TEXT = (
    "From: postmaster@customer.onmicrosoft.com\r\n"
    "Subject: Undeliverable: Invoice 1001\r\n"
    "\r\n"
    "Delivery has failed to these recipients or groups:\r\n"
    "\r\n"
    "ghost@customer.test (ghost@customer.test)\r\n"
    "The e-mail address you entered couldn't be found.\r\n"
    "\r\n"
    "Diagnostic information for administrators:\r\n"
    "\r\n"
    "Generating server: AM0PR01MB1234.eurprd01.prod.exchangelabs.com\r\n"
    "\r\n"
    "ghost@customer.test\r\n"
    "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found'\r\n"
    "\r\n"
    "Original message headers:\r\n"
    "\r\n" + original_message().split("\r\n\r\n")[0] + "\r\n"
).encode()

QMAIL_TEXT = (
    "From: MAILER-DAEMON@customer.test\r\n"
    "Subject: failure notice\r\n"
    "\r\n"
    "Hi. This is the qmail-send program at customer.test.\r\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
    "This is a permanent error; I've given up. Sorry it didn't work out.\r\n"
    "\r\n"
    "<ghost@customer.test>:\r\n"
    "198.51.100.9 does not like recipient.\r\n"
    "Remote host said: 550 5.2.2 Mailbox full\r\n"
    "Giving up on 198.51.100.9.\r\n"
    "\r\n"
    "--- Below this line is a copy of the message.\r\n"
    "\r\n" + original_message()
).encode()

PLAIN_REPLY = (
    "From: Customer <buyer@customer.test>\r\n"
    "To: acme-trading@event.data.directo.ee\r\n"
    "Subject: Re: Invoice 1001\r\n"
    f"In-Reply-To: {ORIGINAL_ID}\r\n"
    "Message-ID: <reply.7@customer.test>\r\n"
    "\r\n"
    "Thanks, paid today.\r\n"
).encode()


def nested_mime(depth: int) -> bytes:
    """Return a message whose multiparts nest `depth` levels deep."""
    head = ["From: a@b.test", "Subject: nested", "MIME-Version: 1.0"]
    lines = []
    for level in range(depth):
        lines.append(f'Content-Type: multipart/mixed; boundary="b{level}"')
        lines.append("")
        lines.append(f"--b{level}")
    lines.append("Content-Type: text/plain")
    lines.append("")
    lines.append("deep")
    for level in reversed(range(depth)):
        lines.append(f"--b{level}--")
    return "\r\n".join(head + lines).encode() + b"\r\n"


#: Hostile bounces are built at least this large (issue 10: one of ~400 KB stalled the receiver).
HOSTILE_SIZE = 400 * 1024


def base64_text(text: str, *, subject: str = "Mail delivery failed") -> bytes:
    """Return a single-part message whose text/plain body is `text` in base64.

    Base64 lets one decoded line be far longer than SMTP's 998 characters.
    """
    encoded = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    return (
        "From: Mail Delivery System <Mailer-Daemon@mx.customer.test>\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
    ).encode() + encoded


def hostile_microsoft_blank_lines(size: int = HOSTILE_SIZE) -> bytes:
    """A Microsoft bounce whose status section is `size` bytes of blank lines."""
    head = (
        b"From: postmaster@customer.onmicrosoft.com\r\n"
        b"Subject: Undeliverable: Invoice 1001\r\n"
        b"\r\n"
        b"Delivery has failed to these recipients or groups:\r\n"
        b"\r\n"
        b"ghost@customer.test (ghost@customer.test)\r\n"
    )
    return head + b"\r\n" * (size // 2)


def hostile_exim_address_line(size: int = HOSTILE_SIZE) -> bytes:
    """An Exim bounce whose address list is one `a@a@a@…` line of `size` bytes (in base64)."""
    line = "  " + "a@" * (size // 2) + "a x"
    return base64_text(
        "A message that you sent could not be delivered to one or more of its\n"
        "recipients. This is a permanent error. The following address(es) failed:\n"
        "\n" + line
    )


def hostile_whitespace_after_markers(size: int = HOSTILE_SIZE) -> bytes:
    """Every plain-text format's marker, each followed by whitespace runs across `size` bytes."""
    filler = " \t\n" * (size // 12)
    return base64_text(
        "This is the mail system. Your message could not be delivered.\n"
        "Hi. This is the qmail-send program.\n"
        "The following address(es) failed:\n" + filler + "  a@b.test" + filler + "\n"
        "<a@b.test>:" + filler + "\n"
        "Delivery has failed to these recipients or groups:\n" + filler + "# x" + filler
    )


def hostile_status_part(size: int = HOSTILE_SIZE) -> bytes:
    """An RFC 3464 report whose base64 delivery-status part is `size` bytes of blank lines."""
    blank = base64.encodebytes(b" \n" * (size // 2) + b"x").replace(b"\n", b"\r\n")
    return (
        (
            b"From: MAILER-DAEMON@mx.customer.test\r\n"
            b"Subject: Undelivered Mail Returned to Sender\r\n"
            b"MIME-Version: 1.0\r\n"
            b'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n'
            b"\r\n"
            b"--B1\r\n"
            b"Content-Type: message/delivery-status\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"\r\n"
        )
        + blank
        + b"\r\n--B1--\r\n"
    )
