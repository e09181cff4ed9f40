"""Why a mass-mail job is refused or one of its messages is not sent: each cause and its text.

An incomplete configuration is `MailCause.SETTINGS_INCOMPLETE` (mailer); a kind of document
declares its own causes (e.g. `invoices.causes`).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from events.errors import ErrorCause


class MassMailCause(ErrorCause):
    """Why a job is refused, or why one of its messages was not (or maybe was) sent.

    Parameters: `code` (the user card) and `sender` (the mail sender's label) of a refusal,
    `plural` (the kind's documents) when there is nothing to mail.
    """

    # MassMailRefusedError
    MASS_MAIL_NOT_ALLOWED = (
        "mass_mail_not_allowed",
        gettext_noop(
            "Mass mailing is allowed only with SMTP or Microsoft 365 OAUTH; {code} resolves to "
            "“{sender}”. Set the mail sender on the card, or name an SMTP card as the mail "
            "sending user in System settings."
        ),
    )
    NO_DOCUMENTS = (
        "no_documents",
        gettext_noop("There are no {plural} to mail for {code}."),
    )
    # A row's own outcome.
    DOCUMENT_DELETED = (
        "document_deleted",
        gettext_noop("The document was deleted after the job was created; nothing was sent."),
    )
    CANCELLED = (
        "cancelled",
        gettext_noop("The job was cancelled before this message was sent; it was not sent."),
    )
    # The reaper: the lease of a row in transmission expired (its worker was killed).
    WORKER_LOST = (
        "worker_lost",
        gettext_noop(
            "The worker sending this invoice stopped while the message was being transmitted, so "
            "it may have been delivered. It is not sent again automatically: check the Sent "
            "folder or ask the customer before resending."
        ),
    )
