"""The DATA payload: a built message is sent as it is, any other one normalised as before."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from mailer.transport import data_payload

_EOLS = re.compile(rb"\r\n|\n|\r")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def _normalised(message: bytes) -> bytes:
    """The payload as every message was normalised before: line ends, dots, final line."""
    payload = _LEADING_DOT.sub(b"..", _EOLS.sub(b"\r\n", message))
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    return payload + b".\r\n"


@given(st.lists(st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"From ", b"=", b"\x00"])))
def test_data_payload_same_as_line_by_line_normalising(pieces):
    """Whatever the line ends and dots, the payload is the normalised message."""
    message = b"".join(pieces)
    assert data_payload(message) == _normalised(message)


def test_data_payload_crlf_message_sent_as_built():
    """A CRLF message without leading dots travels unchanged, with the final "." line."""
    message = b"Subject: s\r\n\r\n" + b"QUJD" * 19 + b"\r\n" * 3
    assert data_payload(message) == message + b".\r\n"
    assert data_payload(b"a\r\n.b\r\n") == b"a\r\n..b\r\n.\r\n"
    assert data_payload(b".a\r\nb") == b"..a\r\nb\r\n.\r\n"
