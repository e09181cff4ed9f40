from __future__ import annotations

from django.apps import AppConfig


class InvoicesConfig(AppConfig):
    name = "invoices"
    verbose_name = "Invoices"

    def ready(self) -> None:
        # Mass mailing learns invoices here: it never imports this app.
        from events.errors import cause_register
        from invoices.causes import InvoiceCause
        from invoices.mailing import InvoiceDocuments
        from massmail.documents import document_kind_register

        cause_register(InvoiceCause)
        document_kind_register(InvoiceDocuments())
