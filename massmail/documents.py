"""The seam between mass mailing and what it mails: invoices, customer letters.

Mass mailing knows jobs and rows; a document kind knows its documents. An app above registers
its kind from its `AppConfig.ready()`; a job names its kind, and every row names one document
of that kind by its id. Nothing here imports the apps that register kinds.
"""

from __future__ import annotations

import abc
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from django.db.models import QuerySet

from events.errors import ErrorCause, Param, UserFacingError
from massmail.causes import MassMailCause
from massmail.models import MAILED_STATUSES, OutgoingMail

if TYPE_CHECKING:
    from django.core.mail import EmailMessage
    from django_stubs_ext import StrOrPromise

    from mailer.config import SenderConfig
    from users.models import UserCard


class DocumentError(UserFacingError):
    """A document that cannot be mailed as it is (its address, a template); the row fails.

    A kind's errors subclass it with the kind's causes; it is never transient.
    """

    causes: ClassVar[tuple[ErrorCause, ...]] = (MassMailCause.DOCUMENT_DELETED,)


class DocumentTemplateError(DocumentError):
    """A subject or body template the kind cannot fill; a kind's subclass names its causes."""

    def __init__(
        self, cause: ErrorCause, *, field: str, placeholder: str | None = None, known: str = ""
    ) -> None:
        self.placeholder = placeholder
        params: dict[str, Param] = {"field": field}
        if placeholder is not None:
            params |= {"placeholder": f"{{{placeholder or '(empty)'}}}", "known": known}
        super().__init__(cause, params=params)


@dataclass(frozen=True)
class DocumentRow:
    """One document of a new job: its id, where it goes, what the job page calls it."""

    document_id: int
    recipient: str
    label: str
    #: Why it cannot be sent (e.g. no valid address): its row fails at once with this error.
    problem: DocumentError | None = None


class TemplateProblem(StrEnum):
    """What is wrong with a subject or body template; each kind names it with its own cause."""

    MALFORMED = "malformed"  # an unmatched "{" or "}"
    UNKNOWN = "unknown"  # a placeholder the kind does not fill
    FORMATTED = "formatted"  # "{name:>10}" or "{name!r}" instead of a plain "{name}"


def template_problem(
    template: str, placeholders: Collection[str]
) -> tuple[TemplateProblem, str] | None:
    """Return the first problem of a template and the placeholder it concerns, or None."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return TemplateProblem.MALFORMED, ""
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        # Only bare names: "{number.__class__}" or "{number[0]}" would reach into objects.
        if name not in placeholders:
            return TemplateProblem.UNKNOWN, name
        if spec or conversion:
            return TemplateProblem.FORMATTED, name
    return None


class DocumentKind(abc.ABC):
    """A kind of document that mass mailing sends, one message per document."""

    #: Stored on each job (`MassMailJob.document_kind`), and its plural for messages.
    name: ClassVar[str]
    plural: ClassVar[str]
    #: Why a job is refused when the card has none of these documents (params: plural, code).
    nothing_to_mail: ClassVar[ErrorCause] = MassMailCause.NO_DOCUMENTS
    default_subject: ClassVar[str]
    default_body: ClassVar[str]
    #: What the job list calls the kind ("Invoices"): a translatable text.
    verbose_name_plural: ClassVar[StrOrPromise]
    #: The URL name of the page where a user starts a mailing of this kind ("invoices:list"):
    #: the job list links it without importing the kind's app. None: there is no such page.
    start_url_name: ClassVar[str | None] = None

    @abc.abstractmethod
    def templates_check(self, *, subject: str, body: str) -> None:
        """Raise DocumentError when a template cannot be filled in (unknown placeholder)."""

    @abc.abstractmethod
    def rows(self, *, card: UserCard, ids: Collection[int] | None) -> list[DocumentRow]:
        """Return the rows of a new job: the given documents of the card, or (None) all unsent.

        Raise DocumentError when an id is not one of the card's documents.
        """

    @abc.abstractmethod
    def load(self, *, card: UserCard, ids: Collection[int]) -> Mapping[int, Any]:
        """Return the documents of one batch by id (one or a few queries for the batch)."""

    @abc.abstractmethod
    def message_build(
        self,
        document: Any,
        *,
        config: SenderConfig,
        subject_template: str,
        body_template: str,
        message_id: str,
    ) -> EmailMessage:
        """Build the message of one document; raise DocumentError when it cannot be sent."""


_KINDS: dict[str, DocumentKind] = {}


def document_kind_register(kind: DocumentKind) -> None:
    """Make a kind of document available to mass mailing (call it from `AppConfig.ready`)."""
    _KINDS[kind.name] = kind


def document_kind_get(name: str) -> DocumentKind:
    """Return the registered kind, or raise LookupError naming the kinds there are."""
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise LookupError(f"No document kind {name!r} is registered (known: {known}).") from None


def document_kinds() -> list[DocumentKind]:
    """Return the registered kinds in the order they were registered (INSTALLED_APPS)."""
    return list(_KINDS.values())


def documents_mailed(*, kind: str) -> QuerySet[OutgoingMail]:
    """Return the rows of `kind` that were sent, may have been sent, or are on their way.

    A kind filters these by `document_id=OuterRef("pk")` to find its unsent documents.
    """
    return OutgoingMail.objects.filter(job__document_kind=kind, status__in=MAILED_STATUSES)
