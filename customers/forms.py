"""The form of the user's own customers page: name, e-mail address and language."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import AddressProblem, Customer, address_problem
from customers.services import customer_address_taken


class CustomerForm(forms.ModelForm):
    """One customer of the signed-in user; the owner comes from the view, never the request."""

    # Not the model's EmailField in the form: its message would not name the address.
    email = forms.CharField(
        label=_("E-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "size": 40}),
    )

    class Meta:
        model = Customer
        fields = ("name", "email", "language")
        labels = {"name": _("Name"), "language": _("Language")}
        widgets = {"name": forms.TextInput(attrs={"size": 40})}

    def clean_email(self) -> str:
        email: str = self.cleaned_data["email"].strip()
        problem = address_problem(email)
        if problem is AddressProblem.MISSING:
            raise ValidationError(gettext("Enter the customer's e-mail address."))
        if problem is AddressProblem.INVALID:
            raise ValidationError(
                gettext("“{address}” is not a single valid e-mail address.").format(address=email)
            )
        taken = customer_address_taken(
            owner_card=self.instance.owner, email=email, exclude_pk=self.instance.pk
        )
        if taken:
            raise ValidationError(
                gettext("You already have a customer with the address “{address}”.").format(
                    address=email
                )
            )
        return email
