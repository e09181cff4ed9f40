"""Invoice test helpers: a small reader of the PDFs fpdf2 writes (factories: tests.factories)."""

from __future__ import annotations

import re

_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _literal(data: bytes, start: int) -> tuple[bytes, int]:
    """Return the PDF literal string opening at data[start] == '(' and the index after it."""
    out, depth, i = bytearray(), 1, start + 1
    while depth:
        char = data[i : i + 1]
        if char == b"\\":
            nxt = data[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out += _ESCAPES[nxt]
                i += 2
            elif nxt.isdigit():
                digits = re.match(rb"[0-7]{1,3}", data[i + 1 : i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8))
                i += 1 + len(digits.group())
            else:
                out += nxt
                i += 2
            continue
        if char == b"(":
            depth += 1
        elif char == b")":
            depth -= 1
            if not depth:
                break
        out += char
        i += 1
    return bytes(out), i + 1


def pdf_text(data: bytes) -> str:
    """Return the text drawn by an uncompressed fpdf2 PDF, one line per text object."""
    cmap = {
        int(cid, 16): chr(int(code, 16))
        for cid, code in re.findall(rb"<([0-9A-F]{4})> <([0-9A-F]{4})>", data)
    }
    lines = []
    for block in re.finditer(rb"BT .*? ET", data, re.DOTALL):
        text = block.group()
        start = text.find(b"(")
        if start < 0:
            continue
        raw, _ = _literal(text, start)
        if cmap:
            lines.append(
                "".join(
                    cmap.get(int.from_bytes(raw[i : i + 2], "big"), "?")
                    for i in range(0, len(raw), 2)
                )
            )
        else:
            lines.append(raw.decode("cp1252"))
    return "\n".join(lines)
