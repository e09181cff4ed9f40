"""Rendering an invoice to a one-page PDF with fpdf2."""

from __future__ import annotations

import atexit
import copy
import functools
import hashlib
import json
import logging
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from django.utils import translation
from django.utils.translation import gettext
from fontTools.ttLib import TTFont
from fpdf import FPDF, FPDF_VERSION
from fpdf.enums import TextMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from users.models import SystemSettings

if TYPE_CHECKING:
    from invoices.models import Invoice

#: Unicode TrueType fonts tried in order (Debian: fonts-dejavu-core, fonts-liberation); without
#: any, the PDF falls back to the core Helvetica font and Windows-1252 text.
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)

# Latin-1, Latin Extended-A (Estonian, Latvian, Polish, Lithuanian), Romanian comma letters,
# and the typographic marks and symbols an invoice uses.
_UNICODES = [
    *range(0x20, 0x7F),
    *range(0xA0, 0x180),
    *range(0x218, 0x21C),
    *(0x2013, 0x2014, 0x2018, 0x2019, 0x201A, 0x201C, 0x201D, 0x201E, 0x2022, 0x2026),
    *(0x20AC, 0x2116, 0x2122, 0x00B2, 0x00B3, 0x00B7),
]
_FAMILY = "InvoiceSans"

#: Bump when a change to this module changes what a PDF looks like: every invoice then gets a
#: new stored document (invoice_pdf_key) instead of the one the old renderer made.
RENDERER_VERSION = "1"
#: The texts the renderer translates: a changed translation changes the key of the PDF too.
_LABELS = (
    "Invoice {number}",
    "Invoice {number} to {customer}",
    "INVOICE",
    "Number: {number}",
    "Issue date: {date}",
    "Due date: {date}",
    "BILL TO",
    "Description",
    "Quantity",
    "Unit price",
    "VAT %",
    "Amount {currency}",
    "Subtotal",
    "VAT",
    "Total {currency}",
    "Please pay {amount} {currency} by {due_date}, reference {number}.",
)
_CORE_FAMILY = "Helvetica"
_CORE_ENCODING = "windows-1252"
_CORE_FALLBACKS = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h"})


@dataclass(frozen=True)
class _Fonts:
    regular: str | None


def _font_subset(source: str, directory: Path) -> str:
    # fpdf2 parses the whole font for every document; DejaVu's 6,000 glyphs cost ~80 ms a PDF.
    # A Latin-only copy, made once per process, brings that down to a few milliseconds.
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(source, recalcTimestamp=False)
    options = subset.Options()
    options.glyph_names = False
    options.layout_features = []
    options.hinting = False
    options.drop_tables += ["FFTM", "MATH", "GDEF", "GPOS", "GSUB", "kern"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_UNICODES)
    subsetter.subset(font)
    target = directory / f"{Path(source).stem}-latin.ttf"
    font.save(str(target))
    return str(target)


@functools.cache
def _fonts() -> _Fonts:
    """Return the font of this process: a Unicode TrueType font, or None for the core font."""
    # fontTools logs every subset at INFO, glyph lists included: thousands of lines per job.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            directory = Path(tempfile.mkdtemp(prefix="invoice-fonts-"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            return _Fonts(_font_subset(candidate, directory))
    return _Fonts(None)


@functools.cache
def _font_prepared(path: str) -> tuple[TTFFont, bytes]:
    """Return the font as fpdf2 parses it (cmap, widths, descriptor) and its bytes, once."""
    parser = FPDF()
    parser.add_font(_FAMILY, "", path)
    font = parser.fonts[_FAMILY.lower()]
    assert isinstance(font, TTFFont)
    return font, Path(path).read_bytes()


def _font_for(pdf: FPDF, path: str) -> TTFFont:
    """Return a font for one document that shares the parsed metrics of the prepared one.

    fpdf2's add_font() parses the font file for every document (~5 ms), and the output
    subsets and recompiles it (~10 ms): most of an invoice's rendering time, which caps a
    mass-mail worker at a few dozen invoices a second. The parsed, read-only parts (cmap,
    widths, names) are shared; what a document changes is its own: the fontTools object
    that gets subset, the descriptor that gets an object number, the map of used glyphs.
    """
    prepared, data = _font_prepared(path)
    font = copy.copy(prepared)
    font.i = len(pdf.fonts) + 1
    font.ttfont = TTFont(BytesIO(data), recalcTimestamp=False, lazy=True)
    # The glyphs are copied unchanged: their stored bounding boxes stay right, and without
    # recalculation fontTools writes each glyph's bytes as they are instead of recompiling.
    font.ttfont.recalcBBoxes = False
    font.desc = copy.copy(prepared.desc)
    font.missing_glyphs = []
    font.biggest_size_pt = 0
    font.subset = SubsetMap(font)
    return font


def _core_text(text: str) -> str:
    # The core fonts know only Windows-1252: keep what it has, strip accents from the rest.
    text = text.translate(_CORE_FALLBACKS)
    out = []
    for char in text:
        try:
            char.encode(_CORE_ENCODING)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
        else:
            out.append(char)
    return "".join(out)


