"""The invoice PDF keeps the Estonian, Latvian and Polish letters (a Unicode font is installed)."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from invoices import pdf as invoice_pdf
from invoices.models import Invoice, InvoiceLine
from invoices.pdf import invoice_pdf_render
from invoices.services import invoice_totals_recompute
from tests.conftest import service_missing
from tests.factories import UserCardFactory
from tests.invoices import pdf_text

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "bin" / "lib.sh"

LATVIAN = "āčēģīķļņū"
POLISH = "ąćęłńóśźż"
ESTONIAN = "õäöüšž"


def _invoice(customer_name: str, descriptions: list[str]) -> Invoice:
    invoice = Invoice.objects.create(
        number="LV-2026-0001",
        owner=UserCardFactory(code="ANNA"),
        customer_name=customer_name,
        customer_email="rekini@example.test",
        issue_date=date(2026, 3, 2),
        due_date=date(2026, 3, 16),
    )
    for position, description in enumerate(descriptions, start=1):
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            description=description,
            quantity=Decimal(1),
            unit_price=Decimal("10.00"),
        )
    return invoice_totals_recompute(invoice=invoice)


@pytest.mark.django_db
def test_invoice_pdf_render_keeps_baltic_and_polish_letters():
    """Every letter of Estonian, Latvian and Polish, small and capital, survives text extraction."""
    invoice_pdf._fonts.cache_clear()
    if invoice_pdf._fonts().regular is None:
        service_missing(
            "no Unicode font for invoice PDFs (apt-get install fonts-dejavu-core; bin/test does)"
        )
    descriptions = [
        f"Latviešu {LATVIAN} {LATVIAN.upper()}",
        f"Polski {POLISH} {POLISH.upper()}",
        f"Eesti {ESTONIAN} {ESTONIAN.upper()}",
    ]
    customer = f"{LATVIAN}{POLISH}{ESTONIAN}"
    data = invoice_pdf_render(invoice=_invoice(customer, descriptions), compress=False)
    text = pdf_text(data)
    assert b"/BaseFont /Helvetica" not in data
    assert customer in text
    for description in descriptions:
        assert description in text, description


def test_invoice_font_check_of_the_scripts_names_the_fonts_of_the_pdf():
    """bin/lib.sh looks for exactly the fonts invoices/pdf.py uses (and bin/test installs one)."""
    body = LIB.read_text().split("invoice_font_present() {", 1)[1].split("\n}", 1)[0]
    assert re.findall(r"\[ -f (\S+) \]", body) == list(invoice_pdf.FONT_CANDIDATES)
    assert re.search(
        r"^invoice_font_present \|\| missing_debs\+=\(fonts-dejavu-core\)$",
        (ROOT / "bin" / "test").read_text(),
        re.MULTILINE,
    )
    assert "fonts-dejavu-core" in (ROOT / "bin" / "run").read_text()
    assert re.search(
        r"apt-get install -y --no-install-recommends fonts-dejavu-core \\\n"
        r"\s+&& rm -rf /var/lib/apt/lists/\*",
        (ROOT / "Dockerfile").read_text(),
    )


def _debs_install(folder: Path, *packages: str) -> tuple[str, str]:
    """Run debs_install with a fake apt-get on PATH; return (apt-get calls, messages)."""
    log = folder / "apt.log"
    fake = folder / "bin" / "apt-get"
    fake.parent.mkdir(parents=True)
    fake.write_text(f'#!/bin/sh\necho "$DEBIAN_FRONTEND $*" >> {log}\n')
    fake.chmod(0o755)
    result = subprocess.run(
        ["/bin/bash", "-c", f'. "{LIB}" && debs_install "they are missed" "$@"', "-", *packages],
        env={"HOME": "/nonexistent", "PATH": f"{fake.parent}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return (log.read_text() if log.exists() else ""), result.stderr


def test_debs_install_installs_missing_packages_or_says_how(tmp_path):
    """As root it runs apt-get (non-interactive); otherwise it names the command; nothing: quiet."""
    calls, messages = _debs_install(tmp_path / "one", "fonts-dejavu-core")
    if os.geteuid() == 0:
        assert calls.splitlines() == [
            "noninteractive update -qq",
            "noninteractive install -y -qq --no-install-recommends fonts-dejavu-core",
        ]
        assert "Installing Debian packages: fonts-dejavu-core" in messages
    else:
        assert calls == ""
        assert "sudo apt-get install fonts-dejavu-core`; they are missed" in messages
    assert _debs_install(tmp_path / "none") == ("", "")
