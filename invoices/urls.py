from __future__ import annotations

from django.urls import path

from invoices import views

app_name = "invoices"

urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("<int:invoice_id>/draft/", views.invoice_draft_edit, name="draft"),
    path("<int:invoice_id>/send/", views.invoice_send, name="send"),
    path("mass-mail/", views.invoices_mass_mail, name="mass_mail"),
]