def seller_name(invoice: Invoice) -> str:
    """Return the seller: the company of System settings, else the owner's name or code."""
    return SystemSettings.load().company_name or invoice.owner.name or invoice.owner.code


#: Languages that write amounts with a decimal comma (1 234,50) and dates as 31.12.2026.
_COMMA_LANGUAGES = frozenset({"et", "lv", "pl"})
_NBSP = "\u00a0"


def _comma_language() -> bool:
    """Return whether the active language writes a decimal comma (Estonian, Latvian, Polish)."""
    return (translation.get_language() or "en").split("-")[0] in _COMMA_LANGUAGES


def _number_text(text: str) -> str:
    """Return Python's "12,345.6" as the active language writes it: 12 345.6 or 12 345,6."""
    text = text.replace(",", _NBSP)
    return text.replace(".", ",") if _comma_language() else text


def money_format(amount: Decimal) -> str:
    """Return an amount, thousands split by no-break spaces: 12 345.60 (et, lv, pl: 12 345,60)."""
    return _number_text(f"{amount:,.2f}")


def price_format(price: Decimal) -> str:
    """Return a unit price with cents, or with its finer decimals when it has them: 0.125."""
    cents = price.quantize(Decimal("0.01"))
    if cents == price:
        return money_format(cents)
    return _number_text(f"{price.normalize():,f}")


def quantity_format(quantity: Decimal) -> str:
    """Return a quantity without trailing zeros: 2.5 (et, lv, pl: 2,5)."""
    text = f"{quantity:f}"
    return _number_text(text.rstrip("0").rstrip(".") if "." in text else text)


def date_format(day: date) -> str:
    """Return a date as the active language writes it: 2026-12-31 (et, lv, pl: 31.12.2026)."""
    return day.strftime("%d.%m.%Y") if _comma_language() else day.isoformat()


