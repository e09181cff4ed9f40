"""A user's customers: the people and companies that the user's invoices and letters go to."""

from __future__ import annotations

import enum

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from users.models import Language, UserCard


class AddressProblem(enum.Enum):
    """Why an address cannot be mailed to; each document kind names it with its own cause."""

    MISSING = "missing"
    INVALID = "invalid"


def address_problem(address: str) -> AddressProblem | None:
    """Return why `address` is not one usable e-mail address, or None when it is."""
    address = address.strip()
    if not address:
        return AddressProblem.MISSING
    # Several addresses or a header break are not one recipient, though some validators pass.
    if any(char in address for char in "\r\n\x00,; "):
        return AddressProblem.INVALID
    try:
        validate_email(address)
    except ValidationError:
        return AddressProblem.INVALID
    return None


class Customer(models.Model):
    """One customer of a user: invoices may name it, a letter goes to each, in its language."""

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
        help_text=_("The language of the invoices and letters this customer receives."),
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
                name="customers_customer_owner_email_unique",
                violation_error_message=_("This user already has a customer with this address."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"

    def email_problem(self) -> AddressProblem | None:
        """Return why the customer's e-mail address is unusable, or None."""
        return address_problem(self.email)
