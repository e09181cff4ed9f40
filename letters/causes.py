"""Why a customer letter cannot be mailed, or a job of letters is refused: each cause and text."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from events.errors import ErrorCause


class LetterCause(ErrorCause):
    """Why a customer's letter cannot be made, or why a mass mailing of letters is refused.

    Parameters: `customer` and `address` of a customer; `field` (subject, body), `placeholder`
    (as written, with its braces) and `known` (the placeholders there are) of a template; `code`
    of a refused job.
    """

    # LetterRecipientError: the customer's address (Customer.email_cause).
    RECIPIENT_MISSING = (
        "letter_recipient_missing",
        gettext_noop(
            "The customer {customer} has no e-mail address; enter the customer's address."
        ),
    )
    RECIPIENT_INVALID = (
        "letter_recipient_invalid",
        gettext_noop(
            "The e-mail address “{address}” of the customer {customer} is not a single valid "
            "e-mail address; correct it on the customer."
        ),
    )
    # LetterTemplateError: the subject or body of the letter.
    TEMPLATE_EMPTY = (
        "letter_template_empty",
        gettext_noop("The letter's {field} is empty; write it before mailing the letter."),
    )
    TEMPLATE_INVALID = (
        "letter_template_invalid",
        gettext_noop(
            "The letter's {field} has an unmatched “{{” or “}}”; write {{{{ or }}}} for a "
            "literal brace."
        ),
    )
    TEMPLATE_PLACEHOLDER_UNKNOWN = (
        "letter_template_placeholder_unknown",
        gettext_noop(
            "The letter's {field} uses an unknown placeholder {placeholder}; use one of {known}."
        ),
    )
    TEMPLATE_PLACEHOLDER_FORMATTED = (
        "letter_template_placeholder_formatted",
        gettext_noop(
            "The letter's {field} formats the placeholder {placeholder}; write it plainly as "
            "{placeholder}."
        ),
    )
    # MassMailRefusedError of a job of letters.
    NO_CUSTOMERS = (
        "letter_no_customers",
        gettext_noop("{code} has no customers to mail a letter to; add customers first."),
    )