class _InvoicePDF(FPDF):
    def __init__(self, fonts: _Fonts) -> None:
        super().__init__(format="A4", unit="mm")
        self.unicode_fonts = fonts.regular is not None
        self.faux_bold = self.unicode_fonts
        if fonts.regular is not None:
            font = _font_for(self, fonts.regular)
            self.fonts[font.fontkey] = font
            self.family_name = _FAMILY
        else:
            self.core_fonts_encoding = _CORE_ENCODING
            self.family_name = _CORE_FAMILY

    def use(self, size: float, *, bold: bool = False) -> None:
        if self.faux_bold:
            # Stroking the outline thickens it: one embedded font instead of two halves the
            # time fpdf2 spends subsetting fonts for every document.
            self.set_font(self.family_name, "", size)
            self.text_mode = TextMode.FILL_STROKE if bold else TextMode.FILL
            self.set_line_width(size * 0.012 if bold else 0.2)
        else:
            self.set_font(self.family_name, "B" if bold else "", size)

    def put(
        self,
        width: float,
        height: float,
        text: str,
        *,
        align: str = "L",
        border: str = "",
        fill: bool = False,
        new_x: XPos = XPos.RIGHT,
        new_y: YPos = YPos.TOP,
    ) -> None:
        if not self.unicode_fonts:
            text = _core_text(text)
        self.cell(
            width,
            height,
            self._fit(text, width),
            border=border,
            align=align,
            fill=fill,
            new_x=new_x,
            new_y=new_y,
        )

    def line_break(self, width: float, height: float, text: str) -> None:
        self.put(width, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _fit(self, text: str, width: float) -> str:
        if width <= 0 or self.get_string_width(text) <= width - 2 * self.c_margin:
            return text
        while text and self.get_string_width(text + "…") > width - 2 * self.c_margin:
            text = text[:-1]
        return text.rstrip() + ("…" if self.unicode_fonts else "...")


def invoice_pdf_render(
    *, invoice: Invoice, compress: bool = True, company: str | None = None
) -> bytes:
    """Render the invoice to PDF bytes in its language: the same invoice gives the same bytes."""
    with translation.override(invoice.language or "en"):
        return _pdf_render(invoice=invoice, compress=compress, company=company)


def invoice_pdf_key(
    *, invoice: Invoice, company: str | None = None, labels: dict[str, list[str]] | None = None
) -> str:
    """Return the hash of everything the invoice's PDF shows: equal keys, equal PDF bytes.

    Number, dates, customer, lines, totals, currency, notes, the seller and the owner's
    contact, as written in the invoice's language, with that language's labels, the font and
    the renderer's version. It reads the lines through invoice.lines.all() (a prefetch serves).
    `labels` is a dict a caller keeps over a batch of keys: each language's labels are then
    translated once per batch, not once per invoice (the keys are the same).
    """
    company = seller_name(invoice) if company is None else company
    language = invoice.language or "en"
    owner = invoice.owner
    regular = _fonts().regular
    labels = {} if labels is None else labels
    with translation.override(language):
        if language not in labels:
            labels[language] = [gettext(label) for label in _LABELS]
        shown = [
            RENDERER_VERSION,
            FPDF_VERSION,
            Path(regular).name if regular else _CORE_FAMILY,
            language,
            labels[language],
            invoice.number,
            date_format(invoice.issue_date),
            date_format(invoice.due_date),
            invoice.customer_name,
            invoice.customer_email,
            owner.name,
            owner.email,
            company,
            invoice.currency,
            invoice.notes,
            [money_format(amount) for amount in (invoice.subtotal, invoice.vat, invoice.total)],
            [
                [
                    line.description,
                    quantity_format(line.quantity),
                    price_format(line.unit_price),
                    quantity_format(line.vat_rate),
                    money_format(line.net_amount),
                ]
                for line in invoice.lines.all()
            ],
        ]
    text = json.dumps(shown, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _pdf_render(*, invoice: Invoice, compress: bool, company: str | None) -> bytes:
    company = seller_name(invoice) if company is None else company
    owner = invoice.owner
    lines = list(invoice.lines.all())
    currency = invoice.currency

    pdf = _InvoicePDF(_fonts())
    pdf.set_compression(compress)
    # Fixed metadata so the bytes depend on the invoice only (the trailer /ID hashes them too).
    pdf.set_creation_date(datetime.combine(invoice.issue_date, time(0, 0), tzinfo=UTC))
    pdf.set_title(gettext("Invoice {number}").format(number=invoice.number))
    pdf.set_subject(
        gettext("Invoice {number} to {customer}").format(
            number=invoice.number, customer=invoice.customer_name
        )
    )
    pdf.set_author(company)
    pdf.set_creator("directo-mail")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=18)
    pdf.add_page()
    width = pdf.epw

    # Seller (left) and the invoice's identity (right).
    top = pdf.get_y()
    pdf.use(16, bold=True)
    pdf.line_break(width * 0.6, 8, company)
    pdf.use(9)
    for text in (owner.name, owner.email):
        if text:
            pdf.line_break(width * 0.6, 5, text)
    left_bottom = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width * 0.6, top)
    pdf.use(20, bold=True)
    pdf.put(width * 0.4, 9, gettext("INVOICE"), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.use(9)
    for text in (
        gettext("Number: {number}").format(number=invoice.number),
        gettext("Issue date: {date}").format(date=date_format(invoice.issue_date)),
        gettext("Due date: {date}").format(date=date_format(invoice.due_date)),
    ):
        pdf.put(width * 0.4, 5, text, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 8)

    # Customer.
    pdf.use(8, bold=True)
    pdf.line_break(width, 5, gettext("BILL TO"))
    pdf.use(11, bold=True)
    pdf.line_break(width, 6, invoice.customer_name)
    pdf.use(9)
    if invoice.customer_email:
        pdf.line_break(width, 5, invoice.customer_email)
    pdf.ln(6)

    # Lines.
    columns = (
        ("#", 8, "R"),
        (gettext("Description"), width - 8 - 20 - 28 - 16 - 30, "L"),
        (gettext("Quantity"), 20, "R"),
        (gettext("Unit price"), 28, "R"),
        (gettext("VAT %"), 16, "R"),
        (gettext("Amount {currency}").format(currency=currency), 30, "R"),
    )
    pdf.set_fill_color(235, 238, 242)
    pdf.use(8.5, bold=True)
    for title, column_width, align in columns:
        pdf.put(column_width, 7, title, align=align, fill=True)
    pdf.ln(7)
    pdf.use(9)
    pdf.set_draw_color(210, 214, 220)
    for index, line in enumerate(lines, start=1):
        values = (
            str(index),
            line.description,
            quantity_format(line.quantity),
            price_format(line.unit_price),
            quantity_format(line.vat_rate),
            money_format(line.net_amount),
        )
        for (_, column_width, align), value in zip(columns, values, strict=True):
            pdf.put(column_width, 6.5, value, align=align, border="B")
        pdf.ln(6.5)
    pdf.ln(4)

    # Totals.
    label_width, value_width = 40, 34
    for label, amount, bold in (
        (gettext("Subtotal"), invoice.subtotal, False),
        (gettext("VAT"), invoice.vat, False),
        (gettext("Total {currency}").format(currency=currency), invoice.total, True),
    ):
        pdf.use(10 if bold else 9, bold=bold)
        pdf.set_x(pdf.l_margin + width - label_width - value_width)
        pdf.put(label_width, 6, label, align="R")
        pdf.put(
            value_width, 6, money_format(amount), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    pdf.ln(8)

    pdf.use(9)
    pdf.line_break(
        width,
        5,
        gettext("Please pay {amount} {currency} by {due_date}, reference {number}.").format(
            amount=money_format(invoice.total),
            currency=currency,
            due_date=date_format(invoice.due_date),
            number=invoice.number,
        ),
    )
    if invoice.notes:
        pdf.ln(2)
        pdf.multi_cell(width, 5, invoice.notes if pdf.unicode_fonts else _core_text(invoice.notes))
    return bytes(pdf.output())
