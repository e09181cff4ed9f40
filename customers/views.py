"""The signed-in user's own customers at /personal/customers/: list, add, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from customers.forms import CustomerForm
from customers.models import Customer
from customers.services import (
    CustomerAddressTakenError,
    CustomerInUseError,
    customer_delete,
    customer_references,
    customer_save,
    customers_with_counts,
)
from users.pages import request_card_get


def _own(request: HttpRequest, customer_id: int) -> Customer:
    """Return one of the user's own customers; another user's customer does not exist here."""
    return get_object_or_404(Customer, pk=customer_id, owner=request_card_get(request))


@login_required
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """List the user's customers with the number of documents (invoices) of each."""
    context = {
        "rows": customers_with_counts(owner_card=request_card_get(request)),
        "references": [label for _name, label in customer_references()],
    }
    return render(request, "customers/customer_list.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def customer_add(request: HttpRequest) -> HttpResponse:
    """Add a customer of the user."""
    return _form_page(request, Customer(owner=request_card_get(request)))


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Change one of the user's customers."""
    return _form_page(request, _own(request, customer_id))


def _form_page(request: HttpRequest, customer: Customer) -> HttpResponse:
    adding = customer.pk is None
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        try:
            saved = customer_save(customer=form.save(commit=False))
        except CustomerAddressTakenError:
            form.add_error(
                "email",
                gettext("You already have a customer with the address “{address}”.").format(
                    address=customer.email
                ),
            )
        else:
            if adding:
                text = gettext("The customer {customer} was added.")
            else:
                text = gettext("The customer {customer} was saved.")
            messages.success(request, text.format(customer=saved.name))
            return redirect("customers:list")
    status = 400 if form.is_bound and not form.is_valid() else 200
    context = {"form": form, "customer": customer, "adding": adding}
    return render(request, "customers/customer_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def customer_delete_confirm(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Ask before deleting one of the user's customers; POST deletes it unless in use."""
    customer = _own(request, customer_id)
    if request.method == "POST":
        try:
            customer_delete(customer=customer)
        except CustomerInUseError as exc:
            used = ", ".join(f"{label}: {count}" for label, count in exc.references)
            messages.error(
                request,
                gettext(
                    "The customer {customer} was not deleted: documents refer to it ({used}). "
                    "A customer stays while any document names it."
                ).format(customer=customer.name, used=used),
            )
        else:
            text = gettext("The customer {customer} was deleted.")
            messages.success(request, text.format(customer=customer.name))
        return redirect("customers:list")
    return render(request, "customers/customer_confirm_delete.html", {"customer": customer})
