"""Seed a private test database: `python -m tests.reliability.seed CODE HOST:PORT COUNT`.

Run in a subprocess with the private database's DATABASE_URL (the test process itself keeps
its own test database): one SMTP card whose server is the local test server, and COUNT demo
invoices of it.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    import django

    django.setup()
    from invoices.services import invoice_demo_create
    from tests.factories import SmtpCardFactory

    code, server, count = argv[1], argv[2], int(argv[3])
    email = f"{code.lower()}@acme.test"
    card = SmtpCardFactory(
        code=code,
        email=email,
        mail_server=server,
        ssl_tls="no",
        smtp_username=email,
        smtp_password=argv[4] if len(argv) > 4 else "Mass-parool-7",
        mail_as_attachment="no",
    )
    invoice_demo_create(owner_card=card, count=count, seed=11)


if __name__ == "__main__":
    main(sys.argv)
