"""Why an invoice cannot be mailed, or a job of invoices is refused: each cause and its text."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from events.errors import ErrorCause


class InvoiceCause(ErrorCause):
    """Why an invoice's e-mail cannot be made, or why a mass mailing of invoices is refused.

    Parameters: `number` and `address` of the invoice; `field` (subject, body), `placeholder`
    (as written, with its braces) and `known` (the placeholders there are) of a template; `ids`
    and `code` of a refused job.
    """

    # InvoiceRecipientError: the customer's address (Invoice.customer_email_problem).
    RECIPIENT_MISSING = (
        "recipient_missing",
        gettext_noop(
            "Invoice {number} has no customer e-mail address; enter the customer's address on "
            "the invoice."
        ),
    )
    RECIPIENT_LINE_BREAK = (
        "recipient_line_break",
        gettext_noop(
            "The customer e-mail address of invoice {number} contains a line break; remove it."
        ),
    )
    RECIPIENT_SEVERAL = (
        "recipient_several",
        gettext_noop(
            "The customer e-mail address of invoice {number} “{address}” holds more than one "
            "address or a space; enter a single address."
        ),
    )
    RECIPIENT_INVALID = (
        "recipient_invalid",
        gettext_noop(
            "The customer e-mail address of invoice {number} “{address}” is not a valid e-mail "
            "address; correct it on the invoice."
        ),
    )
    # InvoiceTemplateError: a subject or body template.
    TEMPLATE_INVALID = (
        "template_invalid",
        gettext_noop(
            "The {field} has an unmatched “{{” or “}}”; write {{{{ or }}}} for a literal brace."
        ),
    )
    TEMPLATE_PLACEHOLDER_UNKNOWN = (
        "template_placeholder_unknown",
        gettext_noop("The {field} uses an unknown placeholder {placeholder}; use one of {known}."),
    )
    TEMPLATE_PLACEHOLDER_FORMATTED = (
        "template_placeholder_formatted",
        gettext_noop(
            "The {field} formats the placeholder {placeholder}; write it plainly as {placeholder}."
        ),
    )
    # MassMailRefusedError of a job of invoices.
    INVOICES_NOT_OWNED = (
        "invoices_not_owned",
        gettext_noop(
            "Invoices {ids} do not exist or are not invoices of {code}; a job mails one user's "
            "invoices through that user's settings."
        ),
    )
    NO_INVOICES = (
        "no_invoices",
        gettext_noop("There are no invoices to mail for {code}."),
    )
