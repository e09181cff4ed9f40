"""Customer letters as a kind of document that mass mailing sends (massmail.documents).

A letter is one subject and body with placeholders, written by the user; a job of letters has
one row per customer of the user (one per distinct address: Customer is unique by address).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from django.utils import translation
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from customers.models import AddressProblem, Customer
from events.errors import Param
from letters.causes import LetterCause
from mailer.messages import message_build
from massmail.documents import (
    DocumentError,
    DocumentKind,
    DocumentRow,
    DocumentTemplateError,
    TemplateProblem,
    template_problem,
)
from massmail.jobs import massmail_job_create
from users.models import SystemSettings

if TYPE_CHECKING:
    from django.core.mail import EmailMessage
    from django_stubs_ext import StrOrPromise

    from mailer.config import SenderConfig
    from massmail.models import MassMailJob
    from users.models import UserCard

KIND = "letter"

#: The placeholders a letter's subject or body may use (the letters page lists them).
PLACEHOLDERS: Mapping[str, StrOrPromise] = {
    "customer": _("customer name"),
    "customer_email": _("customer e-mail address"),
    "sender": _("your name (user card)"),
    "sender_email": _("your e-mail address (user card)"),
    "company": _("your company name (System settings; else your name)"),
}
#: The line under every letter, in the customer's language.
_FOOTER = gettext_noop("You receive this letter as a customer of {company}.")


class LetterTemplateError(DocumentTemplateError, ValueError):
    """The letter's subject or body is empty, malformed or uses an unknown placeholder."""

    causes = (
        LetterCause.TEMPLATE_EMPTY,
        LetterCause.TEMPLATE_INVALID,
        LetterCause.TEMPLATE_PLACEHOLDER_UNKNOWN,
        LetterCause.TEMPLATE_PLACEHOLDER_FORMATTED,
    )


class LetterRecipientError(DocumentError, ValueError):
    """The customer's e-mail address is missing or invalid; only this customer's row fails."""

    causes = (LetterCause.RECIPIENT_MISSING, LetterCause.RECIPIENT_INVALID)


def letter_template_check(template: str, *, field: str = "template") -> None:
    """Raise LetterTemplateError unless the template is written and uses only PLACEHOLDERS."""
    if not template.strip():
        raise LetterTemplateError(LetterCause.TEMPLATE_EMPTY, field=field)
    found = template_problem(template, PLACEHOLDERS)
    if found is None:
        return
    problem, name = found
    if problem is TemplateProblem.MALFORMED:
        raise LetterTemplateError(LetterCause.TEMPLATE_INVALID, field=field)
    if problem is TemplateProblem.UNKNOWN:
        known = ", ".join(f"{{{placeholder}}}" for placeholder in PLACEHOLDERS)
        raise LetterTemplateError(
            LetterCause.TEMPLATE_PLACEHOLDER_UNKNOWN, field=field, placeholder=name, known=known
        )
    raise LetterTemplateError(
        LetterCause.TEMPLATE_PLACEHOLDER_FORMATTED, field=field, placeholder=name
    )


#: The letters' cause of each problem of a customer's address.
_RECIPIENT_CAUSES = {
    AddressProblem.MISSING: LetterCause.RECIPIENT_MISSING,
    AddressProblem.INVALID: LetterCause.RECIPIENT_INVALID,
}


def customer_recipient_error(customer: Customer) -> LetterRecipientError | None:
    """Return why the customer's address cannot be mailed to, or None when it can."""
    problem = customer.email_problem()
    if problem is None:
        return None
    params: dict[str, Param] = {"customer": customer.name}
    if problem is AddressProblem.INVALID:
        params["address"] = customer.email.strip()
    return LetterRecipientError(_RECIPIENT_CAUSES[problem], params=params)


def letter_placeholder_values(*, customer: Customer, company: str) -> dict[str, str]:
    """Return the text of every placeholder for one customer."""
    owner = customer.owner
    return {
        "customer": customer.name,
        "customer_email": customer.email.strip(),
        "sender": owner.name or owner.code,
        "sender_email": owner.email,
        "company": company,
    }


def letter_email_build(
    *,
    customer: Customer,
    config: SenderConfig,
    subject_template: str,
    body_template: str,
    message_id: str,
    company: str,
) -> EmailMessage:
    """Build one customer's letter: the templates filled in, the footer in their language."""
    problem = customer_recipient_error(customer)
    if problem is not None:
        raise problem
    letter_template_check(subject_template, field="subject")
    letter_template_check(body_template, field="body")
    values = letter_placeholder_values(customer=customer, company=company)
    language = customer.language or "en"
    with translation.override(language):
        footer = gettext(_FOOTER).format(company=company)
    body = body_template.format_map(values).rstrip("\n")
    return message_build(
        config=config,
        to=[customer.email.strip()],
        subject=subject_template.format_map(values),
        body=f"{body}\n\n--\n{footer}\n",
        message_id=message_id,
        headers={"Content-Language": language},
    )


def letter_label(customer: str, address: str) -> str:
    """Return what a job page calls one customer's letter (in the starting user's language)."""
    return gettext("Letter to {customer} <{address}>").format(customer=customer, address=address)


class LetterDocuments(DocumentKind):
    """One letter to each of the user's customers, in each customer's language."""

    name = KIND
    plural = "customers"
    verbose_name_plural = _("Letters")
    start_url_name = "letters:page"
    nothing_to_mail = LetterCause.NO_CUSTOMERS
    # The user writes every letter: there is no default.
    default_subject = ""
    default_body = ""

    def templates_check(self, *, subject: str, body: str) -> None:
        letter_template_check(subject, field="subject")
        letter_template_check(body, field="body")

    def rows(self, *, card: UserCard, ids: Collection[int] | None) -> list[DocumentRow]:
        customers = Customer.objects.filter(owner=card)
        if ids is not None:
            customers = customers.filter(pk__in=ids)
        found = customers.order_by("pk").values_list("pk", "name", "email")
        rows: list[DocumentRow] = []
        seen: set[str] = set()
        for pk, name, address in found:
            # One message per distinct address (the constraint holds it; stripping may not).
            key = address.strip().lower()
            if key and key in seen:
                continue
            seen.add(key)
            rows.append(
                DocumentRow(
                    document_id=pk,
                    recipient=address,
                    label=letter_label(name, address.strip()),
                    problem=customer_recipient_error(Customer(name=name, email=address)),
                )
            )
        return rows

    def load(self, *, card: UserCard, ids: Collection[int]) -> Mapping[int, Any]:
        company = SystemSettings.load().company_name or card.name or card.code
        loaded: dict[int, Any] = {}
        for customer in Customer.objects.filter(owner=card, pk__in=ids):
            customer.owner = card
            loaded[customer.pk] = (customer, company)
        return loaded

    def message_build(
        self,
        document: Any,
        *,
        config: SenderConfig,
        subject_template: str,
        body_template: str,
        message_id: str,
    ) -> EmailMessage:
        customer, company = document
        return letter_email_build(
            customer=customer,
            config=config,
            subject_template=subject_template,
            body_template=body_template,
            message_id=message_id,
            company=company,
        )


def letters_mass_mail_start(
    *, card: UserCard, subject: str, body: str, created_by: str = ""
) -> MassMailJob:
    """Start a job that mails the letter to each of the card's customers (refused: why)."""
    return massmail_job_create(
        card=card,
        kind=KIND,
        document_ids=None,
        subject_template=subject,
        body_template=body,
        created_by=created_by,
    )
