"""A user's customers, to whom the user mass-mails letters (a letter is the job's templates)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from events.errors import Param
from letters.causes import LetterCause
from users.models import Language, UserCard


class Customer(models.Model):
    """One customer of a user: a letter goes to each, in the customer's language."""

    owner = models.ForeignKey(
        UserCard, on_delete=models.CASCADE, related_name="customers", verbose_name=_("user card")
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail address"), max_length=254)
    language = models.CharField(
        _("language"),
        max_length=2,
        choices=Language.choices,
        default=Language.ENGLISH,
        help_text=_("The language of the letters this customer receives."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ("name", "pk")
        constraints = [
            models.UniqueConstraint(
                "owner",
                Lower("email"),
                name="letters_customer_owner_email_unique",
                violation_error_message=_("This user already has a customer with this address."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def email_cause(self) -> tuple[LetterCause, dict[str, Param]] | None:
        """Return why the customer's e-mail address is unusable and its parameters, or None."""
        address = self.email.strip()
        if not address:
            return LetterCause.RECIPIENT_MISSING, {"customer": self.name}
        params: dict[str, Param] = {"customer": self.name, "address": address}
        if any(char in address for char in "\r\n\x00,; "):
            return LetterCause.RECIPIENT_INVALID, params
        try:
            validate_email(address)
        except ValidationError:
            return LetterCause.RECIPIENT_INVALID, params
        return None
